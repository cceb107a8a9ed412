// An invitation a security professional can trust: the workspace's web domain,
// named in every invitation, and the vendor's personal note to one person,
// shown in their invitation and its reminders.
import { type Kysely, sql } from 'kysely';

const statements = [
  // A bare host name, lower-cased (settings/service.ts checks it); null until an admin sets it.
  `ALTER TABLE vendors ADD COLUMN web_domain text
     CHECK (web_domain IS NULL OR (web_domain = lower(web_domain) AND length(web_domain) BETWEEN 3 AND 253))`,
  // Plain text the vendor wrote for this person's invitation (stakeholders/service.ts bounds it).
  `ALTER TABLE stakeholders ADD COLUMN invite_note text CHECK (invite_note IS NULL OR char_length(invite_note) <= 1000)`,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of statements) {
    await sql.raw(statement).execute(db);
  }
}
