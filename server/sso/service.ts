// Single sign-on (OpenID Connect) per workspace: its settings, the sign-in
// (start, then callback), and the rule that a workspace may require it.
//
// A sign-in under way is a row of sso_states (the state's hash, the nonce, the
// sealed PKCE verifier; ten minutes, used once) and a cookie holding the state
// in the browser that started it. The callback must bring the same state as
// the cookie and an unused, unexpired row; only then is the code exchanged.
// The provider's verified address must be of a domain the workspace allows:
// a member with that address signs in, anyone else joins as a member.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Executor } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { MINUTE } from '../lib/clock.js';
import type { Sealer } from '../lib/crypto.js';
import { DomainError, invalid, notFound } from '../lib/errors.js';
import { hashToken, TOKEN_PATTERN } from '../lib/tokens.js';
import { sameSecret } from '../lib/browser-nonce.js';
import { domain, email as emailSchema, line, name as nameSchema, uuid } from '../lib/validate.js';
import { atLeast, type MemberRole } from '../rules.js';
import { memberOf, recordAudit, type Actor } from '../audit/service.js';
import { beginAuthorization, completeAuthorization, describeOidcError, discover, type NetConfig, type RelyingParties } from './oidc.js';
import * as repo from './repository.js';

/** How long a started sign-in may take to come back. */
export const STATE_TTL_MS = 10 * MINUTE;
/** Started sign-ins are forgotten after a day (they stopped working after ten minutes). */
const STATE_KEEP_MS = 24 * 60 * MINUTE;
/** Role of a person who joins a workspace through its SSO. */
export const JOIN_ROLE: MemberRole = 'member';
const MAX_DOMAINS = 50;

// ---------------------------------------------------------------------------
// The rule

/** Owners keep the emailed link, so a broken identity provider can never lock a workspace out. */
export const ssoOnly = (role: MemberRole, requireSso: boolean): boolean => requireSso && role !== 'owner';

/**
 * Whether a member with this role must sign in to the workspace through its
 * identity provider. Owners keep the emailed link, so a broken identity
 * provider can never lock a workspace out.
 */
export async function mustUseSso(db: Executor, vendorId: string, role: MemberRole): Promise<boolean> {
  return ssoOnly(role, await repo.requiresSso(db, vendorId));
}

/** Where a person starts signing in to the workspace through its identity provider. */
export const ssoStartPath = (vendorId: string): string => `/auth/sso?workspace=${encodeURIComponent(vendorId)}`;

/** The refusal of an emailed link for a member who must use SSO: it names where to sign in instead. */
export const ssoRequired = (vendorId: string) =>
  new DomainError('sso_required', `This workspace signs its members in through its identity provider. Sign in with single sign-on at ${ssoStartPath(vendorId)}`);

/** Whether this user must sign in through SSO (their workspace requires it and they are not an owner). */
export async function ssoRequiredFor(db: Executor, vendorId: string, userId: string): Promise<boolean> {
  const row = await repo.findSsoRule(db, vendorId, userId);
  return row ? ssoOnly(row.role, row.require_sso ?? false) : false;
}

/** The accounts of an address that must sign in through SSO: user id → workspace id. */
export async function ssoOnlyAccounts(db: Executor, email: string): Promise<Map<string, string>> {
  const rows = await repo.findSsoWorkspacesOfAddress(db, email);
  return new Map(rows.filter((r) => ssoOnly(r.role, true)).map((r) => [r.id, r.vendor_id]));
}

/**
 * The workspaces that sign in addresses of this one's domain through SSO, for the sign-in page. It depends
 * on the domain only, so it tells nothing about whether the address itself has an account.
 */
export async function ssoChoices(db: Executor, address: string): Promise<{ name: string; host: string; url: string }[]> {
  const d = domain.safeParse(address.split('@')[1] ?? '');
  if (!d.success) return [];
  // Each choice names the provider's host too: a workspace may list any domain, so the person sees where they would go.
  return (await repo.findWorkspacesByDomain(db, d.data)).map((w) => ({ name: w.name, host: new URL(w.issuer).host, url: ssoStartPath(w.vendor_id) }));
}

