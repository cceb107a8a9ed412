// A new embedded data directory starts as a copy of the prepared database
// (server/db/pglite-seed.ts) rather than running initdb, carries every
// migration, and serves a sign-up from the first request; started again, it
// is the same database with the same data. The prepared copy is made first
// when this installation has none yet (npm install normally makes it).
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { migrations } from '../migrations/index.js';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { migrateToLatest, openPglite, prepareEmbeddedDatabase, type DB } from '../server/db/index.js';
import { ManualClock } from '../server/lib/clock.js';
import type { MailMessage } from '../server/mail/transport.js';
import { openDatabase } from '../server/runtime.js';
import { guard } from './helpers/db.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { spendSignInLink } from './helpers/vendor.js';

/** initdb gives each cluster a random system identifier: the first 8 bytes of global/pg_control. */
const identifierIn = (dataDir: string) =>
  readFileSync(join(dataDir, 'global', 'pg_control'))
    .readBigUInt64LE(0)
    .toString();

async function identifierOf(db: DB): Promise<string> {
  const { rows } = await sql<{ id: string }>`select system_identifier::text as id from pg_control_system()`.execute(db);
  return rows[0].id;
}

/** Tables, columns, indexes and constraints, as text: what two databases must share to be the same schema. */
async function schemaOf(db: DB): Promise<string[]> {
  const { rows } = await sql<{ line: string }>`
    select format('column %s.%s %s %s', table_name, column_name, data_type, is_nullable) as line
      from information_schema.columns where table_schema = current_schema()
    union all
    select format('index %s', indexdef) from pg_indexes where schemaname = current_schema()
    union all
    select format('constraint %s %s', conname, pg_get_constraintdef(oid)) from pg_constraint
     where connamespace = current_schema()::regnamespace
    order by 1`.execute(db);
  return rows.map((r) => r.line);
}

async function appliedMigrations(db: DB): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((r) => r.name);
}

t.test('a fresh data directory is a migrated copy of the prepared database, and serves a sign-up', async (t) => {
  const prepared = await prepareEmbeddedDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'pp-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dir, PUBLIC_URL: 'http://portal.test', LOG_LEVEL: 'silent' });

  // First start, on an empty DATA_DIR.
  const first = await openDatabase(config);
  let open = true;
  t.teardown(() => open && guard('close the embedded database', () => first.close()));
  t.equal(await identifierOf(first.db), identifierIn(prepared), 'its cluster is the prepared one (initdb would have made a new identifier)');
  t.same(await appliedMigrations(first.db), Object.keys(migrations).sort(), 'every migration is recorded as applied');
  // The copy was migrated when it was made; it must be what migrating today makes, drafts of migrations included.
  const today = await openPglite(undefined);
  t.teardown(() => guard('close the in-memory database', () => today.close()));
  await migrateToLatest(today.db);
  t.same(await schemaOf(first.db), await schemaOf(today.db), 'its schema is exactly what the migrations make now');
  t.notOk(existsSync(join(dir, 'pgdata.partial')), 'no half-made copy is left behind');

  const sent: MailMessage[] = [];
  const app = await buildApp({ config, db: first.db, clock: new ManualClock(), mail: { send: async (m) => void sent.push(m) }, sessionSecret: 'e'.repeat(40), logger: false });
  const signup = await app.inject({ method: 'POST', url: '/signup', ...form({ workspace: 'Fresh AI', name: 'Fay First', email: 'fay@fresh.test' }) });
  t.equal(signup.statusCode, 200, 'the sign-up form is accepted');
  await app.services.worker.runOnce();
  const link = sent.flatMap((m) => linksIn(m.text)).find((l) => l.includes('/auth/link/'));
  t.ok(link, 'the sign-up mail carries its link');
  const spent = await spendSignInLink(app, new URL(link!).pathname);
  t.equal(spent.statusCode, 303, 'and the link creates the workspace');
  await app.close();
  await first.close();
  open = false;

  // Second start, on the directory the first one left.
  const second = await openDatabase(config);
  t.teardown(() => guard('close the embedded database again', () => second.close()));
  t.equal(await identifierOf(second.db), identifierIn(prepared), 'started again, it is the same cluster');
  const vendors = await second.db.selectFrom('vendors').select('name').execute();
  t.same(
    vendors.map((v) => v.name),
    ['Fresh AI'],
    'with the workspace the first start created',
  );
});
