// A workspace's team, set up the way people do it: an admin or owner invites
// someone (through the API or the Team page), the invitation mail arrives in
// the SMTP sink, and the invited person opens its link and presses "Join".
//
//   const owner = await signUpVendor(ctx);
//   const admin = await inviteMember(ctx, owner, { email: 'ada@acme.test', name: 'Ada', role: 'admin' });
//   const viewer = await inviteMember(ctx, admin, { email: 'vic@acme.test', name: 'Vic', role: 'viewer' }, { via: 'page' });
//   await viewer.page('/app/members');          // their own session cookie
//   await viewer.api('GET', '/api/v1/members'); // their own API key
//
// Every member gets a browser session (page/post) and an API key (api):
// admins and owners create theirs on the settings page as a person does;
// members and viewers cannot, so theirs is made by the service, as a key they
// kept from a time they were an admin would be (a key acts with the lower of
// its role and its creator's current role, so it never does more than they may).
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createApiKey } from '../../server/auth/service.js';
import type { MemberRole } from '../../server/rules.js';
import type { TestApp } from './app.js';
import { cookieJar, type CookieJar } from './http.js';
import { linksIn } from './smtp.js';
import { clientFor, spendSignInLink, type TestVendor } from './vendor.js';

export { clientFor };

export interface TeamMember extends TestVendor {
  /** The member's users row (their membership of this workspace). */
  userId: string;
  vendorId: string;
  role: MemberRole;
  name: string;
}

export interface InviteOptions {
  /** How the inviter invites: the JSON API with their key (default), or the Team page's form with their session. */
  via?: 'api' | 'page';
  /** A cookie jar to join in (e.g. one already signed in elsewhere); a fresh one by default. */
  jar?: CookieJar;
}

/** The session cookie's claims: which member (sub) of which workspace (vid). */
export function sessionClaims(app: FastifyInstance, jar: CookieJar): { sub: string; vid: string; sid: string } {
  const cookie = jar.get('pp_session');
  if (!cookie) throw new Error('the jar holds no session cookie');
  return app.jwt.decode<{ sub: string; vid: string; sid: string }>(cookie)!;
}

/** The path of the newest invitation link mailed to the address (after draining the outbox). */
export async function invitationPath(ctx: TestApp, email: string): Promise<string> {
  await ctx.drainMail();
  const mail = [...ctx.smtp.messages].reverse().find((m) => m.to === email && /\/invite\//.test(m.text));
  const link = mail && linksIn(mail.text).find((l) => l.includes('/invite/'));
  if (!link) throw new Error(`no invitation mail to ${email}`);
  return new URL(link).pathname;
}

/** Sends an invitation as `inviter` (API or page); throws unless it was accepted for sending. */
export async function sendInvitation(inviter: TestVendor, who: { email: string; name: string; role: MemberRole }, via: 'api' | 'page' = 'api'): Promise<LightMyRequestResponse> {
  const res = via === 'page' ? await inviter.post('/app/members/invite', who) : await inviter.api('POST', '/api/v1/members', who);
  const expected = via === 'page' ? 303 : 201;
  if (res.statusCode !== expected) throw new Error(`inviting ${who.email} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
  return res;
}

/**
 * Invites someone into the inviter's workspace and has them join through the
 * emailed link, as a browser does (the GET page's nonce, then the button).
 * Returns the new member's session and API key, with their ids.
 */
export async function inviteMember(ctx: TestApp, inviter: TestVendor, who: { email: string; name: string; role: MemberRole }, opts: InviteOptions = {}): Promise<TeamMember> {
  const { app } = ctx;
  await sendInvitation(inviter, who, opts.via);
  const path = await invitationPath(ctx, who.email);
  const jar = opts.jar ?? cookieJar();
  const joined = await spendSignInLink(app, path, jar);
  if (joined.statusCode !== 303 || joined.headers.location !== '/app') {
    throw new Error(`joining answered ${joined.statusCode} (to ${String(joined.headers.location)}): ${joined.body.slice(0, 300)}`);
  }
  const { sub: userId, vid: vendorId } = sessionClaims(app, jar);
  const client = clientFor(app, jar, '', who.email);
  let apiKey: string;
  if (who.role === 'admin' || who.role === 'owner') {
    const created = await client.post('/app/settings/api-keys', { name: 'tests', role: who.role });
    const key = /<code class="secret">([^<]+)<\/code>/.exec(created.body)?.[1];
    if (!key) throw new Error(`no API key on the settings page (${created.statusCode})`);
    apiKey = key;
  } else {
    apiKey = await createApiKey(ctx.db, ctx.clock, vendorId, userId, 'tests', who.role);
  }
  return { ...clientFor(app, jar, apiKey, who.email), userId, vendorId, role: who.role, name: who.name };
}

/** A signed-up vendor (signUpVendor) as a team member: its owner's ids, read from the session cookie. */
export function asOwner(ctx: TestApp, vendor: TestVendor, name = 'Ada Admin'): TeamMember {
  const { sub: userId, vid: vendorId } = sessionClaims(ctx.app, vendor.jar);
  return { ...vendor, userId, vendorId, role: 'owner', name };
}
