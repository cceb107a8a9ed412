// Deals whose read model waits for a refresh. An answer marks its deal here
// (one row per answer, so answers on one deal never wait for each other)
// instead of recomputing the deal's state in the respondent's request: work
// that grows with the deal's people and answers. A background refresher, and
// any read of the deal or of its workspace's deal list, takes the marks it
// can see and brings deal_state up to date.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE deal_state_dirty (
              vendor_id uuid NOT NULL,
              deal_id uuid NOT NULL,
              signal_id bigint NOT NULL,
              marked_at timestamptz NOT NULL,
              PRIMARY KEY (vendor_id, deal_id, signal_id)
            )`.execute(db);
  // No foreign key to deals, on purpose: a mark only says "refresh this deal" (deals are never deleted), and
  // checking the key would take a share lock on the deal's row in every answer's transaction; many answers at
  // once on a deal make PostgreSQL keep a list of that row's lockers (a multixact) for each of them.
  await sql`CREATE INDEX deal_state_dirty_marked_idx ON deal_state_dirty (marked_at)`.execute(db);
  // Each answer rewrites the person's row in latest_answers: room on each page lets the new
  // version stay on it (a HOT update, no new index entry), so re-answers do not bloat the table.
  await sql`ALTER TABLE latest_answers SET (fillfactor = 70)`.execute(db);
}
