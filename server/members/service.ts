// The rules of a workspace's team: who may invite whom, change whose role or
// remove whom (rules.ts mayManageRole), the last owner who always stays,
// invitations that live seven days and work once, and sessions a person (or an
// admin, for a member) can end. A person is an email address with one
// membership (users row) per workspace; switching between them needs a session
// that proved the address. Every change is audited in its own transaction.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Executor } from '../db/index.js';
import type { SessionMethod } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { DAY } from '../lib/clock.js';
import { DomainError, invalid, notFound } from '../lib/errors.js';
import { hashToken, newToken } from '../lib/tokens.js';
import { email, name, uuid } from '../lib/validate.js';
import { atLeast, mayManageRole, MEMBER_ROLES, type MemberRole } from '../rules.js';
import { enqueueMail } from '../mail/outbox.js';
import { recordAudit, type Actor } from '../audit/service.js';
import { endAllSessions } from '../auth/service.js';
import { SESSION_HOURS } from '../auth/session.js';
import { mustUseSso } from '../sso/service.js';
import * as repo from './repository.js';

/** An invitation works once, for this long after it is sent. */
export const INVITATION_TTL_MS = 7 * DAY;
/** A workspace has at most this many members, pending invitations included. */
export const MAX_MEMBERS = 500;
/** A workspace sends at most this many invitations in INVITATION_WINDOW_MS (counted in the database, so across instances). */
export const INVITATIONS_PER_WINDOW = 50;
export const INVITATION_WINDOW_MS = DAY;
/** A session cookie lives SESSION_HOURS: older rows are no longer live. */
const SESSION_MS = SESSION_HOURS * 60 * 60 * 1000;

/** Sessions whose holder proved their email address (an emailed link, or a switch from such a session). */
const EMAIL_PROVEN: readonly SessionMethod[] = ['link', 'invite', 'switch'];

const roleField = z.enum(MEMBER_ROLES, { message: 'must be one of viewer, member, admin or owner' });

export const inviteInput = z.object({ email, name: name(120), role: roleField });
export type InviteInput = z.infer<typeof inviteInput>;
export const roleInput = z.object({ role: roleField });
export const removeInput = z.object({ new_owner_id: z.string({ message: 'is required' }).trim().min(1, 'is required') });

/** Who asks for a change: their role, and the member they are (an API key's creator; null when unknown). */
export interface Manager {
  role: MemberRole;
  userId: string | null;
}

export type Member = NonNullable<Awaited<ReturnType<typeof repo.findMember>>>;
export type Invitation = Awaited<ReturnType<typeof repo.listPendingInvitations>>[number];

const memberTarget = (m: { id: string; name: string }) => ({ type: 'member', id: m.id, name: m.name });

const refused = (message: string) => new DomainError('forbidden', message);

async function memberOf(db: Executor, vendorId: string, id: string): Promise<Member> {
  const member = uuid.safeParse(id).success ? await repo.findMember(db, vendorId, id) : undefined;
  if (!member) throw notFound('That member');
  return member;
}

// ---------------------------------------------------------------------------
// The team

/** The workspace's members and pending invitations. */
export async function listTeam(db: Executor, clock: Clock, vendorId: string): Promise<{ members: Member[]; invitations: Invitation[] }> {
  const [members, invitations] = await Promise.all([repo.listMembers(db, vendorId, MAX_MEMBERS), repo.listPendingInvitations(db, vendorId, clock.now(), MAX_MEMBERS)]);
  return { members, invitations };
}

/** The roles someone with `role` may give (in the rule book's order, lowest first). */
export const assignableRoles = (role: MemberRole): MemberRole[] => MEMBER_ROLES.filter((r) => mayManageRole(role, r));

// ---------------------------------------------------------------------------
// Invitations

/**
 * Invites an address to the workspace with a role the inviter may give. A
 * pending invitation for the address is replaced (its link stops working). The
 * mail is queued; its link gets its secret when the mail is composed.
 */
