// Defects a new user met walking through the vendor's pages and the shared
// form code, one check each: every check here failed before its fix.
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { testApp, type TestApp } from './helpers/app.js';
import { decodeEntities, form, type FormValue } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';
import { CONCERNS, claimSchema, getConcern } from '../server/concerns/index.js';

type Claims = Record<string, Record<string, unknown>>;

/** Form fields for concerns' values, as the editor (prefix = concern key) or the new-deal form (prefix = "t." + key) sends them. */
function concernFields(claims: Claims, prefix: (concern: string) => string, keys = Object.keys(claims)): Record<string, FormValue> {
  const out: Record<string, FormValue> = {};
  for (const key of keys) {
    for (const [field, value] of Object.entries(claims[key])) {
      if (field === 'narrative') out[`${key}.narrative`] = value as string;
      else out[`${prefix(key)}.${field}`] = typeof value === 'boolean' ? (value ? 'yes' : 'no') : (value as FormValue);
    }
  }
  return out;
}

/** The whole profile editor form for these claims. */
const editorForm = (claims: Claims) => concernFields(claims, (k) => k);

/** Every tailoring section of the new-deal form, filled with these claims (as the page pre-fills it). */
function tailoringForm(claims: Claims): Record<string, FormValue> {
  const out = concernFields(
    Object.fromEntries(Object.entries(claims).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).filter(([f]) => f !== 'narrative'))])),
    (k) => `t.${k}`,
  );
  for (const key of Object.keys(claims)) out[`t.${key}._present`] = '1';
  return out;
}

/** The vendor's draft claims (values only), from the API. */
async function draftClaims(vendor: TestVendor): Promise<Claims> {
  const concerns = (await vendor.api('GET', '/api/v1/profile')).json().concerns as Claims;
  return Object.fromEntries(Object.entries(concerns).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).filter(([f]) => f !== 'narrative'))]));
}

/** The part of a page between an element's opening (found by `start`) and the next `end`. */
function slice(html: string, start: string | RegExp, end: string): string {
  const at = typeof start === 'string' ? html.indexOf(start) : (start.exec(html)?.index ?? -1);
  if (at === -1) return '';
  const stop = html.indexOf(end, at);
  return html.slice(at, stop === -1 ? undefined : stop);
}

async function published(t: Test): Promise<{ ctx: TestApp; vendor: TestVendor; claims: Claims }> {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  t.equal((await vendor.api('POST', '/api/v1/profile/publish')).statusCode, 200);
  return { ctx, vendor, claims: await draftClaims(vendor) };
}

t.test('1. "(changed)" marks only the options whose ticked state differs', async (t) => {
  const { vendor, claims } = await published(t);
  // A bad buyer name shows the form again with the tailoring as sent: EU/EEA added to storage, the remote access list reordered.
  const tailoring = tailoringForm(claims);
  tailoring['t.data_residency.storage_regions'] = ['US', 'EU_EEA'];
  tailoring['t.data_residency.remote_access_jurisdictions'] = ['IN', 'EU_EEA', 'US'];
  const res = await vendor.post('/app/deals', { buyer_name: '', ...tailoring });
  t.equal(res.statusCode, 400);
  const storage = slice(res.body, /<legend>Storage regions/, '</fieldset>');
  t.match(storage, /<legend>Storage regions <span class="changed-mark">\(changed\)<\/span><\/legend>/, 'the field is marked');
  t.match(
    storage,
    /<label class="choice changed" for="t-data_residency-storage_regions-EU_EEA">[^]*?EU\/EEA <span class="changed-mark">\(changed\)<\/span><\/label>/,
    'the added option is marked',
  );
  t.equal((storage.match(/\(changed\)/g) ?? []).length, 2, 'and no other option of the field (not United States, which was ticked before too)');
  const remote = slice(res.body, /<legend>Remote access from/, '</fieldset>');
  t.ok(remote.length > 0);
  t.notMatch(remote, /changed/, 'the same regions in another order are no change');
  // The stylesheet no longer writes "(changed)" after every label of a changed field.
  const css = (await vendor.page('/assets/app.css')).body;
  t.notMatch(css, /\.field\.changed label::after/);
});

