// What the people we mail, and their mail gateways, will try: scanners that
// open every link, floods, and inspection of headers and cookies.
import t from 'tap';
import { sql } from 'kysely';
import { testApp, type TestApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { inviteStakeholder, openDeal, signUpVendor, spendSignInLink } from './helpers/vendor.js';

const DAY = 86_400_000;
const SCANNERS = [
  'Mozilla/5.0 (compatible; Mimecast URL Protect)',
  'Proofpoint URL Defense',
  'Microsoft Office SafeLinks (Defender for Office 365)',
  'Barracuda Sentinel (EE)',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36',
];

/** Everything a scanner could conceivably change. */
async function snapshot(ctx: TestApp) {
  const q = async (query: string) => (await sql.raw<{ r: string }>(`SELECT coalesce(json_agg(x ORDER BY x::text), '[]')::text AS r FROM (${query}) x`).execute(ctx.db)).rows[0].r;
  return {
    signals: await q('SELECT type, concern, verdict FROM signals'),
    logins: await q('SELECT id, used_at, expires_at FROM login_tokens'),
    stakeholders: await q('SELECT id, invited_at, reminders_sent, reminders_paused FROM stakeholders'),
    links: await q('SELECT id, token_hash, expires_at, revoked_at, last_sent_at FROM stakeholder_links'),
    outbox: await q('SELECT id, status, next_attempt_at FROM outbox'),
    deals: await q('SELECT id, stage, digest_through FROM deals'),
  };
}

t.test('mail scanners opening every link change nothing', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp } = ctx;
  const vendor = await signUpVendor(ctx, { email: 'ada@vendor.test' });
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  const champ = await inviteStakeholder(ctx, vendor, dealId, { email: 'chris@bank.example', role: 'champion' });
  await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'ada@vendor.test' }) });
  await app.inject({ method: 'POST', url: '/signup', ...form({ workspace: 'Other', name: 'O', email: 'o@other.test' }) });
  await ctx.drainMail();
  const signin = new URL(linksIn(smtp.messages.find((m) => m.subject.startsWith('Your sign-in link'))!.text)[0]).pathname;
  const signup = new URL(linksIn(smtp.messages.find((m) => m.to === 'o@other.test')!.text)[0]).pathname;
  const links = { respondent: ciso.path, champion: champ.path, signin, signup, unknown: '/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };

  const before = await snapshot(ctx);
  for (const [kind, path] of Object.entries(links)) {
    for (const ua of SCANNERS) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await app.inject({ method, url: path, headers: { 'user-agent': ua } });
        t.ok(res.statusCode === 200 || res.statusCode === 404, `${method} ${kind} link answers ${res.statusCode}`);
      }
    }
  }
  t.same(await snapshot(ctx), before, 'no engagement recorded, no link spent, no schedule changed');

  // And the links still do their job for the person afterwards.
  t.equal((await spendSignInLink(app, signin)).statusCode, 303, 'the sign-in link still works once');
  ctx.clock.advance(3 * DAY);
  await ctx.drainMail();
  t.ok(
    smtp.messages.some((m) => m.to === 'carla@bank.example' && m.subject.startsWith('Reminder')),
    'a scanned-only link still counts as silence',
  );
});

