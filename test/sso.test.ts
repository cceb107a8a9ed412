// Single sign-on (OpenID Connect) per workspace, end to end through a real
// OpenID provider (oidc-provider) on 127.0.0.1: its login page is driven with
// plain HTTP requests, and its redirect back (code and state) is delivered to
// the portal's callback with the browser's cookies. The portal runs with
// WEBHOOK_ALLOW_PRIVATE=true so it may call a provider on loopback.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import type { MemberRole } from '../server/rules.js';
import { hashToken } from '../server/lib/tokens.js';
import { testApp, type TestApp } from './helpers/app.js';
import { cookieJar, decodeEntities, form, type CookieJar } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { signUpVendor, spendSignInLink, type TestVendor } from './helpers/vendor.js';
import { startIdp, type IdpOptions, type TestIdp } from './helpers/oidc.js';
import type { TapLike } from './helpers/db.js';

const ALLOW = { WEBHOOK_ALLOW_PRIVATE: 'true' };
const STATE_COOKIE = 'pp_sso_state';

interface Setup {
  ctx: TestApp;
  idp: TestIdp;
  owner: TestVendor;
  vendorId: string;
}

async function setup(t: TapLike, idpOptions: IdpOptions = {}): Promise<Setup> {
  const ctx = await testApp(t, { env: ALLOW });
  const idp = await startIdp(t, idpOptions);
  const owner = await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Olga Owner', email: 'olga@acme.example' });
  const vendorId = (await ctx.db.selectFrom('vendors').select('id').where('name', '=', 'Acme AI').executeTakeFirstOrThrow()).id;
  return { ctx, idp, owner, vendorId };
}

/** Sets the workspace's SSO through the API; resolves to the answer (200 expected). */
async function configure(s: Pick<Setup, 'owner' | 'idp'>, extra: Record<string, unknown> = {}): Promise<LightMyRequestResponse> {
  const res = await s.owner.api('PUT', '/api/v1/sso', {
    issuer: s.idp.issuer,
    client_id: s.idp.clientId,
    client_secret: s.idp.clientSecret,
    allowed_domains: ['acme.example'],
    ...extra,
  });
  if (res.statusCode !== 200) throw new Error(`PUT /api/v1/sso answered ${res.statusCode}: ${res.body}`);
  return res;
}

async function addMember(ctx: TestApp, vendorId: string, email: string, role: MemberRole = 'member', name = 'Mia Member'): Promise<string> {
  const id = randomUUID();
  await ctx.db.insertInto('users').values({ id, vendor_id: vendorId, email, name, role, created_at: ctx.clock.now() }).execute();
  return id;
}

/** An API key of the owner's workspace with this role, made on the settings page. */
async function keyWithRole(owner: TestVendor, role: MemberRole): Promise<string> {
  const page = await owner.post('/app/settings/api-keys', { name: `${role} key`, role });
  const key = /<code class="secret">([^<]+)<\/code>/.exec(page.body)?.[1];
  if (!key) throw new Error(`no ${role} key on the settings page (${page.statusCode})`);
  return key;
}

const withKey = (ctx: TestApp, key: string, method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
  ctx.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });

/**
 * Starts a sign-in to the workspace in this browser as a person does: GET /auth/sso shows a button (and starts
 * nothing), whose POST starts it. Resolves to the POST's answer (the redirect to the provider).
 */
async function start(ctx: TestApp, vendorId: string, jar: CookieJar): Promise<LightMyRequestResponse> {
  const page = jar.collect(await ctx.app.inject({ method: 'GET', url: `/auth/sso?workspace=${vendorId}`, headers: jar.headers() }));
  if (page.statusCode !== 200) return page;
  const workspace = /<input type="hidden" name="workspace" value="([^"]+)">/.exec(page.body)?.[1] ?? '';
  return jar.collect(await ctx.app.inject({ method: 'POST', url: '/auth/sso', ...form({ workspace }, jar.headers()) }));
}

/** Delivers the provider's redirect to the portal's callback with this browser's cookies. */
async function callback(ctx: TestApp, back: URL, jar: CookieJar): Promise<LightMyRequestResponse> {
  return jar.collect(await ctx.app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: jar.headers() }));
}

/** Starts at the portal, signs the account in at the provider; resolves to the redirect back (not yet delivered). */
async function toProvider(s: Setup, account: string, jar: CookieJar): Promise<{ started: LightMyRequestResponse; back: URL }> {
  const started = await start(s.ctx, s.vendorId, jar);
  if (started.statusCode !== 303) throw new Error(`/auth/sso answered ${started.statusCode}: ${started.body}`);
  return { started, back: await s.idp.signIn(String(started.headers.location), account) };
}