t.test('2. after a validation error, only sections the user changed are "tailored"', async (t) => {
  const { vendor, claims } = await published(t);
  const tailoring = tailoringForm(claims);
  tailoring['t.data_residency.inference_regions'] = ['EU_EEA'];
  const res = await vendor.post('/app/deals', { buyer_name: '', ...tailoring });
  t.equal(res.statusCode, 400);
  const sections = [...res.body.matchAll(/<details class="card"( open)?>\s*<summary><strong>([^<]+)<\/strong>( <span class="pill">tailored<\/span>)?/g)];
  t.equal(sections.length, CONCERNS.length, 'every concern has a section');
  t.same(
    sections.filter((m) => m[3]).map((m) => m[2]),
    ['Data residency'],
    'only the changed section is tailored',
  );
  t.same(
    sections.filter((m) => m[1]).map((m) => m[2]),
    ['Data residency'],
    'and only it is open',
  );
  t.match(res.body, /id="in-buyer_name-error">is required</, 'the buyer name problem is shown');
});

t.test('3. every field type is refused in words a person understands', async (t) => {
  const { ctx, vendor, claims } = await published(t);
  const raw = /Invalid input|expected number|received string|Invalid option|Too big|Too small/;

  // The profile editor.
  const profile = await vendor.post('/app/profile', editorForm({ ...claims, data_residency: { ...claims.data_residency, prompt_retention_days: 'soon' } }));
  t.equal(profile.statusCode, 400);
  t.match(profile.body, /<p class="error" id="data_residency-prompt_retention_days-error">Enter a whole number of days from 0 to 3650\.<\/p>/);
  t.notMatch(profile.body, raw);

  // The new-deal form.
  const tailoring = tailoringForm(claims);
  tailoring['t.ai_governance.deprecation_notice_days'] = '-5';
  const deal = await vendor.post('/app/deals', { buyer_name: 'Big Bank', ...tailoring });
  t.equal(deal.statusCode, 400);
  t.match(deal.body, /<p class="error" id="t-ai_governance-deprecation_notice_days-error">Enter a whole number of days from 0 to 1095\.<\/p>/);
  t.notMatch(deal.body, raw);

  // A deal's claim page.
  const dealId = (await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Big Bank' })).json().id as string;
  const audit = concernFields({ audit_compliance: { ...claims.audit_compliance, breach_notification_hours: 'a day' } }, () => 'c');
  const claimPage = await vendor.post(`/app/deals/${dealId}/claims/audit_compliance`, audit);
  t.equal(claimPage.statusCode, 400);
  t.match(claimPage.body, /<p class="error" id="c-audit_compliance-breach_notification_hours-error">Enter a whole number of hours from 1 to 720\.<\/p>/);
  t.notMatch(claimPage.body, raw);

  // The respondent's correction form.
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;
  const answer = await ctx.app.inject({
    method: 'POST',
    url: `${path}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'factual_error', ...claimForm(claim, { prompt_retention_days: 'a month' }) } as never),
  });
  t.equal(answer.statusCode, 400);
  t.match(decodeEntities(answer.body), 'Enter a whole number of days from 0 to 3650.');
  t.notMatch(answer.body, raw);

  // The API keeps its shape ({ field, message } per problem), with the same words for each type.
  const cases: [Record<string, Record<string, unknown>>, string, string][] = [
    [{ data_residency: { inference_scope: 'moon' } }, 'concerns.data_residency.inference_scope', 'Choose one of the options.'],
    [{ data_residency: { storage_regions: ['US', 'ATLANTIS'] } }, 'concerns.data_residency.storage_regions.1', 'Choose only from the listed options.'],
    [{ data_residency: { storage_regions: 'US' } }, 'concerns.data_residency.storage_regions', 'Choose only from the listed options.'],
    [{ audit_compliance: { breach_notification_hours: '72' } }, 'concerns.audit_compliance.breach_notification_hours', 'Enter a whole number of hours from 1 to 720.'],
    [{ audit_compliance: { breach_notification_hours: 0 } }, 'concerns.audit_compliance.breach_notification_hours', 'Enter a whole number of hours from 1 to 720.'],
    [{ model_access_controls: { mfa_enforced: 'maybe' } }, 'concerns.model_access_controls.mfa_enforced', 'Choose yes or no.'],
    [{ training_data_provenance: { upstream_model_name: 'x'.repeat(121) } }, 'concerns.training_data_provenance.upstream_model_name', 'Enter at most 120 characters.'],
    [{ training_data_provenance: { upstream_model_name: 7 } }, 'concerns.training_data_provenance.upstream_model_name', 'Enter text.'],
  ];
  for (const [concerns, field, message] of cases) {
    const res = await vendor.api('PUT', '/api/v1/profile', { concerns });
    t.equal(res.statusCode, 400, `${field}: 400`);
    t.same(res.json().error.details, [{ field, message }], `${field}: ${message}`);
    t.match(res.json().error.message, message, `${field}: the message names it too`);
  }
});

t.test('4. Publish saves the edits on screen, then publishes them; invalid edits publish nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const claims = await draftClaims(vendor);

  const page = await vendor.page('/app/profile');
  const button = /<button type="submit"([^>]*)>Publish version 1<\/button>/.exec(page.body);
  t.ok(button, 'a Publish button');
  t.match(button?.[1] ?? '', /form="profile-editor"/, 'it belongs to the editor form');
  t.match(button?.[1] ?? '', /formaction="\/app\/profile\/publish"/, 'and sends it to publish');
  t.match(page.body, /<form method="post" action="\/app\/profile" id="profile-editor"/);

  // Invalid edits: nothing saved, nothing published, the problem shown.
  const bad = await vendor.post('/app/profile/publish', editorForm({ ...claims, audit_compliance: { ...claims.audit_compliance, breach_notification_hours: 'soon' } }));
  t.equal(bad.statusCode, 400);
  t.match(bad.body, 'Nothing was saved or published');
  t.match(bad.body, /id="audit_compliance-breach_notification_hours-error">Enter a whole number of hours/);
  t.match(bad.body, /Publish version 1<\/button>/, 'Publish is still offered, to try again');
  t.equal((await ctx.db.selectFrom('profile_versions').selectAll().execute()).length, 0, 'no version');

  // Unsaved edits are published, and saved as the draft.
  const edited = { ...claims, data_residency: { ...claims.data_residency, storage_regions: ['EU_EEA'] } };
  const res = await vendor.post('/app/profile/publish', editorForm(edited));
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, '/app/profile?published=1');
  const v1 = await ctx.db.selectFrom('profile_versions').select('claims').where('version', '=', 1).executeTakeFirstOrThrow();
  t.same(v1.claims.data_residency.values.storage_regions, ['EU_EEA'], 'the edit on screen is in the published version');
  t.same((await vendor.api('GET', '/api/v1/profile')).json().concerns.data_residency.storage_regions, ['EU_EEA'], 'and in the draft');
});

t.test('5. /app/deals sends people to the deal list, query and all', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const bare = await vendor.page('/app/deals');
  t.ok([302, 303].includes(bare.statusCode), `a redirect (${bare.statusCode})`);
  t.equal(bare.headers.location, '/app');
  const filtered = await vendor.page('/app/deals?stage=discovery&q=big%20bank');
  t.ok([302, 303].includes(filtered.statusCode));
  t.equal(filtered.headers.location, '/app?stage=discovery&q=big%20bank');
  t.equal((await vendor.page(filtered.headers.location as string)).statusCode, 200, 'where the list is');
});

t.test('6. an error page shows a signed-in person their own header', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { name: 'Ada Admin', workspace: 'Acme AI' });
  const missing = await vendor.page('/no/such/page');
  t.equal(missing.statusCode, 404);
  t.match(missing.body, 'Sign out', 'the signed-in navigation');
  t.match(missing.body, 'Ada Admin · Acme AI');
  t.notMatch(missing.body, 'href="/signin"', 'no "Sign in"');
  t.match(missing.body, '<a href="/app">Go to the start page</a>');

  const anonymous = await ctx.app.inject({ method: 'GET', url: '/no/such/page' });
  t.equal(anonymous.statusCode, 404);
  t.match(anonymous.body, 'href="/signin"', 'without a session: "Sign in"');
  const forged = await ctx.app.inject({ method: 'GET', url: '/no/such/page', headers: { cookie: 'pp_session=not.a.jwt' } });
  t.equal(forged.statusCode, 404, 'a forged cookie is still a plain 404');
  t.match(forged.body, 'href="/signin"');
  t.notMatch(forged.body, 'Sign out');
});

t.test('7. a cacheable SVG favicon, linked from every page', async (t) => {
  const ctx = await testApp(t);
  for (const url of ['/favicon.ico', '/assets/favicon.svg']) {
    const res = await ctx.app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, url);
    t.match(res.headers['content-type'], /^image\/svg\+xml/, `${url}: SVG`);
    t.match(res.headers['cache-control'], /public, max-age=\d{4,}/, `${url}: cacheable`);
    t.match(res.body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  }
  const home = await ctx.app.inject({ method: 'GET', url: '/' });
  t.match(home.body, /<link rel="icon" href="\/assets\/favicon\.svg" type="image\/svg\+xml">/);
});

t.test('8. the home page title names the product once', async (t) => {
  const ctx = await testApp(t);
  const home = await ctx.app.inject({ method: 'GET', url: '/' });
  t.match(home.body, '<title>Posture Portal</title>');
  const signin = await ctx.app.inject({ method: 'GET', url: '/signin' });
  t.match(signin.body, '<title>Sign in · Posture Portal</title>', 'other pages keep "page · product"');
});

t.test('9. the grid shows roles by their labels', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  await inviteStakeholder(ctx, vendor, dealId, { name: 'Pia Privacy', email: 'pia@bank.example', role: 'privacy' });
  const page = await vendor.page(`/app/deals/${dealId}`);
  const head = slice(page.body, '<table class="table grid">', '</thead>');
  t.match(head, 'Carla Ciso<br><span class="muted">CISO</span>');
  t.match(head, 'Pia Privacy<br><span class="muted">Privacy</span>');
  t.notMatch(head, /<span class="muted">(ciso|privacy)<\/span>/, 'no raw role keys');
});

t.test('10. the deal page does not scroll sideways on a phone', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor, { buyer_name: 'Bigbankofextraordinarilylongnamesinternational', buyer_domain: 'bigbank-international-holdings.example' });
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Cisomaximiliana', email: 'carla.cisomaximiliana@bank.example', role: 'ciso' });
  await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Security', email: 'sam@bank.example', role: 'security' });
  await inviteStakeholder(ctx, vendor, dealId, { name: 'Pat Privacy', email: 'pat@bank.example', role: 'privacy' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;
  await ctx.app.inject({
    method: 'POST',
    url: `${carla.path}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'requirement_gap', ...claimForm(claim, { inference_regions: ['EU_EEA', 'UK', 'CH'] }) } as never),
  });
  const page = await vendor.page(`/app/deals/${dealId}`);
  // Wide tables scroll in their own box, which a keyboard can reach and a screen reader names.
  const scrollers = [...page.body.matchAll(/<div class="scroll"([^>]*)>/g)].map((m) => m[1]);
  t.equal(scrollers.length, 2, 'the grid and the stakeholder map');
  for (const attrs of scrollers)
    t.match(
      attrs,
      /role="region" aria-label="[^"]+ \(scrolls sideways\)" tabindex="0"/,
      "each scroll box is a named region of its own (a name unlike its section's, so landmarks stay unique)",
    );

  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    t.comment(`no Chromium at ${chromium}: the page's width is not measured`);
    return;
  }
  const { chromium: launcher } = await import('playwright-core');
  const address = await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  const browser = await launcher.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 375, height: 800 }, javaScriptEnabled: false });
  await context.addCookies(
    vendor.jar
      .header()
      .split('; ')
      .map((pair) => ({ name: pair.slice(0, pair.indexOf('=')), value: pair.slice(pair.indexOf('=') + 1), url: address })),
  );
  const tab = await context.newPage();
  await tab.goto(`${address}/app/deals/${dealId}`);
  await tab.getByRole('heading', { name: 'Answers by concern' }).waitFor();
  const width = await tab.evaluate(() => document.documentElement.scrollWidth);
  t.ok(width <= 375, `no sideways scrolling at 375 px (the page is ${width} px wide)`);
  const gridScrolls = await tab.evaluate(() => {
    const box = document.querySelector('.scroll');
    return box ? box.scrollWidth > box.clientWidth : false;
  });
  t.ok(gridScrolls, 'the grid scrolls inside its own box instead');
});

