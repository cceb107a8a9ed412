// The audit trail: every vendor-side change leaves exactly one entry, in the
// transaction of the change, naming who made it (a member, or an API key),
// from where, and what changed (never a secret); a refused change leaves
// none; the database itself refuses to change or remove an entry; and the
// trail is read by owners and admins only, a keyset page or one CSV at a time,
// each workspace its own.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { parse as parseCsv } from 'csv-parse/sync';
import type { LightMyRequestResponse } from 'fastify';
import type { DB } from '../server/db/index.js';
import { SUGGESTION_MIN_DEALS } from '../server/rules.js';
import { auditCsv } from '../server/audit/service.js';
import { testApp, type TestApp } from './helpers/app.js';
import { cookieJar, decodeEntities, form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, spendSignInLink, type TestVendor } from './helpers/vendor.js';
import { linksIn } from './helpers/smtp.js';

const OWNER = 'Ada Admin';
const KEY = 'API key “tests”';
const LOCAL = '127.0.0.1';

type Row = Awaited<ReturnType<typeof rowsOf>>[number];

const rowsOf = (db: DB, vendorId: string, after = 0) => db.selectFrom('audit_log').selectAll().where('vendor_id', '=', vendorId).where('id', '>', after).orderBy('id').execute();

/** Reads the entries each step adds: `one` expects exactly one, `none` none at all. */
async function trail(ctx: TestApp, email: string) {
  const user = await ctx.db.selectFrom('users').select(['id', 'vendor_id']).where('email', '=', email).executeTakeFirstOrThrow();
  const key = await ctx.db.selectFrom('api_keys').select('id').where('vendor_id', '=', user.vendor_id).where('name', '=', 'tests').executeTakeFirstOrThrow();
  let seen = 0;
  const fresh = async () => {
    const rows = await rowsOf(ctx.db, user.vendor_id, seen);
    if (rows.length) seen = Number(rows.at(-1)!.id);
    return rows;
  };
  return {
    vendorId: user.vendor_id,
    userId: user.id,
    keyId: key.id,
    /** The member on a page. */
    byOwner: { actor_name: OWNER, actor_kind: 'user', actor_id: user.id, ip: LOCAL },
    /** The test API key. */
    byKey: { actor_name: KEY, actor_kind: 'api_key', actor_id: key.id, ip: LOCAL },
    async one(t: Test, what: string, expected: Record<string, unknown>, changes?: Record<string, unknown>): Promise<Row> {
      const rows = await fresh();
      t.same(
        rows.map((r) => r.action),
        [expected.action],
        `${what}: exactly one entry`,
      );
      const row = rows[0];
      if (row) {
        t.match(row, expected, `${what}: who, what, to what, from where`);
        if (changes) t.same(row.changes, changes, `${what}: what changed`);
      }
      return row;
    },
    /** Entries added since the last look, whatever they are. */
    fresh,
    async none(t: Test, what: string) {
      t.same(
        (await fresh()).map((r) => r.action),
        [],
        `${what}: nothing recorded`,
      );
    },
  };
}

const ok = (t: Test, res: LightMyRequestResponse, status: number, what: string) =>
  t.equal(res.statusCode, status, `${what} answers ${status}${res.statusCode === status ? '' : `: ${res.body.slice(0, 300)}`}`);

