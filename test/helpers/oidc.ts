// A real OpenID provider (oidc-provider, certified) in-process on 127.0.0.1,
// for the single sign-on tests. One client is registered with the portal's
// redirect URI; accounts are a map the test fills (the login form's "login"
// value is the account id). A browser is played with plain HTTP requests:
// its cookies are kept in a jar, its redirects followed by hand, and the
// final redirect to the portal is handed back for app.inject to deliver.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error -- oidc-provider ships no type declarations; the little used here is typed below.
import Provider from 'oidc-provider';
import { guard, type TapLike } from './db.js';
import { TEST_PUBLIC_URL } from './app.js';

export interface IdpAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface TestIdp {
  /** The issuer identifier, e.g. http://127.0.0.1:41234 */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The accounts the provider knows, by account id (sub). */
  accounts: Map<string, IdpAccount>;
  /** How long the provider's authorization codes live, in seconds (60 unless set). */
  setCodeTtl(seconds: number): void;
  /** Makes the provider put this nonce in ID tokens instead of the one the portal sent (undefined: the real one). */
  overrideNonce(nonce: string | undefined): void;
  /**
   * Signs `accountId` in at the provider, starting from the portal's redirect to the authorization endpoint.
   * Resolves to the URL the provider sends the browser back to (the portal's callback, with code and state).
   */
  signIn(authorizationUrl: string, accountId: string): Promise<URL>;
}

interface ProviderLike {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  Grant: new (o: { accountId: string; clientId: string }) => { addOIDCScope(s: string): void; save(): Promise<string> };
  IdToken: { prototype: { set(k: string, v: unknown): void } };
}

/** Starts a provider for one test file; it stops at teardown. */
export interface IdpOptions {
  redirectUri?: string;
  clientId?: string;
  clientSecret?: string;
  /** Put email and name in the ID token (true, as many providers do) or only in the UserInfo answer (false). */
  claimsInIdToken?: boolean;
}

/** One signing key per process: generating an RSA key takes a moment. */
let signingKey: object | undefined;

export async function startIdp(t: TapLike, opts: IdpOptions = {}): Promise<TestIdp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() =>
    guard('stop the test identity provider', () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }),
  );
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = opts.clientId ?? 'posture-portal';
  const clientSecret = opts.clientSecret ?? 'a-client-secret-of-the-test-provider-0123456789';
  const accounts = new Map<string, IdpAccount>();
  let codeTtl = 60;
  let nonceOverride: string | undefined;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [opts.redirectUri ?? `${TEST_PUBLIC_URL}/auth/sso/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: opts.claimsInIdToken === false,
    jwks: { keys: [(signingKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }))] },
    findAccount: (_ctx: unknown, sub: string) => {
      const account = accounts.get(sub);
      return account ? { accountId: sub, claims: async () => ({ sub, ...account }) } : undefined;
    },
    features: { devInteractions: { enabled: true } },
    // A first-party client: what it asks for is granted without a consent page.
    loadExistingGrant: async (ctx: { oidc: { client: { clientId: string }; session: { accountId?: string } } }) => {
      if (!ctx.oidc.session.accountId) return undefined;
      const grant = new provider.Grant({ accountId: ctx.oidc.session.accountId, clientId: ctx.oidc.client.clientId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    ttl: {
      AuthorizationCode: () => codeTtl,
      AccessToken: 600,
      IdToken: 600,
      Grant: 600,
      Interaction: 600,
      Session: 600,
    },
    cookies: { keys: ['test-idp-cookie-key-0123456789abcdef'] },
  }) as ProviderLike;
  // Tests that need a wrong nonce have the provider sign one (the ID token is still validly signed).
  const idTokenProto = provider.IdToken.prototype;
  const realSet = idTokenProto.set;
  idTokenProto.set = function (this: unknown, key: string, value: unknown) {
    return realSet.call(this, key, key === 'nonce' && nonceOverride !== undefined ? nonceOverride : value);
  };
  server.on('request', provider.callback());

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    setCodeTtl(seconds) {
      codeTtl = seconds;
    },
    overrideNonce(nonce) {
      nonceOverride = nonce;
    },
    async signIn(authorizationUrl, accountId) {
      const cookies = new Map<string, string>();
      const request = async (url: string, init: { method?: string; body?: string } = {}) => {
        const res = await fetch(url, {
          method: init.method ?? 'GET',
          redirect: 'manual',
          headers: {
            cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
            ...(init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          },
          body: init.body,
        });
        for (const line of res.headers.getSetCookie()) {
          const [pair] = line.split(';');
          const eq = pair.indexOf('=');
          const value = pair.slice(eq + 1);
          if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
          else cookies.set(pair.slice(0, eq), value);
        }
        await res.arrayBuffer();
        return res;
      };
      let url = authorizationUrl;
      for (let hop = 0; hop < 10; hop++) {
        if (url.startsWith(TEST_PUBLIC_URL) || (opts.redirectUri && url.startsWith(opts.redirectUri))) return new URL(url);
        const res = await request(url);
        const location = res.headers.get('location');
        if (res.status === 200 && /\/interaction\//.test(url)) {
          // The login page: post the account id as the login (devInteractions accepts any password).
          const posted = await request(url, { method: 'POST', body: new URLSearchParams({ prompt: 'login', login: accountId, password: 'x' }).toString() });
          const next = posted.headers.get('location');
          if (!next) throw new Error(`the provider's login answered ${posted.status} without a redirect`);
          url = new URL(next, url).href;
          continue;
        }
        if (!location) throw new Error(`the provider answered ${res.status} at ${url} without a redirect`);
        url = new URL(location, url).href;
      }
      throw new Error('the provider kept redirecting');
    },
  };
}
