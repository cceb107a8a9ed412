// SQL for workspaces, users, sessions, sign-in links, API keys and the shared
// app secrets. Tokens and keys arrive here already hashed; no raw secret is
// ever stored. Sign-in is the one place that finds users across workspaces
// (by address, or by the user a link names); everything else is scoped by vendor.
import type { Executor } from '../db/index.js';
import type { MemberRole, SessionMethod, SignupPayload } from '../db/schema.js';

// ---------------------------------------------------------------------------
// Workspaces and users

export async function insertVendor(db: Executor, row: { id: string; name: string; createdAt: Date }): Promise<void> {
  await db.insertInto('vendors').values({ id: row.id, name: row.name, created_at: row.createdAt }).execute();
}

export async function insertUser(db: Executor, row: { id: string; vendorId: string; email: string; name: string; role: MemberRole; createdAt: Date }): Promise<void> {
  await db.insertInto('users').values({ id: row.id, vendor_id: row.vendorId, email: row.email, name: row.name, role: row.role, created_at: row.createdAt }).execute();
}

/** Every account the address has, one per workspace, by workspace name. */
export async function findUsersByEmail(db: Executor, email: string) {
  return db
    .selectFrom('users')
    .innerJoin('vendors', 'vendors.id', 'users.vendor_id')
    .select(['users.id', 'vendors.name as workspace'])
    .where('users.email', '=', email)
    .orderBy('vendors.name')
    .execute();
}

/** The user a sign-in link names (the link carries no workspace of its own). */
export async function findUserById(db: Executor, userId: string) {
  return db.selectFrom('users').select(['id', 'vendor_id']).where('id', '=', userId).executeTakeFirst();
}

// ---------------------------------------------------------------------------
// Sessions

/** The user a session cookie names, if it is still theirs: same workspace, same session epoch, a live session row. */
export async function findSessionUser(db: Executor, claims: { userId: string; vendorId: string; epoch: number; sessionId: string }) {
  return db
    .selectFrom('user_sessions as s')
    .innerJoin('users', (j) => j.onRef('users.vendor_id', '=', 's.vendor_id').onRef('users.id', '=', 's.user_id'))
    .innerJoin('vendors', 'vendors.id', 'users.vendor_id')
    .leftJoin('sso_configs as sso', 'sso.vendor_id', 's.vendor_id')
    .select(['users.id', 'users.name', 'users.email', 'users.role', 'users.vendor_id', 'vendors.name as vendor_name', 's.method', 's.last_seen_at', 'sso.require_sso'])
    .where('s.vendor_id', '=', claims.vendorId)
    .where('s.id', '=', claims.sessionId)
    .where('s.user_id', '=', claims.userId)
    .where('s.ended_at', 'is', null)
    .where('users.session_epoch', '=', claims.epoch)
    .executeTakeFirst();
}

export async function findSessionEpoch(db: Executor, vendorId: string, userId: string): Promise<number | undefined> {
  const row = await db.selectFrom('users').select('session_epoch').where('vendor_id', '=', vendorId).where('id', '=', userId).executeTakeFirst();
  return row?.session_epoch;
}

/** A new session row, and the member's last sign-in. */
export async function insertSession(
  db: Executor,
  row: { vendorId: string; id: string; userId: string; method: SessionMethod; ip: string; userAgent: string; now: Date },
): Promise<void> {
  await db
    .insertInto('user_sessions')
    .values({ vendor_id: row.vendorId, id: row.id, user_id: row.userId, method: row.method, ip: row.ip, user_agent: row.userAgent, created_at: row.now, last_seen_at: row.now })
    .execute();
  await db.updateTable('users').set({ last_sign_in_at: row.now }).where('vendor_id', '=', row.vendorId).where('id', '=', row.userId).execute();
}

/** Records a session's use, unless that was already recorded after staleBefore (one conditional statement). */
export async function touchSession(db: Executor, vendorId: string, id: string, now: Date, staleBefore: Date): Promise<void> {
  await db.updateTable('user_sessions').set({ last_seen_at: now }).where('vendor_id', '=', vendorId).where('id', '=', id).where('last_seen_at', '<', staleBefore).execute();
}

/** Ends every live session of the user. */
export async function endSessions(db: Executor, vendorId: string, userId: string, now: Date): Promise<void> {
  await db.updateTable('user_sessions').set({ ended_at: now }).where('vendor_id', '=', vendorId).where('user_id', '=', userId).where('ended_at', 'is', null).execute();
}

/** The owner of a deal of the workspace. */
export async function dealOwnerId(db: Executor, vendorId: string, dealId: string): Promise<string | undefined> {
  const row = await db.selectFrom('deals').select('owner_id').where('vendor_id', '=', vendorId).where('id', '=', dealId).executeTakeFirst();
  return row?.owner_id;
}

/** Moves the user to a new session epoch: every cookie issued before stops working. */
export async function bumpSessionEpoch(db: Executor, vendorId: string, userId: string): Promise<void> {
  await db
    .updateTable('users')
    .set((eb) => ({ session_epoch: eb('session_epoch', '+', 1) }))
    .where('vendor_id', '=', vendorId)
    .where('id', '=', userId)
    .execute();
}

