// Changed claims are asked again: when the vendor changes a claim that people
// on the buyer's side confirmed or corrected, each of them gets one mail for a
// burst of changes, saying what changed field by field, with a personal link.
import t, { type Test } from 'tap';
import type { AddressObject } from 'mailparser';
import { testApp, type TestApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn, type ReceivedMail } from './helpers/smtp.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';
import { getConcern } from '../server/concerns/index.js';
import { CLAIM_CHANGE_GATHER_MINUTES, staleChangesOf } from '../server/deals/service.js';
import { mailFromAddress } from '../server/mail/transport.js';

const MINUTE = 60_000;
const GATHER = CLAIM_CHANGE_GATHER_MINUTES * MINUTE;

/** The claim-changed mails received so far, to one address or to anyone. */
const askedAgain = (ctx: TestApp, to?: string): ReceivedMail[] => ctx.smtp.messages.filter((m) => m.subject.includes('please look again') && (to === undefined || m.to === to));

async function setup(t: Test, workspace = 'Acme AI') {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank', buyer_domain: 'bank.example' });
  return { ctx, vendor, dealId };
}

async function changeClaim(t: Test, vendor: TestVendor, dealId: string, concern: string, fields: Record<string, unknown>) {
  const res = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/${concern}`, fields);
  t.equal(res.statusCode, 200, `the vendor changes ${concern}`);
  t.not(res.json().changes.length, 0, `the change to ${concern} changes something`);
  return res.json().claim_revision as number;
}

async function answer(t: Test, ctx: TestApp, path: string, concern: string, values: Record<string, unknown>) {
  const res = await ctx.app.inject({ method: 'POST', url: `${path}/answer/${concern}`, ...form(values as never) });
  t.equal(res.statusCode, 303, `the answer on ${concern} is saved`);
}

async function claimOf(vendor: TestVendor, dealId: string, concern: string): Promise<Record<string, unknown>> {
  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  return detail.concerns.find((c: { concern: string }) => c.concern === concern).claim;
}

/** The single address of an address header (From, Reply-To), or undefined when the mail has none. */
function addressOf(mail: ReceivedMail, header: 'from' | 'reply-to') {
  const value = mail.headers.get(header) as AddressObject | undefined;
  return value && value.value.map((a) => ({ name: a.name, address: a.address }));
}

async function claimChangedRows(ctx: TestApp) {
  return ctx.db
    .selectFrom('outbox')
    .select(['id', 'vendor_id', 'recipient', 'params', 'status', 'last_error', 'next_attempt_at'])
    .where('template', '=', 'claim-changed')
    .orderBy('id')
    .execute();
}

t.test('a burst of claim changes is one mail to each person who answered, old → new, with a working link', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const sam = await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
  await inviteStakeholder(ctx, vendor, dealId, { name: 'Nora Silent', email: 'nora@bank.example', role: 'compliance' });
  const chris = await inviteStakeholder(ctx, vendor, dealId, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion' });

  await answer(t, ctx, carla.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, carla.path, 'model_access_controls', { verdict: 'confirm' });
  await answer(t, ctx, sam.path, 'data_residency', { verdict: 'not_mine' });
  await answer(t, ctx, sam.path, 'model_access_controls', { verdict: 'not_mine' });
  // The app never lets a champion answer; a confirmation on record (from before that rule) must still not make them a respondent.
  await ctx.db
    .insertInto('latest_answers')
    .values({
      vendor_id: (await ctx.db.selectFrom('deals').select('vendor_id').where('id', '=', dealId).executeTakeFirstOrThrow()).vendor_id,
      deal_id: dealId,
      stakeholder_id: chris.id,
      concern: 'data_residency',
      signal_id: 0,
      verdict: 'confirm',
      kind: null,
      claim_revision: 1,
      created_at: ctx.clock.now(),
      first_week: 1,
      first_correction_week: null,
    })
    .execute();
  await ctx.drainMail();
  ctx.smtp.clear();

  // The vendor edits three concerns in a row; Carla answered two of them.
  t.equal(await changeClaim(t, vendor, dealId, 'data_residency', { storage_regions: ['EU_EEA'], inference_regions: ['EU_EEA'] }), 2);
  ctx.clock.advance(MINUTE);
  t.equal(await changeClaim(t, vendor, dealId, 'model_access_controls', { mfa_enforced: false }), 2);
  ctx.clock.advance(MINUTE);
  t.equal(await changeClaim(t, vendor, dealId, 'audit_compliance', { breach_notification_hours: 24 }), 2);

  const queued = await claimChangedRows(ctx);
  t.same(
    queued.map((r) => [r.recipient, r.params.stakeholderId]),
    [['carla@bank.example', carla.id]],
    'one mail waits, for Carla only: not for "not mine", silence or the champion',
  );
  t.equal(queued[0].next_attempt_at.getTime(), new Date('2026-03-02T09:00:00Z').getTime() + GATHER, 'due a few minutes after the first change of the burst');

  await ctx.drainMail();
  t.equal(askedAgain(ctx).length, 0, 'nothing goes out while the burst gathers');
  ctx.clock.advance(GATHER);
  await ctx.drainMail();

  t.equal(ctx.smtp.messages.length, 1, 'exactly one mail in all');
  const [mail] = askedAgain(ctx, 'carla@bank.example');
  t.ok(mail, 'Carla is asked to look again');
  t.equal(mail.subject, 'Acme AI: 2 claims changed for Big Bank — please look again');
  t.match(mail.text, 'Hello Carla Ciso');
  t.match(mail.text, '* Data residency (your answer: Confirmed)');
  t.match(mail.text, 'Storage regions: United States -> EU/EEA');
  t.match(mail.text, 'Inference regions: United States -> EU/EEA');
  t.match(mail.text, '* Model access controls (your answer: Confirmed)');
  t.match(mail.text, 'MFA enforced: Yes -> No');
  t.notMatch(mail.text, getConcern('audit_compliance')!.title, 'a concern she never answered is not listed');
  t.notMatch(mail.text, 'Prompt retention', 'fields that did not change are not listed');
  t.match(mail.html, 'Inference regions: United States → <strong>EU/EEA</strong>');
  t.match(mail.html, 'MFA enforced: Yes → <strong>No</strong>');
  t.same(
    addressOf(mail, 'from'),
    [{ name: 'Ada Admin at Acme AI via Posture Portal', address: mailFromAddress(ctx.config.MAIL_FROM) }],
    'From: the deal’s owner at the vendor, on the portal’s address',
  );
  t.equal(addressOf(mail, 'reply-to')?.[0]?.address, vendor.email, 'Reply-To the owner (who created the API key the deal was opened with)');

  const link = linksIn(mail.text).find((l) => l.includes('/r/'));
  t.ok(link, 'the mail carries a personal link');
  const path = new URL(link!).pathname;
  t.not(path, carla.path, 'a link of its own');
  t.match(mail.html, `href="http://portal.test${path}"`, 'the HTML part links to the same page');
  t.equal((await ctx.app.inject({ method: 'GET', url: path })).statusCode, 200, 'the link opens her page');
  t.equal((await ctx.app.inject({ method: 'GET', url: carla.path })).statusCode, 200, 'the invitation’s link still works');
  await answer(t, ctx, path, 'data_residency', { verdict: 'confirm' });
  const latest = await ctx.db
    .selectFrom('latest_answers')
    .select(['claim_revision', 'verdict'])
    .where('stakeholder_id', '=', carla.id)
    .where('concern', '=', 'data_residency')
    .executeTakeFirstOrThrow();
  t.same(latest, { claim_revision: 2, verdict: 'confirm' }, 'answering through the new link confirms the new claim');

  // The champion is refused at send time too, should a mail for them ever be queued.
  await ctx.db
    .insertInto('outbox')
    .values({
      vendor_id: queued[0].vendor_id,
      template: 'claim-changed',
      recipient: 'chris@bank.example',
      params: JSON.stringify({ stakeholderId: chris.id }),
      next_attempt_at: ctx.clock.now(),
      created_at: ctx.clock.now(),
    })
    .execute();
  await ctx.drainMail();
  t.equal(askedAgain(ctx, 'chris@bank.example').length, 0, 'no mail for the champion');
  t.equal(ctx.smtp.messages.length, 1, 'still one mail in all');
});

t.test('what is answered again before the mail goes out is left out; with nothing left, no mail', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const pat = await inviteStakeholder(ctx, vendor, dealId, { name: 'Pat Privacy', email: 'pat@bank.example', role: 'privacy' });
  const access = await claimOf(vendor, dealId, 'model_access_controls');
  await answer(t, ctx, carla.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, carla.path, 'model_access_controls', { verdict: 'correct', kind: 'factual_error', ...claimForm(access, { user_provisioning: 'manual' }) });
  await answer(t, ctx, pat.path, 'data_residency', { verdict: 'confirm' });
  await ctx.drainMail();
  ctx.smtp.clear();

  await changeClaim(t, vendor, dealId, 'data_residency', { inference_regions: ['EU_EEA'] });
  await changeClaim(t, vendor, dealId, 'model_access_controls', { mfa_enforced: false });
  t.equal((await claimChangedRows(ctx)).length, 2, 'a mail waits for each of them (a correction is asked again too)');

  ctx.clock.advance(2 * MINUTE);
  await answer(t, ctx, carla.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, pat.path, 'data_residency', { verdict: 'confirm' });
  ctx.clock.advance(GATHER);
  await ctx.drainMail();

  t.equal(askedAgain(ctx, 'pat@bank.example').length, 0, 'Pat answered the new claim: no mail');
  const rows = await claimChangedRows(ctx);
  const patRow = rows.find((r) => r.recipient === 'pat@bank.example')!;
  t.match(patRow, { status: 'sent', last_error: 'cancelled: no longer applicable' }, 'her mail was dropped');

  const mails = askedAgain(ctx, 'carla@bank.example');
  t.equal(mails.length, 1);
  t.equal(mails[0].subject, 'Acme AI: 1 claim changed for Big Bank — please look again');
  t.match(mails[0].text, '* Model access controls (your answer: Corrected)');
  t.match(mails[0].text, 'MFA enforced: Yes -> No');
  t.notMatch(mails[0].text, 'Data residency', 'what she answered again is left out');
  t.notMatch(mails[0].text, 'Inference regions');
});

t.test('a later burst sends a second mail; a change undone within a burst sends none', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  await answer(t, ctx, carla.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, carla.path, 'model_access_controls', { verdict: 'confirm' });
  await ctx.drainMail();
  ctx.smtp.clear();

  await changeClaim(t, vendor, dealId, 'data_residency', { inference_regions: ['EU_EEA'] });
  ctx.clock.advance(GATHER);
  await ctx.drainMail();
  const first = askedAgain(ctx, 'carla@bank.example');
  t.equal(first.length, 1, 'the first burst: one mail');
  t.match(first[0].text, 'Inference regions: United States -> EU/EEA');
  t.notMatch(first[0].text, 'Model access controls');
  const path = new URL(linksIn(first[0].text).find((l) => l.includes('/r/'))!).pathname;
  await answer(t, ctx, path, 'data_residency', { verdict: 'confirm' });

  ctx.clock.advance(60 * MINUTE);
  await ctx.drainMail();
  t.equal(askedAgain(ctx).length, 1, 'nothing more while nothing changes');

  // Two changes to one concern in a burst read as one step, from the claim she answered to the current one.
  await changeClaim(t, vendor, dealId, 'model_access_controls', { mfa_enforced: false });
  await changeClaim(t, vendor, dealId, 'model_access_controls', { user_provisioning: 'manual' });
  t.equal((await claimChangedRows(ctx)).filter((r) => r.status === 'pending').length, 1, 'the second change joins the waiting mail');
  ctx.clock.advance(GATHER);
  await ctx.drainMail();
  const all = askedAgain(ctx, 'carla@bank.example');
  t.equal(all.length, 2, 'the second burst: a second mail');
  t.equal(all[1].subject, 'Acme AI: 1 claim changed for Big Bank — please look again');
  t.match(all[1].text, 'MFA enforced: Yes -> No');
  t.match(all[1].text, 'User provisioning: SCIM 2.0 -> Manual');
  t.notMatch(all[1].text, 'Data residency', 'what she confirmed since is not asked again');

  // A change undone within the burst leaves nothing to ask.
  const newPath = new URL(linksIn(all[1].text).find((l) => l.includes('/r/'))!).pathname;
  await answer(t, ctx, newPath, 'model_access_controls', { verdict: 'confirm' });
  await changeClaim(t, vendor, dealId, 'data_residency', { prompt_retention_days: 7 });
  await changeClaim(t, vendor, dealId, 'data_residency', { prompt_retention_days: 30 });
  ctx.clock.advance(GATHER);
  await ctx.drainMail();
  t.equal(askedAgain(ctx).length, 2, 'no third mail: the claim is as she answered it');
  t.equal((await claimChangedRows(ctx)).filter((r) => r.status === 'pending').length, 0, 'and none waiting');
});

t.test('a revoked link or a closed deal asks no one again', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const sam = await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
  await answer(t, ctx, carla.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, sam.path, 'data_residency', { verdict: 'confirm' });
  await ctx.drainMail();
  ctx.smtp.clear();

  // Sam's link is revoked after his mail was queued: it is dropped when due.
  await changeClaim(t, vendor, dealId, 'data_residency', { inference_regions: ['EU_EEA'] });
  t.equal((await claimChangedRows(ctx)).length, 2);
  t.equal((await vendor.post(`/app/deals/${dealId}/stakeholders/${sam.id}/revoke`)).statusCode, 303);
  ctx.clock.advance(GATHER);
  await ctx.drainMail();
  t.equal(askedAgain(ctx, 'sam@bank.example').length, 0, 'no mail over a revoked link');
  t.equal(askedAgain(ctx, 'carla@bank.example').length, 1, 'Carla is asked');

  // Revoked before the next change: no mail is even queued for Sam. Closed: none for anyone.
  await changeClaim(t, vendor, dealId, 'data_residency', { storage_regions: ['EU_EEA'] });
  const second = (await claimChangedRows(ctx)).filter((r) => r.status === 'pending');
  t.same(
    second.map((r) => r.recipient),
    ['carla@bank.example'],
    'queued for Carla only',
  );
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'closed_lost' })).statusCode, 200);
  await changeClaim(t, vendor, dealId, 'model_access_controls', { mfa_enforced: false });
  ctx.clock.advance(GATHER);
  await ctx.drainMail();
  t.equal(askedAgain(ctx).length, 1, 'the deal closed before the mail went out: dropped');
  t.equal((await claimChangedRows(ctx)).filter((r) => r.status === 'pending').length, 0);

  await answer(t, ctx, carla.path, 'model_access_controls', { verdict: 'confirm' });
  await changeClaim(t, vendor, dealId, 'model_access_controls', { user_provisioning: 'manual' });
  t.equal((await claimChangedRows(ctx)).filter((r) => r.status === 'pending').length, 0, 'a change on a closed deal queues nothing');
});

t.test('another workspace’s people are never asked', async (t) => {
  const ctx = await testApp(t);
  const acme = await signUpVendor(ctx, { workspace: 'Acme AI' });
  const beta = await signUpVendor(ctx, { workspace: 'Beta AI' });
  const acmeDeal = await openDeal(acme, { buyer_name: 'Big Bank' });
  const betaDeal = await openDeal(beta, { buyer_name: 'Big Bank' });
  // The same person is on both vendors' deals, and confirms data residency on both.
  const otherDeal = await openDeal(acme, { buyer_name: 'Small Bank' });
  const carlaA = await inviteStakeholder(ctx, acme, acmeDeal, { name: 'Carla Ciso', email: 'carla@bank.example' });
  const sid = await inviteStakeholder(ctx, acme, otherDeal, { name: 'Sid Small', email: 'sid@smallbank.example' });
  const carlaB = await inviteStakeholder(ctx, beta, betaDeal, { name: 'Carla Ciso', email: 'carla@bank.example' });
  const otherB = await inviteStakeholder(ctx, beta, betaDeal, { name: 'Olga Other', email: 'olga@bank.example', role: 'security' });
  await answer(t, ctx, carlaA.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, carlaB.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, otherB.path, 'data_residency', { verdict: 'confirm' });
  await answer(t, ctx, sid.path, 'data_residency', { verdict: 'confirm' });
  await ctx.drainMail();
  ctx.smtp.clear();

  await changeClaim(t, acme, acmeDeal, 'data_residency', { inference_regions: ['EU_EEA'] });
  const rows = await claimChangedRows(ctx);
  t.same(
    rows.map((r) => r.params.stakeholderId),
    [carlaA.id],
    'only Acme’s Carla on that deal is queued',
  );
  ctx.clock.advance(GATHER);
  await ctx.drainMail();
  const mails = askedAgain(ctx);
  t.equal(mails.length, 1, 'one mail in all');
  t.match(mails[0].subject, /^Acme AI: 1 claim changed/);
  t.equal(askedAgain(ctx, 'olga@bank.example').length, 0, 'Beta’s people are untouched');
  t.equal(askedAgain(ctx, 'sid@smallbank.example').length, 0, 'so are the people of Acme’s other deal');
  t.equal((await ctx.app.inject({ method: 'GET', url: carlaB.path })).statusCode, 200, 'her link from Beta still works');

  // A mail queued under Acme naming Beta’s Carla (whose answer is stale too, once Beta changes its claim) finds no one.
  await changeClaim(t, beta, betaDeal, 'data_residency', { inference_regions: ['UK'] });
  await ctx.db.deleteFrom('outbox').where('template', '=', 'claim-changed').where('status', '=', 'pending').execute();
  await ctx.db
    .insertInto('outbox')
    .values({
      vendor_id: rows[0].vendor_id,
      template: 'claim-changed',
      recipient: 'carla@bank.example',
      params: JSON.stringify({ stakeholderId: carlaB.id }),
      next_attempt_at: ctx.clock.now(),
      created_at: ctx.clock.now(),
    })
    .execute();
  await ctx.drainMail();
  t.equal(askedAgain(ctx).length, 1, 'no mail crosses workspaces');

  const betaVendor = (await ctx.db.selectFrom('deals').select('vendor_id').where('id', '=', betaDeal).executeTakeFirstOrThrow()).vendor_id;
  t.equal((await staleChangesOf(ctx.db, betaVendor, acmeDeal, [{ concern: 'data_residency', revision: 1 }])).size, 0, 'the helper reads no other workspace’s deal');
});

t.test('staleChangesOf: the changes from the revision answered to the current claim', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const vendorId = (await ctx.db.selectFrom('deals').select('vendor_id').where('id', '=', dealId).executeTakeFirstOrThrow()).vendor_id;
  await changeClaim(t, vendor, dealId, 'data_residency', { inference_regions: ['EU_EEA'] }); // revision 2
  await changeClaim(t, vendor, dealId, 'data_residency', { storage_regions: ['EU_EEA', 'UK'] }); // revision 3
  await changeClaim(t, vendor, dealId, 'adversarial_risk', { red_team_cadence: 'quarterly' }); // revision 2
  await changeClaim(t, vendor, dealId, 'model_access_controls', { mfa_enforced: false }); // revision 2
  await changeClaim(t, vendor, dealId, 'model_access_controls', { mfa_enforced: true }); // revision 3, as revision 1

  const changes = await staleChangesOf(ctx.db, vendorId, dealId, [
    { concern: 'audit_compliance', revision: 1 }, // never changed
    { concern: 'model_access_controls', revision: 1 },
    { concern: 'adversarial_risk', revision: 2 }, // answered the current claim
    { concern: 'no_such_concern', revision: 1 },
    { concern: 'data_residency', revision: 1 },
  ]);
  t.same([...changes.keys()], ['data_residency', 'model_access_controls'], 'only concerns answered at an older revision, in catalogue order');
  t.same(changes.get('data_residency'), [
    { field: 'storage_regions', claimed: ['US'], corrected: ['EU_EEA', 'UK'] },
    { field: 'inference_regions', claimed: ['US'], corrected: ['EU_EEA'] },
  ]);
  t.same(changes.get('model_access_controls'), [], 'changed and changed back: nothing to show');

  const fromTwo = await staleChangesOf(ctx.db, vendorId, dealId, [
    { concern: 'data_residency', revision: 2 },
    { concern: 'adversarial_risk', revision: 1 },
  ]);
  t.same(fromTwo.get('data_residency'), [{ field: 'storage_regions', claimed: ['US'], corrected: ['EU_EEA', 'UK'] }], 'from revision 2, only what changed since');
  t.equal(fromTwo.get('adversarial_risk')?.length, 1);
  t.equal(fromTwo.get('adversarial_risk')?.[0].field, 'red_team_cadence');
  t.equal((await staleChangesOf(ctx.db, vendorId, dealId, [])).size, 0);
});

t.test('on a deal someone opened, the mail comes from them and a reply reaches them', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Dana Lee', email: 'dana@acme.example' });
  t.equal((await vendor.api('POST', '/api/v1/profile/publish')).statusCode, 200);
  const opened = await vendor.post('/app/deals', { buyer_name: 'Big Bank' });
  const dealId = /^\/app\/deals\/([0-9a-f-]{36})/.exec(String(opened.headers.location))?.[1];
  t.ok(dealId, 'the deal page opened a deal');
  const carla = await inviteStakeholder(ctx, vendor, dealId!, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  await answer(t, ctx, carla.path, 'data_residency', { verdict: 'confirm' });
  await changeClaim(t, vendor, dealId!, 'data_residency', { inference_regions: ['EU_EEA'] });
  ctx.clock.advance(GATHER);
  await ctx.drainMail();
  const [mail] = askedAgain(ctx, 'carla@bank.example');
  t.ok(mail);
  t.same(addressOf(mail, 'from'), [{ name: 'Dana Lee at Acme AI via Posture Portal', address: mailFromAddress(ctx.config.MAIL_FROM) }]);
  t.same(addressOf(mail, 'reply-to'), [{ name: '', address: 'dana@acme.example' }]);
});
