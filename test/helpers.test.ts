// Smoke test for the shared test helpers: app, database, SMTP sink, HTTP helpers.
import t from 'tap';
import { sql } from 'kysely';
import { smtpTransport } from '../server/mail/transport.js';
import { testApp } from './helpers/app.js';
import { databaseKind, testDatabase } from './helpers/db.js';
import { cookieJar, csrfFrom, form } from './helpers/http.js';
import { linksIn, smtpSink } from './helpers/smtp.js';
import { spendSignInLink } from './helpers/vendor.js';

t.test('testApp starts and answers /healthz', async (t) => {
  const { app } = await testApp(t);
  t.comment(`database: ${databaseKind()}`);
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok' });
});

t.test('the test database is migrated', async (t) => {
  const handle = await testDatabase(t);
  const { rows } = await sql<{ count: number }>`select count(*) as count from signals`.execute(handle.db);
  t.equal(rows[0].count, 0);
});

t.test('mail sent over SMTP arrives parsed in the sink', async (t) => {
  const sink = await smtpSink(t);
  t.match(sink.url, /^smtp:\/\/127\.0\.0\.1:\d+$/);
  const transport = smtpTransport(sink.url, 'Posture Portal <no-reply@portal.test>');
  t.teardown(() => transport.close?.());
  await transport.send({
    to: 'ana@buyer.test',
    subject: 'Hello there',
    text: 'Open https://portal.test/r/abc123. Or http://portal.test/x?y=1, thanks',
    html: '<p>Open <a href="https://portal.test/r/abc123">this</a></p>',
  });
  t.equal(sink.messages.length, 1);
  const m = await sink.waitFor((m) => m.to === 'ana@buyer.test', 1000);
  t.equal(m.subject, 'Hello there');
  t.match(m.text, 'Open https://portal.test/r/abc123.');
  t.match(m.html, '<a href="https://portal.test/r/abc123">');
  t.equal(m.from, 'no-reply@portal.test');
  t.ok(m.headers.get('message-id'));
  t.same(linksIn(m.text), ['https://portal.test/r/abc123', 'http://portal.test/x?y=1']);

  await t.rejects(
    sink.waitFor((m) => m.to === 'nobody@buyer.test', 50),
    /no matching mail within 50 ms/,
  );

  // Outage and recovery on the same port.
  sink.clear();
  await sink.stop();
  await t.rejects(transport.send({ to: 'b@buyer.test', subject: 'down', text: 'x', html: '<p>x</p>' }), { code: 'ESOCKET' });
  await sink.start();
  const later = sink.waitFor((m) => m.subject === 'up again');
  await transport.send({ to: 'b@buyer.test', subject: 'up again', text: 'x', html: '<p>x</p>' });
  t.equal((await later).to, 'b@buyer.test');
  t.equal(sink.messages.length, 1);
});

t.test('sign-up end to end: outbox, mail, link, session, CSRF', async (t) => {
  const { app, smtp, drainMail } = await testApp(t);
  const jar = cookieJar();
  const signup = await app.inject({
    method: 'POST',
    url: '/signup',
    ...form({ workspace: 'Acme', name: 'Ana Admin', email: 'ana@acme.test' }),
  });
  t.equal(signup.statusCode, 200);
  await app.inject({ method: 'POST', url: '/signup', ...form({ workspace: 'Beta', name: 'Bo', email: 'bo@beta.test' }) });
  t.equal(await drainMail(), 2, 'drainMail sends every due mail, not just the first of a batch');
  t.equal(await drainMail(), 0);
  t.same(smtp.messages.map((m) => m.to).sort(), ['ana@acme.test', 'bo@beta.test']);
  const mail = await smtp.waitFor((m) => m.to === 'ana@acme.test');
  const link = linksIn(mail.text).find((u) => u.startsWith('http://portal.test/auth/link/'));
  if (!link) throw new Error(`no sign-up link in: ${mail.text}`);
  const path = new URL(link).pathname;
  const spent = await spendSignInLink(app, path, jar);
  t.equal(spent.statusCode, 303);
  t.ok(jar.get('pp_session'), 'session cookie stored');
  const home = jar.collect(await app.inject({ method: 'GET', url: '/app', headers: jar.headers() }));
  t.equal(home.statusCode, 200);
  const csrf = csrfFrom(home.body);
  t.ok(csrf);
  const out = jar.collect(await app.inject({ method: 'POST', url: '/signout', ...form({ _csrf: csrf }, jar.headers()) }));
  t.equal(out.statusCode, 303);
  t.equal(jar.get('pp_session'), undefined, 'session cookie cleared');
});

t.test('form() repeats array keys', async (t) => {
  const f = form({ a: 1, tags: ['x', 'y z'], skip: undefined, yes: true });
  t.equal(f.payload, 'a=1&tags=x&tags=y+z&yes=true');
  t.equal(f.headers['content-type'], 'application/x-www-form-urlencoded');
});
