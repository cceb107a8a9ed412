// A real, fresh, migrated PostgreSQL for one test file.
//
// Order of preference:
//   (a) a throwaway postgres:16-alpine container (testcontainers), only when a
//       Docker engine answers — skipped when TEST_DATABASE_URL is set or
//       TESTCONTAINERS=off;
//   (b) TEST_DATABASE_URL: a new database `pp_test_<hex>` on that server,
//       dropped WITH (FORCE) in teardown;
//   (c) embedded PGlite in memory.
//
// One container serves the whole process (tap runs each file in its own
// process); every testDatabase() call gets its own database inside it, and
// the container stops when the last of them is torn down.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectPostgres, migrateToLatest, openPglite, type DatabaseHandle } from '../../server/db/index.js';

/** Anything with tap's `teardown` (the root `t` or a subtest's `t`). */
export interface TapLike {
  teardown(fn: () => unknown): unknown;
}

export type DatabaseKind = 'testcontainers' | 'postgres-url' | 'pglite';

/** How long a Docker engine gets to answer before we decide there is none. */
const DOCKER_PROBE_MS = 3_000;
/** Pulling the image on a cold machine can take a while; a hung start cannot. */
const CONTAINER_START_MS = 120_000;

let kind: DatabaseKind | undefined;
let dockerDecision: Promise<boolean> | undefined;
let container: Promise<{ url: string; stop(): Promise<void> }> | undefined;
let containerUsers = 0;
const urls = new WeakMap<DatabaseHandle, string>();

/** Which backend testDatabase() used (or will try first) in this process, for diagnostics. */
export function databaseKind(): string {
  if (kind) return kind;
  if (process.env.TEST_DATABASE_URL) return 'postgres-url';
  return testcontainersDisabled() ? 'pglite' : 'undecided (testcontainers if Docker answers, else pglite)';
}

/** The connection URL of a database made by testDatabase(); undefined for PGlite. */
export function testDatabaseUrl(handle: DatabaseHandle): string | undefined {
  return urls.get(handle);
}

export async function testDatabase(t: TapLike): Promise<DatabaseHandle> {
  if (!testcontainersDisabled() && (await dockerAnswers())) {
    containerUsers++;
    let started: { url: string; stop(): Promise<void> };
    try {
      started = await startContainer();
    } catch (err) {
      containerUsers--;
      throw err;
    }
    kind = 'testcontainers';
    return databaseOnServer(t, started.url, async () => {
      if (--containerUsers === 0 && container) {
        container = undefined;
        await started.stop();
      }
    });
  }
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    kind = 'postgres-url';
    return databaseOnServer(t, url, async () => {});
  }
  kind = 'pglite';
  const handle = await openPglite(undefined);
  try {
    await migrateToLatest(handle.db);
  } catch (err) {
    await handle.close();
    throw err;
  }
  t.teardown(() => guard('close PGlite', () => handle.close()));
  return handle;
}

function testcontainersDisabled(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL) || process.env.TESTCONTAINERS?.toLowerCase() === 'off';
}

/** Asks testcontainers for a container runtime once per process, with a short deadline. */
function dockerAnswers(): Promise<boolean> {
  dockerDecision ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_MS, 'Docker did not answer');
      return true;
    } catch {
      // Typically "Could not find a working container runtime strategy".
      return false;
    }
  })();
  return dockerDecision;
}

function startContainer(): Promise<{ url: string; stop(): Promise<void> }> {
  container ??= (async () => {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const pending = new PostgreSqlContainer('postgres:16-alpine').start();
    try {
      const started = await withTimeout(pending, CONTAINER_START_MS, 'postgres:16-alpine did not start');
      return { url: started.getConnectionUri(), stop: async () => void (await started.stop()) };
    } catch (err) {
      // Should the start finish after all, do not leave the container behind.
      pending.then((c) => c.stop()).catch(() => {});
      throw err;
    }
  })().catch((err) => {
    container = undefined;
    throw err;
  });
  return container;
}

/** Creates `pp_test_<hex>` on the server at adminUrl, migrates it, and drops it in teardown. */
async function databaseOnServer(t: TapLike, adminUrl: string, afterDrop: () => Promise<void>): Promise<DatabaseHandle> {
  const name = `pp_test_${randomBytes(6).toString('hex')}`;
  try {
    await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  } catch (err) {
    await afterDrop().catch(() => {});
    throw err;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = connectPostgres(url.toString(), 5);
  urls.set(handle, url.toString());
  const drop = async () => {
    try {
      await handle.close();
    } finally {
      try {
        await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await afterDrop();
      }
    }
  };
  try {
    await migrateToLatest(handle.db);
  } catch (err) {
    await drop().catch(() => {});
    throw err;
  }
  t.teardown(() => guard(`drop database ${name}`, drop));
  return handle;
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * tap runs teardowns last-in first-out and stops at the first one that
 * rejects, which would leave later resources open and the process hanging.
 * So a failing teardown is reported and marks the run failed, but the others
 * still run.
 */
export async function guard(what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (err) {
    process.exitCode = 1;
    console.error(`test teardown failed (${what}):`, err);
  }
}
