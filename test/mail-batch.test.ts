// The outbox worker sends batches over several SMTP connections at once,
// without giving up what it promised one mail at a time: each row recorded on
// its own, a refused recipient retried alone, stop() finishing only what is in
// hand, one person's mails in order, and no mail started on a lease about to lapse.
import t, { type Test } from 'tap';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { testApp, type TestApp } from './helpers/app.js';
import { testDatabaseUrl } from './helpers/db.js';
import { form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';
import { BATCH, MailWorker, backoffMs, enqueueMail } from '../server/mail/outbox.js';
import { claimDue } from '../server/mail/repository.js';
import { SMTP_POOL, smtpTransport, type MailMessage, type MailTransport } from '../server/mail/transport.js';
import type { Composer } from '../server/mail/compose.js';
import { MAILS } from '../server/mails.js';
import { connectPostgres } from '../server/db/index.js';

const MIN = 60_000;
const quiet = { info() {}, warn() {}, error() {} };

/** An SMTP server that counts connections, keeps envelope recipients, and refuses the addresses `refuse` names. */
async function countingSink(t: Test) {
  const state = { connections: 0, closed: 0, received: [] as string[], refuse: new Set<string>() };
  const closedAll: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    onConnect(_session, callback) {
      state.connections++;
      callback();
    },
    onClose() {
      state.closed++;
      if (state.closed === state.connections) for (const wake of closedAll.splice(0)) wake();
    },
    onRcptTo(address, _session, callback) {
      if (state.refuse.has(address.address)) callback(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
      else callback();
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        state.received.push(...session.envelope.rcptTo.map((a) => a.address));
        callback();
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    state,
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    /** Resolves once every connection the sink saw has closed. */
    allClosed: () => new Promise<void>((resolve) => (state.closed === state.connections ? resolve() : closedAll.push(resolve))),
  };
}

/** Resolves when `ready()` holds; rejects after `ms` so a broken worker fails the test instead of hanging it. */
async function until(ready: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function vendorWithStakeholders(t: Test, emails: string[]) {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  for (const [i, email] of emails.entries()) {
    const res = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: `Person ${i}`, email, role: 'security' });
    t.equal(res.statusCode, 201, `added ${email}`);
  }
  return { ctx, vendor, dealId };
}

const invites = (ctx: TestApp) =>
  ctx.db.selectFrom('outbox').select(['id', 'recipient', 'status', 'attempts', 'last_error', 'next_attempt_at']).where('template', '=', 'invite').orderBy('id').execute();

t.test('the SMTP transport carries many mails over a few reused connections, and closing it closes them', async (t) => {
  const sink = await countingSink(t);
  const emails = Array.from({ length: 12 }, (_, i) => `p${i}@bank.example`);
  const { ctx } = await vendorWithStakeholders(t, emails);
  const mail = smtpTransport(sink.url, ctx.config.MAIL_FROM);
  t.teardown(() => mail.close?.());
  t.equal(mail.concurrency, SMTP_POOL.maxConnections, 'the worker may send as many at once as the pool has connections');

  const worker = new MailWorker(ctx.db, ctx.clock, mail, MAILS, ctx.app.services, quiet, 60_000);
  t.equal(await worker.runOnce(), 12, 'all twelve handled in one pass');
  t.same([...sink.state.received].sort(), [...emails].sort(), 'each arrived once');
  t.ok(sink.state.connections <= SMTP_POOL.maxConnections, `over at most ${SMTP_POOL.maxConnections} connections (${sink.state.connections})`);
  t.ok(
    (await invites(ctx)).every((r) => r.status === 'sent' && r.attempts === 1),
    'every row recorded as sent, after one attempt',
  );

  mail.close?.();
  await sink.allClosed();
  t.equal(sink.state.closed, sink.state.connections, 'closing the transport closes its pooled connections');
  await t.rejects(mail.send({ to: 'late@bank.example', subject: 'x', text: 'x', html: 'x' }), { code: 'ECLOSED' }, 'a send after close fails at once');
});

t.test('in a batch, a refused recipient is retried alone; the others are sent once', async (t) => {
  const sink = await countingSink(t);
  const emails = ['a@bank.example', 'b@bank.example', 'bounce@bank.example', 'c@bank.example', 'd@bank.example', 'e@bank.example'];
  const { ctx } = await vendorWithStakeholders(t, emails);
  sink.state.refuse.add('bounce@bank.example');
  const mail = smtpTransport(sink.url, ctx.config.MAIL_FROM);
  t.teardown(() => mail.close?.());
  const worker = new MailWorker(ctx.db, ctx.clock, mail, MAILS, ctx.app.services, quiet, 60_000);

  t.equal(await worker.runOnce(), 6, 'the whole batch is handled');
  t.same([...sink.state.received].sort(), emails.filter((e) => e !== 'bounce@bank.example').sort(), 'the five others arrived');
  const rows = await invites(ctx);
  const bounce = rows.find((r) => r.recipient === 'bounce@bank.example')!;
  t.match(bounce, { status: 'pending', attempts: 1, last_error: 'EENVELOPE 550' }, 'the refused one waits for a retry, its reason recorded');
  t.equal(bounce.next_attempt_at.getTime(), ctx.clock.now().getTime() + backoffMs(1), 'after the backoff');
  t.ok(
    rows.filter((r) => r !== bounce).every((r) => r.status === 'sent' && r.last_error === null),
    'the others are recorded as sent',
  );

  sink.state.refuse.clear();
  t.equal(await worker.runOnce(), 0, 'nothing before the backoff');
  ctx.clock.advance(backoffMs(1));
  t.equal(await worker.runOnce(), 1, 'only the refused one is tried again');
  t.equal(sink.state.received.length, 6);
  t.equal(sink.state.received.filter((r) => r === 'bounce@bank.example').length, 1, 'and delivered once');
  t.match(
    (await invites(ctx)).find((r) => r.recipient === 'bounce@bank.example'),
    { status: 'sent', attempts: 2 },
  );
});

t.test('mails go out several at a time; stop() finishes those in hand and hands back the rest', async (t) => {
  const emails = Array.from({ length: 7 }, (_, i) => `p${i}@bank.example`);
  const { ctx } = await vendorWithStakeholders(t, emails);
  let inFlight = 0;
  let most = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const held: MailTransport = {
    concurrency: 3,
    async send(m: MailMessage) {
      most = Math.max(most, ++inFlight);
      await gate; // in the SMTP conversation when stop() is called
      await ctx.mail.send(m);
      inFlight--;
    },
  };
  const worker = new MailWorker(ctx.db, ctx.clock, held, MAILS, ctx.app.services, quiet, 60_000);
  const pass = worker.runOnce();
  await until(() => inFlight === 3, 'three mails in flight');
  const stopped = worker.stop();
  open();
  await stopped;
  t.equal(await pass, 3, 'the pass ends with the three in hand');
  t.equal(most, 3, 'never more at once than the transport carries');

  const rows = await invites(ctx);
  t.same(
    rows.map((r) => r.status),
    ['sent', 'sent', 'sent', 'pending', 'pending', 'pending', 'pending'],
    'the oldest three were sent; the rest wait',
  );
  t.ok(
    rows.slice(3).every((r) => r.attempts === 0 && r.next_attempt_at <= ctx.clock.now()),
    'handed back without spending an attempt, due at once: no part of the batch stays leased',
  );
  await ctx.drainMail();
  t.same(
    ctx.smtp.messages
      .map((m) => m.to)
      .filter((to) => to.endsWith('@bank.example'))
      .sort(),
    [...emails].sort(),
    'another worker sends the rest, once each',
  );
});

t.test('mails to one address go one at a time and in the order queued', async (t) => {
  const ctx = await testApp(t);
  const order = ['a', 'a', 'b', 'a', 'c', 'b', 'd', 'a', 'e', 'f'];
  for (const [n, who] of order.entries()) {
    await enqueueMail(ctx.db, ctx.clock, { template: 'probe', recipient: `${who}@example.test`, vendorId: null, params: { n } });
  }
  const probe: Composer = async (row) => ({ to: row.recipient, subject: String(row.params.n), text: 'x', html: 'x' });
  const sent: { to: string; n: number }[] = [];
  const perAddress = new Map<string, number>();
  let inFlight = 0;
  let most = 0;
  let overlapSameAddress = false;
  const transport: MailTransport = {
    concurrency: 3,
    async send(m) {
      most = Math.max(most, ++inFlight);
      const now = (perAddress.get(m.to) ?? 0) + 1;
      perAddress.set(m.to, now);
      if (now > 1) overlapSameAddress = true;
      await new Promise((resolve) => setTimeout(resolve, 5));
      sent.push({ to: m.to, n: Number(m.subject) });
      perAddress.set(m.to, now - 1);
      inFlight--;
    },
  };
  const worker = new MailWorker(ctx.db, ctx.clock, transport, { probe }, ctx.app.services, quiet, 60_000);
  t.equal(await worker.runOnce(), order.length);
  t.equal(overlapSameAddress, false, 'never two mails to one address at once');
  t.equal(most, 3, 'while different addresses share the lanes');
  const ofA = sent.filter((s) => s.to === 'a@example.test').map((s) => s.n);
  t.same(ofA, [0, 1, 3, 7], "one address's mails in the order queued");
  t.same(
    sent.filter((s) => s.to === 'b@example.test').map((s) => s.n),
    [2, 5],
  );
});

t.test('two digests of one deal due in one batch still make one digest per interval', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { email: 'owner@vendor.test' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  const claims = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns;
  const claimOf = (k: string) => claims.find((c: { concern: string }) => c.concern === k).claim;
  const correct = async (concern: string, change: Record<string, unknown>) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: `${ciso.path}/answer/${concern}`,
      ...form({ verdict: 'correct', kind: 'requirement_gap', ...claimForm(claimOf(concern), change) } as never),
    });
    t.equal(res.statusCode, 303, `correction on ${concern} saved`);
  };
  const digests = () => ctx.smtp.messages.filter((m) => m.to === 'owner@vendor.test' && /correction/.test(m.subject));

  // The first digest fails once (mail is down), so it waits for a retry...
  await correct('data_residency', { inference_regions: ['EU_EEA'] });
  ctx.clock.advance(5 * MIN);
  await ctx.smtp.stop();
  await ctx.drainMail();
  await ctx.smtp.start();
  // ...and a later correction queues a second digest for the same deal.
  await correct('audit_compliance', { breach_notification_hours: 24 });
  ctx.clock.advance(5 * MIN);
  const due = await ctx.db.selectFrom('outbox').select(['attempts']).where('template', '=', 'digest').where('status', '=', 'pending').orderBy('id').execute();
  t.same(
    due.map((r) => r.attempts),
    [1, 0],
    'two digests of one deal are due together',
  );

  const lanes: MailTransport = { concurrency: 4, send: (m) => ctx.mail.send(m) };
  const worker = new MailWorker(ctx.db, ctx.clock, lanes, MAILS, ctx.app.services, quiet, 60_000);
  await worker.runOnce();
  t.equal(digests().length, 1, 'one digest goes out');
  t.match(digests()[0].subject, '2 new corrections', 'carrying both corrections');
  ctx.clock.advance(15 * MIN);
  await worker.runOnce();
  t.equal(digests().length, 1, 'the other had nothing left to tell');
});

