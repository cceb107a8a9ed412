// Pipeline insight: what buyers' security teams correct across every deal.
// Deals gain a buyer segment (industry, region) and remember the checkpoint
// with which they first passed the gate into negotiation. The read model
// gains what insight aggregates in SQL, one small row per deal, concern,
// corrected field or person, each written by the deal's refresh
// (server/readmodel): never a scan of the signals on a request.
import { type Kysely, sql } from 'kysely';

const statements = [
  `ALTER TABLE deals ADD COLUMN industry text CHECK (industry IN
     ('financial_services', 'insurance', 'healthcare', 'public_sector', 'technology', 'retail', 'manufacturing', 'energy', 'other'))`,
  `ALTER TABLE deals ADD COLUMN region text CHECK (region ~ '^[A-Z_]{2,16}$')`,
  // How the alignment checkpoint stood when the deal first entered a gated stage: ready, or overridden in writing.
  `ALTER TABLE deals ADD COLUMN gate_checkpoint text CHECK (gate_checkpoint IN ('ready', 'overridden'))`,
  // Deals already past the gate: overridden when an override was recorded before their first gated move.
  `UPDATE deals d SET gate_checkpoint = CASE WHEN EXISTS (
       SELECT 1 FROM signals o WHERE o.vendor_id = d.vendor_id AND o.deal_id = d.id AND o.type = 'checkpoint_override' AND o.id < g.first_id)
     THEN 'overridden' ELSE 'ready' END
     FROM (SELECT vendor_id, deal_id, min(id) AS first_id FROM signals
            WHERE type = 'stage_change' AND changes->0->>'corrected' IN ('negotiation', 'closed_won')
            GROUP BY vendor_id, deal_id) g
    WHERE g.vendor_id = d.vendor_id AND g.deal_id = d.id`,

  // Copied from deals, so insight filters on one table.
  `ALTER TABLE deal_state ADD COLUMN industry text`,
  `ALTER TABLE deal_state ADD COLUMN region text`,
  `ALTER TABLE deal_state ADD COLUMN gate_checkpoint text`,
  // Whether someone of the buyer's security team whose answers count has been invited.
  `ALTER TABLE deal_state ADD COLUMN security_invited boolean NOT NULL DEFAULT false`,
  // The week the security team first confirmed or corrected a concern (a "not mine" is not an answer of theirs).
  `ALTER TABLE deal_state ADD COLUMN first_answer_week integer`,
  // The security team's latest answers on the current claims: per concern, one bit each (concerns: CONCERN_BIT),
  // whether one confirms or corrects it, and with which kinds; insight counts every concern of every deal from one
  // narrow row per deal, and the deal list's corrected_concern filter tests a bit.
  `ALTER TABLE deal_state ADD COLUMN team_answered smallint NOT NULL DEFAULT 0`,
  `ALTER TABLE deal_state ADD COLUMN team_confirmed smallint NOT NULL DEFAULT 0`,
  `ALTER TABLE deal_state ADD COLUMN team_corrected smallint NOT NULL DEFAULT 0`,
  `ALTER TABLE deal_state ADD COLUMN team_factual_error smallint NOT NULL DEFAULT 0`,
  `ALTER TABLE deal_state ADD COLUMN team_requirement_gap smallint NOT NULL DEFAULT 0`,
  `ALTER TABLE deal_state ADD COLUMN team_not_applicable smallint NOT NULL DEFAULT 0`,
  // Taken afresh by every write of a deal's read model: a workspace's highest one changes whenever any of its
  // deals' state does, so an insight computed at that version can be served again until then.
  `CREATE SEQUENCE deal_state_refresh_seq`,
  `ALTER TABLE deal_state ADD COLUMN refresh_seq bigint NOT NULL DEFAULT nextval('deal_state_refresh_seq')`,
  `CREATE INDEX deal_state_refresh_idx ON deal_state (vendor_id, refresh_seq)`,

  // A person's first invitation and every reminder they were sent: a resend restarts invited_at and the
  // reminder cadence (reminders_sent), but engagement measures from the first invitation.
  `ALTER TABLE stakeholders ADD COLUMN first_invited_at timestamptz`,
  `UPDATE stakeholders SET first_invited_at = invited_at`,
  `ALTER TABLE stakeholders ADD COLUMN reminders_total integer NOT NULL DEFAULT 0`,
  `UPDATE stakeholders SET reminders_total = reminders_sent`,

  // Each field the security team's current corrections change on a deal, once per value it is corrected to.
  `CREATE TABLE deal_field_state (
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     concern text NOT NULL,
     field text NOT NULL,
     claimed jsonb,
     corrected jsonb,
     kinds text[] NOT NULL,
     -- One row of each field a deal's corrections change carries the field's count: the kinds of all of its
     -- corrections on the deal, so counting deals per field needs no DISTINCT.
     first_of_field boolean NOT NULL,
     field_kinds text[] NOT NULL,
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id)
   )`,
  `CREATE INDEX deal_field_state_deal_idx ON deal_field_state (vendor_id, deal_id)`,

  // Each person on a deal, for engagement: their role, first invitation and reminders (copied from stakeholders,
  // so insight reads one narrow table), when they first confirmed or corrected a concern, and whether every
  // concern of theirs has their confirm or correct on its current claim.
  `CREATE TABLE person_state (
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     stakeholder_id uuid NOT NULL,
     role text NOT NULL,
     first_invited_at timestamptz,
     reminders_total integer NOT NULL,
     first_answered_at timestamptz,
     -- Days from the first invitation to the first confirm or correct (never below 0).
     answer_days double precision,
     answered_all boolean NOT NULL,
     PRIMARY KEY (vendor_id, deal_id, stakeholder_id),
     FOREIGN KEY (vendor_id, stakeholder_id) REFERENCES stakeholders (vendor_id, id)
   )`,

  // When the person first confirmed or corrected the concern (a "not mine" is not an answer of theirs).
  `ALTER TABLE latest_answers ADD COLUMN first_answered_at timestamptz`,
  `UPDATE latest_answers la SET first_answered_at = f.at
     FROM (SELECT vendor_id, deal_id, stakeholder_id, concern, min(created_at) AS at FROM signals
            WHERE type = 'answer' AND verdict <> 'not_mine' GROUP BY vendor_id, deal_id, stakeholder_id, concern) f
    WHERE f.vendor_id = la.vendor_id AND f.deal_id = la.deal_id AND f.stakeholder_id = la.stakeholder_id AND f.concern = la.concern`,

  // Profile suggestions: how many deals' evidence the vendor wants before one shows, and the ones dismissed.
  `ALTER TABLE vendors ADD COLUMN suggestion_min_deals integer NOT NULL DEFAULT 3 CHECK (suggestion_min_deals BETWEEN 1 AND 1000)`,
  `CREATE TABLE suggestion_dismissals (
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     key text NOT NULL,
     evidence_deals integer NOT NULL,
     dismissed_at timestamptz NOT NULL,
     PRIMARY KEY (vendor_id, key)
   )`,

  // Every deal's read model is computed again with the new columns and tables, by the start-up rebuild.
  `DELETE FROM deal_state`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
