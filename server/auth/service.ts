// The rules of signing up and signing in: links live 15 minutes and work once,
// only a hash of any token or key is stored, an address gets at most a few link
// mails at a time, and sign-up makes a workspace with its admin and draft profile.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { MINUTE } from '../lib/clock.js';
import { notFound } from '../lib/errors.js';
import { hashToken, newToken } from '../lib/tokens.js';
import { uuid } from '../lib/validate.js';
import type { Executor } from '../db/index.js';
import type { SessionMethod, SignupPayload } from '../db/schema.js';
import { lowerRole, type MemberRole } from '../rules.js';
import { enqueueMail } from '../mail/outbox.js';
import { startProfile } from '../profiles/service.js';
import { memberOf, recordAudit, type Actor } from '../audit/service.js';
import { ssoOnly, ssoOnlyAccounts, ssoRequired, ssoRequiredFor, ssoStartPath } from '../sso/service.js';
import * as repo from './repository.js';

/** How long a sign-in or sign-up link works once its mail is composed. */
export const LOGIN_TTL_MS = 15 * MINUTE;

/** At most this many link mails per address per window; further requests get the same answer and no mail. */
const LINK_MAILS_PER_WINDOW = 5;
const LINK_MAIL_WINDOW_MS = 15 * MINUTE;

/** A key's last use is recorded at most this often. */
const KEY_USE_RESOLUTION_MS = MINUTE;

export const API_KEY_PREFIX = 'pp_';

// ---------------------------------------------------------------------------
// Workspaces

/** A vendor workspace, its first admin and a draft profile pre-filled with the standard hypotheses. */
export async function createWorkspace(trx: Executor, clock: Clock, input: { workspace: string; name: string; email: string }): Promise<{ vendorId: string; userId: string }> {
  const now = clock.now();
  const vendorId = randomUUID();
  const userId = randomUUID();
  await repo.insertVendor(trx, { id: vendorId, name: input.workspace, createdAt: now });
  await repo.insertUser(trx, { id: userId, vendorId, email: input.email, name: input.name, role: 'owner', createdAt: now });
  await startProfile(trx, clock, vendorId, userId);
  return { vendorId, userId };
}

// ---------------------------------------------------------------------------
// Link mails

/** Whether the address may be sent another link mail now. */
async function underLinkCap(db: Executor, clock: Clock, address: string): Promise<boolean> {
  const since = new Date(clock.now().getTime() - LINK_MAIL_WINDOW_MS);
  return (await repo.countLinkMailsSince(db, address, since)) < LINK_MAILS_PER_WINDOW;
}

/**
 * Records a pending sign-up link and queues its mail (the composer gives the
 * link its secret). Over the per-address cap, does nothing.
 */
export async function requestSignup(trx: Executor, clock: Clock, input: SignupPayload & { email: string }): Promise<void> {
  if (!(await underLinkCap(trx, clock, input.email))) return;
  const id = randomUUID();
  const now = clock.now();
  await repo.insertLoginToken(trx, {
    id,
    purpose: 'signup',
    email: input.email,
    userId: null,
    payload: { workspace: input.workspace, name: input.name },
    tokenHash: null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + LOGIN_TTL_MS),
  });
  await enqueueMail(trx, clock, { template: 'signup', recipient: input.email, vendorId: null, params: { loginId: id } });
}

/**
 * Queues one sign-in mail for the address, known or not: the request does the
 * same work either way, so its timing does not tell whether an account exists.
 * The composer finds the workspaces and mints a link for each. Over the
 * per-address cap, does nothing.
 */
export async function requestSignin(trx: Executor, clock: Clock, email: string): Promise<void> {
  if (!(await underLinkCap(trx, clock, email))) return;
  await enqueueMail(trx, clock, { template: 'signin', recipient: email, vendorId: null, params: {} });
}

/** A fresh sign-in link for one account; returns the raw token, which only the caller ever sees. */
export async function issueSigninLink(trx: Executor, clock: Clock, user: { userId: string; email: string }): Promise<string> {
  const token = newToken();
  const now = clock.now();
  await repo.insertLoginToken(trx, {
    id: randomUUID(),
    purpose: 'signin',
    email: user.email,
    userId: user.userId,
    payload: null,
    tokenHash: hashToken(token),
    createdAt: now,
    expiresAt: new Date(now.getTime() + LOGIN_TTL_MS),
  });
  return token;
}