/**
 * The workspace a sign-in would start for, and its provider's host, for the page that asks before
 * anything starts (a sign-in started by merely opening a link could be a stranger's, planted in a page).
 */
export async function ssoStartInfo(db: Executor, workspace: unknown): Promise<{ vendorId: string; vendorName: string; host: string }> {
  const vendorId = typeof workspace === 'string' && uuid.safeParse(workspace).success ? workspace : undefined;
  const row = vendorId ? await repo.findConfig(db, vendorId) : undefined;
  if (!row) throw noSso();
  return { vendorId: row.vendor_id, vendorName: row.vendor_name, host: new URL(row.issuer).host };
}

// ---------------------------------------------------------------------------
// Settings

const issuerUrl = z
  .string({ message: 'is required' })
  .trim()
  .min(1, 'is required')
  .max(500, 'must be at most 500 characters')
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search && !u.hash;
    } catch {
      return false;
    }
  }, 'must be the issuer URL your identity provider names, such as https://login.example.com (no query or #fragment)');

/** The settings as the API takes them; a blank or missing client_secret keeps the stored one. */
export const ssoInput = z
  .object({
    issuer: issuerUrl.describe('The identity provider’s issuer identifier; its /.well-known/openid-configuration must answer'),
    client_id: line(300).describe('The client id the provider gave the portal'),
    client_secret: z
      .string()
      .trim()
      .max(1000, 'must be at most 1000 characters')
      .optional()
      .describe('The client secret; write-only. Leave it out (or empty) to keep the stored one'),
    allowed_domains: z
      .array(domain)
      .min(1, 'name at least one email domain')
      .max(MAX_DOMAINS, `must be at most ${MAX_DOMAINS} domains`)
      .describe('Email domains whose people may sign in (and join as members) through this provider, such as ["acme.example"]'),
    require_sso: z.boolean().default(false).describe('Members, admins and viewers must sign in through SSO; owners keep the emailed link'),
  })
  .strict();
export type SsoInput = z.output<typeof ssoInput>;

/** Domains as a person types them: separated by commas or spaces, duplicates dropped. */
export function splitDomains(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,;]+/)
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
}

/** The settings as shown: never the secret. */
export interface SsoSettings {
  issuer: string;
  client_id: string;
  allowed_domains: string[];
  require_sso: boolean;
  redirect_uri: string;
  signin_url: string;
  updated_at: Date;
}

export const redirectUri = (publicUrl: string) => `${publicUrl}/auth/sso/callback`;

function settingsOf(row: repo.SsoConfigRow, publicUrl: string): SsoSettings {
  return {
    issuer: row.issuer,
    client_id: row.client_id,
    allowed_domains: row.allowed_domains,
    require_sso: row.require_sso,
    redirect_uri: redirectUri(publicUrl),
    signin_url: `${publicUrl}${ssoStartPath(row.vendor_id)}`,
    updated_at: row.updated_at,
  };
}

/** The workspace's settings; undefined when it has none. */
export async function findSso(db: Executor, publicUrl: string, vendorId: string): Promise<SsoSettings | undefined> {
  const row = await repo.findConfig(db, vendorId);
  return row && settingsOf(row, publicUrl);
}

export async function getSso(db: Executor, publicUrl: string, vendorId: string): Promise<SsoSettings> {
  const found = await findSso(db, publicUrl, vendorId);
  if (!found) throw notFound('Single sign-on for this workspace');
  return found;
}

declare const checked: unique symbol;
/** Settings whose issuer answered discovery (done before any transaction opens: it calls the provider). */
export type CheckedSsoInput = Omit<SsoInput, 'client_secret'> & { sealedSecret: string | undefined; [checked]: true };

