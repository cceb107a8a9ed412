// Nothing is lost and nothing is sent twice when parts fail: the database
// goes away and comes back, mail is down while reminders fall due, two app
// instances share one outbox, the process is told to stop mid-request, and
// an overloaded process sheds load.
import t from 'tap';
import { sql } from 'kysely';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../server/app.js';
import { connectPostgres, isDatabaseUnavailable } from '../server/db/index.js';
import { smtpTransport } from '../server/mail/transport.js';
import { testApp } from './helpers/app.js';
import { testDatabaseUrl } from './helpers/db.js';
import { form } from './helpers/http.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';
import { backoffMs } from '../server/mail/outbox.js';

const DAY = 86_400_000;

/**
 * A TCP proxy standing between the app and PostgreSQL. `cut` closes every
 * connection and stops listening; `restore` listens again. `stall` drops the
 * data in both directions but leaves the sockets open, as a network that
 * loses packets without a reset does; `resume` forwards again.
 */
async function proxy(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let stalled = false;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const [from, to] of [
          [client, upstream],
          [upstream, client],
        ]) {
          sockets.add(from);
          from.on('close', () => {
            sockets.delete(from);
            to.destroy();
          });
          from.on('error', () => from.destroy());
          // By hand rather than pipe(), so a stall can drop what arrives.
          from.on('data', (chunk) => {
            if (!stalled) to.write(chunk);
          });
        }
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await open();
  return {
    get port() {
      return port;
    },
    cut: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server!.close(() => resolve());
      }),
    restore: open,
    stall: () => void (stalled = true),
    resume: () => void (stalled = false),
  };
}

/** A response and how long it took. */
async function timed<T>(work: Promise<T>): Promise<{ res: T; ms: number }> {
  const start = Date.now();
  const res = await work;
  return { res, ms: Date.now() - start };
}

t.test('a database outage is a 503, and the app recovers by itself', async (t) => {
  const ctx = await testApp(t);
  const url = testDatabaseUrl(ctx.handle);
  if (!url) {
    t.plan(0, 'embedded PGlite cannot go away (run with TEST_DATABASE_URL or Docker to test this)');
    return;
  }
  const vendor = await signUpVendor(ctx);
  const target = new URL(url);
  const tcp = await proxy(target);
  const viaProxy = new URL(url);
  viaProxy.host = `127.0.0.1:${tcp.port}`;
  const handle = connectPostgres(viaProxy.toString(), 2);
  const app = await buildApp({ config: ctx.config, db: handle.db, clock: ctx.clock, mail: ctx.mail, sessionSecret: ctx.sessionSecret, logger: false });
  t.teardown(async () => {
    await app.close();
    await handle.close();
    await tcp.cut().catch(() => {});
  });
  const api = () => app.inject({ method: 'GET', url: '/api/v1/deals', headers: { authorization: `Bearer ${vendor.apiKey}` } });

  t.equal((await api()).statusCode, 200, 'working through the proxy');
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  // An invitation queued just before the outage; nobody has sent it yet.
  const dealId = await openDeal(vendor);
  const added = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Olga Outage', email: 'olga@bank.example', role: 'ciso' });
  t.equal(added.statusCode, 201, 'an invitation is queued before the outage');

  await tcp.cut();
  const down = await api();
  t.equal(down.statusCode, 503, 'the API answers 503 while the database is unreachable');
  t.equal(down.json().error.code, 'unavailable');
  t.ok(down.headers['retry-after'], 'with Retry-After');
  const page = await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'x@y.example' }) });
  t.equal(page.statusCode, 503, 'pages too');
  t.match(page.body, 'cannot reach its database');
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503, '/readyz tells the load balancer to route elsewhere');
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, '/healthz says the process is alive');
  // A pass cannot claim mail without the database: it rejects (the polling loop logs that and tries
  // again later) rather than resolving as if the outbox were empty, and leaves the mail queued.
  const worker = app.services.worker;
  const outcome = await worker.runOnce().then(
    (handled) => ({ handled, err: undefined }),
    (err: unknown) => ({ handled: undefined, err }),
  );
  t.equal(outcome.handled, undefined, 'a mail pass during the outage does not pretend to have handled anything');
  const reason = outcome.err as { code?: string; message?: string } | undefined;
  t.ok(isDatabaseUnavailable(outcome.err), `it fails with a database-unavailable error (${reason?.code ?? reason?.message})`);

  await tcp.restore();
  t.equal((await api()).statusCode, 200, 'recovered without a restart');
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  t.equal(await worker.runOnce(), 1, 'the same worker sends the invitation queued before the outage');
  t.equal(ctx.smtp.messages.filter((m) => m.to === 'olga@bank.example').length, 1, 'it arrives once');
});

