// Sign-in links: emailed, 15 minutes, single use, spent only by a POST.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { cookieJar, csrfFrom, form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { signUpVendor, spendSignInLink } from './helpers/vendor.js';
import type { TestApp } from './helpers/app.js';

/** Opens a sign-in link's page as a browser does: its nonce cookie in a jar, and the nonce its form carries. */
async function openLink(app: TestApp['app'], path: string) {
  const jar = cookieJar();
  const page = jar.collect(await app.inject({ method: 'GET', url: path }));
  const nonce = /name="nonce" value="([^"]*)"/.exec(page.body)?.[1] ?? '';
  return { jar, nonce, page };
}

t.test('a sign-in link works once, only by POST, for 15 minutes', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp, clock } = ctx;
  await signUpVendor(ctx, { workspace: 'Acme AI', email: 'ada@vendor.test' });
  smtp.clear();

  const ask = await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'ADA@vendor.test' }) });
  t.equal(ask.statusCode, 200);
  t.match(ask.body, 'a sign-in link is on its way');
  await ctx.drainMail();
  const mail = await smtp.waitFor((m) => m.to === 'ada@vendor.test');
  t.match(mail.subject, 'Your sign-in link for Acme AI');
  t.ok(mail.html.length > 0 && mail.text.length > 0, 'HTML and plain text');
  const path = new URL(linksIn(mail.text)[0]).pathname;

  for (let i = 0; i < 5; i++) {
    const scan = await app.inject({ method: i % 2 ? 'HEAD' : 'GET', url: path, headers: { 'user-agent': 'Mimecast URL scanner' } });
    t.equal(scan.statusCode, 200, 'a scanner opening the link sees the button page');
  }
  const opened = await openLink(app, path);
  const jar = opened.jar;
  t.match(String(opened.page.headers['set-cookie']), /pp_link_nonce=[A-Za-z0-9_-]{43}; Max-Age=900; Path=\/auth\/link; HttpOnly; SameSite=Strict/, 'the page sets a nonce cookie');
  t.equal(opened.nonce.length, 43, 'and its form carries the nonce');
  const spend = jar.collect(await app.inject({ method: 'POST', url: path, ...form({ nonce: opened.nonce }, jar.headers()) }));
  t.equal(spend.statusCode, 303, 'the POST signs in');
  t.equal(spend.headers.location, '/app');
  const cookie = String(spend.headers['set-cookie']);
  t.match(cookie, /pp_session=/);
  t.match(cookie, /HttpOnly/i);
  t.match(cookie, /SameSite=Lax/i);
  t.equal((await app.inject({ method: 'GET', url: '/app', headers: jar.headers() })).statusCode, 200);

  const twice = await app.inject({ method: 'POST', url: path, ...form({ nonce: opened.nonce }, { cookie: `pp_link_nonce=${opened.nonce}` }) });
  t.equal(twice.statusCode, 404, 'the link is single-use');
  t.match(twice.body, 'This link no longer works');

  await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'ada@vendor.test' }) });
  await ctx.drainMail();
  const late = new URL(linksIn(smtp.messages.at(-1)!.text)[0]).pathname;
  clock.advance(15 * 60_000 + 1000);
  t.equal((await app.inject({ method: 'GET', url: late })).statusCode, 404, 'expired after 15 minutes (GET)');
  t.equal((await spendSignInLink(app, late)).statusCode, 403, 'an expired link gets no nonce, so its POST is refused');
  t.equal(
    (await app.inject({ method: 'POST', url: late, ...form({ nonce: opened.nonce }, { cookie: `pp_link_nonce=${opened.nonce}` }) })).statusCode,
    404,
    'expired after 15 minutes (POST)',
  );
});

t.test('an unknown address gets the same answer and no mail', async (t) => {
  const ctx = await testApp(t);
  const known = await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email: 'nobody@vendor.test' }) });
  t.equal(known.statusCode, 200);
  t.match(known.body, 'If <strong>nobody@vendor.test</strong> belongs to a workspace');
  await ctx.drainMail();
  t.equal(ctx.smtp.messages.length, 0, 'no mail is sent to an unknown address');
  const bad = await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email: 'not-an-email' }) });
  t.equal(bad.statusCode, 400);
  t.match(bad.body, 'must be a valid email address');
});

t.test('vendor pages need a session and session forms need a CSRF token', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const anon = await app.inject({ method: 'GET', url: '/app/deals/new' });
  t.equal(anon.statusCode, 303);
  t.equal(anon.headers.location, '/signin?next=%2Fapp%2Fdeals%2Fnew');
  const anonPost = await app.inject({ method: 'POST', url: '/app/profile/publish', ...form({}) });
  t.equal(anonPost.statusCode, 401);

  const vendor = await signUpVendor(ctx);
  const noToken = await app.inject({ method: 'POST', url: '/app/profile/publish', ...form({}, vendor.jar.headers()) });
  t.equal(noToken.statusCode, 403, 'no CSRF token');
  const wrongToken = await app.inject({ method: 'POST', url: '/app/profile/publish', ...form({ _csrf: 'forged' }, vendor.jar.headers()) });
  t.equal(wrongToken.statusCode, 403, 'a forged CSRF token');
  t.match(wrongToken.body, 'This form has expired');
  t.equal((await vendor.post('/app/profile/publish')).statusCode, 303, 'a real token works');

  const forged = await app.inject({ method: 'GET', url: '/app', headers: { cookie: 'pp_session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.x' } });
  t.equal(forged.statusCode, 303, 'a forged session cookie is not a session');

  const page = await vendor.page('/app');
  const out = await app.inject({ method: 'POST', url: '/signout', ...form({ _csrf: csrfFrom(page.body) }, vendor.jar.headers()) });
  t.equal(out.statusCode, 303);
  t.match(String(out.headers['set-cookie']), /pp_session=;/);
});