/** The whole sign-in: start, provider, callback. */
async function ssoSignIn(s: Setup, account: string, jar: CookieJar = cookieJar()) {
  const { started, back } = await toProvider(s, account, jar);
  return { started, back, res: await callback(s.ctx, back, jar), jar };
}

const count = async (ctx: TestApp, table: 'users' | 'user_sessions') =>
  Number(
    (
      await ctx.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

const userByEmail = (ctx: TestApp, vendorId: string, email: string) =>
  ctx.db.selectFrom('users').selectAll().where('vendor_id', '=', vendorId).where('email', '=', email).executeTakeFirst();

t.test('an admin sets up SSO through the API: the secret is write-only and rests sealed; members and viewers are refused', async (t) => {
  const s = await setup(t);
  const { ctx, owner, idp } = s;
  t.equal((await owner.api('GET', '/api/v1/sso')).statusCode, 404, 'none yet');

  const noSecret = await owner.api('PUT', '/api/v1/sso', { issuer: idp.issuer, client_id: idp.clientId, allowed_domains: ['acme.example'] });
  t.equal(noSecret.statusCode, 400);
  t.match(noSecret.json().error.details, [{ field: 'client_secret' }], 'the first save needs a secret');
  const badDomain = await owner.api('PUT', '/api/v1/sso', { issuer: idp.issuer, client_id: idp.clientId, client_secret: 'x', allowed_domains: ['not a domain'] });
  t.equal(badDomain.statusCode, 400);
  t.match(badDomain.json().error.details, [{ field: 'allowed_domains.0' }]);

  const put = await configure(s, { require_sso: false });
  const body = put.json();
  t.same(Object.keys(body).sort(), ['allowed_domains', 'client_id', 'issuer', 'redirect_uri', 'require_sso', 'signin_url', 'updated_at']);
  t.equal(body.redirect_uri, 'http://portal.test/auth/sso/callback');
  t.equal(body.signin_url, `http://portal.test/auth/sso?workspace=${s.vendorId}`);
  t.notMatch(put.body, idp.clientSecret, 'the secret is never answered');

  const stored = await ctx.db.selectFrom('sso_configs').selectAll().executeTakeFirstOrThrow();
  t.notMatch(stored.client_secret, idp.clientSecret, 'not stored in plain');
  t.match(stored.client_secret, /^v1\./, 'sealed');
  t.equal(ctx.app.services.sealer.open(stored.client_secret), idp.clientSecret, 'and opens to the secret');

  // A save without a secret keeps the stored one.
  const kept = await owner.api('PUT', '/api/v1/sso', { issuer: idp.issuer, client_id: idp.clientId, allowed_domains: ['acme.example', 'acme-labs.example'], require_sso: true });
  t.equal(kept.statusCode, 200, kept.body);
  t.same(kept.json().allowed_domains, ['acme.example', 'acme-labs.example']);
  t.equal(kept.json().require_sso, true);
  const after = await ctx.db.selectFrom('sso_configs').selectAll().executeTakeFirstOrThrow();
  t.equal(ctx.app.services.sealer.open(after.client_secret), idp.clientSecret, 'the secret is kept');
  t.same((await owner.api('GET', '/api/v1/sso')).json(), kept.json());

  const audit = await ctx.db.selectFrom('audit_log').select(['action', 'changes', 'target_type']).where('target_type', '=', 'sso').orderBy('id').execute();
  t.same(
    audit.map((a) => a.action),
    ['sso.created', 'sso.updated'],
  );
  t.match(audit[1].changes, { allowed_domains: { after: ['acme.example', 'acme-labs.example'] }, require_sso: { before: false, after: true } });
  t.notOk('client_secret' in (audit[1].changes as object), 'a kept secret is not a change');
  t.notMatch(JSON.stringify(audit), idp.clientSecret, 'the trail never holds the secret');

  for (const role of ['viewer', 'member'] as const) {
    const key = await keyWithRole(owner, role);
    t.equal((await withKey(ctx, key, 'GET', '/api/v1/sso')).statusCode, 403, `a ${role} cannot read the settings`);
    const refused = await withKey(ctx, key, 'PUT', '/api/v1/sso', { issuer: idp.issuer, client_id: 'theirs', client_secret: 'x', allowed_domains: ['evil.example'] });
    t.equal(refused.statusCode, 403, `a ${role} cannot change them`);
    t.equal(refused.json().error.code, 'forbidden');
    t.equal((await withKey(ctx, key, 'DELETE', '/api/v1/sso')).statusCode, 403, `nor remove them (${role})`);
  }
  const adminKey = await keyWithRole(owner, 'admin');
  t.equal((await withKey(ctx, adminKey, 'GET', '/api/v1/sso')).statusCode, 200, 'an admin may');
  t.equal((await ctx.db.selectFrom('sso_configs').select('client_id').executeTakeFirstOrThrow()).client_id, idp.clientId, 'nothing changed');

  t.equal((await owner.api('DELETE', '/api/v1/sso')).statusCode, 204);
  t.equal((await owner.api('GET', '/api/v1/sso')).statusCode, 404);
  t.equal((await owner.api('DELETE', '/api/v1/sso')).statusCode, 404, 'nothing left to remove');
  t.equal((await ctx.db.selectFrom('audit_log').select('action').where('action', '=', 'sso.removed').execute()).length, 1);
});

t.test('saving runs discovery: an unreachable, mis-named or forbidden issuer is refused and nothing is saved', async (t) => {
  const s = await setup(t);
  const { owner, idp, ctx } = s;
  const attempt = (issuer: string) => owner.api('PUT', '/api/v1/sso', { issuer, client_id: idp.clientId, client_secret: idp.clientSecret, allowed_domains: ['acme.example'] });

  const down = await attempt('http://127.0.0.1:1');
  t.equal(down.statusCode, 400);
  t.match(down.json().error, { code: 'invalid_input', message: /could not be used: nothing answers/, details: [{ field: 'issuer' }] });

  // An address whose discovery document names another issuer (here: the provider's, served from elsewhere).
  const doc = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).text();
  const impostor = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(doc));
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => impostor.close(() => resolve())));
  const misnamed = await attempt(`http://127.0.0.1:${(impostor.address() as AddressInfo).port}`);
  t.equal(misnamed.statusCode, 400);
  t.match(misnamed.json().error.message, `names a different issuer (${idp.issuer})`);

  const metadata = await attempt('http://169.254.169.254/');
  t.equal(metadata.statusCode, 400);
  t.match(metadata.json().error.message, /cloud metadata/, 'metadata addresses stay refused even with private addresses allowed');

  const notIssuer = await attempt(`${idp.issuer}/nothing-here`);
  t.equal(notIssuer.statusCode, 400, 'no discovery document there');

  t.equal(
    await ctx.db
      .selectFrom('sso_configs')
      .selectAll()
      .execute()
      .then((r) => r.length),
    0,
    'nothing was saved',
  );

  // Without WEBHOOK_ALLOW_PRIVATE a provider on loopback is refused like a webhook would be.
  const strict = await testApp(t);
  const strictOwner = await signUpVendor(strict, { email: 'olga@acme.example' });
  const refused = await strictOwner.api('PUT', '/api/v1/sso', { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, allowed_domains: ['acme.example'] });
  t.equal(refused.statusCode, 400);
  t.match(refused.json().error.message, /not allowed: .*loopback/);
});

