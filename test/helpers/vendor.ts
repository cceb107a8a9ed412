// A vendor workspace set up the way a person does it: sign up through the
// emailed link, then create an API key on the settings page.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { TestApp } from './app.js';
import { cookieJar, csrfFrom, form, type CookieJar, type FormValue } from './http.js';
import { linksIn } from './smtp.js';

export interface TestVendor {
  jar: CookieJar;
  apiKey: string;
  email: string;
  /** GET a page with the session cookie. */
  page(url: string): Promise<LightMyRequestResponse>;
  /** POST a form with the session cookie and a valid CSRF token. */
  post(url: string, values?: Record<string, FormValue>): Promise<LightMyRequestResponse>;
  /** Call the JSON API with this vendor's key. */
  api(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<LightMyRequestResponse>;
}

/**
 * Uses a sign-in or sign-up link as a browser does: the GET page sets a nonce
 * cookie, and its button posts the nonce back. Returns the POST's answer.
 */
export async function spendSignInLink(app: FastifyInstance, path: string, jar: CookieJar = cookieJar()): Promise<LightMyRequestResponse> {
  const page = jar.collect(await app.inject({ method: 'GET', url: path, headers: jar.headers() }));
  const nonce = /<input type="hidden" name="nonce" value="([^"]*)">/.exec(page.body)?.[1] ?? '';
  return jar.collect(await app.inject({ method: 'POST', url: path, ...form({ nonce }, jar.headers()) }));
}

export async function signUpVendor(ctx: TestApp, who: { workspace?: string; name?: string; email?: string } = {}): Promise<TestVendor> {
  const { app, smtp, drainMail } = ctx;
  const email = who.email ?? `admin-${Math.random().toString(36).slice(2, 8)}@vendor.test`;
  const jar = cookieJar();
  const res = await app.inject({
    method: 'POST',
    url: '/signup',
    ...form({ workspace: who.workspace ?? 'Acme AI', name: who.name ?? 'Ada Admin', email }),
  });
  if (res.statusCode !== 200) throw new Error(`sign-up answered ${res.statusCode}`);
  await drainMail();
  const mail = await smtp.waitFor((m) => m.to === email);
  const link = linksIn(mail.text).find((l) => l.includes('/auth/link/'));
  if (!link) throw new Error('no sign-up link in the mail');
  const path = new URL(link).pathname;
  const spent = await spendSignInLink(app, path, jar);
  if (spent.statusCode !== 303) throw new Error(`spending the sign-up link answered ${spent.statusCode}`);

  const created = await clientFor(app, jar, '', email).post('/app/settings/api-keys', { name: 'tests', role: 'owner' });
  const apiKey = /<code class="secret">([^<]+)<\/code>/.exec(created.body)?.[1];
  if (!apiKey) throw new Error('no API key on the settings page');
  return clientFor(app, jar, apiKey, email);
}

/** page/post/api for a browser session (the jar) and an API key: the TestVendor shape. */
export function clientFor(app: FastifyInstance, jar: CookieJar, apiKey: string, email: string): TestVendor {
  const page = (url: string) => app.inject({ method: 'GET', url, headers: jar.headers() }).then((r) => jar.collect(r));
  let csrf: string | undefined;
  const post = async (url: string, values: Record<string, FormValue> = {}): Promise<LightMyRequestResponse> => {
    csrf ??= csrfFrom((await page('/app')).body);
    return jar.collect(await app.inject({ method: 'POST', url, ...form({ _csrf: csrf, ...values }, jar.headers()) }));
  };
  const api = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
  return { jar, apiKey, email, page, post, api };
}

/** Publishes the vendor's (default) profile and opens a deal through the API; returns the deal id. */
export async function openDeal(vendor: TestVendor, body: Record<string, unknown> = { buyer_name: 'Big Bank' }): Promise<string> {
  const published = await vendor.api('POST', '/api/v1/profile/publish');
  if (published.statusCode !== 200) throw new Error(`publish answered ${published.statusCode}`);
  const res = await vendor.api('POST', '/api/v1/deals', body);
  if (res.statusCode !== 201) throw new Error(`create deal answered ${res.statusCode}: ${res.body}`);
  return res.json().id;
}

/** Adds and invites a stakeholder, delivers the mail, and returns the path of their personal link. */
export async function inviteStakeholder(
  ctx: TestApp,
  vendor: TestVendor,
  dealId: string,
  who: { name?: string; email: string; role?: string },
): Promise<{ id: string; path: string }> {
  const res = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: who.name ?? 'Carla Ciso', role: who.role ?? 'ciso', email: who.email });
  if (res.statusCode !== 201) throw new Error(`add stakeholder answered ${res.statusCode}: ${res.body}`);
  await ctx.drainMail();
  const mail = [...ctx.smtp.messages].reverse().find((m) => m.to === who.email);
  const link = mail && linksIn(mail.text).find((l) => l.includes('/r/'));
  if (!link) throw new Error('no personal link in the invitation');
  return { id: res.json().id, path: new URL(link).pathname };
}

/** A claim as the respondent's correction form posts it: every field, prefixed "v.". */
export function claimForm(claim: Record<string, unknown>, changes: Record<string, unknown> = {}): Record<string, FormValue> {
  const out: Record<string, FormValue> = {};
  for (const [k, v] of Object.entries({ ...claim, ...changes })) {
    out[`v.${k}`] = typeof v === 'boolean' ? (v ? 'yes' : 'no') : (v as FormValue);
  }
  return out;
}
