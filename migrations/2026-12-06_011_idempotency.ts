// Idempotency-Key on API POSTs: the first answer to a key is kept for 24 hours
// per API key, so a client that retries (a timeout, a dropped connection)
// gets that answer again instead of creating the thing twice.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE idempotency_keys (
              vendor_id uuid NOT NULL REFERENCES vendors(id),
              api_key_id uuid NOT NULL,
              key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
              -- What was asked: method, route and body, hashed; the same key with another request is refused.
              request_hash text NOT NULL,
              -- Which request holds the key: only it records the answer or lets the key go.
              holder uuid NOT NULL,
              -- Null while the first request is being answered.
              status_code smallint,
              content_type text,
              -- Sealed (server/lib/crypto.ts): an answer may carry a secret shown once, such as a webhook's.
              response_body text,
              created_at timestamptz NOT NULL,
              PRIMARY KEY (vendor_id, api_key_id, key),
              FOREIGN KEY (vendor_id, api_key_id) REFERENCES api_keys (vendor_id, id)
            )`.execute(db);
  await sql`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`.execute(db);
}
