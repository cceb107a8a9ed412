// SQL for posture profiles: each workspace's one draft and its numbered, published versions.
import type { Executor } from '../db/index.js';
import type { ProfileClaims } from '../db/schema.js';

export async function insertProfile(db: Executor, row: { vendorId: string; draft: ProfileClaims; updatedAt: Date; updatedBy: string | null }): Promise<void> {
  await db
    .insertInto('profiles')
    .values({ vendor_id: row.vendorId, draft: JSON.stringify(row.draft), updated_at: row.updatedAt, updated_by: row.updatedBy })
    .execute();
}

/** The stored draft; `lock` holds the row until the transaction ends (so two publishes cannot collide). */
export async function findDraft(db: Executor, vendorId: string, opts: { lock?: boolean } = {}): Promise<ProfileClaims | undefined> {
  let query = db.selectFrom('profiles').select('draft').where('vendor_id', '=', vendorId);
  if (opts.lock) query = query.forUpdate();
  return (await query.executeTakeFirst())?.draft;
}

export async function updateDraft(db: Executor, vendorId: string, row: { draft: ProfileClaims; updatedAt: Date; updatedBy: string | null }): Promise<void> {
  await db
    .updateTable('profiles')
    .set({ draft: JSON.stringify(row.draft), updated_at: row.updatedAt, updated_by: row.updatedBy })
    .where('vendor_id', '=', vendorId)
    .execute();
}

/** The highest version number published so far, 0 when none. */
export async function lastVersionNumber(db: Executor, vendorId: string): Promise<number> {
  const row = await db
    .selectFrom('profile_versions')
    .select((eb) => eb.fn.max('version').as('v'))
    .where('vendor_id', '=', vendorId)
    .executeTakeFirst();
  return Number(row?.v ?? 0);
}

export async function insertVersion(
  db: Executor,
  row: { vendorId: string; version: number; catalogVersion: string; claims: ProfileClaims; publishedAt: Date; publishedBy: string | null },
): Promise<void> {
  await db
    .insertInto('profile_versions')
    .values({
      vendor_id: row.vendorId,
      version: row.version,
      catalog_version: row.catalogVersion,
      claims: JSON.stringify(row.claims),
      published_at: row.publishedAt,
      published_by: row.publishedBy,
    })
    .execute();
}

/** Newest first. */
export async function listVersions(db: Executor, vendorId: string) {
  return db.selectFrom('profile_versions').select(['version', 'catalog_version', 'published_at']).where('vendor_id', '=', vendorId).orderBy('version', 'desc').execute();
}

export async function findVersion(db: Executor, vendorId: string, version: number) {
  return db
    .selectFrom('profile_versions')
    .select(['version', 'claims', 'catalog_version', 'published_at'])
    .where('vendor_id', '=', vendorId)
    .where('version', '=', version)
    .executeTakeFirst();
}
