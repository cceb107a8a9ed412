// One Kysely instance over either a PostgreSQL pool (pg) or embedded PGlite.
// Both return the same JS types: int8 and count(*) as numbers, date as
// 'YYYY-MM-DD' strings, timestamptz as Date, jsonb parsed.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider, type PostgresPool, type PostgresPoolClient, type RawBuilder, type Transaction } from 'kysely';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { migrations } from '../../migrations/index.js';
import type { Database } from './schema.js';
import { preparedCluster, seedDataDir } from './pglite-seed.js';

export type DB = Kysely<Database>;
/** What a repository function takes first: the database, or the transaction the route handler opened. */
export type Executor = DB | Transaction<Database>;
export type Trx = Transaction<Database>;
/** A piece of SQL one repository hands another to run inside its query (typed by what it yields). */
export type SqlFragment<T> = RawBuilder<T>;

/**
 * Runs one unit of work in a transaction. Route handlers (and the worker)
 * open it and pass `trx` down; services and repositories never open one.
 */
export function transaction<T>(db: DB, work: (trx: Trx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    finishers.set(trx, new Map());
    const result = await work(trx);
    // Work registered with beforeCommit runs last, once per key, with every write of the transaction in view.
    const pending = finishers.get(trx);
    while (pending?.size) {
      const [key, finish] = pending.entries().next().value!;
      pending.delete(key);
      await finish(trx);
    }
    return result;
  });
}

const finishers = new WeakMap<Trx, Map<string, (trx: Trx) => Promise<void>>>();

/**
 * Runs `finish` once just before the transaction that `trx` belongs to
 * commits, however many times it is registered under the same key. Returns
 * false when `trx` is not a transaction opened by transaction() (the caller
 * must then do the work itself).
 */
export function beforeCommit(trx: Executor, key: string, finish: (trx: Trx) => Promise<void>): boolean {
  const pending = trx.isTransaction ? finishers.get(trx as Trx) : undefined;
  if (!pending) return false;
  if (!pending.has(key)) pending.set(key, finish);
  return true;
}

export interface DatabaseHandle {
  db: DB;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

const INT8 = 20;
const DATE = 1082;
const NUMERIC = 1700;

/**
 * How long PostgreSQL work may take before it counts as "the database is
 * unavailable". Without these a stalled network (packets dropped, no reset)
 * holds every request, and the pooled connection it uses, for the ~15
 * minutes TCP takes to give up.
 */
export interface PostgresTimeouts {
  /** The server cancels a statement running longer than this (statement_timeout). */
  statementTimeoutMs?: number;
  /**
   * The client stops waiting for an answer after this (pg's query_timeout): the
   * server could not even say it cancelled, so the connection is thrown away.
   * Defaults to the statement timeout plus 5 seconds.
   */
  queryTimeoutMs?: number;
  /** The server ends a session left idle inside a transaction for this long. */
  idleInTransactionMs?: number;
  /** Opening a connection, or waiting for a free one in the pool. */
  connectTimeoutMs?: number;
  /** TCP keep-alive probes start after a connection has been quiet this long. */
  keepAliveDelayMs?: number;
}

const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;

export function connectPostgres(url: string, poolSize = 10, timeouts: PostgresTimeouts = {}): DatabaseHandle {
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
      if (oid === DATE) return (v: string) => v;
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
  const statementTimeoutMs = timeouts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types,
    connectionTimeoutMillis: timeouts.connectTimeoutMs ?? 5_000,
    // Sent as startup parameters: the server enforces these two itself.
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionMs ?? 30_000,
    query_timeout: timeouts.queryTimeoutMs ?? statementTimeoutMs + 5_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: timeouts.keepAliveDelayMs ?? 10_000,
  });
  // A client that loses its connection emits 'error'; without a listener that
  // would crash the process. Queries in flight still get the error, and the
  // pool replaces the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: discardingTimedOut(pool) }) });
  return { db, kind: 'postgres', close: () => db.destroy() };
}

/**
 * Marks a statement, by a comment at its start, to be sent as a named
 * prepared statement on PostgreSQL: parsed and planned once per connection,
 * not on every run. For the few statements every respondent request runs,
 * whose planning (joins and subqueries) costs more than running them. The
 * SQL of a name must never change while the process runs; embedded
 * PostgreSQL ignores the mark.
 */
export const preparedAs = (name: string): string => `/* prepared:${name} */ `;
const PREPARED = /^\/\* prepared:([a-z0-9-]+) \*\//;

/**
 * The pool as Kysely sees it, with two changes: statements marked with
 * preparedAs() are sent as named prepared statements; and one more. When pg gives up waiting for
 * an answer (query_timeout) it rejects the query but keeps the connection,
 * still waiting for that answer, so the next query on it would wait too; and
 * Kysely releases a connection without saying anything went wrong. Here a
 * client whose query timed out fails its later queries at once (a
 * transaction's rollback, say) and is released with the error, which makes
 * the pool close it (pg destroys the socket of a client ended mid-query) and
 * open a fresh one when needed.
 */
function discardingTimedOut(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      let timedOut: Error | undefined;
      const query = async (sql: string, parameters: readonly unknown[]) => {
        if (timedOut) throw timedOut;
        try {
          const name = PREPARED.exec(sql)?.[1];
          // A named statement is parsed and planned once per connection, then only bound and run.
          if (name) return await client.query({ name, text: sql, values: [...parameters] });
          return await client.query(sql, [...parameters]);
        } catch (err) {
          if (isReadTimeout(err)) timedOut = err;
          throw err;
        }
      };
      // Kysely only calls query(sql, parameters): the cursor form needs a cursor class, which we never configure.
      return { query, release: () => client.release(timedOut) } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}

