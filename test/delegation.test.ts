// A respondent hands concerns to colleagues; the chain is visible to the vendor.
import t from 'tap';
import { testApp, type TestApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';
import { CONCERN_KEYS } from '../server/concerns/index.js';
import {
  MAX_DELEGATES_PER_DEAL,
  MAX_DELEGATION_DEPTH,
  answersCount,
  buyerDomains,
  delegateRolesFor,
  emailDomain,
  mayDelegate,
  mayDelegateRole,
  needsVendorConfirmation,
} from '../server/rules.js';

t.test('handing concerns to a colleague', async (t) => {
  const ctx = await testApp(t);
  const { app, db, smtp } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });

  const handOver = (values: Record<string, unknown>, path = ciso.path) => app.inject({ method: 'POST', url: `${path}/delegate`, ...form(values as never) });

  const res = await handOver({ concerns: ['audit_compliance', 'training_data_provenance'], name: 'Pat Privacy', email: 'pat@bank.example', role: 'privacy' });
  t.equal(res.statusCode, 303);
  t.equal(res.headers.location, `${ciso.path}?delegated=1`);
  await ctx.drainMail();
  const mail = await smtp.waitFor((m) => m.to === 'pat@bank.example');
  t.equal(mail.subject, 'Acme AI: a colleague asked you to review security claims for Big Bank', 'the subject names no respondent');
  t.match(mail.text, '- Training data provenance\n- Audit and compliance');
  const patPath = new URL(linksIn(mail.text)[0]).pathname;

  // The colleague's page puts the handed concerns first.
  const patPage = await app.inject({ method: 'GET', url: patPath });
  t.equal(patPage.statusCode, 200);
  const order = [...patPage.body.matchAll(/<section class="card concern" id="([a-z_]+)"/g)].map((m) => m[1]);
  t.same(order.slice(0, 2), ['training_data_provenance', 'audit_compliance'], 'delegated concerns first');
  t.match(patPage.body, 'Carla Ciso handed this concern to you.');
  // The delegator still sees them, marked.
  const carlaPage = await app.inject({ method: 'GET', url: ciso.path });
  t.match(carlaPage.body, 'You handed this concern to Pat Privacy.');

  // The vendor sees the chain and how Pat was found.
  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  const pat = detail.stakeholders.find((s: { email: string }) => s.email === 'pat@bank.example');
  t.match(pat, { role: 'privacy', source: 'delegated', delegated_by: { id: ciso.id, name: 'Carla Ciso' } });
  const { signals } = (await vendor.api('GET', `/api/v1/deals/${dealId}/signals`)).json();
  const handovers = signals.filter((s: { type: string }) => s.type === 'delegation');
  t.same(handovers.map((s: { concern: string }) => s.concern).sort(), ['audit_compliance', 'training_data_provenance']);
  t.match(handovers[0], { stakeholder: { name: 'Carla Ciso' }, target_stakeholder: { name: 'Pat Privacy', role: 'privacy' } });
  const page = await vendor.page(`/app/deals/${dealId}`);
  t.match(page.body, 'Added by Carla Ciso as Privacy: a delegate in a security role counts toward the checkpoint only once you confirm them.', 'privacy is in the security team');
  t.match(page.body, /Carla Ciso handed <strong>Audit and compliance<\/strong> to Pat Privacy/);
  t.match(page.body, 'handed to Pat Privacy', 'the grid marks the hand-over');

  // Delegating to someone already on the deal reuses them.
  const before = (await db.selectFrom('stakeholders').selectAll().execute()).length;
  t.equal((await handOver({ concerns: ['adversarial_risk'], name: 'Pat P.', email: 'PAT@bank.example', role: 'security' })).statusCode, 303);
  t.equal((await db.selectFrom('stakeholders').selectAll().execute()).length, before, 'no second Pat');
  await ctx.drainMail();
  t.equal((await app.inject({ method: 'GET', url: patPath })).statusCode, 200, 'Pat’s first link still works');
});

