// The OpenID Connect relying party: openid-client (certified) does discovery,
// PKCE, and the state, nonce, issuer and ID token checks. What this file adds:
//
// - Every request to a workspace's identity provider goes through the same
//   guard as webhooks (server/webhooks/ssrf.ts): https in production, private
//   and loopback addresses refused unless WEBHOOK_ALLOW_PRIVATE, cloud
//   metadata always refused, the connected address checked (not only the name
//   when saved), no redirects followed, a timeout, a bounded answer.
// - Discovery results are kept in memory for a few minutes per workspace,
//   keyed by issuer, client id and the settings' updated_at, so a change to the
//   settings is used at once.
import http from 'node:http';
import https from 'node:https';
import type * as client from 'openid-client';

/** openid-client, loaded on the first SSO request: most workspaces never use it, so the portal does not carry it until then. */
const oidcClient = () => import('openid-client');
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { checkWebhookUrl, guardedLookup, RefusedUrl } from '../webhooks/ssrf.js';

/** The settings that decide where the portal may connect. */
export type NetConfig = Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_PRIVATE'>;

/** One request to an identity provider gives up after this long. */
const TIMEOUT_MS = 10_000;
/** Discovery documents, key sets and token answers are small; a larger answer is refused. */
const MAX_BYTES = 1024 * 1024;

type FetchOptions = { method: string; headers: Record<string, string>; body?: unknown; signal?: AbortSignal };

function bodyOf(body: unknown): string | Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('unsupported request body');
}

/**
 * A fetch for openid-client that connects only where a webhook may: the URL is checked (scheme, metadata
 * hosts, every address its name resolves to), and the connection resolves the name again through the same
 * guard, so DNS rebinding between the two is refused too. Redirects are returned, never followed.
 */