t.test('settings, API keys and the profile: one entry per change, none for a refused one', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { email: 'ada@acme.test' });
  const a = await trail(ctx, 'ada@acme.test');
  // The helper made its key on the settings page: on the trail, without the key.
  const all = await rowsOf(ctx.db, a.vendorId);
  t.same(
    all.map((r) => r.action),
    ['api_key.created'],
    'signing up records nothing; creating the key does',
  );
  t.match(all[0], { ...a.byOwner, target_type: 'api_key', target_id: a.keyId, target_name: 'tests' });
  t.same(all[0].changes, { name: 'tests', role: 'owner', prefix: vendor.apiKey.slice(0, 9) }, 'its name, role and prefix');
  t.notMatch(JSON.stringify(all[0]), vendor.apiKey.slice(9, 30), 'never the key itself');
  await a.one(t, 'the key', { action: 'api_key.created' });

  // Workspace settings: before and after; the same value again is no change; a refused value none.
  ok(t, await vendor.post('/app/settings/workspace', { web_domain: 'acme.example' }), 303, 'setting the web domain');
  await a.one(
    t,
    'web domain',
    { ...a.byOwner, action: 'workspace.updated', target_type: 'workspace', target_id: a.vendorId, target_name: 'Acme AI' },
    {
      web_domain: { before: null, after: 'acme.example' },
    },
  );
  ok(t, await vendor.post('/app/settings/workspace', { web_domain: 'acme.example' }), 303, 'the same domain again');
  await a.none(t, 'the same domain again');
  ok(t, await vendor.post('/app/settings/workspace', { web_domain: 'https://acme.example/x' }), 400, 'a web address for a domain');
  await a.none(t, 'a refused domain');
  ok(t, await vendor.post('/app/settings/suggestions', { suggestion_min_deals: '1' }), 303, 'the suggestion threshold');
  await a.one(t, 'threshold', { ...a.byOwner, action: 'workspace.updated' }, { suggestion_min_deals: { before: SUGGESTION_MIN_DEALS.default, after: 1 } });
  ok(t, await vendor.post('/app/settings/suggestions', { suggestion_min_deals: '0' }), 400, 'a threshold out of bounds');
  await a.none(t, 'a refused threshold');

  // A second key, revoked: name, role and prefix both times.
  const made = await vendor.post('/app/settings/api-keys', { name: 'CRM sync', role: 'member' });
  ok(t, made, 200, 'creating a key');
  const crm = /<code class="secret">([^<]+)<\/code>/.exec(made.body)![1];
  const created = await a.one(
    t,
    'a member key',
    { ...a.byOwner, action: 'api_key.created', target_name: 'CRM sync' },
    { name: 'CRM sync', role: 'member', prefix: crm.slice(0, 9) },
  );
  ok(t, await vendor.post('/app/settings/api-keys', { name: 'Too high', role: 'superuser' }), 400, 'a key with an unknown role');
  await a.none(t, 'a refused key');
  ok(t, await vendor.post(`/app/settings/api-keys/${created.target_id}/revoke`), 303, 'revoking it');
  await a.one(
    t,
    'revoking',
    { ...a.byOwner, action: 'api_key.revoked', target_type: 'api_key', target_id: created.target_id, target_name: 'CRM sync' },
    {
      name: 'CRM sync',
      role: 'member',
      prefix: crm.slice(0, 9),
    },
  );
  ok(t, await vendor.post(`/app/settings/api-keys/${created.target_id}/revoke`), 404, 'revoking it again');
  await a.none(t, 'revoking a revoked key');

  // The profile: which concerns and fields a save changed; publishing, its version. From another address.
  const put = await ctx.app.inject({
    method: 'PUT',
    url: '/api/v1/profile',
    remoteAddress: '203.0.113.7',
    headers: { authorization: `Bearer ${vendor.apiKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ concerns: { audit_compliance: { breach_notification_hours: 24 }, model_access_controls: { mfa_enforced: false, narrative: 'SSO for all.' } } }),
  });
  ok(t, put, 200, 'saving the draft through the API');
  await a.one(
    t,
    'a draft save',
    { ...a.byKey, ip: '203.0.113.7', action: 'profile.draft_saved', target_type: 'profile' },
    {
      concerns: { model_access_controls: ['mfa_enforced', 'narrative'], audit_compliance: ['breach_notification_hours'] },
    },
  );
  ok(t, await vendor.api('PUT', '/api/v1/profile', { concerns: { audit_compliance: { breach_notification_hours: 'soon' } } }), 400, 'a draft with a bad value');
  await a.none(t, 'a refused draft');
  ok(t, await vendor.api('PUT', '/api/v1/profile', { concerns: { audit_compliance: { breach_notification_hours: 24 } } }), 200, 'the same value again');
  await a.none(t, 'a save that changes nothing');
  ok(t, await vendor.api('POST', '/api/v1/profile/publish'), 200, 'publishing');
  await a.one(t, 'publishing', { ...a.byKey, action: 'profile.published', target_type: 'profile', target_name: 'Version 1' }, { version: 1 });

  // Suggestions from buyers (the threshold is 1 now): one put into the draft, one dismissed.
  const correction = async (buyer: string, concern: string, changes: Record<string, unknown>) => {
    const dealId = await openDeal(vendor, { buyer_name: buyer });
    const person = await inviteStakeholder(ctx, vendor, dealId, { email: `ciso@${buyer.toLowerCase().replace(/\W+/g, '')}.example` });
    const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns.find((c: { concern: string }) => c.concern === concern).claim;
    const res = await ctx.app.inject({
      method: 'POST',
      url: `${person.path}/answer/${concern}`,
      ...form({ verdict: 'correct', kind: 'factual_error', ...claimForm(claim, changes) }),
    });
    t.equal(res.statusCode, 303, `${buyer} corrects ${concern}`);
  };
  // openDeal publishes again each time (version 2, 3); the buyer's answer is not the vendor's, and records nothing.
  await correction('Alpha Bank', 'training_data_provenance', { indemnity_cap: 'capped_at_fees' });
  await correction('Beta Bank', 'ai_governance', { deprecation_notice_days: 7 });
  // The buyers' answers are theirs, not the vendor's: only the vendor's steps of openDeal and inviteStakeholder are on the trail.
  t.same(
    [...new Set((await a.fresh()).map((r) => r.action))].sort(),
    ['deal.created', 'profile.published', 'stakeholder.added'],
    'the buyers’ answers are not on the vendor’s trail',
  );
  const page = await vendor.page('/app/profile');
  const keys = [...new Set([...page.body.matchAll(/<input type="hidden" name="key" value="([^"]*)">/g)].map((m) => decodeEntities(m[1])))];
  t.equal(keys.length, 2, 'two suggestions');
  const tdp = keys.find((k) => k.startsWith('training_data_provenance.'))!;
  const gov = keys.find((k) => k.startsWith('ai_governance.'))!;

  ok(t, await vendor.post('/app/profile/suggestions/apply', { key: tdp }), 303, 'putting a suggestion into the draft');
  await a.one(
    t,
    'a suggestion applied',
    { ...a.byOwner, action: 'profile.suggestion_applied', target_type: 'profile' },
    {
      concern: 'training_data_provenance',
      field: 'indemnity_cap',
      before: 'uncapped',
      after: 'capped_at_fees',
      deals: 1,
    },
  );
  ok(t, await vendor.post('/app/profile/suggestions/dismiss', { key: gov }), 303, 'dismissing the other');
  const dismissed = await a.one(t, 'a suggestion dismissed', { ...a.byOwner, action: 'profile.suggestion_dismissed', target_type: 'profile' });
  t.match(dismissed?.changes, { concern: 'ai_governance', field: 'deprecation_notice_days', after: 7, deals: 1 });
  ok(t, await vendor.post('/app/profile/suggestions/dismiss', { key: gov }), 400, 'dismissing it again');
  ok(t, await vendor.post('/app/profile/suggestions/apply', { key: 'nothing.here:1>2' }), 400, 'an unknown suggestion');
  await a.none(t, 'refused suggestions');
});

t.test('deals, claims, stages, people and links: one entry per change, page or API', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const vendor = await signUpVendor(ctx, { email: 'ada@acme.test' });
  const a = await trail(ctx, 'ada@acme.test');
  ok(t, await vendor.api('POST', '/api/v1/profile/publish'), 200, 'publishing');
  await a.fresh();

  // Opening a deal: through the API (the key), then on the page (the member).
  const opened = await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Big Bank', buyer_domain: 'bigbank.example', started_on: '2026-03-01', industry: 'insurance' });
  ok(t, opened, 201, 'opening a deal');
  const dealId: string = opened.json().id;
  await a.one(
    t,
    'a deal opened',
    { ...a.byKey, action: 'deal.created', target_type: 'deal', target_id: dealId, target_name: 'Big Bank' },
    {
      buyer_name: 'Big Bank',
      buyer_domain: 'bigbank.example',
      started_on: '2026-03-01',
      profile_version: 1,
      industry: 'insurance',
      region: null,
      tailored: [],
    },
  );
  ok(t, await vendor.api('POST', '/api/v1/deals', { buyer_name: '' }), 400, 'a deal without a buyer');
  await a.none(t, 'a refused deal');
  const onPage = await vendor.post('/app/deals', { buyer_name: 'Page Bank', profile_version: '1' });
  ok(t, onPage, 303, 'opening a deal on the page');
  const pageDealId = /\/app\/deals\/([0-9a-f-]{36})/.exec(String(onPage.headers.location))![1];
  await a.one(t, 'a deal opened on the page', { ...a.byOwner, action: 'deal.created', target_id: pageDealId, target_name: 'Page Bank' });

  // A claim: which fields, before and after, and the revision.
  ok(t, await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/audit_compliance`, { breach_notification_hours: 24 }), 200, 'changing a claim');
  const claim = await a.one(t, 'a claim changed', { ...a.byKey, action: 'claim.changed', target_type: 'deal', target_id: dealId, target_name: 'Big Bank' });
  t.match(claim?.changes, { concern: 'audit_compliance', revision: 2, fields: { breach_notification_hours: { after: 24 } } });
  t.same(Object.keys((claim?.changes as { fields: object }).fields), ['breach_notification_hours'], 'only the field that changed');
  ok(t, await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/audit_compliance`, { breach_notification_hours: 'soon' }), 400, 'a claim with a bad value');
  ok(t, await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/audit_compliance`, { breach_notification_hours: 24 }), 200, 'the same claim again');
  await a.none(t, 'a refused claim, and one that changes nothing');
  ok(t, await vendor.post(`/app/deals/${dealId}/claims/model_access_controls`, { 'c.mfa_enforced': 'no' }), 303, 'changing a claim on its page');
  await a.one(t, 'a claim changed on the page', { ...a.byOwner, action: 'claim.changed', target_id: dealId });

  // Stages: from and to, and whether the checkpoint was overridden (and why).
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'evaluation' }), 200, 'a stage move');
  await a.one(t, 'a stage move', { ...a.byKey, action: 'deal.stage_changed', target_id: dealId }, { stage: { before: 'discovery', after: 'evaluation' }, overridden: false });
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'negotiation' }), 409, 'a gated stage with the checkpoint open');
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'nowhere' }), 400, 'an unknown stage');
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'evaluation' }), 200, 'the stage it is in');
  await a.none(t, 'refused stage moves, and a move to where it is');
  ok(t, await vendor.post(`/app/deals/${dealId}/stage`, { stage: 'negotiation', override_reason: 'The buyer signs this week.' }), 303, 'an override on the page');
  await a.one(
    t,
    'an override',
    { ...a.byOwner, action: 'deal.stage_changed' },
    {
      stage: { before: 'evaluation', after: 'negotiation' },
      overridden: true,
      override_reason: 'The buyer signs this week.',
    },
  );

  // Settings and segment: each value before and after.
  ok(t, await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { reminders_paused: true, region: 'EU_EEA' }), 200, 'deal settings through the API');
  await a.one(
    t,
    'deal settings',
    { ...a.byKey, action: 'deal.updated', target_id: dealId },
    {
      reminders_paused: { before: false, after: true },
      region: { before: null, after: 'EU_EEA' },
    },
  );
  ok(t, await vendor.post(`/app/deals/${dealId}/settings`, { reminders_paused: 'yes', reminder_days: '2, 9' }), 303, 'deal settings on the page');
  await a.one(t, 'deal settings on the page', { ...a.byOwner, action: 'deal.updated' }, { reminder_days: { before: [3, 7], after: [2, 9] } });
  ok(t, await vendor.post(`/app/deals/${dealId}/segment`, { industry: 'healthcare', region: 'EU_EEA' }), 303, 'the segment on the page');
  await a.one(t, 'the segment', { ...a.byOwner, action: 'deal.updated' }, { industry: { before: 'insurance', after: 'healthcare' } });
  ok(t, await vendor.post(`/app/deals/${dealId}/settings`, { reminder_days: '9, 2' }), 400, 'reminder days out of order');
  ok(t, await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { region: 'Atlantis' }), 400, 'an unknown region');
  await a.none(t, 'refused settings');

  // People: added (invited or not), invited, a new link, role, reminders, revoke, extend.
  const carla = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Carla Ciso', email: 'carla@bigbank.example', role: 'ciso' });
  ok(t, carla, 201, 'adding a person');
  const carlaId: string = carla.json().id;
  await a.one(
    t,
    'a person added',
    { ...a.byKey, action: 'stakeholder.added', target_type: 'stakeholder', target_id: carlaId, target_name: 'Carla Ciso' },
    {
      deal_id: dealId,
      deal: 'Big Bank',
      email: 'carla@bigbank.example',
      role: 'ciso',
      invited: true,
    },
  );
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Carla Again', email: 'carla@bigbank.example', role: 'ciso' }), 409, 'the same address again');
  await a.none(t, 'a refused person');
  ok(
    t,
    await vendor.post(`/app/deals/${dealId}/stakeholders`, { name: 'Sam Security', email: 'sam@bigbank.example', role: 'security', invite: 'no' }),
    303,
    'adding someone without inviting',
  );
  const sam = await a.one(t, 'a person added, not invited', { ...a.byOwner, action: 'stakeholder.added', target_name: 'Sam Security' });
  t.match(sam?.changes, { invited: false });
  const samId = sam!.target_id!;
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/${samId}/invite`), 303, 'inviting them');
  await a.one(t, 'an invitation', { ...a.byOwner, action: 'stakeholder.invited', target_id: samId });
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${samId}/resend`), 200, 'a new link');
  await a.one(t, 'a resend', { ...a.byKey, action: 'link.resent', target_id: samId, target_name: 'Sam Security' });
  ok(t, await vendor.api('PATCH', `/api/v1/deals/${dealId}/stakeholders/${samId}`, { role: 'compliance', reminders_paused: true }), 200, 'a role and reminders');
  t.same(
    (await a.fresh()).map((r) => [r.action, r.changes.role ?? null]),
    [
      ['stakeholder.role_changed', { before: 'security', after: 'compliance' }],
      ['stakeholder.reminders_paused', null],
    ],
    'a role change and a pause: two entries',
  );
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/${samId}/reminders`, { paused: 'yes' }), 303, 'pausing them again');
  ok(t, await vendor.api('PATCH', `/api/v1/deals/${dealId}/stakeholders/${samId}`, { role: 'champion' }), 400, 'a role to champion');
  await a.none(t, 'a pause that changes nothing, and a refused role');
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/${samId}/reminders`), 303, 'resuming their reminders');
  await a.one(t, 'reminders resumed', { ...a.byOwner, action: 'stakeholder.reminders_resumed', target_id: samId });
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${samId}/extend`, { days: 10 }), 200, 'extending links');
  await a.one(
    t,
    'links extended',
    { ...a.byKey, action: 'link.extended', target_id: samId },
    {
      deal_id: dealId,
      deal: 'Big Bank',
      email: 'sam@bigbank.example',
      days: 10,
      expires_at: new Date(ctx.clock.now().getTime() + 10 * 86_400_000).toISOString(),
    },
  );
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/${samId}/revoke`), 303, 'revoking links');
  await a.one(t, 'links revoked', { ...a.byOwner, action: 'link.revoked', target_id: samId });
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/${samId}/extend`), 409, 'extending revoked links');
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/${randomUUID()}/revoke`), 404, 'revoking nobody');
  await a.none(t, 'refused link changes');

  // A delegate the buyer's CISO brings in: the hand-over is the buyer's (not on the trail); the confirmation is the vendor's.
  await ctx.drainMail();
  const carlaMail = [...ctx.smtp.messages].reverse().find((m) => m.to === 'carla@bigbank.example')!;
  const carlaPath = new URL(linksIn(carlaMail.text).find((l) => l.includes('/r/'))!).pathname;
  const handed = await app.inject({
    method: 'POST',
    url: `${carlaPath}/delegate`,
    ...form({ concerns: ['audit_compliance'], name: 'Pat Privacy', email: 'pat@bigbank.example', role: 'privacy' }),
  });
  ok(t, handed, 303, 'the CISO hands a concern over');
  await a.none(t, 'a hand-over by the buyer');
  const pat = await ctx.db.selectFrom('stakeholders').select('id').where('email', '=', 'pat@bigbank.example').executeTakeFirstOrThrow();
  ok(t, await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${pat.id}/confirm`), 200, 'confirming the delegate');
  await a.one(t, 'a delegate confirmed', { ...a.byKey, action: 'stakeholder.confirmed', target_id: pat.id, target_name: 'Pat Privacy' });
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/${pat.id}/confirm`), 303, 'confirming them again');
  await a.none(t, 'a confirmation that changes nothing');

  // Many at once: the API's batch and the page's CSV, one entry each, naming everyone.
  const batch = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, {
    stakeholders: [
      { name: 'Lee Legal', email: 'lee@bigbank.example', role: 'legal' },
      { name: 'Olu Other', email: 'olu@bigbank.example', role: 'other', invite: false },
    ],
  });
  ok(t, batch, 201, 'a batch');
  const added = await a.one(t, 'a batch', { ...a.byKey, action: 'stakeholder.imported', target_type: 'deal', target_id: dealId, target_name: 'Big Bank' });
  t.match(added?.changes, { source: 'batch', added: 2, invited: 1, people: [{ name: 'Lee Legal', email: 'lee@bigbank.example', role: 'legal' }, { name: 'Olu Other' }] });
  ok(
    t,
    await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, { stakeholders: [{ name: 'Dup', email: 'lee@bigbank.example', role: 'legal' }] }),
    400,
    'a batch with a bad row',
  );
  await a.none(t, 'a refused batch');
  const csv = 'name,email,role\nCasey Csv,casey@bigbank.example,privacy\nDana Csv,dana@bigbank.example,security\n';
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/csv/preview`, { csv }), 200, 'previewing CSV');
  await a.none(t, 'a preview');
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/csv`, { csv }), 303, 'importing CSV');
  const imported = await a.one(t, 'a CSV import', { ...a.byOwner, action: 'stakeholder.imported', target_id: dealId });
  t.match(imported?.changes, { source: 'csv', added: 2, invited: 2, people: [{ name: 'Casey Csv' }, { name: 'Dana Csv' }] });
  ok(t, await vendor.post(`/app/deals/${dealId}/stakeholders/csv`, { csv }), 400, 'the same CSV again');
  await a.none(t, 'a refused CSV');
});