t.test('delegation has limits and validation', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion', invite: false });
  const handOver = (values: Record<string, unknown>) => app.inject({ method: 'POST', url: `${ciso.path}/delegate`, ...form(values as never) });

  const none = await handOver({ name: 'X', email: 'x@bank.example', role: 'security' });
  t.equal(none.statusCode, 400);
  t.match(none.body, 'choose at least one concern');
  const self = await handOver({ concerns: ['data_residency'], name: 'Me', email: 'carla@bank.example', role: 'security' });
  t.equal(self.statusCode, 400);
  t.match(self.body, 'That is your own address');
  const champion = await handOver({ concerns: ['data_residency'], name: 'Chris', email: 'chris@bank.example', role: 'security' });
  t.equal(champion.statusCode, 400, 'the champion cannot be handed concerns');
  const unknown = await handOver({ concerns: ['weather'], name: 'X', email: 'x@bank.example', role: 'security' });
  t.equal(unknown.statusCode, 400);

  for (let i = 1; i <= 5; i++) {
    t.equal((await handOver({ concerns: ['data_residency'], name: `Colleague ${i}`, email: `c${i}@bank.example`, role: 'security' })).statusCode, 303);
  }
  const sixth = await handOver({ concerns: ['data_residency'], name: 'Colleague 6', email: 'c6@bank.example', role: 'security' });
  t.equal(sixth.statusCode, 400);
  t.match(sixth.body, 'the most one person can add');
  t.equal((await db.selectFrom('stakeholders').selectAll().where('source', '=', 'delegated').execute()).length, 5);
});

