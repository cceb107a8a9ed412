// The schema stays ready to be spread over many database nodes by tenant
// (Citus, distributed by vendor_id; see docs/scaling.md). Read from the
// catalogue of a migrated database, so every migration, landed or new, is
// checked:
//   - a tenant table (one with a vendor_id column) has vendor_id in its primary
//     key and in every unique key, since a node can only enforce uniqueness
//     within the rows it holds;
//   - a foreign key to a tenant table pairs vendor_id with vendor_id, so the
//     two rows always live on the same node.
// The keys that break the rule today are listed below, each with its reason;
// one that is fixed must leave the list, so the list stays the to-do list.
import t from 'tap';
import { sql } from 'kysely';
import { testDatabase } from './helpers/db.js';

/** Unique keys (by index name) on tenant tables without vendor_id, and why. */
const UNIQUE_WITHOUT_VENDOR: Record<string, string> = {
  users_pkey: 'random uuid; login_tokens.user_id references it (a sign-in starts before the vendor is known). users_vendor_id_id_key is the tenant key',
  api_keys_pkey: 'random uuid, from before the rule; api_keys_vendor_id_id_key is the tenant key',
  api_keys_key_hash_key: 'a Bearer key is looked up by its hash alone, before the vendor is known',
  deals_pkey: 'random uuid, from before the rule; deals_vendor_id_id_key is the tenant key',
  deal_claims_pkey: '(deal_id, concern, revision): deal ids are random uuids; from before the rule',
  stakeholders_pkey: 'random uuid, from before the rule; stakeholders_vendor_id_id_key is the tenant key',
  stakeholder_links_pkey: 'random uuid, from before the rule',
  stakeholder_links_token_hash_key: 'a personal link is looked up by its token’s hash alone: the link is all a respondent has',
  signals_pkey: 'an identity, from before the rule',
  member_invitations_token_hash_key: 'an invitation link is looked up by its token’s hash alone: the link is all the invited person has',
  sso_states_pkey: 'an SSO callback is looked up by its state alone: the identity provider returns nothing else of ours',
  outbox_pkey: 'an identity; the outbox also holds mail with no vendor (sign-up, sign-in), so it stays off the tenant nodes',
  outbox_one_waiting_digest: 'one waiting digest per deal id; the outbox stays off the tenant nodes (above)',
};

/** Foreign keys into tenant tables that do not pair vendor_id, and why. */
const FOREIGN_WITHOUT_VENDOR: Record<string, string> = {
  login_tokens_user_id_fkey: 'sign-in links are not vendor-scoped (they exist before a workspace does)',
};

t.test('tenant tables are keyed by vendor_id, and reference each other through it', async (t) => {
  const { db } = await testDatabase(t);

  const tenantTables = (
    await sql<{ name: string }>`
      select table_name as name from information_schema.columns
       where table_schema = current_schema() and column_name = 'vendor_id'`.execute(db)
  ).rows.map((r) => r.name);
  t.ok(tenantTables.includes('deals') && tenantTables.includes('signals'), `found the tenant tables: ${tenantTables.sort().join(', ')}`);

  // Every unique index (primary keys and unique constraints have one), with its key columns.
  const unique = (
    await sql<{ table: string; index: string; columns: string }>`
      select c.relname as "table", i.relname as "index",
             (select string_agg(coalesce(a.attname::text, '(expression)'), ', ' order by k.n)
                from unnest(ix.indkey::int2[]) with ordinality as k(attnum, n)
                left join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum) as "columns"
        from pg_index ix
        join pg_class c on c.oid = ix.indrelid
        join pg_class i on i.oid = ix.indexrelid
       where c.relnamespace = current_schema()::regnamespace and ix.indisunique`.execute(db)
  ).rows.filter((r) => tenantTables.includes(r.table));
  const keyless = unique.filter((r) => !r.columns.split(', ').includes('vendor_id'));
  for (const r of keyless) {
    t.ok(UNIQUE_WITHOUT_VENDOR[r.index], `${r.table} (${r.columns}) [${r.index}] lacks vendor_id: allowed only as a listed exception`);
  }
  for (const index of Object.keys(UNIQUE_WITHOUT_VENDOR)) {
    t.ok(
      keyless.some((r) => r.index === index),
      `listed exception ${index} still lacks vendor_id (once fixed, take it off the list)`,
    );
  }

  const foreign = (
    await sql<{ name: string; table: string; references: string; paired: boolean }>`
      select con.conname as name, c.relname as "table", f.relname as "references",
             exists (select 1 from unnest(con.conkey, con.confkey) as k(mine, theirs)
                       join pg_attribute x on x.attrelid = con.conrelid and x.attnum = k.mine
                       join pg_attribute y on y.attrelid = con.confrelid and y.attnum = k.theirs
                      where x.attname = 'vendor_id' and y.attname = 'vendor_id') as paired
        from pg_constraint con
        join pg_class c on c.oid = con.conrelid
        join pg_class f on f.oid = con.confrelid
       where con.contype = 'f' and c.relnamespace = current_schema()::regnamespace`.execute(db)
  ).rows.filter((r) => tenantTables.includes(r.references));
  t.ok(foreign.length > 0, 'found the foreign keys between tenant tables');
  const unpaired = foreign.filter((r) => !r.paired);
  for (const r of unpaired) {
    t.ok(FOREIGN_WITHOUT_VENDOR[r.name], `${r.table} → ${r.references} [${r.name}] does not pair vendor_id: allowed only as a listed exception`);
  }
  for (const name of Object.keys(FOREIGN_WITHOUT_VENDOR)) {
    t.ok(
      unpaired.some((r) => r.name === name),
      `listed exception ${name} still does not pair vendor_id (once fixed, take it off the list)`,
    );
  }
});
