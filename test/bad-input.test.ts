// Bad input gets a clear 4xx naming what was wrong, and nothing half-written stays.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('the JSON API names every bad field and stores nothing', async (t) => {
  const ctx = await testApp(t);
  const { db } = ctx;
  const vendor = await signUpVendor(ctx);
  const before = (await vendor.api('GET', '/api/v1/profile')).json();

  const cases: [string, unknown, RegExp][] = [
    ['unknown concern', { concerns: { weather: { sunny: true } } }, /concerns\.weather/],
    ['unknown field', { concerns: { data_residency: { favourite_colour: 'blue' } } }, /concerns\.data_residency\.favourite_colour/],
    ['bad enum value', { concerns: { data_residency: { inference_scope: 'moon' } } }, /concerns\.data_residency\.inference_scope/],
    ['bad region', { concerns: { data_residency: { storage_regions: ['US', 'ATLANTIS'] } } }, /concerns\.data_residency\.storage_regions/],
    ['wrong type', { concerns: { audit_compliance: { breach_notification_hours: '72' } } }, /breach_notification_hours/],
    ['out of range', { concerns: { audit_compliance: { breach_notification_hours: 100000 } } }, /breach_notification_hours/],
    ['line break in text', { concerns: { training_data_provenance: { upstream_model_name: 'a\nb' } } }, /upstream_model_name/],
    ['oversized narrative', { concerns: { adversarial_risk: { narrative: 'x'.repeat(2001) } } }, /adversarial_risk\.narrative/],
    ['concerns not an object', { concerns: [1, 2] }, /concerns/],
  ];
  for (const [name, body, field] of cases) {
    const res = await vendor.api('PUT', '/api/v1/profile', body);
    t.equal(res.statusCode, 400, `${name}: 400`);
    t.equal(res.json().error.code, 'invalid_input', `${name}: stable code`);
    t.match(JSON.stringify(res.json().error.details), field, `${name}: names the field`);
  }
  // A valid change next to an invalid one is not half-applied.
  const mixed = await vendor.api('PUT', '/api/v1/profile', {
    concerns: { data_residency: { inference_scope: 'global_routing' }, audit_compliance: { log_access: 'carrier_pigeon' } },
  });
  t.equal(mixed.statusCode, 400);
  t.same((await vendor.api('GET', '/api/v1/profile')).json().concerns, before.concerns, 'the draft is unchanged');

  const dealCases: [string, unknown, RegExp][] = [
    ['no buyer name', { buyer_domain: 'x.example' }, /buyer_name/],
    ['buyer name with a line break', { buyer_name: 'Big\r\nBank' }, /buyer_name/],
    ['bad domain', { buyer_name: 'B', buyer_domain: 'not a domain' }, /buyer_domain/],
    ['impossible date', { buyer_name: 'B', started_on: '2026-02-30' }, /started_on/],
    ['bad override', { buyer_name: 'B', overrides: { data_residency: { inference_regions: ['MARS'] } } }, /overrides\.data_residency\.inference_regions/],
    ['unknown override concern', { buyer_name: 'B', overrides: { nope: {} } }, /overrides\.nope/],
  ];
  t.equal((await vendor.api('POST', '/api/v1/profile/publish')).statusCode, 200);
  for (const [name, body, field] of dealCases) {
    const res = await vendor.api('POST', '/api/v1/deals', body);
    t.equal(res.statusCode, 400, `${name}: 400`);
    t.match(JSON.stringify(res.json().error), field, `${name}: names the field`);
  }
  t.equal((await db.selectFrom('deals').selectAll().execute()).length, 0, 'no deal was stored');

  const dealId = await openDeal(vendor);
  const personCases: [string, unknown, RegExp][] = [
    ['malformed email', { name: 'Carla', email: 'carla-at-bank', role: 'ciso' }, /email/],
    ['name with a line break', { name: 'Carla\nBcc: evil@x.example', email: 'c@bank.example', role: 'ciso' }, /name/],
    ['unknown role', { name: 'Carla', email: 'c@bank.example', role: 'overlord' }, /role/],
    ['wrong type', { name: 42, email: 'c@bank.example', role: 'ciso' }, /name/],
  ];
  for (const [name, body, field] of personCases) {
    const res = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, body);
    t.equal(res.statusCode, 400, `${name}: 400`);
    t.match(JSON.stringify(res.json().error), field, `${name}: names the field`);
  }
  t.equal((await db.selectFrom('stakeholders').selectAll().execute()).length, 0, 'no stakeholder was stored');
  t.equal((await db.selectFrom('outbox').selectAll().where('template', '=', 'invite').execute()).length, 0, 'no mail was queued');

  const dup = { name: 'Carla', email: 'Carla@Bank.example', role: 'ciso', invite: false };
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, dup)).statusCode, 201);
  const again = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { ...dup, email: 'carla@bank.example' });
  t.equal(again.statusCode, 409, 'the same address twice on one deal is a conflict');
  t.equal(again.json().error.code, 'duplicate_stakeholder');
});