/** Fresh sign-in links, one per workspace the address belongs to (none for an unknown address). */
export async function mintSigninLinks(trx: Executor, clock: Clock, email: string): Promise<{ workspace: string; token?: string; ssoPath?: string }[]> {
  const links: { workspace: string; token?: string; ssoPath?: string }[] = [];
  // A workspace that requires SSO gets no link for a non-owner: the mail points to its provider instead.
  const ssoOnly = await ssoOnlyAccounts(trx, email);
  for (const user of await repo.findUsersByEmail(trx, email)) {
    const ssoVendor = ssoOnly.get(user.id);
    links.push(
      ssoVendor
        ? { workspace: user.workspace, ssoPath: ssoStartPath(ssoVendor) }
        : { workspace: user.workspace, token: await issueSigninLink(trx, clock, { userId: user.id, email }) },
    );
  }
  return links;
}

/**
 * Gives a pending login link its secret, at the moment its mail is composed.
 * The 15 minutes start now. Returns undefined when the link was spent meanwhile.
 */
export async function mintLoginToken(db: Executor, clock: Clock, loginId: string) {
  const token = newToken();
  const row = await repo.setLoginTokenSecret(db, loginId, hashToken(token), new Date(clock.now().getTime() + LOGIN_TTL_MS));
  return row ? { token, ...row } : undefined;
}

/** Whether a login link would work now, without spending it (for the GET page). */
export async function peekLoginToken(db: Executor, clock: Clock, token: string) {
  return repo.findLiveLoginToken(db, hashToken(token), clock.now());
}

/**
 * Spends a login link: of two simultaneous POSTs only one gets it. A sign-up
 * link creates its workspace in the same transaction (the caller's).
 * Returns the account to sign in to, or undefined for a dead link.
 */
export async function spendLoginToken(trx: Executor, clock: Clock, token: string): Promise<{ vendorId: string; userId: string } | undefined> {
  const row = await repo.markLoginTokenUsed(trx, hashToken(token), clock.now());
  if (!row) return undefined;
  if (row.purpose === 'signup') {
    const payload = row.payload as SignupPayload;
    return createWorkspace(trx, clock, { workspace: payload.workspace, name: payload.name, email: row.email });
  }
  const user = row.user_id ? await repo.findUserById(trx, row.user_id) : undefined;
  if (!user) return undefined;
  // Minted before the workspace required SSO: refused (and left unspent), naming where to sign in instead.
  if (await ssoRequiredFor(trx, user.vendor_id, user.id)) throw ssoRequired(user.vendor_id);
  return { vendorId: user.vendor_id, userId: user.id };
}

// ---------------------------------------------------------------------------
// Sessions

/** The session a cookie's claims stand for, if it is still live: same workspace, same epoch, its session row not ended. */
export async function findSessionUser(db: Executor, claims: { userId: string; vendorId: string; epoch: number; sessionId: string }) {
  if (!uuid.safeParse(claims.sessionId).success) return undefined;
  const row = await repo.findSessionUser(db, claims);
  // Where the workspace requires SSO, only an SSO session of a non-owner lives on (a demoted owner's link session ends).
  if (row && row.method !== 'sso' && ssoOnly(row.role, row.require_sso ?? false)) return undefined;
  return row;
}

/** A session's last activity is recorded at most this often. */
const SESSION_SEEN_RESOLUTION_MS = 5 * MINUTE;

/** Records that a session was used, at most once per resolution. */
export async function touchSession(db: Executor, clock: Clock, vendorId: string, sessionId: string, lastSeenAt: Date): Promise<void> {
  const now = clock.now();
  const staleBefore = new Date(now.getTime() - SESSION_SEEN_RESOLUTION_MS);
  if (lastSeenAt < staleBefore) await repo.touchSession(db, vendorId, sessionId, now, staleBefore);
}

/** Opens a session row for a member signing in, and records the sign-in. Returns what the cookie carries. */
export async function openSession(
  db: Executor,
  clock: Clock,
  s: { vendorId: string; userId: string; method: SessionMethod; ip: string; userAgent: string },
): Promise<{ sessionId: string; epoch: number }> {
  const epoch = await repo.findSessionEpoch(db, s.vendorId, s.userId);
  if (epoch === undefined) throw new Error('signing in a user that does not exist');
  const sessionId = randomUUID();
  const now = clock.now();
  await repo.insertSession(db, { vendorId: s.vendorId, id: sessionId, userId: s.userId, method: s.method, ip: s.ip, userAgent: s.userAgent.slice(0, 300), now });
  return { sessionId, epoch };
}

