// Exports stream a workspace's signals in id order, a batch at a time
// (WHERE vendor_id = $1 AND id > $last ORDER BY id LIMIT n): without this
// index each batch would walk the primary key through every other
// workspace's signals. One deal's signals already have signals_deal_idx.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX signals_vendor_id_idx ON signals (vendor_id, id)`.execute(db);
}
