// Delegation bounds: each person's depth in the delegation chain, and the
// vendor's confirmation, without which a delegate's answers do not count (see
// rules.ts: needsVendorConfirmation, answersCount). A confirmation is recorded
// as a signal too.
import { type Kysely, sql } from 'kysely';

const statements = [
  // When the vendor confirmed this person's answers as counting. People the vendor added are confirmed when added.
  `ALTER TABLE stakeholders ADD COLUMN confirmed_at timestamptz`,
  // 0 for people the vendor added, 1 for their delegates, and so on.
  `ALTER TABLE stakeholders ADD COLUMN delegation_depth smallint NOT NULL DEFAULT 0 CHECK (delegation_depth >= 0)`,
  `CREATE INDEX stakeholders_delegated_by_idx ON stakeholders (vendor_id, delegated_by) WHERE delegated_by IS NOT NULL`,

  `UPDATE stakeholders SET confirmed_at = created_at WHERE source = 'vendor'`,
  // Depth of the delegates already on deals (delegated_by always names an earlier person, so the chain ends).
  `WITH RECURSIVE chain (vendor_id, id, depth) AS (
     SELECT vendor_id, id, 0 FROM stakeholders WHERE delegated_by IS NULL
     UNION ALL
     SELECT s.vendor_id, s.id, c.depth + 1 FROM stakeholders s
       JOIN chain c ON s.vendor_id = c.vendor_id AND s.delegated_by = c.id
     WHERE c.depth < 100
   )
   UPDATE stakeholders s SET delegation_depth = chain.depth
     FROM chain WHERE s.vendor_id = chain.vendor_id AND s.id = chain.id AND chain.depth > 0`,
  // Delegates already on deals keep counting when they would need no confirmation today: inside the
  // domains of the people the vendor added to the deal, and not in the security team (ciso, security).
  `UPDATE stakeholders s SET confirmed_at = s.created_at
     WHERE s.source = 'delegated'
       AND s.role NOT IN ('ciso', 'security')
       AND EXISTS (SELECT 1 FROM stakeholders v
                   WHERE v.vendor_id = s.vendor_id AND v.deal_id = s.deal_id AND v.source = 'vendor'
                     AND substring(v.email from '@([^@]*)$') = substring(s.email from '@([^@]*)$'))`,

  `ALTER TABLE signals DROP CONSTRAINT signals_type_check`,
  `ALTER TABLE signals ADD CONSTRAINT signals_type_check
     CHECK (type IN ('answer', 'delegation', 'claim_change', 'checkpoint_override', 'stage_change', 'stakeholder_confirmed'))`,
  `ALTER TABLE signals ADD CONSTRAINT signals_confirmed_check
     CHECK (type <> 'stakeholder_confirmed' OR target_stakeholder_id IS NOT NULL)`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