t.test('no mail is started on a lease about to lapse: the rest of the batch is leased afresh', async (t) => {
  const ctx = await testApp(t);
  for (let n = 0; n < 4; n++) await enqueueMail(ctx.db, ctx.clock, { template: 'probe', recipient: `p${n}@example.test`, vendorId: null, params: { n } });
  const leaseLeft: number[] = [];
  const probe: Composer = async (row, { db, clock }) => {
    const { next_attempt_at } = await db.selectFrom('outbox').select('next_attempt_at').where('id', '=', row.id).executeTakeFirstOrThrow();
    leaseLeft.push(next_attempt_at.getTime() - clock.now().getTime());
    return { to: row.recipient, subject: 'x', text: 'x', html: 'x' };
  };
  // Each send takes four minutes of the five-minute lease (by the test's clock).
  const slow: MailTransport = { send: async () => ctx.clock.advance(4 * MIN) };
  const worker = new MailWorker(ctx.db, ctx.clock, slow, { probe }, ctx.app.services, quiet, 60_000);
  t.equal(await worker.runOnce(), 4, 'all four handled in one pass');
  t.equal(leaseLeft.length, 4);
  t.ok(
    leaseLeft.every((ms) => ms >= 2 * MIN),
    `each mail started with at least two minutes of lease left (${leaseLeft.map((ms) => ms / MIN).join(', ')} min)`,
  );
  const rows = await ctx.db.selectFrom('outbox').select(['status', 'attempts']).where('template', '=', 'probe').execute();
  t.ok(
    rows.every((r) => r.status === 'sent' && r.attempts === 1),
    'each sent once; leasing afresh spent no attempt',
  );
});

