// Nothing is lost when mail fails: the invitation is saved, the mail waits in
// the outbox and is retried with backoff; after the last attempt it is
// marked failed and the vendor sees it.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { MAX_ATTEMPTS, backoffMs } from '../server/mail/outbox.js';
import { openDeal, signUpVendor } from './helpers/vendor.js';

t.test('an SMTP outage delays the invitation; it is delivered once when SMTP returns', async (t) => {
  const ctx = await testApp(t);
  const { db, smtp, clock } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);

  await smtp.stop();
  const res = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Carla', email: 'carla@bank.example', role: 'ciso' });
  t.equal(res.statusCode, 201, 'the invitation is accepted while mail is down');
  t.equal(await ctx.drainMail(), 1, 'one attempt');
  const waiting = await db.selectFrom('outbox').selectAll().where('template', '=', 'invite').executeTakeFirstOrThrow();
  t.match(waiting, { status: 'pending', attempts: 1 });
  t.ok(waiting.last_error, 'the failure is recorded');
  t.notMatch(waiting.last_error!, /carla|http/i, 'the recorded error holds no address or link');

  t.equal(await ctx.drainMail(), 0, 'nothing is retried before the backoff');
  await smtp.start();
  clock.advance(backoffMs(1));
  t.equal(await ctx.drainMail(), 1);
  t.equal(smtp.messages.filter((m) => m.to === 'carla@bank.example').length, 1, 'delivered exactly once');
  clock.advance(3_600_000);
  t.equal(await ctx.drainMail(), 0, 'and never again');
  const sent = await db.selectFrom('outbox').selectAll().where('template', '=', 'invite').executeTakeFirstOrThrow();
  t.match(sent, { status: 'sent', attempts: 2 });
});

t.test('after the last attempt the mail is marked failed and shown to the vendor', async (t) => {
  const ctx = await testApp(t);
  const { db, smtp, clock } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  await smtp.stop();
  await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Carla', email: 'carla@bank.example', role: 'ciso' });
  for (let i = 1; i <= MAX_ATTEMPTS; i++) {
    t.equal(await ctx.drainMail(), 1, `attempt ${i}`);
    clock.advance(backoffMs(i));
  }
  t.equal(await ctx.drainMail(), 0, 'no attempt after the last');
  const row = await db.selectFrom('outbox').selectAll().where('template', '=', 'invite').executeTakeFirstOrThrow();
  t.match(row, { status: 'failed', attempts: MAX_ATTEMPTS });
  const page = await vendor.page(`/app/deals/${dealId}`);
  t.match(page.body, 'mail failed');
});

t.test('backoff grows and is capped', async (t) => {
  t.same([1, 2, 3, 4].map(backoffMs), [30_000, 60_000, 120_000, 240_000]);
  t.equal(backoffMs(20), 3_600_000);
});