t.test('public endpoints are rate-limited per address and per link', async (t) => {
  const ctx = await testApp(t, { env: { API_RATE_LIMIT: '20' } });
  const { app } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example', role: 'ciso' });
  const from = (ip: string) => ({ remoteAddress: ip });

  // Sign-in requests: ten per address per 10 minutes.
  const codes: number[] = [];
  for (let i = 0; i < 11; i++) codes.push((await app.inject({ method: 'POST', url: '/signin', ...form({ email: `x${i}@y.example` }), ...from('203.0.113.5') })).statusCode);
  t.same(codes.slice(0, 10), Array(10).fill(200));
  const limited = await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'x@y.example' }), ...from('203.0.113.5') });
  t.equal(limited.statusCode, 429, 'the eleventh is refused');
  t.match(limited.headers['content-type'], 'text/html');
  t.match(limited.body, 'Too many requests. Please wait');
  t.ok(limited.headers['retry-after'], 'with Retry-After');
  t.equal((await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'x@y.example' }), ...from('203.0.113.6') })).statusCode, 200, 'other addresses are unaffected');

  // Sign-in mails: at most five per recipient per 15 minutes, whoever asks.
  for (let i = 0; i < 8; i++) await app.inject({ method: 'POST', url: '/signin', ...form({ email: vendor.email }), ...from(`198.51.100.${i}`) });
  const queued = await ctx.db.selectFrom('outbox').selectAll().where('recipient', '=', vendor.email).where('template', 'in', ['signin', 'signup']).execute();
  t.equal(queued.length, 5, 'five link mails in all (the sign-up mail counts), not nine');

  // A link page: sixty views a minute per link and address, then 429.
  let last = 0;
  for (let i = 0; i < 61; i++) last = (await app.inject({ method: 'GET', url: ciso.path, ...from('192.0.2.1') })).statusCode;
  t.equal(last, 429, 'link page views');
  // Answers: thirty a minute per link and address.
  for (let i = 0; i < 31; i++)
    last = (await app.inject({ method: 'POST', url: `${ciso.path}/answer/data_residency`, ...form({ verdict: 'confirm' }), ...from('192.0.2.2') })).statusCode;
  t.equal(last, 429, 'answer submissions');
  // Guessing tokens: 120 a minute per address, whatever the token.
  for (let i = 0; i < 121; i++) last = (await app.inject({ method: 'GET', url: `/r/${String(i).padStart(43, 'A')}`, ...from('192.0.2.3') })).statusCode;
  t.equal(last, 429, 'token guessing');

  // The API: per key, as JSON.
  for (let i = 0; i < 20; i++) await vendor.api('GET', '/api/v1/deals');
  const api = await vendor.api('GET', '/api/v1/deals');
  t.equal(api.statusCode, 429);
  t.equal(api.json().error.code, 'rate_limited');
});

t.test('headers and cookies over plain HTTP', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  for (const url of ['/', ciso.path, '/signin']) {
    const res = await ctx.app.inject({ method: 'GET', url });
    const csp = String(res.headers['content-security-policy']);
    t.match(csp, "default-src 'none'", `${url}: CSP denies by default`);
    t.match(csp, "script-src 'self'");
    t.notMatch(csp, 'unsafe-inline', 'no inline script or style');
    t.match(csp, "frame-ancestors 'none'");
    t.match(csp, "form-action 'self'");
    t.equal(res.headers['referrer-policy'], 'no-referrer', `${url}: no referrer (link pages carry tokens)`);
    t.equal(res.headers['x-content-type-options'], 'nosniff');
    t.notOk(res.headers['strict-transport-security'], 'no HSTS over plain HTTP');
    t.notMatch(res.body, /<script(?![^>]*src=)/i, 'no inline script in the page');
    t.notMatch(res.body, /style="/i, 'no inline style in the page');
  }
  const cookie = String(vendor.jar.get('pp_session') ? await signUpSetCookie(ctx) : '');
  t.match(cookie, /HttpOnly/i);
  t.match(cookie, /SameSite=Lax/i);
  t.notMatch(cookie, /Secure/i, 'not Secure over plain HTTP (the browser would drop it)');
});

t.test('headers and cookies behind HTTPS', async (t) => {
  const ctx = await testApp(t, { env: { PUBLIC_URL: 'https://portal.example' } });
  const res = await ctx.app.inject({ method: 'GET', url: '/' });
  t.match(String(res.headers['strict-transport-security']), 'max-age=31536000');
  const cookie = await signUpSetCookie(ctx);
  t.match(cookie, /; Secure/i, 'session cookie is Secure');
  t.match(cookie, /HttpOnly/i);
  const csrf = String((await ctx.app.inject({ method: 'GET', url: '/app', headers: { cookie: cookie.split(';')[0] } })).headers['set-cookie'] ?? '');
  t.match(csrf, /pp_csrf=.*HttpOnly.*Secure|pp_csrf=.*Secure.*HttpOnly/i, 'the CSRF secret cookie is too');
});