t.test('the settings page: set up, a write-only secret, errors shown, and removal', async (t) => {
  const s = await setup(t);
  const { ctx, owner, idp, vendorId } = s;
  t.match((await owner.page('/app/settings')).body, 'href="/app/settings/sso"', 'linked from the settings page');
  const empty = await owner.page('/app/settings/sso');
  t.equal(empty.statusCode, 200);
  t.match(empty.body, 'http://portal.test/auth/sso/callback', 'shows the redirect URI to register');
  t.match(decodeEntities(empty.body), `http://portal.test/auth/sso?workspace=${vendorId}`, 'and where sign-in starts');

  const fields = { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret, allowed_domains: 'acme.example, acme-labs.example' };
  const bad = await owner.post('/app/settings/sso', { ...fields, allowed_domains: 'acme.example, not_a_domain' });
  t.equal(bad.statusCode, 400);
  t.match(bad.body, 'must be a domain name');
  const down = await owner.post('/app/settings/sso', { ...fields, issuer: 'http://127.0.0.1:1' });
  t.equal(down.statusCode, 400);
  t.match(down.body, 'nothing answers at that address');
  t.match(down.body, 'value="http://127.0.0.1:1"', 'the form keeps what was typed');
  t.notMatch(down.body, idp.clientSecret, 'but never the secret');
  t.equal((await ctx.db.selectFrom('sso_configs').selectAll().execute()).length, 0, 'nothing saved');

  const saved = await owner.post('/app/settings/sso', { ...fields, require_sso: 'yes' });
  t.equal(saved.statusCode, 303);
  t.equal(saved.headers.location, '/app/settings/sso?done=saved');
  const row = await ctx.db.selectFrom('sso_configs').selectAll().executeTakeFirstOrThrow();
  t.same(row.allowed_domains, ['acme.example', 'acme-labs.example']);
  t.equal(row.require_sso, true);
  t.equal(ctx.app.services.sealer.open(row.client_secret), idp.clientSecret);

  const shown = await owner.page('/app/settings/sso?done=saved');
  t.match(shown.body, 'Saved.');
  t.match(shown.body, 'Set. It is stored encrypted');
  t.notMatch(shown.body, idp.clientSecret, 'the secret is never shown');
  t.match(shown.body, /name="require_sso" value="yes" checked/);

  // Blank secret keeps it; unticked box turns require_sso off.
  const again = await owner.post('/app/settings/sso', { ...fields, client_secret: '', allowed_domains: 'acme.example' });
  t.equal(again.statusCode, 303, again.body);
  const row2 = await ctx.db.selectFrom('sso_configs').selectAll().executeTakeFirstOrThrow();
  t.equal(ctx.app.services.sealer.open(row2.client_secret), idp.clientSecret, 'kept');
  t.same(row2.allowed_domains, ['acme.example']);
  t.equal(row2.require_sso, false);

  const removed = await owner.post('/app/settings/sso/remove');
  t.equal(removed.statusCode, 303);
  t.equal(removed.headers.location, '/app/settings/sso?done=removed');
  t.equal((await ctx.db.selectFrom('sso_configs').selectAll().execute()).length, 0);
  t.match((await owner.page('/app/settings/sso?done=removed')).body, 'Single sign-on was removed');
});