/**
 * Checks new settings against the provider: runs discovery with the issuer (which must name itself exactly
 * so). A blank secret keeps the stored one (and is required when none is stored). Throws invalid_input,
 * naming the field, when the provider cannot be used; nothing is saved then.
 */
export async function checkSsoInput(db: Executor, sealer: Sealer, net: NetConfig, vendorId: string, input: SsoInput): Promise<CheckedSsoInput> {
  const secret = input.client_secret || undefined;
  const stored = secret ? undefined : await repo.findConfig(db, vendorId);
  if (!secret && !stored) throw invalid('Enter the client secret your identity provider gave the portal.', [{ field: 'client_secret', message: 'is required' }]);
  // The stored secret goes only to the provider it was given for: another issuer or client needs it typed again.
  if (stored && (stored.issuer !== input.issuer || stored.client_id !== input.client_id)) {
    throw invalid('Enter the client secret again: the issuer or client id changed, and the stored secret is only ever sent to the provider it was given for.', [
      { field: 'client_secret', message: 'is required when the issuer or client id changes' },
    ]);
  }
  const clientSecret = secret ?? sealer.open(stored!.client_secret);
  try {
    await discover({ issuer: input.issuer, clientId: input.client_id, clientSecret }, net);
  } catch (err) {
    const why = describeOidcError(err);
    throw invalid(`The identity provider could not be used: ${why}. Nothing was saved.`, [{ field: 'issuer', message: why }]);
  }
  const { client_secret: _omit, ...rest } = input;
  return { ...rest, sealedSecret: secret ? sealer.seal(secret) : undefined } as CheckedSsoInput;
}

/** Saves the settings, and audits what changed (the secret only as "replaced"). Call in a transaction. */
export async function saveSso(trx: Executor, clock: Clock, actor: Actor, savedByRole: MemberRole, publicUrl: string, input: CheckedSsoInput): Promise<SsoSettings> {
  const { vendorId } = actor;
  const before = await repo.lockConfig(trx, vendorId);
  const sealedSecret = input.sealedSecret ?? before?.client_secret;
  // The stored secret was removed between the check and now: ask again rather than save without one.
  if (!sealedSecret) throw invalid('Enter the client secret your identity provider gave the portal.', [{ field: 'client_secret', message: 'is required' }]);
  await repo.upsertConfig(trx, {
    vendorId,
    issuer: input.issuer,
    clientId: input.client_id,
    clientSecret: sealedSecret,
    allowedDomains: input.allowed_domains,
    requireSso: input.require_sso,
    updatedAt: clock.now(),
    updatedBy: memberOf(actor),
    savedByRole,
  });
  const changes: Record<string, unknown> = {};
  const after = { issuer: input.issuer, client_id: input.client_id, allowed_domains: input.allowed_domains, require_sso: input.require_sso };
  for (const [key, value] of Object.entries(after)) {
    const was = before?.[key as keyof typeof after] ?? null;
    if (JSON.stringify(was) !== JSON.stringify(value)) changes[key] = { before: was, after: value };
  }
  if (input.sealedSecret) changes.client_secret = 'replaced';
  // Requiring SSO from now on ends the sessions that did not come through it (owners keep theirs: they keep the emailed link).
  if (input.require_sso && !before?.require_sso) {
    const ended = await repo.endNonSsoSessions(trx, vendorId, clock.now());
    if (ended > 0) changes.sessions_ended = ended;
  }
  await recordAudit(trx, clock, actor, { action: before ? 'sso.updated' : 'sso.created', target: { type: 'sso', id: vendorId }, changes });
  const saved = await repo.findConfig(trx, vendorId);
  return settingsOf(saved!, publicUrl);
}

/** Removes the workspace's SSO (audited): members sign in by emailed link again. not_found when it had none. Call in a transaction. */
export async function removeSso(trx: Executor, clock: Clock, actor: Actor): Promise<void> {
  if (!(await repo.deleteConfig(trx, actor.vendorId))) throw notFound('Single sign-on for this workspace');
  await recordAudit(trx, clock, actor, { action: 'sso.removed', target: { type: 'sso', id: actor.vendorId } });
}