t.test('webhooks and exports: who did what, never a secret', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { email: 'ada@acme.test' });
  const a = await trail(ctx, 'ada@acme.test');
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  await a.fresh();

  // A Standard Webhooks endpoint through the API: a token in its query stays off the trail, as do secrets.
  const made = await vendor.api('POST', '/api/v1/webhooks', { url: 'https://93.184.216.34/crm?token=QuerySecret1', events: ['deal.stage_changed'] });
  ok(t, made, 201, 'adding a webhook');
  const hook = made.json() as { id: string; secret: string };
  await a.one(
    t,
    'a webhook added',
    { ...a.byKey, action: 'webhook.created', target_type: 'webhook', target_id: hook.id, target_name: 'https://93.184.216.34/crm' },
    {
      url: 'https://93.184.216.34/crm',
      kind: 'standard',
      events: ['deal.stage_changed'],
      description: null,
    },
  );
  ok(t, await vendor.api('POST', '/api/v1/webhooks', { url: 'http://10.0.0.1/x', events: ['deal.stage_changed'] }), 400, 'a private address');
  await a.none(t, 'a refused webhook');
  ok(t, await vendor.api('PATCH', `/api/v1/webhooks/${hook.id}`, { description: 'CRM', events: ['deal.stage_changed'] }), 200, 'changing it');
  await a.one(t, 'a webhook changed', { ...a.byKey, action: 'webhook.updated', target_id: hook.id }, { description: { before: null, after: 'CRM' } });
  ok(t, await vendor.post(`/app/settings/webhooks/${hook.id}/disable`), 303, 'switching it off on the page');
  await a.one(t, 'switched off', { ...a.byOwner, action: 'webhook.updated', target_id: hook.id }, { enabled: { before: true, after: false } });
  const rotated = await vendor.api('POST', `/api/v1/webhooks/${hook.id}/rotate`);
  ok(t, rotated, 200, 'rotating its secret');
  await a.one(
    t,
    'a secret rotated',
    { ...a.byKey, action: 'webhook.secret_rotated', target_id: hook.id },
    {
      previous_secret_expires_at: rotated.json().previous_secret_expires_at,
    },
  );
  const tested = await vendor.api('POST', `/api/v1/webhooks/${hook.id}/test`);
  ok(t, tested, 202, 'a test event');
  const deliveryId: string = tested.json().delivery_id;
  await a.one(t, 'a test sent', { ...a.byKey, action: 'webhook.test_sent', target_id: hook.id }, { delivery_id: deliveryId });
  const resent = await vendor.post(`/app/settings/webhooks/${hook.id}/deliveries/${deliveryId}/resend`);
  ok(t, resent, 303, 'resending the delivery');
  const copy = await a.one(t, 'a delivery resent', { ...a.byOwner, action: 'webhook.delivery_resent', target_id: hook.id });
  t.match(copy?.changes, { delivery_id: deliveryId, new_delivery_id: /^[0-9a-f-]{36}$/, event_type: 'endpoint.test' });
  ok(t, await vendor.api('POST', `/api/v1/webhooks/${hook.id}/deliveries/${randomUUID()}/resend`), 404, 'resending no delivery');
  await a.none(t, 'a refused resend');

  // A Slack endpoint on the page: its address is itself a credential, so the trail keeps only the host.
  const slack = await vendor.post('/app/settings/webhooks', { url: 'https://93.184.216.34/services/T0/B0/SlackPathSecret', kind: 'slack', events: ['signal.created'] });
  ok(t, slack, 200, 'adding a Slack webhook');
  const slackRow = await a.one(t, 'a Slack webhook', { ...a.byOwner, action: 'webhook.created', target_name: 'https://93.184.216.34/…' });
  t.match(slackRow?.changes, { url: 'https://93.184.216.34/…', kind: 'slack' });
  ok(t, await vendor.post(`/app/settings/webhooks/${slackRow!.target_id}/delete`), 303, 'deleting it');
  await a.one(t, 'a webhook deleted', { ...a.byOwner, action: 'webhook.deleted', target_id: slackRow!.target_id, target_name: 'https://93.184.216.34/…' });
  ok(t, await vendor.api('DELETE', `/api/v1/webhooks/${hook.id}`), 204, 'deleting the other through the API');
  await a.one(t, 'a webhook deleted', { ...a.byKey, action: 'webhook.deleted', target_id: hook.id });
  ok(t, await vendor.api('DELETE', `/api/v1/webhooks/${hook.id}`), 404, 'deleting it again');
  await a.none(t, 'a refused delete');
  const everything = JSON.stringify(await rowsOf(ctx.db, a.vendorId));
  for (const secret of [hook.secret, rotated.json().secret, 'QuerySecret1', 'SlackPathSecret', 'whsec_']) t.notMatch(everything, secret, `no ${secret.slice(0, 12)}… on the trail`);

  // Exports, recorded as they start, with what and which filters; a refused one records nothing.
  const deals = await vendor.api('GET', '/api/v1/deals/export?stage=discovery&format=ndjson');
  ok(t, deals, 200, 'a deal export');
  await a.one(
    t,
    'a deal export',
    { ...a.byKey, action: 'export.downloaded', target_type: 'workspace', target_id: null },
    {
      export: 'deals',
      format: 'ndjson',
      filters: { sort: '-last_activity', stage: 'discovery' },
    },
  );
  ok(t, await vendor.api('GET', '/api/v1/deals/export?stage=nowhere'), 400, 'an export with a bad filter');
  ok(t, await vendor.api('GET', `/api/v1/deals/${randomUUID()}/grid/export`), 404, 'a grid of no deal');
  await a.none(t, 'refused exports');
  ok(t, await vendor.api('GET', `/api/v1/signals/export?deal_id=${dealId}&from=2026-01-01`), 200, 'a signal export of one deal');
  await a.one(
    t,
    'a signal export',
    { ...a.byKey, action: 'export.downloaded', target_type: 'deal', target_id: dealId, target_name: 'Big Bank' },
    {
      export: 'signals',
      format: 'csv',
      filters: { deal_id: dealId, from: '2026-01-01' },
    },
  );
  ok(t, await vendor.page(`/app/deals/${dealId}/grid.csv`), 200, 'a grid on the page');
  await a.one(t, 'a grid export', { ...a.byOwner, action: 'export.downloaded', target_type: 'deal', target_id: dealId }, { export: 'grid', format: 'csv', filters: {} });
  ok(t, await vendor.page(`/app/deals/${dealId}/signals.ndjson?to=2026-12-31`), 200, 'signals on the page');
  await a.one(
    t,
    'signals on the page',
    { ...a.byOwner, action: 'export.downloaded', target_id: dealId },
    {
      export: 'signals',
      format: 'ndjson',
      filters: { to: '2026-12-31', deal_id: dealId },
    },
  );
  ok(t, await vendor.page('/app/deals/export.csv?q=Big'), 200, 'the deal list on the page');
  await a.one(t, 'the deal list', { ...a.byOwner, action: 'export.downloaded' }, { export: 'deals', format: 'csv', filters: { sort: '-last_activity', q: 'Big' } });
});

