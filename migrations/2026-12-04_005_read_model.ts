// The read model: each deal's current state, per deal and per concern, and
// every corrected field, kept in step with the signals (the append-only
// source of truth) by the transaction that writes them. Lists, pages and
// insights read these tables; nothing recomputes a deal from raw history on
// a read. The tables are filled for existing deals when the app starts
// (server/readmodel, rebuild of missing rows) and by `npm run rebuild-read-model`.
import { type Kysely, sql } from 'kysely';

const statements = [
  `CREATE TABLE deal_state (
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     -- Copied from deals, so a list filters and sorts on one table.
     buyer_name text NOT NULL,
     stage text NOT NULL,
     started_on date NOT NULL,
     -- Derived from claims, stakeholders and signals (server/deals/tracking.ts).
     concerns_open integer NOT NULL,
     corrections integer NOT NULL,
     checkpoint text NOT NULL CHECK (checkpoint IN ('ready', 'open', 'overridden')),
     gaps jsonb NOT NULL,
     override jsonb,
     no_security_stakeholder boolean NOT NULL,
     awaiting_confirmation jsonb NOT NULL,
     -- The email domains of the people the vendor added (rules.buyerDomains).
     buyer_domains jsonb NOT NULL,
     first_security_week integer,
     first_correction_week integer,
     stakeholders integer NOT NULL,
     signals integer NOT NULL,
     last_activity_at timestamptz NOT NULL,
     PRIMARY KEY (vendor_id, deal_id),
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id)
   )`,
  // One index per sort of the deal list; the id breaks ties so a cursor is exact.
  `CREATE INDEX deal_state_activity_idx ON deal_state (vendor_id, last_activity_at, deal_id)`,
  `CREATE INDEX deal_state_started_idx ON deal_state (vendor_id, started_on, deal_id)`,
  `CREATE INDEX deal_state_open_idx ON deal_state (vendor_id, concerns_open, deal_id)`,
  `CREATE INDEX deal_state_corrections_idx ON deal_state (vendor_id, corrections, deal_id)`,
  `CREATE INDEX deal_state_buyer_idx ON deal_state (vendor_id, buyer_name, deal_id)`,
  `CREATE INDEX deal_state_stage_idx ON deal_state (vendor_id, stage)`,

  `CREATE TABLE deal_concern_state (
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     concern text NOT NULL,
     claim_revision integer NOT NULL,
     status text NOT NULL CHECK (status IN ('corrected', 'confirmed', 'not_mine', 'stale', 'silent')),
     -- A confirm or correct on the current claim from the buyer's security team, whose answers count.
     substantive boolean NOT NULL,
     -- Counted people's latest answers on the current claim, and how many of them correct it.
     answers integer NOT NULL,
     corrections integer NOT NULL,
     PRIMARY KEY (vendor_id, deal_id, concern),
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id)
   )`,

  `CREATE TABLE correction_fields (
     vendor_id uuid NOT NULL,
     signal_id bigint NOT NULL,
     field text NOT NULL,
     deal_id uuid NOT NULL,
     concern text NOT NULL,
     stakeholder_id uuid NOT NULL,
     kind text NOT NULL,
     claimed jsonb,
     corrected jsonb,
     week integer NOT NULL,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (vendor_id, signal_id, field),
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id)
   )`,
  `CREATE INDEX correction_fields_concern_idx ON correction_fields (vendor_id, concern, field)`,
  `CREATE INDEX correction_fields_deal_idx ON correction_fields (vendor_id, deal_id)`,

  // Corrected fields of the corrections already recorded (later ones are written with their signal).
  `INSERT INTO correction_fields (vendor_id, signal_id, field, deal_id, concern, stakeholder_id, kind, claimed, corrected, week, created_at)
     SELECT s.vendor_id, s.id, c->>'field', s.deal_id, s.concern, s.stakeholder_id, s.kind, c->'claimed', c->'corrected', s.week, s.created_at
       FROM signals s CROSS JOIN LATERAL jsonb_array_elements(s.changes) c
      WHERE s.type = 'answer' AND s.verdict = 'correct'
     ON CONFLICT DO NOTHING`,

  // Each person's latest answer on each concern: what the grid, the tallies and every refresh read, at most
  // people × concerns rows a deal, never the deal's whole history. Written with each answer.
  `CREATE TABLE latest_answers (
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     stakeholder_id uuid NOT NULL,
     concern text NOT NULL,
     signal_id bigint NOT NULL,
     verdict text NOT NULL,
     kind text,
     claim_revision integer NOT NULL,
     created_at timestamptz NOT NULL,
     -- The week of this person's first answer on the concern, and of their first correction of it.
     first_week integer NOT NULL,
     first_correction_week integer,
     PRIMARY KEY (vendor_id, deal_id, stakeholder_id, concern),
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id)
   )`,
  `INSERT INTO latest_answers (vendor_id, deal_id, stakeholder_id, concern, signal_id, verdict, kind, claim_revision, created_at, first_week, first_correction_week)
     SELECT DISTINCT ON (vendor_id, deal_id, stakeholder_id, concern) vendor_id, deal_id, stakeholder_id, concern, id, verdict, kind, claim_revision, created_at,
            min(week) OVER w, min(week) FILTER (WHERE verdict = 'correct') OVER w
       FROM signals WHERE type = 'answer'
     WINDOW w AS (PARTITION BY vendor_id, deal_id, stakeholder_id, concern)
      ORDER BY vendor_id, deal_id, stakeholder_id, concern, id DESC`,
  // A deal's signals of one type, newest first (hand-overs, corrections, overrides) without reading its answers.
  `CREATE INDEX signals_deal_type_idx ON signals (vendor_id, deal_id, type, id DESC)`,
  // Invitations not delivered yet, for the deal page, without reading every mail ever sent.
  `CREATE INDEX outbox_unsent_invites_idx ON outbox (vendor_id) WHERE template = 'invite' AND status <> 'sent'`,
  // The mail worker claims the oldest pending mail first, without walking past every mail already sent.
  `CREATE INDEX outbox_pending_id_idx ON outbox (id) WHERE status = 'pending'`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