// ---------------------------------------------------------------------------
// Signing in

export interface SignInDeps {
  db: Executor;
  clock: Clock;
  sealer: Sealer;
  relyingParties: RelyingParties;
  publicUrl: string;
}

const noSso = () => notFound('Single sign-on for this workspace (the address may be mistyped, or the workspace signs in by emailed link)');
const failed = (message: string) => new DomainError('sso_failed', message);
const START_AGAIN = 'Start again from the sign-in page.';

async function relyingParty(deps: SignInDeps, row: repo.SsoConfigRow) {
  try {
    return await deps.relyingParties.get(row.vendor_id, {
      issuer: row.issuer,
      clientId: row.client_id,
      clientSecret: deps.sealer.open(row.client_secret),
      updatedAt: row.updated_at,
    });
  } catch (err) {
    throw failed(`The identity provider of ${row.vendor_name} could not be reached (${describeOidcError(err)}). Try again in a moment, or ask an admin of the workspace.`);
  }
}

/**
 * Starts a sign-in to the workspace: records the state (hashed), nonce and sealed PKCE verifier for ten
 * minutes, and returns the provider's authorization URL and the state for the browser's cookie.
 */
export async function startSignIn(deps: SignInDeps, workspace: unknown): Promise<{ url: string; state: string }> {
  const vendorId = typeof workspace === 'string' && uuid.safeParse(workspace).success ? workspace : undefined;
  const row = vendorId ? await repo.findConfig(deps.db, vendorId) : undefined;
  if (!row) throw noSso();
  const rp = await relyingParty(deps, row);
  const request = await beginAuthorization(rp, redirectUri(deps.publicUrl));
  const now = deps.clock.now();
  await repo.purgeStates(deps.db, new Date(now.getTime() - STATE_KEEP_MS));
  await repo.insertState(deps.db, {
    stateHash: hashToken(request.state),
    vendorId: row.vendor_id,
    codeVerifier: deps.sealer.seal(request.codeVerifier),
    nonce: request.nonce,
    createdAt: now,
    expiresAt: new Date(now.getTime() + STATE_TTL_MS),
  });
  return { url: request.url, state: request.state };
}

/** Who the provider says signed in, once every check passed. */
export interface SsoIdentity {
  vendorId: string;
  vendorName: string;
  email: string;
  name: string;
  /** The highest role this sign-in may reach: that of whoever last saved the settings. */
  highestRole: MemberRole;
}

/** The state of a callback, when it is the one this browser's cookie holds (else sso_failed, and nothing is spent). */
export function callbackState(search: string, cookieState: string | undefined): string {
  const state = new URLSearchParams(search).get('state') ?? '';
  const cookie = cookieState ?? '';
  if (!TOKEN_PATTERN.test(state) || !sameSecret(state, cookie)) {
    throw failed(`This sign-in was not started in this browser, or its cookie was lost. ${START_AGAIN}`);
  }
  return state;
}

/**
 * Completes a sign-in from the provider's redirect, once callbackState found the browser's own state in
 * it. The state must be an unused, unexpired row (spent here, first of all, so a replay fails); then the
 * code is exchanged and the ID token checked. The address must be verified (email_verified not false) and
 * of an allowed domain. Every failure is sso_failed; nothing but the spent state is written.
 */
