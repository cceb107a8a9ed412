// Outbound webhooks (Standard Webhooks v1): the endpoints a workspace
// registers, and one delivery row per event and endpoint, written in the same
// transaction as the change that causes it and sent by a worker with retries.
//
// Signing secrets rest encrypted (server/lib/crypto.ts); during a rotation the
// previous one is kept, also encrypted, until previous_secret_until. A
// delivery's message_id is the `webhook-id` header: one per event, the same on
// every retry and resend, so receivers can drop duplicates.
import { type Kysely, sql } from 'kysely';

const statements = [
  `CREATE TABLE webhook_endpoints (
     id uuid NOT NULL,
     vendor_id uuid NOT NULL REFERENCES vendors (id),
     url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
     description text CHECK (length(description) <= 200),
     kind text NOT NULL DEFAULT 'standard' CHECK (kind IN ('standard', 'slack')),
     events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 32),
     enabled boolean NOT NULL DEFAULT true,
     disabled_reason text CHECK (length(disabled_reason) <= 300),
     secret text NOT NULL,
     previous_secret text,
     previous_secret_until timestamptz,
     created_at timestamptz NOT NULL,
     updated_at timestamptz NOT NULL,
     PRIMARY KEY (vendor_id, id)
   )`,
  `CREATE TABLE webhook_deliveries (
     id uuid NOT NULL,
     -- Insertion order: the keyset of a delivery list, newest first.
     seq bigint GENERATED ALWAYS AS IDENTITY,
     vendor_id uuid NOT NULL,
     endpoint_id uuid NOT NULL,
     event_type text NOT NULL,
     message_id text NOT NULL CHECK (message_id ~ '^msg_[A-Za-z0-9_-]{8,64}$'),
     payload jsonb NOT NULL,
     status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
     attempts integer NOT NULL DEFAULT 0,
     last_status_code integer,
     last_error text CHECK (length(last_error) <= 300),
     created_at timestamptz NOT NULL,
     next_attempt_at timestamptz NOT NULL,
     sent_at timestamptz,
     PRIMARY KEY (vendor_id, id),
     FOREIGN KEY (vendor_id, endpoint_id) REFERENCES webhook_endpoints (vendor_id, id) ON DELETE CASCADE
   )`,
  // The worker's claim: pending rows by due time.
  `CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
  // An endpoint's deliveries, newest first (the API's keyset and the settings page).
  `CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (vendor_id, endpoint_id, seq DESC)`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