t.test('a stalled database is a 503 within seconds, and no connection stays pinned', async (t) => {
  const ctx = await testApp(t);
  const url = testDatabaseUrl(ctx.handle);
  if (!url) {
    t.plan(0, 'embedded PGlite cannot stall (run with TEST_DATABASE_URL or Docker to test this)');
    return;
  }
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const tcp = await proxy(new URL(url));
  const viaProxy = new URL(url);
  viaProxy.host = `127.0.0.1:${tcp.port}`;
  // Short timeouts so the test takes seconds (by default 10 s statement, 15 s query, 5 s connect, 20 s request).
  const handle = connectPostgres(viaProxy.toString(), 2, { statementTimeoutMs: 500, queryTimeoutMs: 1_000, connectTimeoutMs: 1_000 });
  const config = { ...ctx.config, REQUEST_DEADLINE_MS: 10_000 };
  const app = await buildApp({ config, db: handle.db, clock: ctx.clock, mail: ctx.mail, sessionSecret: ctx.sessionSecret, logger: false });
  t.teardown(async () => {
    // Cut first: should a query still wait on the stalled proxy, this ends it.
    await tcp.cut().catch(() => {});
    await app.close();
    await handle.close();
  });
  const bearer = { authorization: `Bearer ${vendor.apiKey}` };
  const api = () => app.inject({ method: 'GET', url: '/api/v1/deals', headers: bearer });
  const dealsPage = () => app.inject({ method: 'GET', url: '/app', headers: vendor.jar.headers() });
  const addStakeholder = (email: string) =>
    app.inject({ method: 'POST', url: `/api/v1/deals/${dealId}/stakeholders`, headers: bearer, payload: { name: 'Sam Stall', email, role: 'ciso' } });

  // Both pooled connections are open and idle when the network stalls.
  const before = await Promise.all([api(), dealsPage()]);
  t.same(
    before.map((r) => r.statusCode),
    [200, 200],
    'working through the proxy',
  );
  // A slow statement, the network being fine: the server itself cancels it, and that counts as unavailable.
  const slow = await sql`select pg_sleep(2)`.execute(handle.db).then(
    () => undefined,
    (err: unknown) => err as { code?: string },
  );
  t.equal(slow?.code, '57014', 'PostgreSQL cancels a statement past statement_timeout');
  t.ok(isDatabaseUnavailable(slow), 'which counts as the database being unavailable');

  tcp.stall();
  const during = await Promise.all([timed(api()), timed(dealsPage()), timed(addStakeholder('sam@bank.example'))]);
  for (const [what, { res, ms }] of [
    ['the API', during[0]],
    ['the deals page', during[1]],
    ['a write in a transaction', during[2]],
  ] as const) {
    t.equal(res.statusCode, 503, `${what} answers 503 while the database is stalled`);
    t.ok(res.headers['retry-after'], 'with Retry-After');
    t.ok(ms < 4_000, `within seconds, not when TCP gives up (${ms} ms)`);
  }
  t.equal(during[0].res.json().error.code, 'unavailable');
  t.match(during[1].res.body, 'cannot reach its database');
  const alive = await timed(app.inject({ method: 'GET', url: '/healthz' }));
  t.equal(alive.res.statusCode, 200, '/healthz says the process is alive');
  t.ok(alive.ms < 1_000, `at once (${alive.ms} ms)`);
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503, '/readyz tells the load balancer to route elsewhere');

  tcp.resume();
  // As many requests at once as the pool has connections: a connection left waiting on the stall would fail one.
  const after = await Promise.all([api(), dealsPage(), addStakeholder('sam@bank.example')]);
  t.same(
    after.map((r) => r.statusCode),
    [200, 200, 201],
    'once the network is back, requests succeed without a restart',
  );
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
});

t.test('a request not answered by its deadline gets 503, and its handler finishing later passes quietly', async (t) => {
  let log = '';
  const logStream = new Writable({
    write(chunk, _enc, done) {
      log += chunk.toString();
      done();
    },
  });
  const ctx = await testApp(t);
  const config = { ...ctx.config, LOG_LEVEL: 'info' as const, REQUEST_DEADLINE_MS: 200 };
  const app = await buildApp({ config, db: ctx.db, clock: ctx.clock, mail: ctx.mail, sessionSecret: ctx.sessionSecret, logStream });
  t.teardown(() => app.close());
  // Handlers that outlive the deadline, as one waiting on a stalled database does: each
  // way of finishing later (sending, returning, failing) must not answer a second time.
  const late = () => new Promise((resolve) => setTimeout(resolve, 1_000));
  let finished = 0;
  app.get('/api/v1/slow/send', async (_req, reply) => {
    await late();
    finished++;
    return reply.send({ late: true });
  });
  app.get('/api/v1/slow/return', async () => {
    await late();
    finished++;
    return { late: true };
  });
  app.get('/api/v1/slow/fail', async () => {
    await late();
    finished++;
    throw new Error('Query read timeout');
  });
  app.get('/slow/page', async (_req, reply) => {
    await late();
    finished++;
    return reply.send('late');
  });

  for (const url of ['/api/v1/slow/send', '/api/v1/slow/return', '/api/v1/slow/fail']) {
    const { res, ms } = await timed(app.inject({ method: 'GET', url }));
    t.equal(res.statusCode, 503, `${url} answers 503 at its deadline`);
    t.ok(ms < 900, `before the handler finished (${ms} ms)`);
    t.equal(res.json().error.code, 'unavailable');
    t.ok(res.headers['retry-after'], 'with Retry-After');
  }
  const page = await app.inject({ method: 'GET', url: '/slow/page' });
  t.equal(page.statusCode, 503, 'pages too');
  t.match(page.body, 'could not answer in time');
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, '/healthz answers');
  t.equal((await app.inject({ method: 'GET', url: '/signin' })).statusCode, 200, 'a quick request is not affected');

  await new Promise((resolve) => setTimeout(resolve, 1_100));
  t.equal(finished, 4, 'every handler finished later');
  const lines = log
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message?: string } });
  t.equal(lines.filter((l) => l.msg === 'request deadline passed').length, 4, 'each deadline is logged once, as a warning');
  t.same(
    lines.filter((l) => l.level >= 50 || /already sent|sent = true/i.test(`${l.msg} ${l.err?.message ?? ''}`)),
    [],
    'no error, and no complaint that the reply was already sent',
  );
});