t.test('an existing member signs in through the provider', async (t) => {
  const s = await setup(t);
  const { ctx, idp, vendorId } = s;
  await configure(s);
  const miaId = await addMember(ctx, vendorId, 'mia@acme.example');
  idp.accounts.set('mia', { email: 'Mia@Acme.example', email_verified: true, name: 'Someone Else' });
  const users = await count(ctx, 'users');

  const jar = cookieJar();
  const { started, back } = await toProvider(s, 'mia', jar);
  const auth = new URL(String(started.headers.location));
  t.equal(auth.origin, idp.issuer, 'sent to the provider');
  t.equal(auth.searchParams.get('scope'), 'openid email profile');
  t.equal(auth.searchParams.get('code_challenge_method'), 'S256');
  t.equal(auth.searchParams.get('redirect_uri'), 'http://portal.test/auth/sso/callback');
  const state = auth.searchParams.get('state')!;
  t.ok(auth.searchParams.get('nonce') && auth.searchParams.get('code_challenge'));
  t.equal(jar.get(STATE_COOKIE), state, 'the browser holds the state');
  t.match(String(started.headers['set-cookie']), /pp_sso_state=[^;]+;.*HttpOnly/i);
  t.match(String(started.headers['set-cookie']), /SameSite=Lax/i);
  const row = await ctx.db.selectFrom('sso_states').selectAll().executeTakeFirstOrThrow();
  t.equal(row.state_hash, hashToken(state), 'only a hash of the state is stored');
  t.match(row.code_verifier, /^v1\./, 'the PKCE verifier rests sealed');
  t.equal(row.nonce, auth.searchParams.get('nonce'));
  t.equal(row.expires_at.getTime() - row.created_at.getTime(), 10 * 60_000, 'ten minutes');

  const res = await callback(ctx, back, jar);
  t.equal(res.statusCode, 303, res.body);
  t.equal(res.headers.location, '/app');
  t.notOk(jar.get(STATE_COOKIE), 'the state cookie is cleared');
  const app = await ctx.app.inject({ method: 'GET', url: '/app', headers: jar.headers() });
  t.equal(app.statusCode, 200, 'the session works');
  t.match(app.body, 'Mia Member', 'as the member (the name in the portal is kept)');
  const session = await ctx.db.selectFrom('user_sessions').selectAll().where('user_id', '=', miaId).executeTakeFirstOrThrow();
  t.equal(session.method, 'sso');
  t.equal(await count(ctx, 'users'), users, 'nobody was added');
  t.ok((await ctx.db.selectFrom('sso_states').select('used_at').executeTakeFirstOrThrow()).used_at, 'the state is used');
  t.ok((await userByEmail(ctx, vendorId, 'mia@acme.example'))?.last_sign_in_at, 'the sign-in is recorded');
});

t.test('a person of an allowed domain joins as a member on first sign-in', async (t) => {
  const s = await setup(t);
  const { ctx, idp, vendorId } = s;
  await configure(s);
  idp.accounts.set('newt', { email: 'newt@acme.example', email_verified: true, name: 'Newt Newcomer' });
  const { res, jar } = await ssoSignIn(s, 'newt');
  t.equal(res.statusCode, 303, res.body);
  const newt = await userByEmail(ctx, vendorId, 'newt@acme.example');
  t.ok(newt, 'a member was added');
  t.equal(newt?.role, 'member', 'as a member');
  t.equal(newt?.name, 'Newt Newcomer', 'named by the provider');
  t.equal((await ctx.app.inject({ method: 'GET', url: '/app', headers: jar.headers() })).statusCode, 200);
  const joined = await ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'member.joined').execute();
  t.equal(joined.length, 1);
  t.match(joined[0], {
    actor_id: newt?.id,
    actor_name: 'Newt Newcomer',
    actor_kind: 'user',
    target_id: newt?.id,
    changes: { email: 'newt@acme.example', role: 'member', via: 'sso' },
  });
  const users = await count(ctx, 'users');
  t.equal((await ssoSignIn(s, 'newt')).res.statusCode, 303, 'signs in again');
  t.equal(await count(ctx, 'users'), users, 'as the same member');
  t.equal((await ctx.db.selectFrom('audit_log').select('id').where('action', '=', 'member.joined').execute()).length, 1, 'joined once');
  // A member of the workspace may not open its SSO settings.
  t.equal((await ctx.app.inject({ method: 'GET', url: '/app/settings/sso', headers: jar.headers() })).statusCode, 403);
});

