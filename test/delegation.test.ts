// A respondent hands concerns to colleagues; the chain is visible to the vendor.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('handing concerns to a colleague', async (t) => {
  const ctx = await testApp(t);
  const { app, db, smtp } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });

  const handOver = (values: Record<string, unknown>, path = ciso.path) => app.inject({ method: 'POST', url: `${path}/delegate`, ...form(values as never) });

  const res = await handOver({ concerns: ['audit_compliance', 'training_data_provenance'], name: 'Pat Privacy', email: 'pat@bank.example', role: 'privacy' });
  t.equal(res.statusCode, 303);
  t.match(res.headers.location, '?delegated=1#handover');
  await ctx.drainMail();
  const mail = await smtp.waitFor((m) => m.to === 'pat@bank.example');
  t.match(mail.subject, 'Carla Ciso asked you to review security claims from Acme AI');
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
  t.match(page.body, 'Delegated by Carla Ciso');
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
  t.match(page.body, /id="data_residency-v-confirm" name="verdict" value="confirm" checked/, 'her confirm is still shown');

  await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${sam.id}/revoke`);
  smtp.clear();
  t.equal((await handOver({ concerns: ['audit_compliance'], name: 'Sam', email: 'sam@bank.example', role: 'security' })).statusCode, 303);
  await ctx.drainMail();
  t.equal(smtp.messages.filter((m) => m.to === 'sam@bank.example').length, 0, 'someone the vendor revoked gets no new link');
  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(detail.stakeholders.find((s: { email: string }) => s.email === 'sam@bank.example').link.state, 'revoked');
});
