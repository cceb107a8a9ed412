// One Kysely instance over either a PostgreSQL pool (pg) or embedded PGlite.
// Both return the same JS types: int8 and count(*) as numbers, date as
// 'YYYY-MM-DD' strings, timestamptz as Date, jsonb parsed.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider, type Transaction } from 'kysely';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import type { Database } from './schema.js';

export type DB = Kysely<Database>;
/** What a repository function takes first: the database, or the transaction the route handler opened. */
export type Executor = DB | Transaction<Database>;
export type Trx = Transaction<Database>;

/**
 * Runs one unit of work in a transaction. Route handlers (and the worker)
 * open it and pass `trx` down; services and repositories never open one.
 */
export function transaction<T>(db: DB, work: (trx: Trx) => Promise<T>): Promise<T> {
  return db.transaction().execute(work);
}

export interface DatabaseHandle {
  db: DB;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

const INT8 = 20;
const DATE = 1082;
const NUMERIC = 1700;

export function connectPostgres(url: string, poolSize = 10): DatabaseHandle {
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
      if (oid === DATE) return (v: string) => v;
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types, connectionTimeoutMillis: 5_000 });
  // A client that loses its connection emits 'error'; without a listener that
  // would crash the process. Queries in flight still get the error, and the
  // pool replaces the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', close: () => db.destroy() };
}

/**
 * Embedded PostgreSQL in `dir` (or in memory when dir is undefined). A lock
 * file keeps a second process from opening the same data directory.
 */
export async function openPglite(dir: string | undefined): Promise<DatabaseHandle> {
  const [{ PGlite, types }, { PGliteDialect }] = await Promise.all([import('@electric-sql/pglite'), import('kysely-pglite-dialect')]);
  let release = () => {};
  let dataDir: string | undefined;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    release = takeLock(join(dir, 'portal.lock'));
    dataDir = join(dir, 'pgdata');
  }
  const pglite = new PGlite({
    dataDir,
    parsers: { [types.INT8]: (v: string) => Number(v), [types.DATE]: (v: string) => v, [NUMERIC]: (v: string) => Number(v) },
  });
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
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
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const name = failed ? ` (${failed.migrationName})` : '';
    throw new Error(`Migration failed${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** SQLSTATE classes and socket errors that mean "the database is unreachable", not "the query is wrong". */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(e.message ?? '');
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