t.test('delegation respects revocation, adds nothing on a double click, and leaves the delegator’s answers alone', async (t) => {
  const ctx = await testApp(t);
  const { app, db, smtp } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const sam = await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
  await app.inject({ method: 'POST', url: `${carla.path}/answer/data_residency`, ...form({ verdict: 'confirm' }) });
  const handOver = (values: Record<string, unknown>) => app.inject({ method: 'POST', url: `${carla.path}/delegate`, ...form(values as never) });

  const pat = { concerns: ['adversarial_risk'], name: 'Pat', email: 'pat@bank.example', role: 'security' };
  const [one, two] = await Promise.all([handOver(pat), handOver(pat)]);
  t.same([one.statusCode, two.statusCode], [303, 303], 'a double click is accepted');
  await ctx.drainMail();
  t.equal(smtp.messages.filter((m) => m.to === 'pat@bank.example').length, 1, 'one mail');
  t.equal((await db.selectFrom('signals').selectAll().where('type', '=', 'delegation').execute()).length, 1, 'one hand-over');

  const page = await app.inject({ method: 'GET', url: carla.path });
  t.match(page.body, '1 of 6 concerns answered', 'handing over is not an answer');
  t.match(page.body, /Data residency <span class="pill critical">critical<\/span> <span class="pill confirm">Confirmed<\/span>/, 'her confirm is still shown');

  await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${sam.id}/revoke`);
  smtp.clear();
  t.equal((await handOver({ concerns: ['audit_compliance'], name: 'Sam', email: 'sam@bank.example', role: 'security' })).statusCode, 303);
  await ctx.drainMail();
  t.equal(smtp.messages.filter((m) => m.to === 'sam@bank.example').length, 0, 'someone the vendor revoked gets no new link');
  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(detail.stakeholders.find((s: { email: string }) => s.email === 'sam@bank.example').link.state, 'revoked');
});

// ---------------------------------------------------------------------------
// Bounds on delegation (hardening finding 7): how far hand-overs reach, which
// roles they mint, and whose answers count before the vendor confirms them.

/** Row counts of everything a hand-over writes: a refusal leaves them all as they were. */
async function written(db: TestApp['db']) {
  const count = async (table: 'stakeholders' | 'signals' | 'stakeholder_links' | 'outbox') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { stakeholders: await count('stakeholders'), signals: await count('signals'), links: await count('stakeholder_links'), outbox: await count('outbox') };
}

/** The path of the newest personal link mailed to this address. */
async function linkMailedTo(ctx: TestApp, address: string): Promise<string> {
  await ctx.drainMail();
  const mail = [...ctx.smtp.messages].reverse().find((m) => m.to === address);
  const link = mail && linksIn(mail.text).find((l) => l.includes('/r/'));
  if (!link) throw new Error(`no personal link mailed to ${address}`);
  return new URL(link).pathname;
}

const handOverFrom = (ctx: TestApp, path: string, values: Record<string, unknown>) => ctx.app.inject({ method: 'POST', url: `${path}/delegate`, ...form(values as never) });

t.test('the rule book: depth, role rank, buyer domains and who counts', async (t) => {
  t.equal(MAX_DELEGATES_PER_DEAL, 10);
  t.equal(MAX_DELEGATION_DEPTH, 2);
  t.same([0, 1, 2].map(mayDelegate), [true, true, false], 'a depth-2 person cannot delegate');
  t.ok(mayDelegateRole('ciso', 'ciso'));
  t.ok(mayDelegateRole('security', 'compliance'));
  t.notOk(mayDelegateRole('security', 'ciso'), 'security cannot mint a CISO');
  t.notOk(mayDelegateRole('compliance', 'security'));
  t.ok(mayDelegateRole('privacy', 'compliance'), 'compliance and privacy rank alike');
  t.notOk(mayDelegateRole('legal', 'privacy'));
  t.ok(mayDelegateRole('other', 'legal'), 'legal and other rank alike');
  t.notOk(mayDelegateRole('ciso', 'champion'), 'the champion is never a delegate');
  t.same(delegateRolesFor('security'), ['security', 'compliance', 'privacy', 'legal', 'other']);
  t.same(delegateRolesFor('legal'), ['legal', 'other']);
  t.equal(emailDomain('Pat.P@Bank.Example'), 'bank.example');
  const domains = buyerDomains([
    { email: 'carla@bank.example', source: 'vendor' },
    { email: 'x@evil.example', source: 'delegated' },
  ]);
  t.same(domains, ['bank.example'], 'only the people the vendor added make the buyer domains');
  t.notOk(needsVendorConfirmation({ email: 'lee@bank.example', role: 'legal' }, domains), 'inside, not security: counts at once');
  t.ok(needsVendorConfirmation({ email: 'pat@bank.example', role: 'privacy' }, domains), 'privacy is in the security team: waits');
  t.ok(needsVendorConfirmation({ email: 'sid@bank.example', role: 'security' }, domains), 'a security delegate waits');
  t.ok(needsVendorConfirmation({ email: 'pat@bank.example.evil', role: 'legal' }, domains), 'outside the domain waits');
  t.ok(answersCount({ confirmed_at: new Date() }));
  t.notOk(answersCount({ confirmed_at: null }));
});

t.test('a deal takes at most ten delegated people, and a refusal writes nothing', async (t) => {
  const ctx = await testApp(t);
  const { db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const sam = await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
  const vic = await inviteStakeholder(ctx, vendor, dealId, { name: 'Vic Ciso', email: 'vic@bank.example', role: 'ciso' });
  const ted = await inviteStakeholder(ctx, vendor, dealId, { name: 'Ted Sec', email: 'ted@bank.example', role: 'security' });
  const delegated = async () => (await db.selectFrom('stakeholders').selectAll().where('source', '=', 'delegated').execute()).length;

  for (const [who, from, n] of [
    ['carla', carla, 5],
    ['sam', sam, 4],
  ] as const) {
    for (let i = 1; i <= n; i++) {
      const res = await handOverFrom(ctx, from.path, { concerns: ['data_residency'], name: `${who} colleague ${i}`, email: `${who}${i}@bank.example`, role: 'legal' });
      t.equal(res.statusCode, 303, `${who}'s colleague ${i} added`);
    }
  }
  // Two respondents add the tenth at the same moment: the deal's limit holds across them.
  const racing = await Promise.all([
    handOverFrom(ctx, sam.path, { concerns: ['data_residency'], name: 'Sam colleague 5', email: 'sam5@bank.example', role: 'legal' }),
    handOverFrom(ctx, ted.path, { concerns: ['data_residency'], name: 'Ted colleague 1', email: 'ted1@bank.example', role: 'legal' }),
  ]);
  t.same(racing.map((r) => r.statusCode).sort(), [303, 400], 'one of two simultaneous tenths is refused');
  t.equal(await delegated(), 10);

  const before = await written(db);
  const eleventh = await handOverFrom(ctx, vic.path, { concerns: ['data_residency'], name: 'One Too Many', email: 'eleven@bank.example', role: 'legal' });
  t.equal(eleventh.statusCode, 400, 'the eleventh delegated person is refused, though Vic has added nobody yet');
  t.match(eleventh.body, 'This review already has 10 colleagues added by hand-over, the most a deal can have.');
  t.match(eleventh.body, 'no more colleagues can be added to this deal', 'the field says why');
  t.same(await written(db), before, 'nothing written: no person, signal, link or mail');

  const reuse = await handOverFrom(ctx, vic.path, { concerns: ['adversarial_risk'], name: 'Carla colleague 1', email: 'carla1@bank.example', role: 'legal' });
  t.equal(reuse.statusCode, 303, 'handing to someone already on the deal still works at the limit');
  t.equal(await delegated(), 10);
});