t.test('the address may come from the UserInfo answer when the ID token has none', async (t) => {
  const s = await setup(t, { claimsInIdToken: false });
  await configure(s);
  s.idp.accounts.set('uma', { email: 'uma@acme.example', email_verified: true, name: 'Uma Userinfo' });
  const { res } = await ssoSignIn(s, 'uma');
  t.equal(res.statusCode, 303, res.body);
  t.equal((await userByEmail(s.ctx, s.vendorId, 'uma@acme.example'))?.name, 'Uma Userinfo');
});

t.test('an address of another domain, an unverified one or none is refused, and nothing is made', async (t) => {
  const s = await setup(t);
  const { ctx, idp } = s;
  await configure(s);
  idp.accounts.set('eve', { email: 'eve@evil.example', email_verified: true, name: 'Eve' });
  idp.accounts.set('unverified', { email: 'una@acme.example', email_verified: false, name: 'Una' });
  idp.accounts.set('nomail', { name: 'No Mail' });
  const users = await count(ctx, 'users');
  const sessions = await count(ctx, 'user_sessions');
  const eve = await ssoSignIn(s, 'eve');
  t.equal(eve.res.statusCode, 401);
  t.match(eve.res.body, 'eve@evil.example is not of an email domain Acme AI signs in through single sign-on');
  t.match(eve.res.body, 'no account was made');
  t.notOk(eve.jar.get('pp_session'), 'not signed in');
  t.equal((await ssoSignIn(s, 'unverified')).res.statusCode, 401, 'email_verified false');
  const none = await ssoSignIn(s, 'nomail');
  t.equal(none.res.statusCode, 401, 'no address');
  t.match(none.res.body, 'did not give a verified email address');
  t.equal(await count(ctx, 'users'), users, 'nobody added');
  t.equal(await count(ctx, 'user_sessions'), sessions, 'no session opened');
});

t.test('a wrong issuer is refused', async (t) => {
  const s = await setup(t);
  const { ctx, idp } = s;
  // Another provider, with the same client registered: the portal now trusts it, not the first.
  const other = await startIdp(t);
  await configure(s);
  idp.accounts.set('mia', { email: 'mia@acme.example', email_verified: true, name: 'Mia' });
  other.accounts.set('mia', { email: 'mia@acme.example', email_verified: true, name: 'Mia' });
  const jar = cookieJar();
  const { back } = await toProvider(s, 'mia', jar);
  await configure({ owner: s.owner, idp: other });
  const users = await count(ctx, 'users');
  const res = await callback(ctx, back, jar);
  t.equal(res.statusCode, 401, 'an answer from the first provider is refused');
  t.match(res.body, 'could not be verified');
  t.notOk(jar.get('pp_session'));
  t.equal(await count(ctx, 'users'), users);

  // The same answer without the provider naming itself (no iss): still refused (the code and ID token are the first's).
  const jar2 = cookieJar();
  await configure(s);
  const second = await toProvider(s, 'mia', jar2);
  await configure({ owner: s.owner, idp: other });
  second.back.searchParams.delete('iss');
  t.equal((await callback(ctx, second.back, jar2)).statusCode, 401);
  t.equal(await count(ctx, 'users'), users, 'nobody added');

  // And the trusted provider works.
  const ok = await ssoSignIn({ ...s, idp: other }, 'mia');
  t.equal(ok.res.statusCode, 303, ok.res.body);
});

t.test('a replayed state is refused', async (t) => {
  const s = await setup(t);
  const { ctx, idp } = s;
  await configure(s);
  idp.accounts.set('mia', { email: 'mia@acme.example', email_verified: true, name: 'Mia' });
  const { back, res, jar } = await ssoSignIn(s, 'mia');
  t.equal(res.statusCode, 303, res.body);
  const sessions = await count(ctx, 'user_sessions');
  // The same redirect again, the state cookie restored as an attacker with the browser would.
  const replay = cookieJar();
  replay.set(STATE_COOKIE, back.searchParams.get('state')!);
  const again = await callback(ctx, back, replay);
  t.equal(again.statusCode, 401);
  t.match(again.body, 'expired');
  t.match(again.body, 'already used');
  t.notOk(replay.get('pp_session'));
  t.equal(await count(ctx, 'user_sessions'), sessions, 'no second session');
  t.ok(jar.get('pp_session'), 'the first sign-in stands');
});

