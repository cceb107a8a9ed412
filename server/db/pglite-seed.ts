// A new embedded database starts as a copy of a prepared one. Left to itself,
// PGlite runs initdb on first start in a second WebAssembly instance: about
// five seconds, and some 900 MiB at the peak; the migrations then take most of
// another second. So a database initialised and migrated to the latest is
// made once per installation (npm install runs scripts/prepare-pglite.ts, as
// does the Docker build; failing that, the first start makes it) and kept
// under node_modules/.cache. A new DATA_DIR gets a plain file copy of it
// (about 40 MB, a fraction of a second); migrations still run on start and
// find nothing to do. The copy's name carries the PGlite version (its data
// format) and a fingerprint of the migration files (migrationsFingerprint in
// index.ts), so a new or edited migration never meets a copy made without it.
//
// Why a folder rather than PGlite's loadDataDir tarball: loadDataDir reads
// the whole tarball into memory and unpacks it in JavaScript through the
// emscripten file system, which measured slower than a copy and left the
// process about 120 MiB larger. A copy made beside its target and renamed
// into place also never leaves a half-made data directory behind.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Prepared copies kept at most: a few fingerprints (say tsx's and the build's) in use at once. */
const KEEP = 3;

/** The folder holding the prepared copies: beside the installed PGlite, in node_modules/.cache. */
function cacheDir(): { dir: string; version: string } {
  // …/node_modules/@electric-sql/pglite/dist/index.js
  const pkg = join(dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))), '..');
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string };
  return { dir: join(pkg, '..', '..', '.cache', 'posture-portal'), version };
}

/**
 * The prepared database's folder for this `fingerprint`, made first by
 * `make(folder)` when there is none yet (seconds, once per installation).
 */
export async function preparedCluster(fingerprint: string, make: (dataDir: string) => Promise<void>): Promise<string> {
  const { dir, version } = cacheDir();
  const ready = join(dir, `pgdata-${version}-${fingerprint}`);
  if (existsSync(join(ready, 'PG_VERSION'))) return ready;
  // Built under a name of its own, so processes racing to make it never share a folder.
  const building = `${ready}.${process.pid}-${Date.now()}.tmp`;
  mkdirSync(dir, { recursive: true });
  try {
    await make(building);
    renameSync(building, ready);
  } catch (err) {
    // Another process may have finished first; theirs is as good as ours.
    if (!existsSync(join(ready, 'PG_VERSION'))) throw err;
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  prune(dir);
  return ready;
}

/** Makes `pgdata` (which must not exist yet) a copy of the prepared database in `source`. */
export function seedDataDir(pgdata: string, source: string): void {
  const partial = `${pgdata}.partial`;
  rmSync(partial, { recursive: true, force: true }); // left by a copy that was cut short
  cpSync(source, partial, { recursive: true });
  renameSync(partial, pgdata);
}

/**
 * Removes all but the KEEP newest prepared copies (each is ~40 MB, and every
 * change to the migrations makes one), and copies left half-made an hour ago.
 */
function prune(dir: string): void {
  const entries = readdirSync(dir).map((name) => ({ name, path: join(dir, name), made: statSync(join(dir, name)).mtimeMs }));
  const copies = entries.filter((e) => /^pgdata-.+-[0-9a-f]{16}$/.test(e.name)).sort((a, b) => b.made - a.made);
  const abandoned = entries.filter((e) => e.name.endsWith('.tmp') && e.made < Date.now() - 3_600_000);
  for (const old of [...copies.slice(KEEP), ...abandoned]) rmSync(old.path, { recursive: true, force: true });
}
