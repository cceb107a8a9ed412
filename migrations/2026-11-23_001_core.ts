// The core schema. Frozen once landed: change the schema with a new migration.
//
// Every tenant-owned table carries vendor_id, and references between tenant
// tables go through (vendor_id, id) pairs, so a row can never point at another
// vendor's row even if application code got an id wrong.
import { type Kysely, sql } from 'kysely';

const statements = [
  `CREATE TABLE vendors (
     id uuid PRIMARY KEY,
     name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
     created_at timestamptz NOT NULL
   )`,
  `CREATE TABLE users (
     id uuid PRIMARY KEY,
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     email text NOT NULL CHECK (email = lower(email)),
     name text NOT NULL,
     role text NOT NULL CHECK (role IN ('admin', 'member')),
     created_at timestamptz NOT NULL,
     UNIQUE (vendor_id, email),
     UNIQUE (vendor_id, id)
   )`,
  `CREATE INDEX users_email_idx ON users (email)`,
  // Sign-in and sign-up links. token_hash is set when the mail is actually
  // sent, so the raw token never rests anywhere, not even in the outbox.
  `CREATE TABLE login_tokens (
     id uuid PRIMARY KEY,
     purpose text NOT NULL CHECK (purpose IN ('signin', 'signup')),
     email text NOT NULL,
     user_id uuid REFERENCES users (id),
     payload jsonb,
     token_hash text UNIQUE,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     used_at timestamptz
   )`,
  `CREATE TABLE api_keys (
     id uuid PRIMARY KEY,
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     name text NOT NULL,
     prefix text NOT NULL,
     key_hash text NOT NULL UNIQUE,
     created_by uuid,
     created_at timestamptz NOT NULL,
     last_used_at timestamptz,
     revoked_at timestamptz,
     UNIQUE (vendor_id, id)
   )`,
  `CREATE TABLE app_secrets (
     name text PRIMARY KEY,
     value text NOT NULL
   )`,
  `CREATE TABLE profiles (
     vendor_id uuid PRIMARY KEY REFERENCES vendors (id),
     draft jsonb NOT NULL,
     updated_at timestamptz NOT NULL,
     updated_by uuid
   )`,
  `CREATE TABLE profile_versions (
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     version integer NOT NULL CHECK (version > 0),
     catalog_version text NOT NULL,
     claims jsonb NOT NULL,
     published_at timestamptz NOT NULL,
     published_by uuid,
     PRIMARY KEY (vendor_id, version)
   )`,
  `CREATE TABLE deals (
     id uuid PRIMARY KEY,
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     buyer_name text NOT NULL,
     buyer_domain text,
     started_on date NOT NULL,
     profile_version integer NOT NULL,
     stage text NOT NULL DEFAULT 'discovery',
     created_by uuid,
     created_at timestamptz NOT NULL,
     UNIQUE (vendor_id, id),
     FOREIGN KEY (vendor_id, profile_version) REFERENCES profile_versions (vendor_id, version)
   )`,
  `CREATE INDEX deals_vendor_created_idx ON deals (vendor_id, created_at DESC)`,
  // The claim a deal puts in front of the buyer, per concern. A change is a new
  // revision; signals name the revision they answered.
  `CREATE TABLE deal_claims (
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     concern text NOT NULL,
     revision integer NOT NULL CHECK (revision > 0),
     claim jsonb NOT NULL,
     narrative text NOT NULL DEFAULT '',
     tailored boolean NOT NULL DEFAULT false,
     created_at timestamptz NOT NULL,
     PRIMARY KEY (deal_id, concern, revision),
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id)
   )`,
  `CREATE TABLE stakeholders (
     id uuid PRIMARY KEY,
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     name text NOT NULL,
     email text NOT NULL CHECK (email = lower(email)),
     role text NOT NULL CHECK (role IN ('ciso', 'security', 'compliance', 'privacy', 'legal', 'champion', 'other')),
     source text NOT NULL DEFAULT 'vendor' CHECK (source IN ('vendor', 'delegated')),
     delegated_by uuid,
     created_at timestamptz NOT NULL,
     invited_at timestamptz,
     UNIQUE (vendor_id, id),
     UNIQUE (vendor_id, deal_id, email),
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id)
   )`,
  `CREATE TABLE stakeholder_links (
     id uuid PRIMARY KEY,
     vendor_id uuid NOT NULL,
     stakeholder_id uuid NOT NULL,
     token_hash text UNIQUE,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL,
     revoked_at timestamptz,
     last_sent_at timestamptz,
     FOREIGN KEY (vendor_id, stakeholder_id) REFERENCES stakeholders (vendor_id, id)
   )`,
  `CREATE INDEX stakeholder_links_stakeholder_idx ON stakeholder_links (vendor_id, stakeholder_id)`,
  // Signals are the product's memory: append-only, enforced by the database.
  `CREATE TABLE signals (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     vendor_id uuid NOT NULL,
     deal_id uuid NOT NULL,
     stakeholder_id uuid,
     type text NOT NULL CHECK (type IN ('answer')),
     concern text,
     claim_revision integer,
     verdict text CHECK (verdict IN ('confirm', 'correct', 'not_mine')),
     kind text CHECK (kind IN ('factual_error', 'requirement_gap', 'not_applicable')),
     comment text,
     changes jsonb NOT NULL DEFAULT '[]',
     week integer NOT NULL CHECK (week > 0),
     created_at timestamptz NOT NULL,
     FOREIGN KEY (vendor_id, deal_id) REFERENCES deals (vendor_id, id),
     FOREIGN KEY (vendor_id, stakeholder_id) REFERENCES stakeholders (vendor_id, id),
     CHECK (type <> 'answer' OR (stakeholder_id IS NOT NULL AND concern IS NOT NULL AND verdict IS NOT NULL)),
     CHECK ((verdict = 'correct') = (kind IS NOT NULL))
   )`,
  `CREATE INDEX signals_deal_idx ON signals (vendor_id, deal_id, id DESC)`,
  `CREATE FUNCTION signals_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     RAISE EXCEPTION 'signals are append-only: % is not allowed', TG_OP
       USING ERRCODE = 'insufficient_privilege';
   END $$`,
  `CREATE TRIGGER signals_no_update_delete BEFORE UPDATE OR DELETE ON signals
     FOR EACH ROW EXECUTE FUNCTION signals_are_append_only()`,
  `CREATE TRIGGER signals_no_truncate BEFORE TRUNCATE ON signals
     FOR EACH STATEMENT EXECUTE FUNCTION signals_are_append_only()`,
  // Mail waits here, written in the same transaction as the change that causes
  // it; a worker renders and sends it. params never hold a secret.
  `CREATE TABLE outbox (
     id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     vendor_id uuid REFERENCES vendors (id),
     template text NOT NULL,
     recipient text NOT NULL,
     params jsonb NOT NULL,
     status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at timestamptz NOT NULL,
     last_error text,
     created_at timestamptz NOT NULL,
     sent_at timestamptz
   )`,
  `CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending'`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
