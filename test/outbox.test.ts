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

t.test('stopping the worker finishes the mail in hand and hands the rest back', async (t) => {
  const ctx = await testApp(t);
  const { db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  for (let i = 0; i < 4; i++) {
    await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: `P${i}`, email: `p${i}@bank.example`, role: 'security' });
  }
  const { MailWorker } = await import('../server/mail/outbox.js');
  const { MAILS } = await import('../server/mails.js');
  let release!: () => void;
  const inFlight = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const sending = new Promise<void>((r) => (started = r));
  const slow = {
    async send(m: Parameters<typeof ctx.mail.send>[0]) {
      started();
      await inFlight; // the first mail is in the SMTP conversation when stop() is called
      await ctx.mail.send(m);
    },
  };
  const quiet = { info() {}, warn() {}, error() {} };
  const worker = new MailWorker(db, ctx.clock, slow, MAILS, ctx.app.services, quiet, 60_000);
  const pass = worker.runOnce();
  await sending;
  const stopped = worker.stop();
  release();
  await stopped;
  await pass;
  const rows = await db.selectFrom('outbox').select(['status', 'attempts', 'next_attempt_at']).where('template', '=', 'invite').orderBy('id').execute();
  t.same(
    rows.map((r) => r.status),
    ['sent', 'pending', 'pending', 'pending'],
    'the mail in hand was finished; the rest wait',
  );
  t.same(
    rows.slice(1).map((r) => r.attempts),
    [0, 0, 0],
    'handed back without spending an attempt',
  );
  t.ok(
    rows.slice(1).every((r) => r.next_attempt_at <= ctx.clock.now()),
    'and due at once for another worker',
  );
  t.equal(ctx.smtp.messages.filter((m) => m.to.endsWith('@bank.example')).length, 1);
  await ctx.drainMail();
  t.equal(ctx.smtp.messages.filter((m) => m.to.endsWith('@bank.example')).length, 4, 'another worker sends the rest, once each');
});
