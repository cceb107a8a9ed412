// Authoring: the editor form saves a valid draft, keeps bad input on screen,
// warns about contradictions, and publishing makes immutable versions.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { CONCERNS } from '../server/concerns/index.js';
import type { FormValue } from './helpers/http.js';
import { signUpVendor } from './helpers/vendor.js';

function editorForm(concerns: Record<string, Record<string, unknown>>): Record<string, FormValue> {
  const out: Record<string, FormValue> = {};
  for (const c of CONCERNS) {
    for (const [k, v] of Object.entries(concerns[c.key])) {
      if (k === 'narrative') out[`${c.key}.narrative`] = v as string;
      else out[`${c.key}.${k}`] = typeof v === 'boolean' ? (v ? 'yes' : 'no') : (v as FormValue);
    }
  }
  return out;
}

t.test('the editor saves, warns, refuses bad values and publishes versions', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const { concerns } = (await vendor.api('GET', '/api/v1/profile')).json();

  const page = await vendor.page('/app/profile');
  t.equal(page.statusCode, 200);
  t.equal((page.body.match(/<section class="card concern/g) ?? []).length, 6, 'six concerns on the form');
  t.match(page.body, 'Publish version 1');

  // Storing only in the EU while routing inference globally is a contradiction worth a warning.
  concerns.data_residency.storage_regions = ['EU_EEA'];
  concerns.data_residency.inference_scope = 'global_routing';
  concerns.data_residency.narrative = 'Tenant data <stays> in Frankfurt.';
  const saved = await vendor.post('/app/profile', editorForm(concerns));
  t.equal(saved.statusCode, 303);
  const after = await vendor.page('/app/profile?saved=1');
  t.match(after.body, 'Draft saved.');
  t.match(after.body, 'Check these contradictions before you publish');
  t.match(after.body, 'Tenant data &lt;stays&gt; in Frankfurt.', 'narratives are escaped');
  t.equal((await vendor.api('GET', '/api/v1/profile')).json().warnings[0].code, 'eu_storage_global_inference');

  const bad = await vendor.post('/app/profile', editorForm({ ...concerns, audit_compliance: { ...concerns.audit_compliance, breach_notification_hours: 'soon' } }));
  t.equal(bad.statusCode, 400);
  t.match(bad.body, 'Nothing was saved');
  t.match(bad.body, /id="audit_compliance-breach_notification_hours" name="audit_compliance.breach_notification_hours" value="soon"/, 'the bad value stays on screen');
  t.equal((await vendor.api('GET', '/api/v1/profile')).json().concerns.audit_compliance.breach_notification_hours, 72, 'the stored draft is unchanged');

  t.equal((await vendor.post('/app/profile/publish')).statusCode, 303);
  t.same((await vendor.api('POST', '/api/v1/profile/publish')).json(), { version: 2 });
  const v1 = await ctx.db.selectFrom('profile_versions').select(['version', 'claims']).where('version', '=', 1).executeTakeFirstOrThrow();
  await vendor.api('PUT', '/api/v1/profile', { concerns: { data_residency: { storage_regions: ['US'] } } });
  const v1Again = await ctx.db.selectFrom('profile_versions').select('claims').where('version', '=', 1).executeTakeFirstOrThrow();
  t.same(v1Again.claims, v1.claims, 'editing the draft leaves published versions alone');
  t.same(v1.claims.data_residency.values.storage_regions, ['EU_EEA']);
});

t.test('a deal needs a published profile', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const res = await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Big Bank' });
  t.equal(res.statusCode, 409);
  t.equal(res.json().error.code, 'no_published_profile');
  const page = await vendor.page('/app/deals/new');
  t.match(page.body, 'Publish your posture profile first');
});