export function guardedFetch(net: NetConfig, timeoutMs = TIMEOUT_MS): (url: string, options: FetchOptions) => Promise<Response> {
  return async (url, options) => {
    const target = await checkWebhookUrl(url, net);
    const body = bodyOf(options.body);
    return new Promise<Response>((resolve, reject) => {
      const transport = target.protocol === 'https:' ? https : http;
      const headers: Record<string, string | number> = { ...options.headers };
      if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
      const req = transport.request(target, { method: options.method, headers, lookup: guardedLookup(net.WEBHOOK_ALLOW_PRIVATE) as never, signal: options.signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BYTES) req.destroy(new Error(`the identity provider's answer is larger than ${MAX_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 502;
          const responseHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            for (const value of ([] as (string | undefined)[]).concat(v)) if (value !== undefined) responseHeaders.append(k, value);
          }
          const nullBody = status === 204 || status === 205 || status === 304;
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
        });
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    });
  };
}

/** What a workspace's settings give the relying party. */
export interface RelyingParty {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Fetches the issuer's discovery document (openid-client checks that it names exactly this issuer) and
 * returns the client configuration: client_secret_basic when the provider takes it (the default of the
 * specification), client_secret_post otherwise.
 */
export async function discover(rp: RelyingParty, net: NetConfig): Promise<client.Configuration> {
  const issuer = new URL(rp.issuer);
  const client = await oidcClient();
  const fetcher = guardedFetch(net) as client.CustomFetch;
  const insecure = issuer.protocol === 'http:';
  const found = await client.discovery(issuer, rp.clientId, rp.clientSecret, undefined, {
    [client.customFetch]: fetcher,
    execute: insecure ? [client.allowInsecureRequests] : [],
    timeout: TIMEOUT_MS / 1000,
  });
  const server = found.serverMetadata();
  const methods = server.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  const auth =
    methods.includes('client_secret_basic') || !methods.includes('client_secret_post') ? client.ClientSecretBasic(rp.clientSecret) : client.ClientSecretPost(rp.clientSecret);
  const configuration = new client.Configuration(server, rp.clientId, rp.clientSecret, auth);
  configuration[client.customFetch] = fetcher;
  configuration.timeout = TIMEOUT_MS / 1000;
  if (insecure) client.allowInsecureRequests(configuration);
  return configuration;
}

/** Why a request to the identity provider failed, in words an admin can act on (never a token). */
export function describeOidcError(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof RefusedUrl) return /^must /.test(e.reason) ? `the address ${e.reason}` : e.reason;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (code === 'ECONNREFUSED') return 'nothing answers at that address (connection refused)';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'that host name could not be resolved';
    if (code === 'ETIMEDOUT' || code === 'ABORT_ERR' || (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError') return 'the provider did not answer in time';
    if (code === 'EREFUSEDADDRESS' && typeof message === 'string') return `the address is not allowed: ${message.replace(/^refused: /, '')}`;
    if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
      const body = (e as { cause?: { body?: { issuer?: unknown } } }).cause?.body;
      const named = typeof body?.issuer === 'string' ? ` (${body.issuer.slice(0, 200)})` : '';
      return `the provider names a different issuer${named}: enter its issuer exactly as it names it`;
    }
    if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_INVALID_RESPONSE') {
      return 'no OpenID Connect discovery document answers at that address (/.well-known/openid-configuration)';
    }
  }
  return 'the provider could not be used';
}

/** What openid-client said went wrong, for the log: its codes and messages down the cause chain (no tokens, no bodies). */
export function oidcReason(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const { code, error } = e as { code?: unknown; error?: unknown };
    parts.push([typeof code === 'string' ? code : '', typeof error === 'string' ? error : '', e.message].filter(Boolean).join(' '));
  }
  return parts.join(' <- ').slice(0, 500);
}

/** A discovered client configuration per workspace, for a few minutes. */
export class RelyingParties {
  private readonly entries = new Map<string, { key: string; until: number; configuration: Promise<client.Configuration> }>();

  constructor(
    private readonly clock: Clock,
    private readonly net: NetConfig,
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 1_000,
  ) {}

  /** The workspace's configuration: from memory while fresh and its settings unchanged, else discovered again. */
  get(vendorId: string, rp: RelyingParty & { updatedAt: Date }): Promise<client.Configuration> {
    const key = `${rp.issuer}\n${rp.clientId}\n${rp.updatedAt.toISOString()}`;
    const now = this.clock.now().getTime();
    const hit = this.entries.get(vendorId);
    if (hit && hit.key === key && hit.until > now) return hit.configuration;
    const configuration = discover(rp, this.net);
    // A failed discovery is not kept: the next sign-in tries again.
    configuration.catch(() => {
      if (this.entries.get(vendorId)?.configuration === configuration) this.entries.delete(vendorId);
    });
    this.entries.delete(vendorId);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(vendorId, { key, until: now + this.ttlMs, configuration });
    return configuration;
  }
}

/** What the portal asks of every provider: an ID token, the address and the name. */
const SCOPE = 'openid email profile';

/** A new authorization request: its URL at the provider, and the secrets the callback must match (state, nonce, PKCE verifier). */
export async function beginAuthorization(configuration: client.Configuration, redirectUri: string) {
  const client = await oidcClient();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url: url.href, state, nonce, codeVerifier };
}

/**
 * Completes an authorization: checks the response (state, and the issuer when the provider names it),
 * exchanges the code with the PKCE verifier, and validates the ID token (signature, issuer, audience,
 * expiry, nonce). Resolves to the ID token's claims; when they carry no address, the UserInfo answer's
 * address and name are added (same subject, checked by openid-client).
 */
export async function completeAuthorization(
  configuration: client.Configuration,
  callbackUrl: URL,
  checks: { state: string; nonce: string; codeVerifier: string },
): Promise<Record<string, unknown>> {
  const client = await oidcClient();
  const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
    pkceCodeVerifier: checks.codeVerifier,
    expectedState: checks.state,
    expectedNonce: checks.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token');
  if (typeof claims.email === 'string' || !configuration.serverMetadata().userinfo_endpoint) return { ...claims };
  const info = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
  return { ...claims, email: info.email, email_verified: info.email_verified, name: claims.name ?? info.name };
}
