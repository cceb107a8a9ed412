// Nothing is lost and nothing is sent twice when parts fail: the database
// goes away and comes back, mail is down while reminders fall due, two app
// instances share one outbox, the process is told to stop mid-request, and
// an overloaded process sheds load.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
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

/** A TCP proxy we can cut and restore, standing between the app and PostgreSQL. */
async function proxy(target: URL) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
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
  };
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