export async function inviteMember(trx: Executor, clock: Clock, actor: Actor, by: Manager, input: InviteInput): Promise<Invitation> {
  const vendorId = actor.vendorId;
  if (!mayManageRole(by.role, input.role)) {
    throw refused(`Your role in this workspace (${by.role}) cannot give the ${input.role} role: only owners invite admins and owners.`);
  }
  await repo.lockWorkspace(trx, vendorId);
  const now = clock.now();
  if (await repo.findMemberByEmail(trx, vendorId, input.email)) {
    throw new DomainError('already_member', `${input.email} is already a member of this workspace. Change their role on the Team page instead.`);
  }
  const since = new Date(now.getTime() - INVITATION_WINDOW_MS);
  if ((await repo.countInvitationsSince(trx, vendorId, since)) >= INVITATIONS_PER_WINDOW) {
    throw new DomainError('rate_limited', `This workspace has sent ${INVITATIONS_PER_WINDOW} invitations in the last 24 hours, the most it may. Please try again tomorrow.`);
  }
  const replaced = await repo.revokePendingFor(trx, vendorId, input.email, now);
  // Replacing an invitation takes it back: only someone who may give its role may (the transaction then rolls back).
  if (replaced && !mayManageRole(by.role, replaced.role)) {
    throw refused(`${input.email} has a pending invitation to be ${replaced.role}, which only an owner may replace or revoke.`);
  }
  const [members, pending] = await Promise.all([repo.countMembers(trx, vendorId), repo.listPendingInvitations(trx, vendorId, now, MAX_MEMBERS)]);
  if (members + pending.length >= MAX_MEMBERS) {
    throw new DomainError('too_many_members', `A workspace can have at most ${MAX_MEMBERS} members, pending invitations included. Remove someone or revoke an invitation first.`);
  }
  const invitation = await repo.insertInvitation(trx, {
    vendorId,
    id: randomUUID(),
    email: input.email,
    name: input.name,
    role: input.role,
    invitedBy: by.userId,
    createdAt: now,
    expiresAt: new Date(now.getTime() + INVITATION_TTL_MS),
  });
  await enqueueMail(trx, clock, { template: 'member-invite', recipient: input.email, vendorId, params: { invitationId: invitation.id } });
  await recordAudit(trx, clock, actor, {
    action: 'member.invited',
    target: { type: 'invitation', id: invitation.id, name: input.email },
    changes: { email: input.email, name: input.name, role: input.role, ...(replaced ? { replaced_invitation_id: replaced.id } : {}) },
  });
  return invitation;
}

/** Revokes a pending invitation: its link stops working. Only someone who may give its role may revoke it. */
export async function revokeInvitation(trx: Executor, clock: Clock, actor: Actor, by: Manager, id: string): Promise<void> {
  const invitation = uuid.safeParse(id).success ? await repo.findPendingInvitation(trx, actor.vendorId, id, clock.now()) : undefined;
  if (!invitation) throw notFound('That invitation');
  if (!mayManageRole(by.role, invitation.role)) throw refused(`Only owners revoke an invitation to be ${invitation.role}.`);
  if (!(await repo.revokeInvitation(trx, actor.vendorId, id, clock.now()))) throw notFound('That invitation');
  await recordAudit(trx, clock, actor, { action: 'invitation.revoked', target: { type: 'invitation', id, name: invitation.email }, changes: { role: invitation.role } });
}

/**
 * Gives a pending invitation its link's secret as its mail is composed: the
 * raw token exists only in memory and in the mail. Undefined when the
 * invitation was accepted, revoked or expired meanwhile (the mail is dropped).
 */
export async function mintInvitationLink(db: Executor, clock: Clock, vendorId: string, invitationId: string) {
  // The secret is set only on an invitation still pending (the statement checks); then the mail's data is read.
  const token = newToken();
  if (!(await repo.setInvitationSecret(db, vendorId, invitationId, hashToken(token), clock.now()))) return undefined;
  const data = await repo.invitationMailData(db, vendorId, invitationId);
  return data && { token, ...data };
}

/** A live invitation, read without using it (the confirmation page). */
export async function peekInvitation(db: Executor, clock: Clock, token: string) {
  return repo.findLiveInvitation(db, hashToken(token), clock.now());
}

/**
 * Uses an invitation: of two simultaneous accepts only one gets it. Creates
 * the membership with the invited role, or, when the address joined the
 * workspace meanwhile, returns that membership unchanged. Undefined for a
 * dead link.
 */
export async function acceptInvitation(trx: Executor, clock: Clock, token: string, ip: string | null) {
  const now = clock.now();
  const invitation = await repo.markInvitationAccepted(trx, hashToken(token), now);
  if (!invitation) return undefined;
  const vendorId = invitation.vendor_id;
  await repo.lockWorkspace(trx, vendorId);
  // An invitation is only as good as its sender is now: one from someone since removed, or no longer allowed to give its role, is dead.
  const inviter = invitation.invited_by ? await repo.findMember(trx, vendorId, invitation.invited_by) : undefined;
  if (!mayManageRole(inviter?.role ?? 'admin', invitation.role) || (invitation.invited_by && !inviter)) return undefined;
  const existing = await repo.findMemberByEmail(trx, vendorId, invitation.email);
  if (existing) return { vendorId, userId: existing.id, role: existing.role, joined: false };
  const userId = randomUUID();
  await repo.insertMember(trx, { id: userId, vendorId, email: invitation.email, name: invitation.name, role: invitation.role, createdAt: now });
  await recordAudit(
    trx,
    clock,
    { vendorId, id: userId, name: invitation.name, kind: 'user', ip },
    {
      action: 'member.joined',
      target: memberTarget({ id: userId, name: invitation.name }),
      changes: { email: invitation.email, role: invitation.role, invitation_id: invitation.id },
    },
  );
  return { vendorId, userId, role: invitation.role, joined: true };
}

