// Sessions carry the user's epoch; signing out bumps it, so a copied session
// cookie stops working at once instead of living out its 12 hours.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN session_epoch integer NOT NULL DEFAULT 0`.execute(db);
}
