// SQL of the outbox: queue a mail, claim due ones with a lease, and record
// how each attempt ended.
import { sql } from 'kysely';
import type { DB, Executor } from '../db/index.js';
import type { OutboxRow } from './compose.js';

export interface OutboxMail {
  template: string;
  recipient: string;
  vendorId: string | null;
  /** Ids and flags only: never a token or anything secret. */
  params: Record<string, unknown>;
}

/** Queues a mail in the caller's transaction, due now. */
/** Queues mails due now, in one statement. */
export async function insertMails(db: Executor, now: Date, mails: OutboxMail[]): Promise<void> {
  if (mails.length === 0) return;
  await db
    .insertInto('outbox')
    .values(
      mails.map((mail) => ({
        template: mail.template,
        recipient: mail.recipient,
        vendor_id: mail.vendorId,
        params: JSON.stringify(mail.params),
        next_attempt_at: now,
        created_at: now,
      })),
    )
    .execute();
}

/**
 * Queues a deal's digest unless one is already waiting: the unique index on
 * pending digests (params->>'dealId') makes a burst of corrections join the
 * one digest already queued.
 */
export async function insertDigestOnce(db: Executor, now: Date, at: Date, digest: { vendorId: string; dealId: string; recipient: string }): Promise<void> {
  await sql`
    INSERT INTO outbox (vendor_id, template, recipient, params, next_attempt_at, created_at)
    VALUES (${digest.vendorId}, 'digest', ${digest.recipient}, ${JSON.stringify({ dealId: digest.dealId })}::jsonb, ${at}, ${now})
    ON CONFLICT ((params->>'dealId')) WHERE template = 'digest' AND status = 'pending' AND attempts = 0 DO NOTHING
  `.execute(db);
}

/**
 * Claims up to `limit` due mails, oldest first, in one statement: rows locked
 * by another worker are skipped, the claimed ones are leased until
 * `leaseUntil` (so no one else takes them meanwhile) and their attempt counted.
 */
export async function claimDue(db: Executor, now: Date, leaseUntil: Date, limit: number): Promise<OutboxRow[]> {
  const rows = await db
    // MATERIALIZED: the locking subquery runs exactly once, whatever plan the update gets.
    .with(
      (cte) => cte('due').materialized(),
      (q) => q.selectFrom('outbox').select('id').where('status', '=', 'pending').where('next_attempt_at', '<=', now).orderBy('id').limit(limit).forUpdate().skipLocked(),
    )
    .updateTable('outbox')
    .from('due')
    .set({ next_attempt_at: leaseUntil, attempts: sql`outbox.attempts + 1` })
    .whereRef('outbox.id', '=', 'due.id')
    .returning(['outbox.id', 'outbox.template', 'outbox.recipient', 'outbox.vendor_id', 'outbox.params', 'outbox.attempts'])
    .execute();
  return rows.sort((a, b) => a.id - b.id);
}

/** Gives claimed but unsent rows back, as if never claimed. */
export async function release(db: DB, now: Date, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('outbox')
    .set({ next_attempt_at: now, attempts: sql`attempts - 1` })
    .where('id', 'in', ids)
    .where('status', '=', 'pending')
    .execute();
}

export async function markHandled(db: DB, id: number, now: Date, cancelled: boolean): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ status: 'sent', sent_at: now, last_error: cancelled ? 'cancelled: no longer applicable' : null })
    .where('id', '=', id)
    .execute();
}

/** Not yet: due again at `until`, and this attempt does not count. */
export async function defer(db: DB, id: number, until: Date): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ next_attempt_at: until, attempts: sql`attempts - 1` })
    .where('id', '=', id)
    .execute();
}

export async function markAttemptFailed(db: DB, id: number, failed: boolean, reason: string, retryAt: Date): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ status: failed ? 'failed' : 'pending', last_error: reason, next_attempt_at: retryAt })
    .where('id', '=', id)
    .execute();
}