t.test('a hand-over goes at most two steps from the vendor', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });

  t.equal((await handOverFrom(ctx, carla.path, { concerns: ['data_residency'], name: 'Dan Depth', email: 'dan@bank.example', role: 'security' })).statusCode, 303);
  const dan = await linkMailedTo(ctx, 'dan@bank.example');
  const danPage = await app.inject({ method: 'GET', url: dan });
  t.match(danPage.body, `href="${dan}/handover"`, 'depth 1 may still hand over');
  t.match((await app.inject({ method: 'GET', url: `${dan}/handover` })).body, `action="${dan}/delegate"`, 'and the hand-over page has the form');
  t.equal((await handOverFrom(ctx, dan, { concerns: ['data_residency'], name: 'Eve End', email: 'eve@bank.example', role: 'security' })).statusCode, 303);
  const eve = await linkMailedTo(ctx, 'eve@bank.example');
  const evePage = await app.inject({ method: 'GET', url: eve });
  t.equal(evePage.statusCode, 200, 'Eve can open her link and answer');
  t.notMatch(evePage.body, '/handover"', 'no hand-over link at depth 2');
  t.notMatch((await app.inject({ method: 'GET', url: `${eve}/handover` })).body, '/delegate"', 'and no hand-over form');
  t.notMatch(evePage.body, 'Hand them to a colleague', 'and no link to it');
  t.match(evePage.body, 'cannot be handed on further');

  const before = await written(db);
  const refused = await handOverFrom(ctx, eve, { concerns: ['data_residency'], name: 'Fay Far', email: 'fay@bank.example', role: 'security' });
  t.equal(refused.statusCode, 400, 'a depth-2 person cannot delegate');
  t.match(refused.body, 'a hand-over can go only 2 steps from the people Acme AI invited');
  t.same(await written(db), before, 'nothing written');
  const toCarla = await handOverFrom(ctx, eve, { concerns: ['data_residency'], name: 'Carla', email: 'carla@bank.example', role: 'security' });
  t.equal(toCarla.statusCode, 400, 'not even to someone already on the deal');
  t.same(await written(db), before);
  const people = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().stakeholders;
  t.same(
    people.map((p: { email: string; delegation_depth: number }) => [p.email, p.delegation_depth]),
    [
      ['carla@bank.example', 0],
      ['dan@bank.example', 1],
      ['eve@bank.example', 2],
    ],
    'the depth of each person in the chain',
  );
});