t.test('the database refuses to change or remove an entry', async (t) => {
  const ctx = await testApp(t);
  await signUpVendor(ctx, { email: 'ada@acme.test' });
  const a = await trail(ctx, 'ada@acme.test');
  const before = await rowsOf(ctx.db, a.vendorId);
  t.equal(before.length, 1, 'an entry to try it on');
  const refused = /append-only: (UPDATE|DELETE|TRUNCATE) is not allowed/;
  await t.rejects(ctx.db.updateTable('audit_log').set({ actor_name: 'Someone else' }).where('vendor_id', '=', a.vendorId).execute(), refused, 'UPDATE is refused');
  await t.rejects(ctx.db.deleteFrom('audit_log').where('vendor_id', '=', a.vendorId).execute(), refused, 'DELETE is refused');
  await t.rejects(sql`TRUNCATE audit_log`.execute(ctx.db), refused, 'TRUNCATE is refused');
  t.same(await rowsOf(ctx.db, a.vendorId), before, 'the entry is as it was');
});

/** A member of the vendor's workspace with this role, signed in on a page through an emailed link. */
async function memberWithRole(ctx: TestApp, vendorId: string, role: 'viewer' | 'member' | 'admin', email: string) {
  await ctx.db
    .insertInto('users')
    .values({ id: randomUUID(), vendor_id: vendorId, email, name: `${role} person`, role, created_at: ctx.clock.now() })
    .execute();
  const asked = await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email }) });
  if (asked.statusCode !== 200) throw new Error(`sign-in answered ${asked.statusCode}`);
  await ctx.drainMail();
  const mail = await ctx.smtp.waitFor((m) => m.to === email);
  const jar = cookieJar();
  const spent = await spendSignInLink(ctx.app, new URL(linksIn(mail.text).find((l) => l.includes('/auth/link/'))!).pathname, jar);
  if (spent.statusCode !== 303) throw new Error(`the sign-in link answered ${spent.statusCode}`);
  return (url: string) => ctx.app.inject({ method: 'GET', url, headers: jar.headers() });
}

