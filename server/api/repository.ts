// The API's own table: idempotency keys (see server/api/idempotency.ts).
import { sql } from 'kysely';
import type { Executor } from '../db/index.js';

export interface KeyHolder {
  vendorId: string;
  apiKeyId: string;
  key: string;
  /** The request holding the key (a random id of its own). */
  holder: string;
}

export interface KeptAnswer {
  request_hash: string;
  status_code: number | null;
  content_type: string | null;
  response_body: string | null;
  created_at: Date;
}

/**
 * Takes the key for a new request: true when this request holds it now. A key
 * whose record is older than `staleBefore` (expired), or still unanswered since
 * before `abandonedBefore` (its request died), is taken over.
 */
export async function claimKey(db: Executor, k: KeyHolder, requestHash: string, now: Date, staleBefore: Date, abandonedBefore: Date): Promise<boolean> {
  const row = await db
    .insertInto('idempotency_keys')
    .values({ vendor_id: k.vendorId, api_key_id: k.apiKeyId, key: k.key, holder: k.holder, request_hash: requestHash, created_at: now })
    .onConflict((oc) =>
      oc
        .columns(['vendor_id', 'api_key_id', 'key'])
        .doUpdateSet({ holder: k.holder, request_hash: requestHash, status_code: null, content_type: null, response_body: null, created_at: now })
        .where(sql<boolean>`idempotency_keys.created_at < ${staleBefore} OR (idempotency_keys.status_code IS NULL AND idempotency_keys.created_at < ${abandonedBefore})`),
    )
    .returning('key')
    .executeTakeFirst();
  return row !== undefined;
}

export async function findKey(db: Executor, k: Omit<KeyHolder, 'holder'>): Promise<KeptAnswer | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status_code', 'content_type', 'response_body', 'created_at'])
    .where('vendor_id', '=', k.vendorId)
    .where('api_key_id', '=', k.apiKeyId)
    .where('key', '=', k.key)
    .executeTakeFirst();
}

export async function keepAnswer(db: Executor, k: KeyHolder, status: number, contentType: string, body: string): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ status_code: status, content_type: contentType, response_body: body })
    .where('vendor_id', '=', k.vendorId)
    .where('api_key_id', '=', k.apiKeyId)
    .where('key', '=', k.key)
    .where('holder', '=', k.holder)
    .execute();
}

export async function releaseKey(db: Executor, k: KeyHolder): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('vendor_id', '=', k.vendorId)
    .where('api_key_id', '=', k.apiKeyId)
    .where('key', '=', k.key)
    .where('status_code', 'is', null)
    .execute();
}

/** Forgets up to `limit` keys older than `before`; resolves to how many. */
export async function purgeKeys(db: Executor, before: Date, limit: number): Promise<number> {
  const r = await sql<{ n: number }>`WITH gone AS (
      DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < ${before} LIMIT ${limit}) RETURNING 1
    ) SELECT count(*)::int AS n FROM gone`.execute(db);
  return r.rows[0]?.n ?? 0;
}