t.test('a delegate never gets a higher role than the delegator', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const sam = await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
  const lee = await inviteStakeholder(ctx, vendor, dealId, { name: 'Lee Legal', email: 'lee@bank.example', role: 'legal' });

  const page = await app.inject({ method: 'GET', url: `${sam.path}/handover` });
  t.match(page.body, /<select id="in-ho-role" name="role"><option value="">Choose their role<\/option>/, 'no role is chosen for them');
  const offered = [...(/<select id="in-ho-role" name="role"[^>]*>(.*?)<\/select>/s.exec(page.body)?.[1] ?? '').matchAll(/value="([a-z]+)"/g)].map((m) => m[1]);
  t.same(offered, ['security', 'compliance', 'privacy', 'legal', 'other'], 'the form offers Security and below, never CISO');

  const before = await written(db);
  const ciso = await handOverFrom(ctx, sam.path, { concerns: ['data_residency'], name: 'Self Made', email: 'boss@bank.example', role: 'ciso' });
  t.equal(ciso.statusCode, 400, 'a security delegate cannot add a CISO');
  t.match(ciso.body, 'A colleague you hand concerns to can have your role (Security) or a role below it, not CISO.');
  t.match(ciso.body, /<p class="error" id="in-ho-role-error">choose Security or a role below it<\/p>/, 'a field error on the role');
  t.same(await written(db), before, 'nothing written');

  const up = await handOverFrom(ctx, lee.path, { concerns: ['data_residency'], name: 'Pri Vacy', email: 'pri@bank.example', role: 'privacy' });
  t.equal(up.statusCode, 400, 'legal cannot add privacy either');
  t.same(await written(db), before);
  t.equal(
    (await handOverFrom(ctx, sam.path, { concerns: ['data_residency'], name: 'Sue Sec', email: 'sue@bank.example', role: 'security' })).statusCode,
    303,
    'the same role is fine',
  );
});