/** pg's own error when query_timeout passes without an answer. */
const isReadTimeout = (err: unknown): err is Error => err instanceof Error && err.message === 'Query read timeout';

/**
 * Embedded PostgreSQL in `dir` (or in memory when dir is undefined). A lock
 * file keeps a second process from opening the same data directory. A new
 * data directory starts as a copy of the prepared database (pglite-seed.ts).
 */
export async function openPglite(dir: string | undefined): Promise<DatabaseHandle> {
  let release = () => {};
  let dataDir: string | undefined;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    release = takeLock(join(dir, 'portal.lock'));
    dataDir = join(dir, 'pgdata');
    if (!existsSync(dataDir)) {
      try {
        seedDataDir(dataDir, await prepareEmbeddedDatabase());
      } catch (err) {
        // Say node_modules is read-only: PGlite runs initdb itself, as slowly as ever.
        console.warn(`No prepared database to copy (${(err as Error).message}); initialising a new one, which takes a few seconds.`);
      }
    }
  }
  let started;
  try {
    started = await startPglite(dataDir);
  } catch (err) {
    release();
    throw err;
  }
  const { db, pglite } = started;
  return {
    db,
    kind: 'pglite',
    async close() {
      await db.destroy(); // the dialect closes PGlite
      if (!pglite.closed) await pglite.close();
      release();
    },
  };
}

/** The prepared database that new data directories copy; made (initdb, then every migration) when missing. */
export function prepareEmbeddedDatabase(): Promise<string> {
  return preparedCluster(migrationsFingerprint(), async (dataDir) => {
    const { db, pglite } = await startPglite(dataDir);
    try {
      await migrateToLatest(db);
    } finally {
      await db.destroy();
      if (!pglite.closed) await pglite.close(); // a clean shutdown: a copy starts without recovery
    }
  });
}

/** PGlite on a folder (or in memory), with our type parsers, and the Kysely over it. */
async function startPglite(dataDir: string | undefined): Promise<{ db: DB; pglite: PGlite }> {
  const [{ PGlite, types }, { PGliteDialect }] = await Promise.all([import('@electric-sql/pglite'), import('kysely-pglite-dialect')]);
  const pglite = new PGlite({
    dataDir,
    // PostgreSQL's default 128 MB of shared buffers are all touched at start, inside this
    // process; 16 MB is plenty for one workspace's data, and the OS caches the files anyway.
    startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'],
    parsers: { [types.INT8]: (v: string) => Number(v), [types.DATE]: (v: string) => v, [NUMERIC]: (v: string) => Number(v) },
  });
  await pglite.waitReady;
  return { db: new Kysely<Database>({ dialect: new PGliteDialect(pglite) }), pglite };
}

/**
 * Every file of the migrations folder, names and contents (their SQL lives in
 * module-level constants, out of reach from here): a prepared database made
 * with other migrations, or with an earlier draft of one, is never used.
 */
function migrationsFingerprint(): string {
  const folder = fileURLToPath(new URL('../../migrations/', import.meta.url)); // from server/db/ or dist/server/db/
  const hash = createHash('sha256');
  for (const file of readdirSync(folder).sort()) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(folder, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

export class LockedError extends Error {
  override name = 'LockedError';
}

/** Locks this process holds, so a second open in the same process is refused too. */
const heldLocks = new Set<string>();

function takeLock(path: string): () => void {
  const absolute = resolve(path);
  if (heldLocks.has(absolute)) {
    throw new LockedError(`The data directory is already open in this process (${absolute}).`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(absolute, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldLocks.add(absolute);
      return () => {
        heldLocks.delete(absolute);
        rmSync(absolute, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(absolute, 'utf8').trim());
      // Our own pid in a lock we do not hold is left over from an earlier run
      // (containers start as the same pid every time): stale, like a dead pid.
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new LockedError(`The data directory is in use by process ${holder} (${absolute}). Stop that process first, or set DATA_DIR to another directory.`);
      }
      rmSync(absolute, { force: true });
    }
  }
  throw new LockedError(`Could not take the lock ${absolute}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  if (await upToDate(db)) return;
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const name = failed ? ` (${failed.migrationName})` : '';
    throw new Error(`Migration failed${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Whether exactly our migrations have run: the usual case at start, answered
 * in two small queries where the Migrator would first introspect every table
 * (a few hundred ms on a freshly opened PGlite). Anything else (a new
 * migration, or one this code does not know) goes to the Migrator.
 */
async function upToDate(db: Kysely<any>): Promise<boolean> {
  const table = await sql<{ t: string | null }>`select to_regclass('kysely_migration')::text as t`.execute(db);
  if (!table.rows[0]?.t) return false;
  const done = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  const names = new Set(done.rows.map((r) => r.name));
  return names.size === Object.keys(migrations).length && Object.keys(migrations).every((name) => names.has(name));
}

/**
 * SQLSTATE classes and socket errors that mean "the database is unreachable, or
 * too slow to answer", not "the query is wrong". 57014 is a cancelled statement:
 * we never cancel our own, so it is statement_timeout (or an operator). 25P03
 * ends a session left idle in a transaction (idle_in_transaction_session_timeout).
 */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '57014', '53300', '25P03']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  // pg's client-side errors have no code: a lost connection, no connection (or no free one in the pool) in time, no answer in time.
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(e.message ?? '');
}

/** A cheap round trip, for readiness checks. */
export async function ping(db: DB, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('ping timed out')), timeoutMs);
    });
    await Promise.race([sql`select 1`.execute(db), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