t.test('reminders due during a mail outage wait, then go out once', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  await ctx.smtp.stop();
  ctx.clock.advance(3 * DAY);
  t.equal(await ctx.drainMail(), 1, 'the reminder is tried');
  t.equal(ctx.smtp.messages.filter((m) => m.subject.startsWith('Reminder')).length, 0);
  await ctx.smtp.start();
  ctx.clock.advance(backoffMs(1));
  await ctx.drainMail();
  ctx.clock.advance(3_600_000);
  await ctx.drainMail();
  t.equal(ctx.smtp.messages.filter((m) => m.subject.startsWith('Reminder')).length, 1, 'delivered exactly once');
});

t.test('two app instances share one outbox without sending anything twice', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  for (let i = 0; i < 24; i++) {
    await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: `Person ${i}`, email: `p${i}@bank.example`, role: 'security' });
  }
  const url = testDatabaseUrl(ctx.handle);
  const second = url ? connectPostgres(url, 3) : undefined;
  const mail2 = smtpTransport(ctx.smtp.url, ctx.config.MAIL_FROM);
  const app2 = await buildApp({ config: ctx.config, db: second?.db ?? ctx.db, clock: ctx.clock, mail: mail2, sessionSecret: ctx.sessionSecret, logger: false });
  t.teardown(async () => {
    await app2.close();
    mail2.close?.();
    await second?.close();
  });
  t.comment(url ? 'two connection pools on one PostgreSQL' : 'two apps on one embedded database');
  const [a, b] = await Promise.all([ctx.app.services.worker.runOnce(), app2.services.worker.runOnce()]);
  await Promise.all([ctx.drainMail(), app2.services.worker.runOnce()]);
  const invites = ctx.smtp.messages.filter((m) => m.to.endsWith('@bank.example'));
  t.equal(invites.length, 24, 'every invitation arrived');
  t.equal(new Set(invites.map((m) => m.to)).size, 24, 'none twice');
  t.ok(a + b >= 24, `both workers took part (${a} + ${b})`);
});

t.test('SIGTERM lets the request in flight finish, then exits cleanly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-stop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { PATH: process.env.PATH, DATA_DIR: dir, PORT: String(port), LOG_LEVEL: 'info', SESSION_SECRET: randomBytes(24).toString('hex') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  for (let i = 0; i < 200 && !out.includes('Posture Portal is running'); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(out, 'Posture Portal is running');

  // A sign-in request whose body arrives in two parts, with SIGTERM in between.
  const body = 'email=someone%40vendor.example';
  const response = new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/signin', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 10));
    setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => req.end(body.slice(10)), 300);
    }, 300);
  });
  t.equal(await response, 200, 'the request in flight got its answer');
  t.equal(await exited, 0, 'the process exited cleanly');
  t.match(out, '"signal":"SIGTERM"');
  t.notOk(existsSync(join(dir, 'portal.lock')), 'the data directory lock was released');
});

t.test('an overloaded process sheds load with 503, but stays alive to its load balancer', async (t) => {
  const ctx = await testApp(t, { env: { MAX_EVENT_LOOP_DELAY_MS: '50' } });
  // Block the event loop well past the limit, as a flood of work would.
  const until = Date.now() + 1_200;
  while (Date.now() < until) {
    /* busy */
  }
  await new Promise((r) => setTimeout(r, 50));
  const busy = await ctx.app.inject({ method: 'GET', url: '/signin' });
  t.equal(busy.statusCode, 503, 'new work is refused while the loop lags');
  t.ok(busy.headers['retry-after']);
  t.match(busy.body, 'very busy');
  t.equal((await ctx.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, '/healthz still answers');
});
