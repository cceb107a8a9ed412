// The alignment checkpoint, the champion's page, claim changes, the week
// timeline, correction digests and the link lifecycle, driven as people would.
import t, { type Test } from 'tap';
import { testApp, type TestApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';
import { CONCERN_KEYS } from '../server/concerns/index.js';

const DAY = 86_400_000;
const MIN = 60_000;
/**
 * Posts the respondent's answer form and asserts the status: 303 (saved, back
 * to the page) unless the caller expects a refusal and says which.
 */
async function answer(t: Test, ctx: TestApp, path: string, concern: string, values: Record<string, unknown>, status = 303, message?: string) {
  const res = await ctx.app.inject({ method: 'POST', url: `${path}/answer/${concern}`, ...form(values as never) });
  t.equal(res.statusCode, status, message ?? `answer ${String(values.verdict)} on ${concern}: ${status}`);
  return res;
}

t.test('negotiation waits for security on every concern, unless overridden with a reason', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank', started_on: '2026-03-02' });

  let list = (await vendor.api('GET', '/api/v1/deals')).json().deals[0];
  t.match(list, { stage: 'discovery', week: 1, concerns_open: 6, corrections: 0, checkpoint: { state: 'open' }, risk: { no_security_stakeholder: true } });
  t.match((await vendor.page('/app')).body, 'no security stakeholder', 'the deal list flags the risk');
  t.match((await vendor.page(`/app/deals/${dealId}`)).body, 'Risk: no security stakeholder');

  for (const role of ['legal', 'other']) {
    const p = await inviteStakeholder(ctx, vendor, dealId, { email: `${role}@bank.example`, role });
    for (const c of CONCERN_KEYS) await answer(t, ctx, p.path, c, { verdict: 'confirm' });
  }
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().risk.no_security_stakeholder, true, 'legal and other are not security roles');

  const refused = await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'negotiation' });
  t.equal(refused.statusCode, 409, 'their confirmations do not open negotiation');
  t.equal(refused.json().error.code, 'checkpoint_open');
  t.equal(refused.json().error.details.length, 6, 'the gaps are listed');
  t.match(refused.json().error.details[0], { concern: 'data_residency', title: 'Data residency' });

  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().risk.no_security_stakeholder, false, 'a CISO clears the risk flag');
  ctx.clock.advance(8 * DAY); // week 2
  for (const c of CONCERN_KEYS.slice(0, 5)) await answer(t, ctx, ciso.path, c, { verdict: 'confirm' });
  await answer(t, ctx, ciso.path, 'audit_compliance', { verdict: 'not_mine' });
  const page = await vendor.post(`/app/deals/${dealId}/stage`, { stage: 'negotiation' });
  t.equal(page.statusCode, 409, 'the page refuses too');
  t.match(page.body, 'Security has not yet confirmed or corrected every concern: Audit and compliance.', '"not mine" is not substantive');

  const override = await vendor.post(`/app/deals/${dealId}/stage`, { stage: 'negotiation', override_reason: 'Their compliance lead signed off by phone.' });
  t.equal(override.statusCode, 303);
  const d = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(d.stage, 'negotiation');
  t.match(d.checkpoint, { state: 'overridden', override: { reason: 'Their compliance lead signed off by phone.' } });
  const { signals } = (await vendor.api('GET', `/api/v1/deals/${dealId}/signals`)).json();
  t.match(signals[0], { type: 'stage_change', changes: [{ field: 'stage', claimed: 'discovery', corrected: 'negotiation' }], week: 2 });
  t.match(signals[1], { type: 'checkpoint_override', comment: 'Their compliance lead signed off by phone.' });

  // A substantive answer on the last concern makes the checkpoint ready.
  await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'evaluation' });
  await answer(t, ctx, ciso.path, 'audit_compliance', { verdict: 'confirm' });
  list = (await vendor.api('GET', '/api/v1/deals')).json().deals[0];
  t.match(list, { stage: 'evaluation', week: 2, concerns_open: 0, checkpoint: { state: 'ready' } });
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'negotiation' })).statusCode, 200, 'no override needed now');
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'won' })).statusCode, 400, 'unknown stage');
});