// ---------------------------------------------------------------------------
// Sign-in and sign-up links

export async function insertLoginToken(
  db: Executor,
  row: {
    id: string;
    purpose: 'signin' | 'signup';
    email: string;
    userId: string | null;
    payload: SignupPayload | null;
    tokenHash: string | null;
    createdAt: Date;
    expiresAt: Date;
  },
): Promise<void> {
  await db
    .insertInto('login_tokens')
    .values({
      id: row.id,
      purpose: row.purpose,
      email: row.email,
      user_id: row.userId,
      payload: JSON.stringify(row.payload),
      token_hash: row.tokenHash,
      created_at: row.createdAt,
      expires_at: row.expiresAt,
    })
    .execute();
}

/** Gives an unspent link its secret (by hash) and a new expiry; undefined when it was spent meanwhile. */
export async function setLoginTokenSecret(db: Executor, loginId: string, tokenHash: string, expiresAt: Date) {
  return db
    .updateTable('login_tokens')
    .set({ token_hash: tokenHash, expires_at: expiresAt })
    .where('id', '=', loginId)
    .where('used_at', 'is', null)
    .returning(['purpose', 'user_id', 'payload', 'email'])
    .executeTakeFirst();
}

/** An unspent, unexpired link, read without spending it. */
export async function findLiveLoginToken(db: Executor, tokenHash: string, now: Date) {
  return db
    .selectFrom('login_tokens')
    .select(['purpose', 'email', 'payload'])
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Marks an unspent, unexpired link used, in one statement: of two simultaneous spends only one gets the row. */
export async function markLoginTokenUsed(db: Executor, tokenHash: string, now: Date) {
  return db
    .updateTable('login_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['purpose', 'user_id', 'email', 'payload'])
    .executeTakeFirst();
}

/** Sign-in and sign-up mails queued for the address since `since` (counted in the outbox, so the cap holds across instances). */
export async function countLinkMailsSince(db: Executor, address: string, since: Date): Promise<number> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('recipient', '=', address)
    .where('template', 'in', ['signin', 'signup'])
    .where('created_at', '>', since)
    .executeTakeFirstOrThrow();
  return row.n;
}

// ---------------------------------------------------------------------------
// API keys

export async function insertApiKey(
  db: Executor,
  row: { id: string; vendorId: string; name: string; prefix: string; keyHash: string; createdBy: string | null; createdAt: Date; role: MemberRole },
): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({
      id: row.id,
      vendor_id: row.vendorId,
      name: row.name,
      prefix: row.prefix,
      key_hash: row.keyHash,
      created_by: row.createdBy,
      created_at: row.createdAt,
      role: row.role,
    })
    .execute();
}

/** A live (unrevoked) key by its hash, with its workspace. */
export async function findApiKey(db: Executor, keyHash: string) {
  return (
    db
      .selectFrom('api_keys')
      .innerJoin('vendors', 'vendors.id', 'api_keys.vendor_id')
      // The key's creator, if still a user of the workspace: deals opened through the key are theirs.
      .leftJoin('users', (j) => j.onRef('users.id', '=', 'api_keys.created_by').onRef('users.vendor_id', '=', 'api_keys.vendor_id'))
      .select([
        'api_keys.id',
        'api_keys.vendor_id',
        'api_keys.name',
        'api_keys.role',
        'api_keys.last_used_at',
        'vendors.name as vendor_name',
        'users.id as owner_id',
        'users.role as owner_role',
      ])
      .where('api_keys.key_hash', '=', keyHash)
      .where('api_keys.revoked_at', 'is', null)
      .executeTakeFirst()
  );
}

/**
 * Records that a key was used at `now`, unless that was already recorded after
 * `staleBefore`: one conditional statement, so however many requests and
 * instances use the key, the row is written at most once per interval.
 */
export async function touchApiKey(db: Executor, vendorId: string, id: string, now: Date, staleBefore: Date): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: now })
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', staleBefore)]))
    .execute();
}

/** Newest first. */
export async function listApiKeys(db: Executor, vendorId: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'prefix', 'role', 'created_at', 'last_used_at', 'revoked_at'])
    .where('vendor_id', '=', vendorId)
    .orderBy('created_at', 'desc')
    .execute();
}

/** Whether a live key was revoked (false when there is no such key, or it was revoked already). */
/** Revokes a live key; resolves to what it was (for the audit trail), or undefined when there was none. */
export async function revokeApiKey(db: Executor, vendorId: string, id: string, now: Date) {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning(['name', 'role', 'prefix'])
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------
// App secrets (shared by every instance)

/** The stored secret of that name; `candidate` becomes it if none is stored yet (the first instance to start wins). */
export async function keepSecret(db: Executor, name: string, candidate: string): Promise<string> {
  await db
    .insertInto('app_secrets')
    .values({ name, value: candidate })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('app_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}

export async function dropSecret(db: Executor, name: string): Promise<void> {
  await db.deleteFrom('app_secrets').where('name', '=', name).execute();
}