export async function finishSignIn(deps: SignInDeps, state: string, search: string): Promise<SsoIdentity> {
  const params = new URLSearchParams(search);
  const spent = await repo.spendState(deps.db, hashToken(state), deps.clock.now());
  if (!spent) throw failed(`This sign-in has expired (it must be completed within ${STATE_TTL_MS / MINUTE} minutes) or was already used. ${START_AGAIN}`);
  const providerError = params.get('error');
  if (providerError !== null) {
    const code = /^[A-Za-z0-9_.-]{1,60}$/.test(providerError) ? ` (${providerError})` : '';
    throw failed(`The identity provider did not sign you in${code}. ${START_AGAIN}`);
  }
  const row = await repo.findConfig(deps.db, spent.vendor_id);
  if (!row) throw failed(`This workspace no longer signs in with single sign-on. Ask an admin of the workspace for an emailed sign-in link instead.`);
  const rp = await relyingParty(deps, row);
  const callbackUrl = new URL(redirectUri(deps.publicUrl));
  callbackUrl.search = params.toString();
  let claims: Record<string, unknown>;
  try {
    claims = await completeAuthorization(rp, callbackUrl, { state, nonce: spent.nonce, codeVerifier: deps.sealer.open(spent.code_verifier) });
  } catch (err) {
    // The reason (openid-client's, never a token) goes to the log, not to the person: see the callback route.
    throw Object.assign(
      failed(
        `The identity provider’s answer could not be verified (its issuer, signature, nonce or code did not check out, or the code expired). ${START_AGAIN} If this keeps happening, ask an admin of ${row.vendor_name} to check its single sign-on settings.`,
      ),
      { cause: err },
    );
  }
  const address = emailSchema.safeParse(claims.email);
  // Only an address the provider says it verified: a provider that lets people type any address must not sign them in as its owner.
  if (!address.success || (claims.email_verified !== true && claims.email_verified !== 'true')) {
    throw failed(`The identity provider did not give a verified email address, which ${row.vendor_name} needs to know who you are. Ask an admin of the workspace.`);
  }
  const addressDomain = address.data.split('@')[1];
  if (!row.allowed_domains.includes(addressDomain)) {
    throw failed(
      `${address.data} is not of an email domain ${row.vendor_name} signs in through single sign-on, so you were not signed in and no account was made. Ask an admin of the workspace to add ${addressDomain}, or to invite you.`,
    );
  }
  const given = nameSchema(120).safeParse(claims.name);
  return {
    vendorId: row.vendor_id,
    vendorName: row.vendor_name,
    email: address.data,
    name: given.success ? given.data : address.data.split('@')[0].slice(0, 120),
    highestRole: row.saved_by_role,
  };
}

/**
 * The member the identity signs in as: the workspace's member with that address, or a new member (role
 * member) when there is none, audited as member.joined with the newcomer as the actor (nobody else made
 * the change). Call in a transaction; `joined` is true when a member was added.
 */
export async function memberFor(trx: Executor, clock: Clock, identity: SsoIdentity, ip: string | null): Promise<{ userId: string; name: string; joined: boolean }> {
  const existing = await repo.findMember(trx, identity.vendorId, identity.email);
  if (existing && !atLeast(identity.highestRole, existing.role)) {
    // Whoever set the provider up could make it say anything: it signs in nobody above their own role.
    throw failed(
      `As ${existing.role} of ${identity.vendorName} you sign in with an emailed link: its single sign-on was set up by someone whose role is below yours. An owner can save the single sign-on settings again to change that.`,
    );
  }
  if (existing) return { userId: existing.id, name: existing.name, joined: false };
  const id = randomUUID();
  if (await repo.insertMember(trx, { id, vendorId: identity.vendorId, email: identity.email, name: identity.name, role: JOIN_ROLE, createdAt: clock.now() })) {
    const actor: Actor = { vendorId: identity.vendorId, id, name: identity.name, kind: 'user', ip };
    await recordAudit(trx, clock, actor, {
      action: 'member.joined',
      target: { type: 'member', id, name: identity.name },
      changes: { email: identity.email, role: JOIN_ROLE, via: 'sso' },
    });
    return { userId: id, name: identity.name, joined: true };
  }
  // Joined a moment ago through another sign-in.
  const now = await repo.findMember(trx, identity.vendorId, identity.email);
  if (!now) throw failed(`You could not be added to the workspace. ${START_AGAIN}`);
  return { userId: now.id, name: now.name, joined: false };
}