t.test('malformed requests are 4xx, never 5xx', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const auth = { authorization: `Bearer ${vendor.apiKey}` };
  const raw = (opts: Record<string, unknown>) => ctx.app.inject({ method: 'POST', url: '/api/v1/deals', headers: auth, ...opts } as never);

  const broken = await raw({ headers: { ...auth, 'content-type': 'application/json' }, payload: '{"buyer_name": ' });
  t.equal(broken.statusCode, 400, 'broken JSON');
  t.equal(broken.json().error.code, 'bad_request');
  const xml = await raw({ headers: { ...auth, 'content-type': 'application/xml' }, payload: '<deal/>' });
  t.equal(xml.statusCode, 415, 'unsupported content type');
  const huge = await raw({ headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ buyer_name: 'x'.repeat(400_000) }) });
  t.equal(huge.statusCode, 413, 'oversized body');
  const array = await raw({ headers: { ...auth, 'content-type': 'application/json' }, payload: '[1,2]' });
  t.equal(array.statusCode, 400, 'a JSON array instead of an object');

  for (const url of ['/api/v1/deals/not-a-uuid', '/api/v1/deals/00000000-0000-4000-8000-000000000000', '/api/v1/deals/%00/signals']) {
    const res = await vendor.api('GET', url);
    t.equal(res.statusCode, 404, `${url}: 404`);
    t.equal(res.json().error.code, 'not_found');
  }
  t.equal((await vendor.page('/app/deals/not-a-uuid')).statusCode, 404, 'deal page with a malformed id');
  t.equal((await vendor.post('/app/deals/not-a-uuid/stakeholders/also-not/invite')).statusCode, 404);

  const noKey = await ctx.app.inject({ method: 'GET', url: '/api/v1/deals' });
  t.equal(noKey.statusCode, 401);
  t.equal(noKey.json().error.code, 'unauthorized');
  const badKey = await ctx.app.inject({ method: 'GET', url: '/api/v1/deals', headers: { authorization: 'Bearer pp_nope' } });
  t.equal(badKey.statusCode, 401);
});

t.test('the respondent sees what was wrong, and nothing is recorded', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;
  const post = (values: Record<string, unknown>, concern = 'data_residency') => app.inject({ method: 'POST', url: `${path}/answer/${concern}`, ...form(values as never) });

  const noVerdict = await post({});
  t.equal(noVerdict.statusCode, 400);
  t.match(
    noVerdict.body,
    /<div class="error-summary" role="alert"[^]*<a href="#data_residency">Data residency: Choose confirm, correct or not mine<\/a>/,
    'the summary at the top links to the concern',
  );
  t.match(
    noVerdict.body,
    /id="data_residency"[^]*<p class="notice error-notice" role="alert">Choose confirm, correct or not mine<\/p>/,
    'the problem is also shown at the concern',
  );

  const noKind = await post({ verdict: 'correct', ...claimForm(claim, { inference_regions: ['EU_EEA'] }) });
  t.equal(noKind.statusCode, 400);
  t.match(noKind.body, /<a href="#k-factual_error">Kind of correction: choose what kind of correction this is<\/a>/, 'the summary links to the kind');
  t.match(noKind.body, /<p class="error" id="kind-error">choose what kind of correction this is<\/p>/);
  t.match(noKind.body, /value="EU_EEA" checked/, 'the submitted correction is kept on the page');

  const badValue = await post({ verdict: 'correct', kind: 'factual_error', ...claimForm(claim, { inference_scope: 'teleport' }) });
  t.equal(badValue.statusCode, 400);
  t.match(badValue.body, /<a href="#data_residency-inference_scope">Inference scope: [^<]+<\/a>/, 'the summary names the field by its label and links to it');
  t.match(badValue.body, /id="data_residency-inference_scope-error"/, 'the error is shown at the field');

  const nothingChanged = await post({ verdict: 'correct', kind: 'factual_error', ...claimForm(claim) });
  t.equal(nothingChanged.statusCode, 400);
  t.match(
    nothingChanged.body,
    /<li><a href="#data_residency-storage_regions-US">Change at least one value, or explain in a comment<\/a><\/li>/,
    'the summary says what a correction needs',
  );

  const longComment = await post({ verdict: 'confirm', comment: 'x'.repeat(2001) });
  t.equal(longComment.statusCode, 400);
  t.match(longComment.body, /Comment: [^<]*at most 2000 characters/);

  const bidi = await post({ verdict: 'confirm', comment: 'fine \u202Eenil' });
  t.equal(bidi.statusCode, 400, 'bidi override characters are refused');

  const unknownConcern = await post({ verdict: 'confirm' }, 'weather');
  t.equal(unknownConcern.statusCode, 404);

  t.equal((await db.selectFrom('signals').selectAll().execute()).length, 0, 'no signal was recorded');
});