t.test('an outside, self-appointed CISO chain counts only after the vendor confirms it', async (t) => {
  const ctx = await testApp(t);
  const { app, db, smtp } = ctx;
  const vendor = await signUpVendor(ctx, { email: 'owner@vendor.test' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const claims = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns;
  const claimOf = (k: string) => claims.find((c: { concern: string }) => c.concern === k).claim;

  // Carla hands everything to an outside address claiming to be a CISO, who hands it on to another.
  t.equal((await handOverFrom(ctx, carla.path, { concerns: CONCERN_KEYS, name: 'Mallory', email: 'mallory@evil.example', role: 'ciso' })).statusCode, 303);
  const mallory = await linkMailedTo(ctx, 'mallory@evil.example');
  t.equal((await handOverFrom(ctx, mallory, { concerns: CONCERN_KEYS, name: 'Mona', email: 'mona@evil.example', role: 'ciso' })).statusCode, 303);
  const mona = await linkMailedTo(ctx, 'mona@evil.example');
  for (const c of CONCERN_KEYS) {
    const res = await app.inject({ method: 'POST', url: `${mona}/answer/${c}`, ...form({ verdict: 'confirm' }) });
    t.equal(res.statusCode, 303, `Mona may answer ${c}`);
  }
  const correction = await app.inject({
    method: 'POST',
    url: `${mallory}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'requirement_gap', ...claimForm(claimOf('data_residency'), { inference_regions: ['EU_EEA'] }) }),
  });
  t.equal(correction.statusCode, 303, 'Mallory may correct');
  t.equal((await db.selectFrom('signals').selectAll().where('type', '=', 'answer').execute()).length, 7, 'their answers are recorded as signals');

  // None of it counts yet.
  let d = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.match(d, { checkpoint: { state: 'open' }, concerns_open: 6, corrections: 0, first_security_signal_week: null });
  t.same(
    d.awaiting_confirmation.map((s: { name: string }) => s.name),
    ['Mallory', 'Mona'],
  );
  t.match(
    d.stakeholders.find((s: { email: string }) => s.email === 'mona@evil.example'),
    { role: 'ciso', delegation_depth: 2, confirmed_at: null, counts: false, engaged: false },
  );
  t.equal(d.concerns.find((c: { concern: string }) => c.concern === 'data_residency').status, 'silent', 'the grid status ignores them');
  const list = (await vendor.api('GET', '/api/v1/deals')).json().deals[0];
  t.match(list, { checkpoint: { state: 'open' }, corrections: 0 });
  const stage = await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'negotiation' });
  t.equal(stage.statusCode, 409, 'negotiation stays gated');
  ctx.clock.advance(6 * 60_000);
  await ctx.drainMail();
  t.equal(smtp.messages.filter((m) => m.to === 'owner@vendor.test' && /correction/.test(m.subject)).length, 0, 'no digest for an uncounted correction');

  const champion = await inviteStakeholder(ctx, vendor, dealId, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion' });
  const champPage = await app.inject({ method: 'GET', url: champion.path });
  t.notMatch(champPage.body, 'Mona', 'the champion is not shown an unconfirmed CISO');
  t.match(champPage.body, 'Security not yet aligned');

  // The deal page says why, and offers the one click.
  let page = await vendor.page(`/app/deals/${dealId}`);
  t.match(page.body, 'Added by Mallory, outside the buyer domain (bank.example) — confirm to count their answers.');
  t.match(page.body, 'Added by Carla Ciso, outside the buyer domain (bank.example)');
  t.match(page.body, /Answers from Mallory \(CISO\), Mona \(CISO\) do not count yet: they wait for your confirmation/);
  const monaRow = await db.selectFrom('stakeholders').select(['id', 'confirmed_at']).where('email', '=', 'mona@evil.example').executeTakeFirstOrThrow();
  t.match(page.body, `action="/app/deals/${dealId}/stakeholders/${monaRow.id}/confirm"`);
  t.equal(monaRow.confirmed_at, null);

  const confirmed = await vendor.post(`/app/deals/${dealId}/stakeholders/${monaRow.id}/confirm`);
  t.equal(confirmed.statusCode, 303, 'one click');
  t.match(confirmed.headers.location, '?confirmed=1#stakeholders');
  d = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.match(d, { checkpoint: { state: 'ready', gaps: [] }, concerns_open: 0, corrections: 0, first_security_signal_week: 1 }, 'now it counts');
  t.same(
    d.awaiting_confirmation.map((s: { name: string }) => s.name),
    ['Mallory'],
  );
  page = await vendor.page(`/app/deals/${dealId}`);
  t.match(page.body, 'Ready for negotiation');
  t.match(page.body, /Delegate confirmed<\/span> — Ada Admin Mona \(CISO\) now counts/, 'the confirmation is on the timeline');
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'negotiation' })).statusCode, 200);

  // Confirming again changes nothing; the API offers the same.
  t.equal((await vendor.post(`/app/deals/${dealId}/stakeholders/${monaRow.id}/confirm`)).statusCode, 303);
  const malloryId = d.stakeholders.find((s: { email: string }) => s.email === 'mallory@evil.example').id;
  const api = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${malloryId}/confirm`);
  t.equal(api.statusCode, 200);
  t.match(api.json(), { id: malloryId, confirmed_at: String });
  const again = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${malloryId}/confirm`);
  t.same(again.json(), api.json(), 'idempotent');
  t.equal((await db.selectFrom('signals').selectAll().where('type', '=', 'stakeholder_confirmed').execute()).length, 2, 'one signal per confirmation');
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().corrections, 1, 'Mallory’s correction counts once confirmed');
});

t.test('inside the buyer domain, other roles count at once and security waits for the vendor', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  t.equal((await handOverFrom(ctx, carla.path, { concerns: CONCERN_KEYS, name: 'Pat Privacy', email: 'pat@bank.example', role: 'legal' })).statusCode, 303);
  t.equal((await handOverFrom(ctx, carla.path, { concerns: CONCERN_KEYS, name: 'Sid Sec', email: 'sid@bank.example', role: 'security' })).statusCode, 303);
  const pat = await linkMailedTo(ctx, 'pat@bank.example');
  const sid = await linkMailedTo(ctx, 'sid@bank.example');
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;
  await app.inject({
    method: 'POST',
    url: `${pat}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'requirement_gap', ...claimForm(claim, { inference_regions: ['EU_EEA'] }) }),
  });
  for (const c of CONCERN_KEYS) await app.inject({ method: 'POST', url: `${sid}/answer/${c}`, ...form({ verdict: 'confirm' }) });

  let d = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(d.corrections, 1, 'Pat (legal, bank.example) counts without confirmation');
  t.match(
    d.stakeholders.find((s: { email: string }) => s.email === 'pat@bank.example'),
    { counts: true, engaged: true },
  );
  t.equal(d.checkpoint.state, 'open', 'Sid (security, bank.example) does not open the checkpoint on his own say-so');
  const page = await vendor.page(`/app/deals/${dealId}`);
  t.match(page.body, 'Added by Carla Ciso as Security: a delegate in a security role counts toward the checkpoint only once you confirm them.');
  t.notMatch(page.body, /Confirm Pat Privacy/, 'nothing to confirm for Pat');
  const sidId = d.stakeholders.find((s: { email: string }) => s.email === 'sid@bank.example').id;
  t.equal((await vendor.post(`/app/deals/${dealId}/stakeholders/${sidId}/confirm`)).statusCode, 303);
  d = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(d.checkpoint.state, 'ready', 'confirmed, Sid counts');
});