t.test('changing a claim after answers makes them stale and asks for re-confirmation', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  await answer(t, ctx, ciso.path, 'audit_compliance', { verdict: 'confirm' });

  const bad = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/audit_compliance`, { breach_notification_hours: -1 });
  t.equal(bad.statusCode, 400);
  const changed = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/audit_compliance`, { breach_notification_hours: 24 });
  t.equal(changed.statusCode, 200);
  t.same(changed.json(), { concern: 'audit_compliance', claim_revision: 2, changes: [{ field: 'breach_notification_hours', claimed: 72, corrected: 24 }] });
  const same = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/audit_compliance`, { breach_notification_hours: 24 });
  t.equal(same.json().claim_revision, 2, 'no change, no new revision');

  const d = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  const audit = d.concerns.find((c: { concern: string }) => c.concern === 'audit_compliance');
  t.match(audit, { status: 'stale', claim_revision: 2, answers: [{ verdict: 'confirm', stale: true }] });
  const { signals } = (await vendor.api('GET', `/api/v1/deals/${dealId}/signals`)).json();
  t.match(signals[0], { type: 'claim_change', concern: 'audit_compliance', claim_revision: 2, changes: [{ field: 'breach_notification_hours', claimed: 72, corrected: 24 }] });

  const respondent = await ctx.app.inject({ method: 'GET', url: ciso.path });
  t.match(respondent.body, /Audit and compliance <span class="pill status-stale">Needs your answer again<\/span>/, 'the concern needs their answer again');
  t.match(
    respondent.body,
    /changed this claim after you answered \(Confirmed, [0-9-]+\)\. What changed:<\/p><ul><li>Breach notification: 72 hours → <strong>24 hours<\/strong><\/li><\/ul>/,
    'and says what changed, old → new',
  );
  t.match(respondent.body, '0 of 6 concerns answered', 'the stale answer no longer counts in their progress');
  t.match(respondent.body, 'within 24 hours');
  const dealPage = await vendor.page(`/app/deals/${dealId}`);
  t.match(dealPage.body, 'Needs re-confirmation');
  t.match(dealPage.body, 'on an older claim');

  // Through the page form too: the deal page links to one page per claim.
  t.match(dealPage.body, `href="/app/deals/${dealId}/claims/audit_compliance"`, 'the deal page links to the claim’s own page');
  t.notMatch(dealPage.body, 'name="c.breach_notification_hours"', 'and carries no claim forms itself');
  const claimPage = await vendor.page(`/app/deals/${dealId}/claims/audit_compliance`);
  t.equal(claimPage.statusCode, 200);
  t.match(claimPage.body, /name="c\.breach_notification_hours" value="24"/, 'the claim page shows the current value');
  const refused = await vendor.post(`/app/deals/${dealId}/claims/audit_compliance`, claimFormC({ ...audit.claim, breach_notification_hours: -5 }));
  t.equal(refused.statusCode, 400, 'a bad value is refused');
  t.match(refused.body, 'Nothing was saved', 'on the claim’s page');
  t.match(refused.body, 'value="-5"', 'keeping what was typed');
  t.equal((await vendor.page(`/app/deals/${dealId}/claims/not_a_concern`)).statusCode, 404);
  const form2 = await vendor.post(`/app/deals/${dealId}/claims/audit_compliance`, claimFormC({ ...audit.claim, breach_notification_hours: 48 }));
  t.equal(form2.statusCode, 303);
  await answer(t, ctx, ciso.path, 'audit_compliance', { verdict: 'confirm' });
  const after = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns.find((c: { concern: string }) => c.concern === 'audit_compliance');
  t.match(after, { status: 'confirmed', claim_revision: 3, answers: [{ verdict: 'confirm', stale: false }] }, 're-confirmed');
});

function claimFormC(claim: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(claimForm(claim)).map(([k, v]) => [k.replace(/^v\./, 'c.'), v]));
}

t.test('the champion sees status, never addresses, and corrections only when shared', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
  const champ = await inviteStakeholder(ctx, vendor, dealId, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion' });
  const mail = ctx.smtp.messages.find((m) => m.to === 'chris@bank.example')!;
  t.match(mail.subject, 'follow your security team');

  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;
  await answer(t, ctx, ciso.path, 'data_residency', {
    verdict: 'correct',
    kind: 'requirement_gap',
    comment: 'Secret detail: EU only',
    ...claimForm(claim, { inference_regions: ['EU_EEA'] }),
  });
  await answer(t, ctx, ciso.path, 'model_access_controls', { verdict: 'confirm' });

  const page = await ctx.app.inject({ method: 'GET', url: champ.path });
  t.equal(page.statusCode, 200);
  t.match(page.body, 'Security team (1 of 2 engaged)');
  t.match(page.body, /<td>Carla Ciso<\/td><td>CISO<\/td><td><span class="pill confirm">Engaged/);
  t.match(page.body, /<td>Sam Sec<\/td><td>Security<\/td><td><span class="pill none">Not yet/);
  t.match(page.body, /Data residency<\/td><td><span class="pill status-corrected">Corrected/);
  t.match(page.body, /Model access controls<\/td><td><span class="pill status-confirmed">Confirmed/);
  t.match(page.body, /Adversarial risk<\/td><td><span class="pill status-silent">Silent/);
  t.match(page.body, 'Security not yet aligned');
  t.notMatch(page.body, /@bank\.example/, 'no email address');
  t.notMatch(page.body, 'Secret detail', 'no correction content by default');
  t.notMatch(page.body, '<form', 'read-only');
  await answer(t, ctx, champ.path, 'data_residency', { verdict: 'confirm' }, 403, 'the champion cannot answer');

  await vendor.post(`/app/deals/${dealId}/settings`, { share_corrections: 'yes', reminder_days: '3, 7' });
  const shared = await ctx.app.inject({ method: 'GET', url: champ.path });
  t.match(shared.body, 'What security corrected');
  t.match(shared.body, 'Secret detail: EU only');
  t.match(shared.body, /Inference regions: United States → <strong>EU\/EEA<\/strong>/);
});

t.test('the timeline groups signals by week and names the first security signals', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank', started_on: '2026-03-02' });
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;
  await answer(t, ctx, ciso.path, 'model_access_controls', { verdict: 'confirm' });
  ctx.clock.advance(9 * DAY);
  await answer(t, ctx, ciso.path, 'data_residency', { verdict: 'correct', kind: 'requirement_gap', ...claimForm(claim, { inference_regions: ['EU_EEA'] }) });
  const page = await vendor.page(`/app/deals/${dealId}`);
  t.match(page.body, 'First security signal in week 1. First security correction in week 2.');
  const weeks = [...page.body.matchAll(/<h3>Week (\d+)<\/h3>/g)].map((m) => Number(m[1]));
  t.same(weeks, [2, 1], 'newest week first');
  const api = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.match(api, { first_security_signal_week: 1, first_security_correction_week: 2 });
});

t.test('corrections reach the deal owner in batched digests', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { email: 'owner@vendor.test' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const claims = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns;
  const claimOf = (k: string) => claims.find((c: { concern: string }) => c.concern === k).claim;
  const digests = () => ctx.smtp.messages.filter((m) => m.to === 'owner@vendor.test' && /correction/.test(m.subject));

  await answer(t, ctx, ciso.path, 'data_residency', { verdict: 'correct', kind: 'requirement_gap', ...claimForm(claimOf('data_residency'), { inference_regions: ['EU_EEA'] }) });
  ctx.clock.advance(1 * MIN);
  await answer(t, ctx, ciso.path, 'audit_compliance', {
    verdict: 'correct',
    kind: 'requirement_gap',
    comment: 'DORA: 24 hours.',
    ...claimForm(claimOf('audit_compliance'), { breach_notification_hours: 24 }),
  });
  await answer(t, ctx, ciso.path, 'model_access_controls', { verdict: 'confirm' });
  await ctx.drainMail();
  t.equal(digests().length, 0, 'a burst is gathered first');
  ctx.clock.advance(5 * MIN);
  await ctx.drainMail();
  t.equal(digests().length, 1, 'one digest for the burst');
  const first = digests()[0];
  t.match(first.subject, '2 new corrections from Big Bank');
  t.match(first.text, 'Inference regions: United States -> EU/EEA');
  t.match(first.text, 'Breach notification: 72 hours -> 24 hours');
  t.match(first.html, `/app/deals/${dealId}`);

  ctx.clock.advance(2 * MIN);
  await answer(t, ctx, ciso.path, 'adversarial_risk', { verdict: 'correct', kind: 'factual_error', ...claimForm(claimOf('adversarial_risk'), { red_team_party: 'internal' }) });
  ctx.clock.advance(6 * MIN);
  await ctx.drainMail();
  t.equal(digests().length, 1, 'at most one digest per 15 minutes');
  ctx.clock.advance(8 * MIN);
  await ctx.drainMail();
  t.equal(digests().length, 2, 'the next one after the interval');
  t.match(digests()[1].subject, '1 new correction from Big Bank');
  t.notMatch(digests()[1].text, 'Inference regions', 'only what is new');
});

t.test('links can be revoked, resent and extended; an expired link can ask for a new one', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp } = ctx;
  const vendor = await signUpVendor(ctx, { email: 'owner@vendor.test' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example' });
  const get = (path: string) => app.inject({ method: 'GET', url: path }).then((r) => r.statusCode);

  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${carla.id}/revoke`)).statusCode, 200);
  t.equal(await get(carla.path), 404, 'revoked');
  t.match((await vendor.page(`/app/deals/${dealId}`)).body, 'Link revoked');
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${carla.id}/extend`)).statusCode, 409, 'nothing to extend');

  t.equal((await vendor.post(`/app/deals/${dealId}/stakeholders/${carla.id}/invite`)).statusCode, 303);
  await ctx.drainMail();
  const fresh = new URL(linksIn(smtp.messages.at(-1)!.text)[0]).pathname;
  t.equal(await get(fresh), 200, 'a resend works');

  ctx.clock.advance(46 * DAY);
  t.equal(await get(fresh), 404, 'expired');
  const expiredPage = await app.inject({ method: 'GET', url: fresh });
  t.match(expiredPage.body, 'Ask for a new link');

  smtp.clear();
  const asks = [
    ['carla@bank.example', fresh],
    ['someone@else.example', fresh],
    ['carla@bank.example', '/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ];
  const bodies: string[] = [];
  for (const [email, path] of asks) {
    const res = await app.inject({ method: 'POST', url: '/r/renew', ...form({ token: path.slice(3), email }) });
    t.equal(res.statusCode, 200);
    bodies.push(res.body);
  }
  t.equal(new Set(bodies).size, 1, 'the same answer whatever was asked');
  await ctx.drainMail();
  t.equal(smtp.messages.length, 1, 'only the real request reaches anyone');
  t.match(smtp.messages[0], { to: 'owner@vendor.test', subject: 'Carla Ciso asked for a new link for Big Bank' });
  await app.inject({ method: 'POST', url: '/r/renew', ...form({ token: fresh.slice(3), email: 'carla@bank.example' }) });
  await ctx.drainMail();
  t.equal(smtp.messages.length, 1, 'asking again the same day sends nothing more');

  t.equal((await vendor.post(`/app/deals/${dealId}/stakeholders/${carla.id}/extend`)).statusCode, 303);
  t.equal(await get(fresh), 200, 'extended: the expired link works again');
});

t.test('an answer given on a claim that has since changed is not recorded against the new one', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  const page = await ctx.app.inject({ method: 'GET', url: ciso.path });
  const revision = /action="[^"]+\/answer\/data_residency"[^>]*>\s*<input type="hidden" name="revision" value="(\d+)"/.exec(page.body)?.[1];
  t.ok(revision, 'the quick-answer form is found');
  t.equal(revision, '1', 'the form carries the claim revision it shows');
  await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/data_residency`, { storage_regions: ['EU_EEA'] });
  const late = await answer(t, ctx, ciso.path, 'data_residency', { verdict: 'confirm', revision: '1' }, 409, 'an answer on the old revision is refused');
  t.match(late.body, /<a href="#data_residency">Data residency: The vendor changed this claim while you were answering./, 'the summary at the top links to the concern');
  t.match(late.body, /Our data is stored in the EU\/EEA|EU\/EEA/, 'the page shows the new claim');
  t.equal((await ctx.db.selectFrom('signals').selectAll().where('type', '=', 'answer').execute()).length, 0, 'nothing recorded');
  await answer(t, ctx, ciso.path, 'data_residency', { verdict: 'confirm', revision: '2' }, 303, 'answering the new claim works');
});