/** Ends every session of the user: cookies issued so far stop working. */
export async function endAllSessions(db: Executor, clock: Clock, vendorId: string, userId: string): Promise<void> {
  await repo.bumpSessionEpoch(db, vendorId, userId);
  await repo.endSessions(db, vendorId, userId, clock.now());
}

/** The owner of a deal of the workspace, or undefined when it has no such deal (for the role check). */
export async function dealOwnerId(db: Executor, vendorId: string, dealId: string): Promise<string | undefined> {
  if (!uuid.safeParse(dealId).success) return undefined;
  return repo.dealOwnerId(db, vendorId, dealId);
}

// ---------------------------------------------------------------------------
// API keys

/**
 * Creates an API key and returns it: the only time the raw key exists outside the caller's hands. For keys
 * made outside any request (the command-line scripts, tests); a person's key is made by issueApiKey, which
 * the audit trail records.
 */
export async function createApiKey(db: Executor, clock: Clock, vendorId: string, userId: string | null, name: string, role: MemberRole): Promise<string> {
  return (await insertKey(db, clock, vendorId, userId, name, role)).key;
}

/**
 * Creates an API key for the actor's workspace, its creator the member who acts, and returns it (shown this
 * once). The audit trail records its name, role and prefix, never the key. Run it in the caller's transaction.
 */
export async function issueApiKey(trx: Executor, clock: Clock, actor: Actor, name: string, role: MemberRole): Promise<string> {
  const { id, key, prefix } = await insertKey(trx, clock, actor.vendorId, memberOf(actor), name, role);
  await recordAudit(trx, clock, actor, { action: 'api_key.created', target: { type: 'api_key', id, name }, changes: { name, role, prefix } });
  return key;
}

async function insertKey(db: Executor, clock: Clock, vendorId: string, userId: string | null, name: string, role: MemberRole) {
  const key = `${API_KEY_PREFIX}${newToken()}`;
  const id = randomUUID();
  const prefix = key.slice(0, 9);
  await repo.insertApiKey(db, { id, vendorId, name, prefix, keyHash: hashToken(key), createdBy: userId, createdAt: clock.now(), role });
  return { id, key, prefix };
}

/**
 * The live key a request presents, with its workspace, or undefined. Records
 * the key's use, at most once a minute per key.
 */
export async function authenticateApiKey(db: Executor, clock: Clock, key: string) {
  const found = await repo.findApiKey(db, hashToken(key));
  if (!found) return undefined;
  const now = clock.now();
  const staleBefore = new Date(now.getTime() - KEY_USE_RESOLUTION_MS);
  // Most requests skip the write; the statement itself re-checks, for requests racing on other instances.
  if (!found.last_used_at || found.last_used_at < staleBefore) await repo.touchApiKey(db, found.vendor_id, found.id, now, staleBefore);
  // A key acts with the lower of its own role and its creator's current one.
  const role = found.owner_role ? lowerRole(found.role, found.owner_role) : found.role;
  return { id: found.id, vendorId: found.vendor_id, name: found.name, vendorName: found.vendor_name, ownerId: found.owner_id, role };
}

/** A workspace's keys, newest first. */
export async function listApiKeys(db: Executor, vendorId: string) {
  return repo.listApiKeys(db, vendorId);
}

/** Revokes a live key of the workspace (audited: run it in the caller's transaction); not_found when it has none by that id (or it was revoked already). */
export async function revokeApiKey(db: Executor, clock: Clock, actor: Actor, id: string): Promise<void> {
  const revoked = uuid.safeParse(id).success ? await repo.revokeApiKey(db, actor.vendorId, id, clock.now()) : undefined;
  if (!revoked) throw notFound('That API key');
  await recordAudit(db, clock, actor, {
    action: 'api_key.revoked',
    target: { type: 'api_key', id, name: revoked.name },
    changes: { name: revoked.name, role: revoked.role, prefix: revoked.prefix },
  });
}

/** Local use without SESSION_SECRET: the session key generated on first start, shared by every instance through the database. */
export function storedSessionSecret(db: Executor, candidate: string): Promise<string> {
  return repo.keepSecret(db, 'session', candidate);
}

/** With SESSION_SECRET set, a key left in the database from local use is of no use to anyone but a thief. */
export function forgetStoredSessionSecret(db: Executor): Promise<void> {
  return repo.dropSecret(db, 'session');
}