// ---------------------------------------------------------------------------
// Roles

/** "an owner", "a member". */
const article = (role: MemberRole) => `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`;

/**
 * Changes a member's role. Only someone who may manage both the member's role
 * and the new one may (admins: members and viewers; owners: everyone). Nobody
 * changes their own role, except an owner stepping down while another owner
 * remains. The last owner stays an owner.
 */
export async function changeRole(trx: Executor, clock: Clock, actor: Actor, by: Manager, memberId: string, role: MemberRole): Promise<Member> {
  const vendorId = actor.vendorId;
  await repo.lockWorkspace(trx, vendorId);
  const member = await memberOf(trx, vendorId, memberId);
  if (member.id === by.userId) {
    if (member.role === role) return member;
    if (by.role !== 'owner' || atLeast(role, member.role)) throw refused('You cannot change your own role. Ask an owner of the workspace.');
  } else if (!mayManageRole(by.role, member.role) || !mayManageRole(by.role, role)) {
    throw refused(`Your role in this workspace (${by.role}) cannot make ${article(member.role)} into ${article(role)}: only owners give or take the admin and owner roles.`);
  }
  if (member.role === role) return member;
  if (member.role === 'owner') await keepAnOwner(trx, vendorId, member.id, 'demote');
  // A viewer changes nothing, so owns nothing: their deals go to someone first.
  const owned = role === 'viewer' ? await repo.countOwnedDeals(trx, vendorId, member.id) : 0;
  if (owned > 0) {
    throw invalid(
      `${member.name} owns ${owned === 1 ? 'a deal' : `${owned} deals`}: hand ${owned === 1 ? 'it' : 'them'} to someone else (the deal page’s Owner section) before making them a viewer.`,
      [{ field: 'role', message: 'a viewer cannot own deals' }],
    );
  }
  const updated = await repo.setRole(trx, vendorId, member.id, role);
  await recordAudit(trx, clock, actor, { action: 'member.role_changed', target: memberTarget(member), changes: { role: { before: member.role, after: role } } });
  return updated;
}

/** Refuses a change that would leave the workspace without an owner. */
async function keepAnOwner(trx: Executor, vendorId: string, ownerId: string, change: 'demote' | 'remove' | 'leave'): Promise<string[]> {
  const others = (await repo.ownerIds(trx, vendorId)).filter((id) => id !== ownerId);
  if (others.length === 0) {
    const what = change === 'leave' ? 'leave the workspace' : change === 'remove' ? 'be removed' : 'stop being an owner';
    throw new DomainError('last_owner', `The last owner of a workspace cannot ${what}. Make another member an owner first.`);
  }
  return others;
}

// ---------------------------------------------------------------------------
// Removing a member, and leaving

export interface Removal {
  deals_reassigned: number;
  keys_revoked: number;
}

/** Moves the member's deals, revokes their keys, deletes the membership (their sessions with it) and audits it. */
async function dropMember(trx: Executor, clock: Clock, actor: Actor, member: Member, newOwnerId: string, action: 'member.removed' | 'member.left'): Promise<Removal> {
  const vendorId = actor.vendorId;
  const deals = await repo.reassignDeals(trx, vendorId, member.id, newOwnerId);
  const keys = await repo.revokeKeysCreatedBy(trx, vendorId, member.id, clock.now());
  // Nobody comes back in through an invitation they sent themselves on the way out.
  const invitations = await repo.revokeInvitationsBy(trx, vendorId, member.id, clock.now());
  await repo.deleteMember(trx, vendorId, member.id);
  await recordAudit(trx, clock, actor, {
    action,
    target: memberTarget(member),
    changes: { email: member.email, role: member.role, new_owner_id: newOwnerId, deals_reassigned: deals, keys_revoked: keys, invitations_revoked: invitations },
  });
  return { deals_reassigned: deals, keys_revoked: keys };
}

/**
 * Removes a member: every deal they own goes to `newOwnerId` (another member
 * who may own deals), the API keys they created are revoked, and their
 * sessions end. Only someone who may manage the member's role may; the last
 * owner stays; nobody removes themself here (they leave from their account page).
 */