t.test('a bad nonce is refused: a stored one tampered with, or another in the ID token', async (t) => {
  const s = await setup(t);
  const { ctx, idp } = s;
  await configure(s);
  idp.accounts.set('mia', { email: 'mia@acme.example', email_verified: true, name: 'Mia' });
  const users = await count(ctx, 'users');

  const jar = cookieJar();
  const { back } = await toProvider(s, 'mia', jar);
  await ctx.db.updateTable('sso_states').set({ nonce: 'not-the-nonce-the-provider-signed' }).execute();
  const tampered = await callback(ctx, back, jar);
  t.equal(tampered.statusCode, 401);
  t.notOk(jar.get('pp_session'));

  idp.overrideNonce('a-nonce-the-portal-never-sent');
  const other = await ssoSignIn(s, 'mia');
  t.equal(other.res.statusCode, 401, 'the provider signs another nonce');
  t.notOk(other.jar.get('pp_session'));
  idp.overrideNonce(undefined);
  t.equal(await count(ctx, 'users'), users, 'nobody added');
  t.equal((await ssoSignIn(s, 'mia')).res.statusCode, 303, 'with the right nonce it works');
});

t.test('an expired code, or a sign-in left for over ten minutes, is refused', async (t) => {
  const s = await setup(t);
  const { ctx, idp } = s;
  await configure(s);
  idp.accounts.set('mia', { email: 'mia@acme.example', email_verified: true, name: 'Mia' });

  idp.setCodeTtl(1);
  const jar = cookieJar();
  const { back } = await toProvider(s, 'mia', jar);
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  const late = await callback(ctx, back, jar);
  t.equal(late.statusCode, 401, 'the provider refuses the expired code');
  t.match(late.body, 'could not be verified');
  t.notOk(jar.get('pp_session'));
  idp.setCodeTtl(60);

  // The portal's own limit: the state lives ten minutes (by the portal's clock).
  const jar2 = cookieJar();
  const slow = await toProvider(s, 'mia', jar2);
  ctx.clock.advance(10 * 60_000 + 1_000);
  const expired = await callback(ctx, slow.back, jar2);
  t.equal(expired.statusCode, 401);
  t.match(expired.body, 'expired');
  t.notOk(jar2.get('pp_session'));
  t.equal((await ssoSignIn(s, 'mia')).res.statusCode, 303, 'a fresh sign-in works');
});

t.test('a callback without this browser’s state cookie is refused, and leaves the sign-in alone', async (t) => {
  const s = await setup(t);
  const { ctx, idp } = s;
  await configure(s);
  idp.accounts.set('mia', { email: 'mia@acme.example', email_verified: true, name: 'Mia' });
  const jar = cookieJar();
  const { back } = await toProvider(s, 'mia', jar);

  const missing = await callback(ctx, back, cookieJar());
  t.equal(missing.statusCode, 401, 'no cookie');
  t.match(missing.body, 'not started in this browser');

  // Another browser's sign-in (its own valid state) cannot complete this one.
  const otherJar = cookieJar();
  await start(ctx, s.vendorId, otherJar);
  t.ok(otherJar.get(STATE_COOKIE));
  const mismatched = await callback(ctx, back, otherJar);
  t.equal(mismatched.statusCode, 401, 'another state in the cookie');
  t.notOk(otherJar.get('pp_session'));
  t.equal(await count(ctx, 'user_sessions'), 1, 'only the owner’s sign-up session exists');

  const ok = await callback(ctx, back, jar);
  t.equal(ok.statusCode, 303, 'the browser that started it still completes it');
});

t.test('/auth/sso: an unknown workspace or one without SSO is a clear 404; starts are rate-limited', async (t) => {
  const s = await setup(t);
  const { ctx, vendorId } = s;
  const jar = cookieJar();
  const none = await start(ctx, vendorId, jar);
  t.equal(none.statusCode, 404, 'no SSO yet');
  t.match(none.body, 'Single sign-on for this workspace');
  t.notOk(jar.get(STATE_COOKIE));
  t.equal((await ctx.app.inject({ method: 'GET', url: `/auth/sso?workspace=${randomUUID()}` })).statusCode, 404, 'unknown');
  t.equal((await ctx.app.inject({ method: 'GET', url: '/auth/sso?workspace=nonsense' })).statusCode, 404, 'malformed');
  t.equal((await ctx.app.inject({ method: 'GET', url: '/auth/sso' })).statusCode, 404, 'none named');
  let last = 0;
  for (let i = 0; i < 30; i++) last = (await ctx.app.inject({ method: 'GET', url: '/auth/sso?workspace=nonsense' })).statusCode;
  t.equal(last, 429, 'rate-limited');
});