t.test('sign-up creates a workspace with a pre-filled draft profile', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Zeta Models' });
  const home = await vendor.page('/app');
  t.match(home.body, 'Zeta Models');
  t.match(home.body, 'Get started in three steps', 'the empty state guides the first steps');
  const profile = (await vendor.api('GET', '/api/v1/profile')).json();
  t.same(Object.keys(profile.concerns), ['data_residency', 'model_access_controls', 'training_data_provenance', 'ai_governance', 'adversarial_risk', 'audit_compliance']);
  t.same(profile.warnings, [], 'the default hypotheses do not contradict each other');
  t.same(profile.versions, []);
});

t.test('forms refuse other sites and other body types', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp } = ctx;
  await signUpVendor(ctx, { email: 'ada@vendor.test' });
  await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'ada@vendor.test' }) });
  await ctx.drainMail();
  const path = new URL(linksIn(smtp.messages.at(-1)!.text)[0]).pathname;

  const { jar, nonce } = await openLink(app, path);
  const post = (headers: Record<string, string>, body = { nonce }) => app.inject({ method: 'POST', url: path, ...form(body, { ...jar.headers(), ...headers }) });
  const crossSite = await post({ 'sec-fetch-site': 'cross-site' });
  t.equal(crossSite.statusCode, 403, 'a sign-in link posted from another site (login CSRF) is refused');
  t.notOk(crossSite.headers['set-cookie'], 'and no session is set');
  const sameSite = await post({ 'sec-fetch-site': 'same-site' });
  t.equal(sameSite.statusCode, 403, 'a sibling subdomain is another origin too');
  const foreign = await post({ origin: 'https://attacker.example' });
  t.equal(foreign.statusCode, 403, 'without Fetch Metadata, a foreign Origin is refused');
  t.notOk(foreign.headers['set-cookie'], 'and no session is set');
  t.equal((await post({ origin: 'null' })).statusCode, 403, 'so is an opaque Origin');
  t.equal((await post({}, { nonce: '' })).statusCode, 403, 'a POST without the page’s nonce is refused');
  t.equal((await post({}, { nonce: 'B'.repeat(43) })).statusCode, 403, 'and with another nonce');
  const ours = await post({ 'sec-fetch-site': 'same-origin', origin: 'http://portal.test' });
  t.equal(ours.statusCode, 303, 'the link still works from our own page');

  const json = await app.inject({
    method: 'POST',
    url: '/signup',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ workspace: { toString: 1 }, name: 'x', email: 'a@b.test' }),
  });
  t.equal(json.statusCode, 415, 'HTML forms take only url-encoded bodies');
});

t.test('signing out ends every copy of the session', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const copied = vendor.jar.header();
  t.equal((await vendor.post('/signout')).statusCode, 303);
  const reuse = await ctx.app.inject({ method: 'GET', url: '/app', headers: { cookie: copied } });
  t.equal(reuse.statusCode, 303, 'a copied cookie no longer opens the app');
  t.match(reuse.headers.location, '/signin');
});

t.test('error pages keep the sign-out form working', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const missing = await vendor.page('/app/deals/00000000-0000-4000-8000-000000000000');
  t.equal(missing.statusCode, 404);
  t.equal(missing.headers['cache-control'], 'no-store');
  t.ok(csrfFrom(missing.body).length > 10, 'the sign-out form carries a CSRF token');
});

t.test('a crafted dead-link page cannot post someone’s sign-in link (login CSRF)', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp } = ctx;
  await signUpVendor(ctx, { workspace: 'Attacker Inc', email: 'mallory@attacker.test' });
  await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'mallory@attacker.test' }) });
  await ctx.drainMail();
  const path = new URL(linksIn(smtp.messages.at(-1)!.text)[0]).pathname;
  const token = path.split('/').pop()!;

  // The path parameter decodes to "../../auth/link/<token>?": once echoed into a form action, a same-origin POST to the sign-in link.
  const crafted = await app.inject({ method: 'GET', url: `/r/..%2F..%2Fauth%2Flink%2F${token}%3F` });
  t.equal(crafted.statusCode, 404);
  t.match(crafted.body, 'This link no longer works');
  t.notMatch(crafted.body, token, 'the page never echoes a token that is not of the token form');
  const actions = [...crafted.body.matchAll(/action="([^"]*)"/g)].map((m) => m[1]);
  t.same(actions, ['/r/renew'], 'the renew form posts to a fixed address');

  // Even a same-origin POST, as that form would send, cannot spend the link without the nonce of the page the link opened.
  const planted = await app.inject({ method: 'POST', url: path, ...form({ email: 'victim@bank.example' }, { 'sec-fetch-site': 'same-origin', origin: 'http://portal.test' }) });
  t.equal(planted.statusCode, 403);
  t.notOk(planted.headers['set-cookie'], 'no session is set');
  t.equal((await spendSignInLink(app, path)).statusCode, 303, 'the link was not spent by the refused POST');
});