t.test('11. revoking a link takes a second, explicit step, without JavaScript', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example' });
  const page = await vendor.page(`/app/deals/${dealId}`);
  t.notMatch(page.body, /<form[^>]*action="[^"]*\/revoke"/, 'no one-click revoke form on the deal page');
  const confirmHref = `/app/deals/${dealId}/stakeholders/${carla.id}/revoke`;
  t.match(page.body, `<a class="danger" href="${confirmHref}">Revoke link`, 'a link to the confirmation instead');

  const confirm = await vendor.page(confirmHref);
  t.equal(confirm.statusCode, 200);
  t.match(decodeEntities(confirm.body), /<form method="post" action="[^"]+\/revoke"[^]*<button type="submit" class="danger">Revoke Carla Ciso’s link<\/button>/);
  t.equal((await ctx.app.inject({ method: 'GET', url: carla.path })).statusCode, 200, 'looking at the confirmation revokes nothing');

  const revoked = await vendor.post(confirmHref);
  t.equal(revoked.statusCode, 303);
  t.equal((await ctx.app.inject({ method: 'GET', url: carla.path })).statusCode, 404, 'the button revokes');
  t.equal((await ctx.app.inject({ method: 'GET', url: confirmHref })).statusCode, 303, 'the confirmation needs a session');
});