t.test('the sign-in page offers SSO for the address’s domain, and tells nothing of the address', async (t) => {
  const s = await setup(t);
  const { ctx, idp, vendorId } = s;
  await configure(s);
  const beta = await signUpVendor(ctx, { workspace: 'Beta Labs', name: 'Bo', email: 'bo@beta.example' });
  const betaId = (await ctx.db.selectFrom('vendors').select('id').where('name', '=', 'Beta Labs').executeTakeFirstOrThrow()).id;
  await configure({ owner: beta, idp }, { allowed_domains: ['acme.example', 'beta.example'] });

  const signin = (email: string) => ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email }) });
  const stranger = await signin('nobody-here@acme.example');
  t.equal(stranger.statusCode, 200);
  const html = decodeEntities(stranger.body);
  t.match(html, 'Continue with single sign-on for Acme AI');
  t.match(html, 'Continue with single sign-on for Beta Labs', 'every workspace of the domain');
  t.match(html, `href="/auth/sso?workspace=${vendorId}"`);
  t.match(html, `href="/auth/sso?workspace=${betaId}"`);
  t.match(html, 'a sign-in link is on its way', 'the emailed link stays on offer');
  const member = await signin('olga@acme.example');
  t.equal(
    decodeEntities(member.body).replace(/olga@acme\.example|nobody-here@acme\.example/g, 'X'),
    html.replace(/olga@acme\.example|nobody-here@acme\.example/g, 'X'),
    'the same page for a known address',
  );

  const betaOnly = decodeEntities((await signin('someone@beta.example')).body);
  t.match(betaOnly, 'Continue with single sign-on for Beta Labs');
  t.notMatch(betaOnly, 'Acme AI');
  const elsewhere = await signin('someone@elsewhere.example');
  t.notMatch(elsewhere.body, 'single sign-on', 'no choice for other domains');
  t.match(elsewhere.body, 'a sign-in link is on its way');
});

t.test('require_sso: a member’s emailed link gives way to SSO; the owner keeps the link; API keys work', async (t) => {
  const s = await setup(t);
  const { ctx, owner, idp, vendorId } = s;
  await configure(s);
  await addMember(ctx, vendorId, 'mia@acme.example', 'member');
  idp.accounts.set('mia', { email: 'mia@acme.example', email_verified: true, name: 'Mia' });
  const memberKey = await keyWithRole(owner, 'member');

  const mailTo = async (email: string) => {
    const before = ctx.smtp.messages.length;
    await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email }) });
    await ctx.drainMail();
    const mail = ctx.smtp.messages.slice(before).find((m) => m.to === email);
    if (!mail) throw new Error(`no sign-in mail to ${email}`);
    return mail;
  };
  // A link minted before the workspace required SSO.
  const oldMail = await mailTo('mia@acme.example');
  const oldLink = linksIn(oldMail.text).find((l) => l.includes('/auth/link/'));
  t.ok(oldLink, 'a link while SSO is optional');
  // A session Mia opened by emailed link while SSO was optional.
  const early = linksIn((await mailTo('mia@acme.example')).text).find((l) => l.includes('/auth/link/'))!;
  const miaJar = cookieJar();
  t.equal((await spendSignInLink(ctx.app, new URL(early).pathname, miaJar)).statusCode, 303);
  const miaHome = () => ctx.app.inject({ method: 'GET', url: '/app', headers: miaJar.headers() }).then((r) => r.statusCode);
  t.equal(await miaHome(), 200, 'Mia is signed in by link');

  await configure(s, { require_sso: true });
  t.equal(await miaHome(), 303, 'requiring SSO ends her emailed-link session');
  t.equal((await owner.page('/app')).statusCode, 200, 'the owner’s session goes on');
  const ssoMail = await mailTo('mia@acme.example');
  const ssoUrl = `http://portal.test/auth/sso?workspace=${vendorId}`;
  t.ok(linksIn(ssoMail.text).includes(ssoUrl), 'the mail offers SSO');
  t.notOk(
    linksIn(ssoMail.text).some((l) => l.includes('/auth/link/')),
    'and no link',
  );
  t.match(ssoMail.text, 'Sign in with SSO to Acme AI');

  const spent = await spendSignInLink(ctx.app, new URL(oldLink!).pathname);
  t.equal(spent.statusCode, 403, 'the old link is refused');
  t.match(decodeEntities(spent.body), `/auth/sso?workspace=${vendorId}`, 'naming where to sign in');
  t.notOk(/pp_session=[^;]/.test(String(spent.headers['set-cookie'] ?? '')), 'no session');

  const ownerMail = await mailTo('olga@acme.example');
  const ownerLink = linksIn(ownerMail.text).find((l) => l.includes('/auth/link/'));
  t.ok(ownerLink, 'the owner still gets a link');
  t.equal((await spendSignInLink(ctx.app, new URL(ownerLink!).pathname)).statusCode, 303, 'and it works');

  t.equal((await ssoSignIn(s, 'mia')).res.statusCode, 303, 'the member signs in through SSO');
  t.equal((await withKey(ctx, memberKey, 'GET', '/api/v1/deals')).statusCode, 200, 'API keys are unaffected');

  // Optional again: the old link (left unspent) works.
  await configure(s, { require_sso: false });
  t.equal((await spendSignInLink(ctx.app, new URL(oldLink!).pathname)).statusCode, 303);
});

