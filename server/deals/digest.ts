// The deal owner hears about corrections as they arrive, batched: a burst of
// answers joins the one digest already waiting for the deal, and a deal gets
// at most one digest per interval.
import { sql } from 'kysely';
import type { Clock } from '../lib/clock.js';
import { MINUTE } from '../lib/clock.js';
import type { Executor } from '../mail/outbox.js';

/** The person a deal's mail goes to: its creator, else the workspace's first admin. */
export async function dealOwner(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('deals as d')
    .innerJoin('users as u', 'u.vendor_id', 'd.vendor_id')
    .select(['u.email', 'u.name'])
    .where('d.vendor_id', '=', vendorId)
    .where('d.id', '=', dealId)
    .orderBy(sql`u.id = d.created_by`, 'desc')
    .orderBy(sql`u.role = 'admin'`, 'desc')
    .orderBy('u.created_at')
    .executeTakeFirst();
}

export const GATHER_MINUTES = 5;

/** Called in the transaction that records a correction. */
export async function queueDigest(trx: Executor, clock: Clock, vendorId: string, dealId: string, intervalMinutes: number) {
  const owner = await dealOwner(trx, vendorId, dealId);
  if (!owner) return;
  const now = clock.now();
  const deal = await trx.selectFrom('deals').select('digest_sent_at').where('vendor_id', '=', vendorId).where('id', '=', dealId).executeTakeFirstOrThrow();
  // Wait a little to gather a burst (someone answering concern after concern),
  // and never sooner than one interval after the last digest.
  const gather = new Date(now.getTime() + Math.min(GATHER_MINUTES, intervalMinutes) * MINUTE);
  const spaced = deal.digest_sent_at ? new Date(deal.digest_sent_at.getTime() + intervalMinutes * MINUTE) : gather;
  const at = spaced > gather ? spaced : gather;
  await sql`
    INSERT INTO outbox (vendor_id, template, recipient, params, next_attempt_at, created_at)
    VALUES (${vendorId}, 'digest', ${owner.email}, ${JSON.stringify({ dealId })}::jsonb, ${at}, ${now})
    ON CONFLICT ((params->>'dealId')) WHERE template = 'digest' AND status = 'pending' AND attempts = 0 DO NOTHING
  `.execute(trx);
}