t.test('12. zero data retention with a retention period is refused on the retention field', async (t) => {
  const { ctx, vendor, claims } = await published(t);
  const residency = getConcern('data_residency')!;
  t.ok(claimSchema(residency).safeParse(residency.defaults).success, 'the defaults hold together');
  const zdr = { ...claims.data_residency, prompt_retention: 'zero_data_retention', prompt_retention_days: 30 };

  const profile = await vendor.post('/app/profile', editorForm({ ...claims, data_residency: zdr }));
  t.equal(profile.statusCode, 400, 'the editor refuses it');
  t.match(
    profile.body,
    /<p class="error" id="data_residency-prompt_retention_days-error">Zero data retention keeps no prompts, so the retention period must be 0 days \(it says 30 days\)\./,
  );
  t.equal((await vendor.api('GET', '/api/v1/profile')).json().concerns.data_residency.prompt_retention, 'standard_abuse_logs', 'nothing saved');

  const api = await vendor.api('PUT', '/api/v1/profile', { concerns: { data_residency: { prompt_retention: 'zero_data_retention' } } });
  t.equal(api.statusCode, 400, 'the API refuses it too, against the stored 30 days');
  t.same(
    api.json().error.details.map((d: { field: string }) => d.field),
    ['concerns.data_residency.prompt_retention_days'],
  );
  const ok = await vendor.api('PUT', '/api/v1/profile', { concerns: { data_residency: { prompt_retention: 'zero_data_retention', prompt_retention_days: 0 } } });
  t.equal(ok.statusCode, 200, 'zero data retention with 0 days is fine');

  const dealId = (await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Big Bank' })).json().id as string;
  const claimPage = await vendor.post(
    `/app/deals/${dealId}/claims/data_residency`,
    concernFields({ data_residency: zdr }, () => 'c'),
  );
  t.equal(claimPage.statusCode, 400, 'a deal’s claim page refuses it');
  t.match(claimPage.body, /<p class="error" id="c-data_residency-prompt_retention_days-error">Zero data retention keeps no prompts/);

  const tailoring = tailoringForm(claims);
  tailoring['t.data_residency.prompt_retention'] = 'zero_data_retention';
  const opened = await vendor.post('/app/deals', { buyer_name: 'Other Bank', ...tailoring });
  t.equal(opened.statusCode, 400, 'and so does tailoring a new deal');
  t.match(opened.body, /<p class="error" id="t-data_residency-prompt_retention_days-error">Zero data retention keeps no prompts/);
  const viaApi = await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Api Bank', overrides: { data_residency: { prompt_retention: 'zero_data_retention' } } });
  t.equal(viaApi.statusCode, 400, 'tailoring through the API against the published 30 days is refused');
  t.equal(viaApi.json().error.code, 'invalid_input');
  t.match(JSON.stringify(viaApi.json().error.details), /prompt_retention_days[^}]*Zero data retention keeps no prompts/);
  t.equal((await ctx.db.selectFrom('deals').selectAll().execute()).length, 1, 'no deal was opened');
});