type EntryJson = {
  id: string;
  actor: { id: string | null; name: string; kind: string };
  action: string;
  target: { type: string; id: string | null; name: string | null };
  changes: Record<string, unknown>;
  ip: string | null;
  created_at: string;
};

/** Every page of GET /api/v1/audit with this query, following next_cursor. */
async function allPages(t: Test, vendor: TestVendor, query: string) {
  const pages: EntryJson[][] = [];
  let cursor: string | null = null;
  do {
    const res = await vendor.api('GET', `/api/v1/audit?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    t.equal(res.statusCode, 200, `page ${pages.length + 1} answers 200`);
    const body = res.json() as { entries: EntryJson[]; next_cursor: string | null };
    pages.push(body.entries);
    cursor = body.next_cursor;
    if (pages.length > 50) throw new Error('the cursor never ends');
  } while (cursor);
  return pages;
}

/** CSV text as rows of cells. */
const csvRows = (text: string): string[][] => parseCsv(text, { relax_column_count: true });

t.test('reading the trail: keyset pages, a filter, CSV, each workspace its own, owners and admins only', async (t) => {
  const ctx = await testApp(t);
  const alpha = await signUpVendor(ctx, { workspace: 'Alpha AI', name: 'Ada Admin', email: 'ada@alpha.test' });
  const beta = await signUpVendor(ctx, { workspace: 'Beta AI', name: 'Bea Boss', email: 'bea@beta.test' });
  const a = await trail(ctx, 'ada@alpha.test');
  // A's trail: a deal whose buyer a spreadsheet would run as a formula, and a run of threshold changes.
  await openDeal(alpha, { buyer_name: '=HYPERLINK("calc","Alphabank")' });
  for (const n of [1, 2, 3, 4, 5, 6, 7]) ok(t, await alpha.post('/app/settings/suggestions', { suggestion_min_deals: String(n === 3 ? 8 : n) }), 303, `threshold ${n}`);
  const stored = (await rowsOf(ctx.db, a.vendorId)).reverse();
  t.ok(stored.length >= 10, `${stored.length} entries in A's trail`);

  // Pages of 3: newest first, none twice, none left out, the last without a cursor.
  const pages = await allPages(t, alpha, 'limit=3');
  t.same(
    pages.map((p) => p.length),
    [...Array(Math.ceil(stored.length / 3) - 1).fill(3), stored.length % 3 || 3],
    'pages of 3, the last one shorter or full',
  );
  const ids = pages.flat().map((e) => Number(e.id));
  t.same(
    ids,
    stored.map((r) => Number(r.id)),
    'every entry once, newest first',
  );
  t.equal(new Set(ids).size, ids.length, 'no entry on two pages');
  const threshold = pages.flat().find((e) => e.action === 'workspace.updated')!;
  t.same(
    threshold,
    {
      id: String(stored.find((r) => r.action === 'workspace.updated')!.id),
      actor: { id: a.userId, name: 'Ada Admin', kind: 'user' },
      action: 'workspace.updated',
      target: { type: 'workspace', id: a.vendorId, name: 'Alpha AI' },
      changes: { suggestion_min_deals: { before: 6, after: 7 } },
      ip: LOCAL,
      created_at: ctx.clock.now().toISOString(),
    },
    'an entry as the API gives it',
  );
  // The default page, and a filter.
  const first = (await alpha.api('GET', '/api/v1/audit')).json();
  t.equal(first.entries.length, stored.length, 'up to 50 by default');
  t.equal(first.next_cursor, null, 'all of them on one page');
  const filtered = await allPages(t, alpha, 'action=workspace.updated&limit=2');
  t.same(
    filtered.flat().map((e) => Number(e.id)),
    stored.filter((r) => r.action === 'workspace.updated').map((r) => Number(r.id)),
    'the filter gives every entry of that action, and only those',
  );
  t.equal(filtered.flat().length, 7);

  // CSV: a header and every entry (as they stood when it started), newest first; formulas neutralised.
  const csv = await alpha.api('GET', '/api/v1/audit?format=csv');
  ok(t, csv, 200, 'the CSV');
  t.match(csv.headers['content-type'], /^text\/csv/);
  t.match(csv.headers['content-disposition'], /^attachment; filename="audit-trail-2026-03-02\.csv"$/);
  t.equal(csv.headers['cache-control'], 'no-store');
  const rows = csvRows(csv.body);
  t.same(rows[0], ['id', 'created_at', 'actor_kind', 'actor_id', 'actor_name', 'action', 'target_type', 'target_id', 'target_name', 'changes', 'ip'], 'the header');
  t.same(
    rows.slice(1).map((r) => Number(r[0])),
    stored.map((r) => Number(r.id)),
    'every entry, newest first',
  );
  const dealRow = rows.find((r) => r[5] === 'deal.created')!;
  t.equal(dealRow[8], `'=HYPERLINK("calc","Alphabank")`, 'a formula in a cell is neutralised');
  t.same(JSON.parse(rows[1][9]), { suggestion_min_deals: { before: 6, after: 7 } }, 'changes as JSON');
  const own = (await rowsOf(ctx.db, a.vendorId)).at(-1)!;
  t.match(own, { ...a.byKey, action: 'export.downloaded', target_type: 'workspace' }, 'the download is on the trail itself');
  t.same(own.changes, { export: 'audit', format: 'csv', filters: {} });
  // Batch by batch (here 4 entries a query): the same file, every entry once, one query per batch and one to find the end.
  let queries = 0;
  const small = await auditCsv(ctx.db, ctx.clock, a.vendorId, {}, { batch: 4, onBatch: () => queries++ });
  let text = '';
  for await (const chunk of small.body) text += String(chunk);
  const inBatches = csvRows(text);
  const everything = (await rowsOf(ctx.db, a.vendorId)).reverse();
  t.same(
    inBatches.slice(1).map((r) => Number(r[0])),
    everything.map((r) => Number(r.id)),
    'batches of 4 give every entry once, newest first',
  );
  t.equal(queries, Math.floor(everything.length / 4) + 1, 'one query per batch');
  const onlyDeals = csvRows((await alpha.api('GET', '/api/v1/audit?format=csv&action=deal.created')).body);
  t.same(
    onlyDeals.slice(1).map((r) => r[5]),
    ['deal.created'],
    'the CSV takes the filter',
  );

  // The page: a table in words, older entries by cursor, the CSV link; an empty filter says so.
  const page = await alpha.page('/app/audit?limit=4');
  ok(t, page, 200, 'the page');
  t.match(page.body, '<h1>Audit trail</h1>');
  t.match(page.body, 'Deals that must agree before a suggestion: 5 → 6', 'what changed, in words');
  t.match(page.body, 'changed the workspace settings');
  t.match(page.body, LOCAL);
  t.match(page.body, 'href="/app/audit.csv"', 'the CSV link');
  const older = /<a rel="next" href="([^"]+)">Older entries<\/a>/.exec(page.body)?.[1];
  t.ok(older, 'an Older entries link');
  const next = await alpha.page(decodeEntities(older!));
  ok(t, next, 200, 'the older page');
  const onPage = (html: string) => [...html.matchAll(/<tr id="audit-(\d+)">/g)].map((m) => Number(m[1]));
  const newest = (await rowsOf(ctx.db, a.vendorId)).reverse().map((r) => Number(r.id));
  t.same(onPage(page.body), newest.slice(0, 4), 'the newest four');
  t.same(onPage(next.body), newest.slice(4, 8), 'then the next four, none repeated');
  const pageCsv = await alpha.page('/app/audit.csv?action=deal.created');
  ok(t, pageCsv, 200, 'the page’s CSV');
  t.match(pageCsv.headers['content-disposition'], /^attachment;/);
  t.equal(csvRows(pageCsv.body).length, 2, 'a header and the one deal');
  const empty = await beta.page('/app/audit?action=deal.stage_changed');
  ok(t, empty, 200, 'a filter nothing matches');
  t.match(empty.body, 'No “moved the deal to another stage” entries');
  t.notMatch(empty.body, '<table', 'no empty table');

  // Tenancy: B sees its own trail only, on every door.
  const theirs = (await allPages(t, beta, 'limit=200')).flat();
  t.ok(theirs.length > 0, 'B has its own entries');
  t.ok(
    theirs.every((e) => e.actor.name !== 'Ada Admin' && !JSON.stringify(e).includes('Alpha')),
    'none of them A’s',
  );
  const betaIds = (await ctx.db.selectFrom('audit_log').select('id').where('vendor_id', '!=', a.vendorId).execute()).map((r) => Number(r.id));
  t.ok(
    theirs.every((e) => betaIds.includes(Number(e.id))),
    'every id is B’s own',
  );
  // A's cursor in B's hands pages B's trail, nothing of A's.
  const aCursor = (await alpha.api('GET', '/api/v1/audit?limit=1')).json().next_cursor;
  const crossed = (await beta.api('GET', `/api/v1/audit?cursor=${encodeURIComponent(aCursor)}`)).json().entries as EntryJson[];
  t.ok(
    crossed.every((e) => betaIds.includes(Number(e.id))),
    'a cursor of A’s shows B nothing of A’s',
  );
  for (const [what, res] of [
    ['the CSV', await beta.api('GET', '/api/v1/audit?format=csv')],
    ['the page', await beta.page('/app/audit')],
    ['the page’s CSV', await beta.page('/app/audit.csv')],
  ] as const) {
    ok(t, res, 200, `B’s ${what}`);
    t.notMatch(res.body, /Alpha|Ada Admin|HYPERLINK/, `B’s ${what} shows nothing of A`);
  }

  // Roles: viewers and members are refused, with nothing of the trail; admins read it.
  const keyFor = async (role: string) => /<code class="secret">([^<]+)<\/code>/.exec((await alpha.post('/app/settings/api-keys', { name: `${role} key`, role })).body)![1];
  const asKey = (key: string, url: string) => ctx.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
  for (const role of ['viewer', 'member'] as const) {
    const key = await keyFor(role);
    for (const url of ['/api/v1/audit', '/api/v1/audit?format=csv', '/api/v1/audit?action=deal.created']) {
      const res = await asKey(key, url);
      t.equal(res.statusCode, 403, `a ${role} key: ${url} is refused`);
      t.equal(res.json().error.code, 'forbidden');
      t.notMatch(res.body, /entries|HYPERLINK|workspace\.updated/, 'with nothing of the trail');
    }
    const pageOf = await memberWithRole(ctx, a.vendorId, role, `${role}@alpha.test`);
    const home = await pageOf('/app');
    t.equal(home.statusCode, 200, `the ${role} is signed in`);
    t.notMatch(home.body, 'href="/app/audit"', `no Audit trail link for a ${role}`);
    for (const url of ['/app/audit', '/app/audit.csv', '/app/audit?action=deal.created']) {
      const res = await pageOf(url);
      t.equal(res.statusCode, 403, `a ${role} on the page: ${url} is refused`);
      t.notMatch(res.body, /HYPERLINK|Deals that must agree|audit-\d/, 'with nothing of the trail');
    }
  }
  const admin = await memberWithRole(ctx, a.vendorId, 'admin', 'admin@alpha.test');
  const adminPage = await admin('/app/audit');
  ok(t, adminPage, 200, 'an admin reads the page');
  t.match(adminPage.body, 'href="/app/audit"', 'and has the link');
  ok(t, await asKey(await keyFor('admin'), '/api/v1/audit?limit=1'), 200, 'an admin key reads the API');
});