t.test('a correction that arrives while a digest is being sent gets the next digest', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { email: 'owner@vendor.test' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  const claims = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns;
  const claimOf = (k: string) => claims.find((c: { concern: string }) => c.concern === k).claim;
  await answer(t, ctx, ciso.path, 'data_residency', { verdict: 'correct', kind: 'requirement_gap', ...claimForm(claimOf('data_residency'), { inference_regions: ['EU_EEA'] }) });
  ctx.clock.advance(5 * MIN);
  // A second instance sends the digest; while its SMTP call is under way, another correction arrives.
  const { buildApp } = await import('../server/app.js');
  const slowMail = {
    send: async (m: Parameters<typeof ctx.mail.send>[0]) => {
      if (m.subject.includes('correction')) {
        await answer(t, ctx, ciso.path, 'audit_compliance', {
          verdict: 'correct',
          kind: 'requirement_gap',
          ...claimForm(claimOf('audit_compliance'), { breach_notification_hours: 24 }),
        });
      }
      await ctx.mail.send(m);
    },
  };
  const app2 = await buildApp({ config: ctx.config, db: ctx.db, clock: ctx.clock, mail: slowMail, sessionSecret: ctx.sessionSecret, logger: false, scheduleEveryMs: 0 });
  t.teardown(() => app2.close());
  await app2.services.worker.runOnce();
  const digests = () => ctx.smtp.messages.filter((m) => m.to === 'owner@vendor.test' && /correction/.test(m.subject));
  t.equal(digests().length, 1);
  t.notMatch(digests()[0].text, 'Breach notification', 'the first digest was composed before the second correction');
  ctx.clock.advance(6 * MIN);
  await ctx.drainMail();
  t.equal(digests().length, 1, 'the next digest keeps the 15-minute spacing');
  ctx.clock.advance(10 * MIN);
  await ctx.drainMail();
  t.equal(digests().length, 2, 'and then carries the late correction');
  t.match(digests()[1].text, 'Breach notification: 72 hours -> 24 hours');
});

