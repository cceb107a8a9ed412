// SQL for a workspace's single sign-on settings, the sign-ins under way, and
// the members SSO signs in (found by address within the workspace, or added
// on their first sign-in). client_secret and code_verifier arrive here sealed.
import { sql } from 'kysely';
import type { Executor } from '../db/index.js';
import type { MemberRole } from '../rules.js';

/** Whether the workspace requires its members to sign in through SSO. */
export async function requiresSso(db: Executor, vendorId: string): Promise<boolean> {
  const row = await db.selectFrom('sso_configs').select('require_sso').where('vendor_id', '=', vendorId).executeTakeFirst();
  return row?.require_sso ?? false;
}

// ---------------------------------------------------------------------------
// Settings

export interface SsoConfigRow {
  vendor_id: string;
  vendor_name: string;
  issuer: string;
  client_id: string;
  client_secret: string;
  allowed_domains: string[];
  require_sso: boolean;
  updated_at: Date;
  saved_by_role: MemberRole;
}

/** The workspace's settings, with its name; undefined when it has none. */
export async function findConfig(db: Executor, vendorId: string): Promise<SsoConfigRow | undefined> {
  return db
    .selectFrom('sso_configs as c')
    .innerJoin('vendors as v', 'v.id', 'c.vendor_id')
    .select(['c.vendor_id', 'v.name as vendor_name', 'c.issuer', 'c.client_id', 'c.client_secret', 'c.allowed_domains', 'c.require_sso', 'c.updated_at', 'c.saved_by_role'])
    .where('c.vendor_id', '=', vendorId)
    .executeTakeFirst();
}

/** The workspace's settings, locked until the transaction ends (so two saves do not interleave). */
export async function lockConfig(db: Executor, vendorId: string) {
  return db
    .selectFrom('sso_configs')
    .select(['issuer', 'client_id', 'client_secret', 'allowed_domains', 'require_sso'])
    .where('vendor_id', '=', vendorId)
    .forUpdate()
    .executeTakeFirst();
}

export async function upsertConfig(
  db: Executor,
  row: {
    vendorId: string;
    issuer: string;
    clientId: string;
    clientSecret: string;
    allowedDomains: string[];
    requireSso: boolean;
    updatedAt: Date;
    updatedBy: string | null;
    savedByRole: MemberRole;
  },
): Promise<void> {
  const values = {
    issuer: row.issuer,
    client_id: row.clientId,
    client_secret: row.clientSecret,
    allowed_domains: row.allowedDomains,
    require_sso: row.requireSso,
    updated_at: row.updatedAt,
    updated_by: row.updatedBy,
    saved_by_role: row.savedByRole,
  };
  await db
    .insertInto('sso_configs')
    .values({ vendor_id: row.vendorId, ...values })
    .onConflict((oc) => oc.column('vendor_id').doUpdateSet(values))
    .execute();
}

/** Removes the workspace's settings and its sign-ins under way; false when it had none. */
export async function deleteConfig(db: Executor, vendorId: string): Promise<boolean> {
  await db.deleteFrom('sso_states').where('vendor_id', '=', vendorId).execute();
  const r = await db.deleteFrom('sso_configs').where('vendor_id', '=', vendorId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** The workspaces that sign in addresses of this domain through SSO, by name (the GIN index on allowed_domains). */
export async function findWorkspacesByDomain(db: Executor, domain: string) {
  return db
    .selectFrom('sso_configs as c')
    .innerJoin('vendors as v', 'v.id', 'c.vendor_id')
    .select(['c.vendor_id', 'v.name', 'c.issuer'])
    .where(sql<boolean>`c.allowed_domains @> ARRAY[${domain}]::text[]`)
    .orderBy('v.name')
    .orderBy('c.vendor_id')
    .limit(20)
    .execute();
}

// ---------------------------------------------------------------------------
// Sign-ins under way

export async function insertState(
  db: Executor,
  row: { stateHash: string; vendorId: string; codeVerifier: string; nonce: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto('sso_states')
    .values({
      state_hash: row.stateHash,
      vendor_id: row.vendorId,
      code_verifier: row.codeVerifier,
      nonce: row.nonce,
      created_at: row.createdAt,
      expires_at: row.expiresAt,
    })
    .execute();
}

/** Marks an unused, unexpired state used, in one statement: of two callbacks with one state only one gets the row. */
export async function spendState(db: Executor, stateHash: string, now: Date) {
  return db
    .updateTable('sso_states')
    .set({ used_at: now })
    .where('state_hash', '=', stateHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['vendor_id', 'code_verifier', 'nonce'])
    .executeTakeFirst();
}

/** Forgets sign-ins started before `before` (used or not): they can no longer complete. */
export async function purgeStates(db: Executor, before: Date): Promise<void> {
  await db.deleteFrom('sso_states').where('created_at', '<', before).execute();
}

// ---------------------------------------------------------------------------
// Members

/** The member of the workspace with this address. */
export async function findMember(db: Executor, vendorId: string, email: string) {
  return db.selectFrom('users').select(['id', 'name', 'role']).where('vendor_id', '=', vendorId).where('email', '=', email).executeTakeFirst();
}

/** Adds a member, unless the address joined meanwhile (then undefined). */
export async function insertMember(db: Executor, row: { id: string; vendorId: string; email: string; name: string; role: MemberRole; createdAt: Date }): Promise<boolean> {
  const r = await db
    .insertInto('users')
    .values({ id: row.id, vendor_id: row.vendorId, email: row.email, name: row.name, role: row.role, created_at: row.createdAt })
    .onConflict((oc) => oc.columns(['vendor_id', 'email']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** A user's role and whether their workspace requires SSO (for the emailed-link rules). */
export async function findSsoRule(db: Executor, vendorId: string, userId: string) {
  return db
    .selectFrom('users as u')
    .leftJoin('sso_configs as c', 'c.vendor_id', 'u.vendor_id')
    .select(['u.role', 'c.require_sso'])
    .where('u.vendor_id', '=', vendorId)
    .where('u.id', '=', userId)
    .executeTakeFirst();
}

/** Every account of the address in a workspace that requires SSO, with its role. */
export async function findSsoWorkspacesOfAddress(db: Executor, email: string) {
  return db
    .selectFrom('users as u')
    .innerJoin('sso_configs as c', 'c.vendor_id', 'u.vendor_id')
    .select(['u.id', 'u.vendor_id', 'u.role'])
    .where('u.email', '=', email)
    .where('c.require_sso', '=', true)
    .execute();
}

/** Ends every live session of a non-owner that was not opened through SSO; how many were ended. */
export async function endNonSsoSessions(db: Executor, vendorId: string, now: Date): Promise<number> {
  const r = await db
    .updateTable('user_sessions')
    .set({ ended_at: now })
    .where('vendor_id', '=', vendorId)
    .where('ended_at', 'is', null)
    .where('method', '!=', 'sso')
    .where('user_id', 'in', (eb) => eb.selectFrom('users').select('id').where('vendor_id', '=', vendorId).where('role', '!=', 'owner'))
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
