// The audit trail is read newest first a page at a time, optionally of one
// action (WHERE vendor_id = $1 AND action = $2 AND id < $last ORDER BY id DESC
// LIMIT n). The primary key (vendor_id, id) serves the unfiltered list; this
// index serves the filtered one, which would otherwise walk the workspace's
// whole trail to find a rare action.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX audit_log_action_idx ON audit_log (vendor_id, action, id)`.execute(db);
}
