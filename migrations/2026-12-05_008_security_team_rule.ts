// The buyer's security team grew from CISO and security to CISO, security,
// compliance and privacy (rules.SECURITY_TEAM). The read model holds each
// deal's checkpoint and risk as computed under the old rule: drop the rows of
// deals that have a compliance or privacy person, and the start-up rebuild
// (rebuildReadModel with onlyMissing) computes them again under the new one.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM deal_state ds WHERE EXISTS (
              SELECT 1 FROM stakeholders s
               WHERE s.vendor_id = ds.vendor_id AND s.deal_id = ds.deal_id AND s.role IN ('compliance', 'privacy'))`.execute(db);
}