t.test('extending never shortens a link', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${ciso.id}/extend`, { days: 1 })).statusCode, 200);
  ctx.clock.advance(10 * DAY);
  t.equal((await ctx.app.inject({ method: 'GET', url: ciso.path })).statusCode, 200, 'still the original 45 days');
});

t.test('the security team is CISO, security, compliance and privacy: one rule, worded once', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const chris = await inviteStakeholder(ctx, vendor, dealId, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion' });
  const cora = await inviteStakeholder(ctx, vendor, dealId, { name: 'Cora Compliance', email: 'cora@bank.example', role: 'compliance' });
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().risk.no_security_stakeholder, false, 'a compliance lead clears the risk');
  const pia = await inviteStakeholder(ctx, vendor, dealId, { name: 'Pia Privacy', email: 'pia@bank.example', role: 'privacy' });
  for (const c of CONCERN_KEYS.slice(0, 3)) await answer(t, ctx, cora.path, c, { verdict: 'confirm' });
  for (const c of CONCERN_KEYS.slice(3)) await answer(t, ctx, pia.path, c, { verdict: 'confirm' });
  const d = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(d.checkpoint.state, 'ready', 'compliance and privacy confirmations close the checkpoint');

  const champion = (await ctx.app.inject({ method: 'GET', url: chris.path })).body;
  t.match(champion, 'Security team (2 of 2 engaged)', 'the champion page lists their engagement');
  t.match(champion, /<td>Cora Compliance<\/td><td>Compliance<\/td><td><span class="pill confirm">Engaged/);
  t.match(champion, 'what counts is a confirm or correct from the security team: CISO, security, compliance and privacy.', 'worded from the rule book');
  const { SECURITY_TEAM_WORDING } = await import('../server/rules.js');
  t.equal(SECURITY_TEAM_WORDING, 'CISO, security, compliance and privacy');
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync('README.md', 'utf8');
  t.match(readme, `The buyer's security team is ${SECURITY_TEAM_WORDING}`, 'the README states the same rule');
  t.notMatch(readme, /CISO (or|and) security (role|stakeholder)/, 'and nowhere an older version of it');
});

t.test('on the champion page a concern confirmed outside the security team still waits for the team', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const chris = await inviteStakeholder(ctx, vendor, dealId, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion' });
  const lee = await inviteStakeholder(ctx, vendor, dealId, { name: 'Lee Legal', email: 'lee@bank.example', role: 'legal' });
  await answer(t, ctx, lee.path, 'data_residency', { verdict: 'confirm' });
  const champion = (await ctx.app.inject({ method: 'GET', url: chris.path })).body;
  t.match(
    champion,
    /<td>Data residency<\/td><td><span class="pill status-confirmed">Confirmed<\/span><\/td><td>Waiting<\/td>/,
    'confirmed by legal, still waiting for the security team',
  );
  t.match(champion, /<td>Model access controls<\/td><td><span class="pill status-silent">Silent<\/span><\/td><td>Waiting<\/td>/);
});