t.test('confirming a delegate is tenant-scoped and needs the CSRF token', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const a = await signUpVendor(ctx, { workspace: 'Alpha AI', email: 'admin@alpha.test' });
  const b = await signUpVendor(ctx, { workspace: 'Beta AI', email: 'admin@beta.test' });
  const dealId = await openDeal(a);
  await openDeal(b, { buyer_name: 'Beta Bank' });
  const carla = await inviteStakeholder(ctx, a, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  t.equal((await handOverFrom(ctx, carla.path, { concerns: ['data_residency'], name: 'Mallory', email: 'mallory@evil.example', role: 'ciso' })).statusCode, 303);
  const mallory = await db.selectFrom('stakeholders').select('id').where('email', '=', 'mallory@evil.example').executeTakeFirstOrThrow();
  const url = `/app/deals/${dealId}/stakeholders/${mallory.id}/confirm`;
  const confirmedAt = async () =>
    (await a.api('GET', `/api/v1/deals/${dealId}`)).json().stakeholders.find((s: { id: string }) => s.id === mallory.id).confirmed_at as string | null | undefined;

  const theirs = await b.post(url);
  t.equal(theirs.statusCode, 404, 'another vendor gets a 404 on the page route');
  t.notMatch(theirs.body, /Mallory|evil\.example/);
  t.equal((await b.api('POST', `/api/v1/deals/${dealId}/stakeholders/${mallory.id}/confirm`)).statusCode, 404, 'and on the API');
  t.equal(await confirmedAt(), null, 'still unconfirmed');

  const noToken = await app.inject({ method: 'POST', url, ...form({}, a.jar.headers()) });
  t.equal(noToken.statusCode, 403, 'no CSRF token, no confirmation');
  const badToken = await app.inject({ method: 'POST', url, ...form({ _csrf: 'forged' }, a.jar.headers()) });
  t.equal(badToken.statusCode, 403);
  const signedOut = await app.inject({ method: 'POST', url, ...form({}) });
  t.equal(signedOut.statusCode, 401, 'a respondent (no session) cannot confirm anyone');
  t.equal(await confirmedAt(), null, 'still unconfirmed');
  t.equal((await db.selectFrom('signals').selectAll().where('type', '=', 'stakeholder_confirmed').execute()).length, 0);

  t.equal((await a.post(url)).statusCode, 303, 'the owner, with the token, confirms');
  t.type(await confirmedAt(), 'string');
});