t.test('the trail’s query is checked: anything unknown or malformed is a 400, and records nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { email: 'ada@acme.test' });
  const a = await trail(ctx, 'ada@acme.test');
  await a.fresh();
  const cursor = (await vendor.api('GET', '/api/v1/audit?limit=1')).json().next_cursor;
  t.equal(cursor, null, 'one entry: no next page');
  for (const [query, field] of [
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=ten', 'limit'],
    ['bogus=1', ''],
    ['cursor=not-a-cursor', 'cursor'],
    [`cursor=${Buffer.from('audit:-5').toString('base64url')}`, 'cursor'],
    ['action=DROP%20TABLE', 'action'],
    ['action=deal', 'action'],
    ['format=xml', 'format'],
    ['format=csv&limit=5', 'limit'],
    ['format=csv&cursor=abc', 'cursor'],
  ]) {
    const res = await vendor.api('GET', `/api/v1/audit?${query}`);
    t.equal(res.statusCode, 400, `?${query} answers 400`);
    t.equal(res.json().error.code, 'invalid_input');
    if (field) t.match(res.json().error.details, [{ field }], `naming ${field}`);
  }
  for (const url of [
    '/app/audit?bogus=1',
    '/app/audit?limit=500',
    '/app/audit?cursor=xyz',
    '/app/audit.csv?limit=5',
    '/app/audit.csv?format=csv',
    '/app/audit?action=Deal.Created',
  ]) {
    t.equal((await vendor.page(url)).statusCode, 400, `${url} answers 400`);
  }
  await a.none(t, 'refused reads and downloads');
});
