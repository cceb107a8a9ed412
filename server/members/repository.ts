// SQL for a workspace's members, their invitations and their sessions. Every
// query is scoped by vendor, except the two that must find their row without
// one: an invitation by its token's hash (the link carries no workspace), and
// a person's memberships by their address (for switching workspaces, the
// caller passes the address the session proved). Removing a member also moves
// their deals and revokes their API keys here, in the caller's transaction.
import { sql, type ExpressionBuilder } from 'kysely';
import type { Executor } from '../db/index.js';
import type { Database, MemberRole } from '../db/schema.js';

// ---------------------------------------------------------------------------
// The workspace

/**
 * Locks the workspace's row until the transaction ends, so changes to its
 * membership (invitations, roles, removals) happen one at a time: the caps and
 * the "last owner" rule count what is really there. NO KEY UPDATE does not
 * block rows elsewhere that merely refer to the workspace.
 */
export async function lockWorkspace(db: Executor, vendorId: string): Promise<{ name: string } | undefined> {
  return db.selectFrom('vendors').select('name').where('id', '=', vendorId).forNoKeyUpdate().executeTakeFirst();
}

// ---------------------------------------------------------------------------
// Members

const MEMBER_COLUMNS = ['id', 'name', 'email', 'role', 'last_sign_in_at', 'created_at'] as const;

/** The workspace's members: owners first, then by name. */
export async function listMembers(db: Executor, vendorId: string, limit: number) {
  return db
    .selectFrom('users')
    .select(MEMBER_COLUMNS)
    .where('vendor_id', '=', vendorId)
    .orderBy(sql`array_position(array['owner', 'admin', 'member', 'viewer'], role)`)
    .orderBy('name')
    .orderBy('id')
    .limit(limit)
    .execute();
}

export async function countMembers(db: Executor, vendorId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('vendor_id', '=', vendorId)
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function findMember(db: Executor, vendorId: string, id: string) {
  return db.selectFrom('users').select(MEMBER_COLUMNS).where('vendor_id', '=', vendorId).where('id', '=', id).executeTakeFirst();
}

export async function findMemberByEmail(db: Executor, vendorId: string, email: string) {
  return db.selectFrom('users').select(MEMBER_COLUMNS).where('vendor_id', '=', vendorId).where('email', '=', email).executeTakeFirst();
}

/** The workspace's owners, oldest first. */
export async function ownerIds(db: Executor, vendorId: string): Promise<string[]> {
  const rows = await db.selectFrom('users').select('id').where('vendor_id', '=', vendorId).where('role', '=', 'owner').orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => r.id);
}

export async function insertMember(db: Executor, row: { id: string; vendorId: string; email: string; name: string; role: MemberRole; createdAt: Date }): Promise<void> {
  await db.insertInto('users').values({ id: row.id, vendor_id: row.vendorId, email: row.email, name: row.name, role: row.role, created_at: row.createdAt }).execute();
}

export async function setRole(db: Executor, vendorId: string, id: string, role: MemberRole) {
  return db.updateTable('users').set({ role }).where('vendor_id', '=', vendorId).where('id', '=', id).returning(MEMBER_COLUMNS).executeTakeFirstOrThrow();
}