t.test('claimDue leases up to a batch of due rows, oldest first, and skips rows another worker holds', async (t) => {
  const ctx = await testApp(t);
  const now = ctx.clock.now();
  for (let n = 0; n < 5; n++) await enqueueMail(ctx.db, ctx.clock, { template: 'probe', recipient: `p${n}@example.test`, vendorId: null, params: { n } });
  ctx.clock.advance(MIN);
  await enqueueMail(ctx.db, ctx.clock, { template: 'probe', recipient: 'later@example.test', vendorId: null, params: {} });
  const lease = new Date(now.getTime() + 5 * MIN);

  const first = await claimDue(ctx.db, now, lease, 3);
  t.same(
    first.map((r) => r.params.n),
    [0, 1, 2],
    'the oldest three',
  );
  t.ok(
    first.every((r) => r.attempts === 1 && r.template === 'probe' && r.vendor_id === null),
    'each with its attempt counted',
  );
  const second = await claimDue(ctx.db, now, lease, 3);
  t.same(
    second.map((r) => r.params.n),
    [3, 4],
    'then the rest that is due; leased rows and rows not yet due are left',
  );
  t.same(await claimDue(ctx.db, now, lease, 3), [], 'then nothing');
  t.ok(BATCH >= SMTP_POOL.maxConnections, 'a batch feeds every connection of the pool');

  const url = testDatabaseUrl(ctx.handle);
  if (!url) {
    t.comment('embedded PGlite has one connection: a row locked by another worker needs PostgreSQL');
    return;
  }
  const other = connectPostgres(url, 1);
  t.teardown(() => other.close());
  const later = ctx.clock.now();
  // Another worker's claim, not yet committed, holds the row that just fell due.
  await other.db.transaction().execute(async (trx) => {
    const held = await claimDue(trx, later, lease, 10);
    t.same(
      held.map((r) => r.recipient),
      ['later@example.test'],
    );
    t.same(await claimDue(ctx.db, later, lease, 10), [], 'skipped, not waited for');
  });
});