/** Signs a fresh workspace up and returns the session's Set-Cookie header. */
async function signUpSetCookie(ctx: TestApp): Promise<string> {
  const email = `cookie-${Math.random().toString(36).slice(2, 7)}@vendor.test`;
  await ctx.app.inject({ method: 'POST', url: '/signup', ...form({ workspace: 'Cookie Co', name: 'C', email }) });
  await ctx.drainMail();
  const path = new URL(linksIn(ctx.smtp.messages.find((m) => m.to === email)!.text)[0]).pathname;
  const res = await spendSignInLink(ctx.app, path);
  return ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('pp_session=')) ?? '';
}

t.test('past the failed-lookup cap, even a right guess is not served', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const vendor = await signUpVendor(ctx, { email: 'ada@vendor.test' });
  const dealId = await openDeal(vendor);
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'ada@vendor.test' }) });
  await ctx.drainMail();
  const signin = new URL(linksIn(ctx.smtp.messages.at(-1)!.text)[0]).pathname;
  const guesser = { remoteAddress: '203.0.113.9' };

  for (let i = 0; i < 120; i++) {
    // Sign-in link pages have their own, lower per-address limit (30 a minute); mix a few in.
    const kind = i < 10 ? `/auth/link/${String(i).padStart(43, 'B')}` : `/r/${String(i).padStart(43, 'A')}`;
    t.equal((await app.inject({ method: 'GET', url: kind, ...guesser })).statusCode, 404);
  }
  const hit = await app.inject({ method: 'GET', url: ciso.path, ...guesser });
  t.equal(hit.statusCode, 429, 'a real respondent link guessed after the cap is refused, not served');
  t.notMatch(hit.body, 'Carla', 'and shows nothing of it');
  t.ok(Number(hit.headers['retry-after']) > 0 && Number(hit.headers['retry-after']) <= 60, 'with Retry-After');
  t.equal((await app.inject({ method: 'POST', url: `${ciso.path}/answer/data_residency`, ...form({ verdict: 'confirm' }), ...guesser })).statusCode, 429, 'answers too');
  t.equal((await app.inject({ method: 'GET', url: signin, ...guesser })).statusCode, 429, 'sign-in links share the cap');
  const signals = await ctx.db.selectFrom('signals').select('id').execute();
  t.same(signals, [], 'nothing recorded past the cap');

  t.equal((await app.inject({ method: 'GET', url: ciso.path, remoteAddress: '203.0.113.10' })).statusCode, 200, 'another address is not affected');
  ctx.clock.advance(61_000);
  t.equal((await app.inject({ method: 'GET', url: ciso.path, ...guesser })).statusCode, 200, 'and the cap lifts after a minute');
});

t.test('bad API keys are limited per address before any lookup', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const call = (key: string, remoteAddress: string) => ctx.app.inject({ method: 'GET', url: '/api/v1/deals', remoteAddress, headers: { authorization: `Bearer ${key}` } });
  for (let i = 0; i < 120; i++) {
    // A fresh key each time: a limiter keyed on the Authorization value would give each a fresh budget.
    t.equal((await call(`pp_${String(i).padStart(43, 'x')}`, '198.51.100.77')).statusCode, 401);
  }
  const refused = await call(`pp_${'y'.repeat(43)}`, '198.51.100.77');
  t.equal(refused.statusCode, 429, 'the next bad key is refused without a lookup');
  t.equal(refused.json().error.code, 'rate_limited');
  t.equal((await call(vendor.apiKey, '198.51.100.77')).statusCode, 429, 'even a valid key from that address waits out the window');
  t.equal((await call(vendor.apiKey, '198.51.100.78')).statusCode, 200, 'a valid key from elsewhere works');
  ctx.clock.advance(61_000);
  t.equal((await call(vendor.apiKey, '198.51.100.77')).statusCode, 200, 'and from the address again after a minute');
});