export async function removeMember(trx: Executor, clock: Clock, actor: Actor, by: Manager, memberId: string, newOwnerId: string): Promise<Removal> {
  const vendorId = actor.vendorId;
  await repo.lockWorkspace(trx, vendorId);
  const member = await memberOf(trx, vendorId, memberId);
  const self = member.id === by.userId;
  if (!self && !mayManageRole(by.role, member.role))
    throw refused(`Your role in this workspace (${by.role}) cannot remove a ${member.role}: only owners remove admins and owners.`);
  if (member.role === 'owner') await keepAnOwner(trx, vendorId, member.id, 'remove');
  if (self) throw refused('You cannot remove yourself. To leave the workspace, use “Leave this workspace” on your account page.');
  const heir = uuid.safeParse(newOwnerId).success && newOwnerId !== member.id ? await repo.findMember(trx, vendorId, newOwnerId) : undefined;
  if (!heir || !atLeast(heir.role, 'member')) {
    const message = 'must be another member of this workspace whose role may own deals (member, admin or owner)';
    throw invalid(`Choose who takes over their deals: new_owner_id ${message}.`, [{ field: 'new_owner_id', message }]);
  }
  return dropMember(trx, clock, actor, member, heir.id, 'member.removed');
}

/** The member leaves the workspace: their deals go to its first owner. The last owner cannot leave. */
export async function leaveWorkspace(trx: Executor, clock: Clock, actor: Actor, userId: string): Promise<Removal> {
  const vendorId = actor.vendorId;
  await repo.lockWorkspace(trx, vendorId);
  const member = await memberOf(trx, vendorId, userId);
  const owners = member.role === 'owner' ? await keepAnOwner(trx, vendorId, member.id, 'leave') : await repo.ownerIds(trx, vendorId);
  return dropMember(trx, clock, actor, member, owners[0], 'member.left');
}

// ---------------------------------------------------------------------------
// Sessions

/** A member's live sessions in this workspace, newest first. */
export async function liveSessions(db: Executor, clock: Clock, vendorId: string, userId: string) {
  return repo.liveSessions(db, vendorId, userId, new Date(clock.now().getTime() - SESSION_MS));
}

/** Ends one of the person's own sessions (their cookie on that browser stops working). */
export async function endOwnSession(trx: Executor, clock: Clock, actor: Actor, userId: string, sessionId: string): Promise<void> {
  const ended = uuid.safeParse(sessionId).success && (await repo.endSession(trx, actor.vendorId, userId, sessionId, clock.now()));
  if (!ended) throw notFound('That session');
  await recordAudit(trx, clock, actor, { action: 'session.ended', target: { type: 'session', id: sessionId, name: actor.name }, changes: { member_id: userId } });
}

/** Ends a session without an audit entry: the person moved to another workspace (switch). */
export async function retireSession(db: Executor, clock: Clock, vendorId: string, userId: string, sessionId: string): Promise<void> {
  await repo.endSession(db, vendorId, userId, sessionId, clock.now());
}

/**
 * Ends every session of a member: their cookies stop working at once. Anyone
 * may end their own; ending another's needs the right to manage their role
 * (only owners end an admin's or an owner's).
 */
export async function endMemberSessions(trx: Executor, clock: Clock, actor: Actor, by: Manager, memberId: string): Promise<number> {
  const member = await memberOf(trx, actor.vendorId, memberId);
  if (member.id !== by.userId && !mayManageRole(by.role, member.role)) {
    throw refused(`Your role in this workspace (${by.role}) cannot end a ${member.role}'s sessions: only owners end an admin's or an owner's.`);
  }
  const live = await liveSessions(trx, clock, actor.vendorId, member.id);
  await endAllSessions(trx, clock, actor.vendorId, member.id);
  await recordAudit(trx, clock, actor, { action: 'session.ended', target: memberTarget(member), changes: { member_id: member.id, sessions: live.length, all: true } });
  return live.length;
}

// ---------------------------------------------------------------------------
// Workspaces of one person

/** Every workspace the address belongs to, with the membership in each. */
export async function workspacesOf(db: Executor, address: string) {
  return repo.membershipsOf(db, address);
}

export type SwitchOutcome = { to: 'session'; userId: string; vendorId: string } | { to: 'sso'; vendorId: string } | { to: 'signin' };

/**
 * Where a switch to another workspace of the same person leads. A new session
 * only when the current one proved the address (an emailed link, an
 * invitation, or a switch from either): a workspace's identity provider can
 * assert any address, so an SSO session is no proof for another workspace.
 * A workspace that requires SSO of the member gets its own SSO sign-in.
 */
export async function switchWorkspace(db: Executor, from: { email: string | undefined; method: SessionMethod | undefined }, vendorId: string): Promise<SwitchOutcome> {
  const membership = from.email && uuid.safeParse(vendorId).success ? (await repo.membershipsOf(db, from.email)).find((m) => m.vendor_id === vendorId) : undefined;
  if (!membership) throw notFound('That workspace');
  if (await mustUseSso(db, vendorId, membership.role)) return { to: 'sso', vendorId };
  if (!from.method || !EMAIL_PROVEN.includes(from.method)) return { to: 'signin' };
  return { to: 'session', userId: membership.id, vendorId };
}