t.test('unknown, expired and replaced links get the same clear page', async (t) => {
  const ctx = await testApp(t);
  const { app, clock, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const first = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });

  const unknown = await app.inject({ method: 'GET', url: '/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
  const malformed = await app.inject({ method: 'GET', url: '/r/short' });
  t.equal(unknown.statusCode, 404);
  t.equal(malformed.statusCode, 404);
  t.match(unknown.body, 'This link no longer works');
  t.match(unknown.body, 'Ask the person at the vendor who invited you');

  // A resend gives the link a new secret: the old mail's link stops working.
  const stakeholderId = first.id;
  const resent = await vendor.post(`/app/deals/${dealId}/stakeholders/${stakeholderId}/invite`);
  t.equal(resent.statusCode, 303);
  await ctx.drainMail();
  const replaced = await app.inject({ method: 'GET', url: first.path });
  t.equal(replaced.statusCode, 404, 'the replaced link no longer works');
  const latest = [...ctx.smtp.messages].reverse().find((m) => m.to === 'carla@bank.example')!;
  const second = new URL(/http:\/\/portal\.test\/r\/\S+/.exec(latest.text)![0]).pathname;
  t.equal((await app.inject({ method: 'GET', url: second })).statusCode, 200);

  clock.advance(46 * 86_400_000);
  const expired = await app.inject({ method: 'GET', url: second });
  t.equal(expired.statusCode, 404, 'links expire (45 days by default)');
  // Each page's renew form carries its own token; apart from that they are identical.
  const same = (body: string) => body.replace(/[A-Za-z0-9_-]{43}/g, 'TOKEN').replace(/\s+/g, ' ');
  t.equal(same(expired.body), same(unknown.body), 'expired and unknown links look the same');
  const late = await app.inject({ method: 'POST', url: `${second}/answer/data_residency`, ...form({ verdict: 'confirm' }) });
  t.equal(late.statusCode, 404, 'an expired link cannot answer');

  clock.advance(-46 * 86_400_000);
  await db.updateTable('stakeholder_links').set({ revoked_at: clock.now() }).execute();
  t.equal((await app.inject({ method: 'GET', url: second })).statusCode, 404, 'revoked links stop working');
});

t.test('text PostgreSQL cannot store and numbers it cannot hold are 400s', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);

  const lone = 'Acme\uD800';
  // A url-encoded form cannot carry a lone surrogate: its bytes decode to U+FFFD.
  const signup = await app.inject({
    method: 'POST',
    url: '/signup',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'workspace=Acme%ED%A0%80&name=x&email=a%40b.test',
  });
  t.equal(signup.statusCode, 200, 'invalid UTF-8 in a form is read as a replacement character, not a 5xx');
  const deal = await vendor.api('POST', '/api/v1/deals', { buyer_name: lone });
  t.equal(deal.statusCode, 400, 'a lone surrogate in JSON');
  const override = await vendor.api('POST', '/api/v1/deals', { buyer_name: 'B', overrides: { training_data_provenance: { upstream_model_name: 'gpt\uDC00' } } });
  t.equal(override.statusCode, 400, 'a lone surrogate in a claim field');
  t.equal((await vendor.api('POST', '/api/v1/deals', { buyer_name: 'B', profile_version: 99_999_999_999 })).statusCode, 400, 'a version beyond int4');
  t.equal((await vendor.api('POST', '/api/v1/deals', { buyer_name: 'B', started_on: '0000-01-01' })).statusCode, 400, 'year zero');
  const formVersion = await vendor.post('/app/deals', { buyer_name: 'B', profile_version: '1.5' });
  t.equal(formVersion.statusCode, 400, 'a fractional version on the form');

  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const comment = await app.inject({ method: 'POST', url: `${path}/answer/data_residency`, ...form({ verdict: 'confirm', comment: 'ok\uD800' }) });
  t.equal(comment.statusCode, 303, 'a comment with a broken character is saved, not a 5xx');
  t.same(await db.selectFrom('signals').select('comment').execute(), [{ comment: 'ok\uFFFD' }], 'as a replacement character');
  t.equal((await db.selectFrom('deals').selectAll().execute()).length, 1, 'only the first deal exists');
});