t.test('SSO set up by an admin signs in nobody above an admin; the stored secret goes only to its own provider; opening the start address starts nothing', async (t) => {
  const s = await setup(t);
  const { ctx, idp, owner, vendorId } = s;
  const adminKey = await keyWithRole(owner, 'admin');
  const adminId = await addMember(ctx, vendorId, 'ada@acme.example', 'admin', 'Ada Admin');
  // The key belongs to the owner; as an admin key it saves as an admin would.
  const saved = await withKey(ctx, adminKey, 'PUT', '/api/v1/sso', {
    issuer: idp.issuer,
    client_id: idp.clientId,
    client_secret: idp.clientSecret,
    allowed_domains: ['acme.example'],
  });
  t.equal(saved.statusCode, 200);
  idp.accounts.set('olga', { email: 'olga@acme.example', email_verified: true, name: 'Olga Owner' });
  idp.accounts.set('ada', { email: 'ada@acme.example', email_verified: true, name: 'Ada Admin' });
  const asOwner = await ssoSignIn(s, 'olga');
  t.equal(asOwner.res.statusCode, 401, 'the provider an admin set up cannot sign in the owner');
  t.match(decodeEntities(asOwner.res.body), 'you sign in with an emailed link');
  t.notOk(/pp_session=[^;]/.test(String(asOwner.res.headers['set-cookie'] ?? '')), 'no session');
  const asAdmin = await ssoSignIn(s, 'ada');
  t.equal(asAdmin.res.statusCode, 303, 'an admin it may sign in');
  const session = await ctx.db.selectFrom('user_sessions').select('user_id').where('method', '=', 'sso').execute();
  t.same(
    session.map((r) => r.user_id),
    [adminId],
    'only the admin got a session',
  );
  await configure(s);
  t.equal((await ssoSignIn(s, 'olga')).res.statusCode, 303, 'saved again by the owner, it signs the owner in');

  // Another issuer or client id needs the secret typed again: the stored one never goes elsewhere.
  const elsewhere = await owner.api('PUT', '/api/v1/sso', { issuer: idp.issuer, client_id: 'another-client', allowed_domains: ['acme.example'] });
  t.equal(elsewhere.statusCode, 400);
  t.equal(elsewhere.json().error.details[0].field, 'client_secret');
  const same = await owner.api('PUT', '/api/v1/sso', { issuer: idp.issuer, client_id: idp.clientId, allowed_domains: ['acme.example', 'acme-labs.example'] });
  t.equal(same.statusCode, 200, 'the same provider keeps its stored secret');

  // An address the provider does not say it verified is refused, even of an allowed domain.
  idp.accounts.set('silent', { email: 'sil@acme.example', name: 'Sil' });
  t.equal((await ssoSignIn(s, 'silent')).res.statusCode, 401, 'no email_verified: refused');
  t.equal(await ctx.db.selectFrom('users').select('id').where('email', '=', 'sil@acme.example').executeTakeFirst(), undefined, 'and nobody joined');

  // Opening the start address asks first: no state, no cookie, no redirect.
  const jar = cookieJar();
  const states = async () => (await ctx.db.selectFrom('sso_states').select('state_hash').execute()).length;
  const before = await states();
  const page = jar.collect(await ctx.app.inject({ method: 'GET', url: `/auth/sso?workspace=${vendorId}`, headers: jar.headers() }));
  t.equal(page.statusCode, 200);
  t.match(page.body, `Continue to ${new URL(idp.issuer).host}`, 'the button names where it goes');
  t.equal(await states(), before, 'opening it starts nothing');
  t.notOk(jar.get(STATE_COOKIE), 'and sets no cookie');
  const crossSite = await ctx.app.inject({ method: 'POST', url: '/auth/sso', ...form({ workspace: vendorId }, { 'sec-fetch-site': 'cross-site' }) });
  t.equal(crossSite.statusCode, 403, 'a form on another site cannot start it');
  t.equal(await states(), before);
});
