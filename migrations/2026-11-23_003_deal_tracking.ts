// Deal tracking: delegation, claim changes, checkpoint overrides and stage
// changes become signals; deals get stages, a reminder cadence, pauses and
// the champion's view; correction digests are batched per deal.
import { type Kysely, sql } from 'kysely';

const statements = [
  `ALTER TABLE signals DROP CONSTRAINT signals_type_check`,
  `ALTER TABLE signals ADD CONSTRAINT signals_type_check
     CHECK (type IN ('answer', 'delegation', 'claim_change', 'checkpoint_override', 'stage_change'))`,
  // The colleague a concern was handed to, and the vendor user behind a vendor-side signal.
  `ALTER TABLE signals ADD COLUMN target_stakeholder_id uuid`,
  `ALTER TABLE signals ADD COLUMN actor_user_id uuid`,
  `ALTER TABLE signals ADD CONSTRAINT signals_target_fkey
     FOREIGN KEY (vendor_id, target_stakeholder_id) REFERENCES stakeholders (vendor_id, id)`,
  `ALTER TABLE signals ADD CONSTRAINT signals_delegation_check
     CHECK (type <> 'delegation' OR (stakeholder_id IS NOT NULL AND target_stakeholder_id IS NOT NULL AND concern IS NOT NULL))`,
  `ALTER TABLE signals ADD CONSTRAINT signals_claim_change_check
     CHECK (type <> 'claim_change' OR (concern IS NOT NULL AND claim_revision IS NOT NULL))`,
  `ALTER TABLE signals ADD CONSTRAINT signals_override_check
     CHECK (type <> 'checkpoint_override' OR length(coalesce(comment, '')) > 0)`,
  `CREATE INDEX signals_target_idx ON signals (vendor_id, target_stakeholder_id) WHERE target_stakeholder_id IS NOT NULL`,

  `ALTER TABLE deals ADD CONSTRAINT deals_stage_check
     CHECK (stage IN ('discovery', 'evaluation', 'business_case', 'negotiation', 'closed_won', 'closed_lost'))`,
  `ALTER TABLE deals ADD COLUMN reminder_days integer[] NOT NULL DEFAULT '{3,7}'
     CHECK (cardinality(reminder_days) <= 3)`,
  `ALTER TABLE deals ADD COLUMN reminders_paused boolean NOT NULL DEFAULT false`,
  `ALTER TABLE deals ADD COLUMN share_corrections boolean NOT NULL DEFAULT false`,
  // Corrections up to this signal id have been mailed to the deal owner.
  `ALTER TABLE deals ADD COLUMN digest_through bigint NOT NULL DEFAULT 0`,
  `ALTER TABLE deals ADD COLUMN digest_sent_at timestamptz`,

  `ALTER TABLE stakeholders ADD COLUMN reminders_paused boolean NOT NULL DEFAULT false`,
  `ALTER TABLE stakeholders ADD COLUMN reminders_sent integer NOT NULL DEFAULT 0`,
  `ALTER TABLE stakeholders ADD CONSTRAINT stakeholders_delegated_by_fkey
     FOREIGN KEY (vendor_id, delegated_by) REFERENCES stakeholders (vendor_id, id)`,

  // At most one digest waiting per deal: a burst of corrections joins it. A
  // digest being sent (attempts > 0) cannot be joined: its composer has
  // already read its corrections, so a new one queues the next digest.
  `CREATE UNIQUE INDEX outbox_one_waiting_digest ON outbox ((params->>'dealId'))
     WHERE template = 'digest' AND status = 'pending' AND attempts = 0`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