/** Gives every deal the member owns to another member; returns how many moved. */
export async function reassignDeals(db: Executor, vendorId: string, fromId: string, toId: string): Promise<number> {
  const r = await db.updateTable('deals').set({ owner_id: toId }).where('vendor_id', '=', vendorId).where('owner_id', '=', fromId).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Revokes every live API key the member created; returns how many. */
export async function revokeKeysCreatedBy(db: Executor, vendorId: string, userId: string, now: Date): Promise<number> {
  const r = await db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('vendor_id', '=', vendorId)
    .where('created_by', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Deletes the member's row; their sign-in links go first (they refer to it), their sessions with it (ON DELETE CASCADE). */
export async function deleteMember(db: Executor, vendorId: string, id: string): Promise<void> {
  const user = await db.selectFrom('users').select('id').where('vendor_id', '=', vendorId).where('id', '=', id).executeTakeFirst();
  if (!user) return;
  await db.deleteFrom('login_tokens').where('user_id', '=', user.id).execute();
  await db.deleteFrom('users').where('vendor_id', '=', vendorId).where('id', '=', id).execute();
}

/** Every membership of an address, one per workspace, by workspace name. */
export async function membershipsOf(db: Executor, email: string) {
  return db
    .selectFrom('users')
    .innerJoin('vendors', 'vendors.id', 'users.vendor_id')
    .select(['users.id', 'users.vendor_id', 'users.role', 'vendors.name as workspace'])
    .where('users.email', '=', email)
    .orderBy('vendors.name')
    .orderBy('vendors.id')
    .execute();
}

// ---------------------------------------------------------------------------
// Invitations

const INVITATION_COLUMNS = ['id', 'email', 'name', 'role', 'invited_by', 'created_at', 'expires_at'] as const;

export async function insertInvitation(
  db: Executor,
  row: { vendorId: string; id: string; email: string; name: string; role: MemberRole; invitedBy: string | null; createdAt: Date; expiresAt: Date },
) {
  return db
    .insertInto('member_invitations')
    .values({
      vendor_id: row.vendorId,
      id: row.id,
      email: row.email,
      name: row.name,
      role: row.role,
      invited_by: row.invitedBy,
      created_at: row.createdAt,
      expires_at: row.expiresAt,
    })
    .returning(INVITATION_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Revokes the workspace's invitations still pending (neither accepted nor revoked); the caller narrows which. */
function revokePending(db: Executor, vendorId: string, now: Date) {
  return db.updateTable('member_invitations').set({ revoked_at: now }).where('vendor_id', '=', vendorId).where('accepted_at', 'is', null).where('revoked_at', 'is', null);
}

/** Revokes the address's pending invitation, if any (a new one replaces it); returns its id. */
export async function revokePendingFor(db: Executor, vendorId: string, email: string, now: Date) {
  const row = await revokePending(db, vendorId, now).where('email', '=', email).returning(['id', 'role']).executeTakeFirst();
  return row;
}

/** Revokes every pending invitation the member sent; how many. */
export async function revokeInvitationsBy(db: Executor, vendorId: string, userId: string, now: Date): Promise<number> {
  const r = await revokePending(db, vendorId, now).where('invited_by', '=', userId).executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Invitations created since `since`, whatever became of them (the per-workspace cap). */
export async function countInvitationsSince(db: Executor, vendorId: string, since: Date): Promise<number> {
  const row = await db
    .selectFrom('member_invitations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('vendor_id', '=', vendorId)
    .where('created_at', '>', since)
    .executeTakeFirstOrThrow();
  return row.n;
}

/** Pending invitations (neither accepted nor revoked, nor expired), newest first. */
export async function listPendingInvitations(db: Executor, vendorId: string, now: Date, limit: number) {
  return db
    .selectFrom('member_invitations')
    .select(INVITATION_COLUMNS)
    .where('vendor_id', '=', vendorId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** A pending, unexpired invitation of the workspace. */
export async function findPendingInvitation(db: Executor, vendorId: string, id: string, now: Date) {
  return db
    .selectFrom('member_invitations')
    .select(INVITATION_COLUMNS)
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

export async function revokeInvitation(db: Executor, vendorId: string, id: string, now: Date): Promise<boolean> {
  const r = await revokePending(db, vendorId, now).where('id', '=', id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** What the invitation mail needs: the invitation if still pending, its workspace, and who sent it (if still a member). */
export async function invitationMailData(db: Executor, vendorId: string, id: string) {
  return db
    .selectFrom('member_invitations as i')
    .innerJoin('vendors as v', 'v.id', 'i.vendor_id')
    .leftJoin('users as u', (j) => j.onRef('u.vendor_id', '=', 'i.vendor_id').onRef('u.id', '=', 'i.invited_by'))
    .select(['i.id', 'i.vendor_id', 'i.email', 'i.name', 'i.role', 'i.expires_at', 'v.name as workspace', 'v.web_domain', 'u.name as inviter_name', 'u.email as inviter_email'])
    .where('i.vendor_id', '=', vendorId)
    .where('i.id', '=', id)
    .executeTakeFirst();
}

/** An invitation that still works at `now`: neither accepted nor revoked, and not expired. */
const liveAt = (now: Date) => (eb: ExpressionBuilder<Database, 'member_invitations'>) =>
  eb.and([eb('accepted_at', 'is', null), eb('revoked_at', 'is', null), eb('expires_at', '>', now)]);

/** Gives a pending invitation its secret (by hash) when its mail is composed; false when it is no longer pending. */
export async function setInvitationSecret(db: Executor, vendorId: string, id: string, tokenHash: string, now: Date): Promise<boolean> {
  const r = await db.updateTable('member_invitations').set({ token_hash: tokenHash }).where('vendor_id', '=', vendorId).where('id', '=', id).where(liveAt(now)).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** A live invitation by its token's hash, with its workspace and inviter, read without spending it (for the GET page). */
export async function findLiveInvitation(db: Executor, tokenHash: string, now: Date) {
  return db
    .selectFrom('member_invitations as i')
    .innerJoin('vendors as v', 'v.id', 'i.vendor_id')
    .leftJoin('users as u', (j) => j.onRef('u.vendor_id', '=', 'i.vendor_id').onRef('u.id', '=', 'i.invited_by'))
    .select(['i.email', 'i.name', 'i.role', 'v.name as workspace', 'u.name as inviter_name'])
    .where('i.token_hash', '=', tokenHash)
    .where('i.accepted_at', 'is', null)
    .where('i.revoked_at', 'is', null)
    .where('i.expires_at', '>', now)
    .executeTakeFirst();
}

/** Marks a live invitation accepted, in one statement: of two simultaneous accepts only one gets the row. */
export async function markInvitationAccepted(db: Executor, tokenHash: string, now: Date) {
  return db
    .updateTable('member_invitations')
    .set({ accepted_at: now })
    .where('token_hash', '=', tokenHash)
    .where(liveAt(now))
    .returning(['vendor_id', 'id', 'email', 'name', 'role', 'invited_by'])
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------
// Sessions

/** A member's sessions that are still live (not ended, started after `since`), newest first. */
export async function liveSessions(db: Executor, vendorId: string, userId: string, since: Date) {
  return db
    .selectFrom('user_sessions')
    .select(['id', 'method', 'ip', 'user_agent', 'created_at', 'last_seen_at'])
    .where('vendor_id', '=', vendorId)
    .where('user_id', '=', userId)
    .where('ended_at', 'is', null)
    .where('created_at', '>', since)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .limit(100)
    .execute();
}

/** Ends one live session of the member; false when they have no such live session. */
export async function endSession(db: Executor, vendorId: string, userId: string, sessionId: string, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('user_sessions')
    .set({ ended_at: now })
    .where('vendor_id', '=', vendorId)
    .where('user_id', '=', userId)
    .where('id', '=', sessionId)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** How many deals the member owns. */
export async function countOwnedDeals(db: Executor, vendorId: string, userId: string): Promise<number> {
  const row = await db
    .selectFrom('deals')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('vendor_id', '=', vendorId)
    .where('owner_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
