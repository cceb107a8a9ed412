// Measures how fast the server starts on the embedded database, as production
// runs it (node dist/server/main.js; `npm run bench:start` builds it first):
// on a fresh DATA_DIR and again on the one that start left behind. A start is
// the time from spawning the process until /healthz answers; memory is the
// process's resident set (RSS) then, and its peak during the start (Linux).
// Prints each run and the medians, and exits non-zero when a median misses
// its goal.
//
//   npm run bench:start                        # 3 runs of the built server
//   BENCH_RUNS=5 npm run bench:start
//   BENCH_START_ENTRY=server/main.ts npx tsx scripts/bench-start.ts   # as `npm start` runs it (tsx)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ENTRY = process.env.BENCH_START_ENTRY ?? 'dist/server/main.js';
const GOALS = { freshMs: 3_000, existingMs: 2_000 };
/** A start that takes longer than this has failed outright. */
const GIVE_UP_MS = 60_000;

interface Start {
  ms: number;
  rssMb?: number;
  peakMb?: number;
}

if (!existsSync(ENTRY)) {
  console.error(`${ENTRY} is missing: run \`npm run build\` first (or use \`npm run bench:start\`).`);
  process.exit(2);
}

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    })
      .on('error', () => resolve(false))
      .on('timeout', function (this: { destroy(): void }) {
        this.destroy();
      });
  });
}

/** VmRSS and VmHWM (the peak) of a process, in MiB; undefined where /proc is not there. */
function memory(pid: number): { rssMb?: number; peakMb?: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
    return { rssMb: Math.round(kb('VmRSS')), peakMb: Math.round(kb('VmHWM')) };
  } catch {
    return {};
  }
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM'); // a clean shutdown, which also gives up the data directory's lock
  });
}

/** Starts the server on dataDir, waits for /healthz, measures, and stops it. */
async function start(dataDir: string): Promise<Start> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), NODE_ENV: 'development', LOG_LEVEL: 'warn' };
  // The embedded database and the local outbox, whatever this shell has set.
  for (const name of ['DATABASE_URL', 'SMTP_URL', 'REDIS_URL']) delete env[name];
  const args = ENTRY.endsWith('.ts') ? ['--import', 'tsx', ENTRY] : [ENTRY];
  const began = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  try {
    while (!(await healthy(port))) {
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${stderr}`);
      if (performance.now() - began > GIVE_UP_MS) throw new Error(`no answer from /healthz within ${GIVE_UP_MS} ms:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return { ms: Math.round(performance.now() - began), ...memory(child.pid!) };
  } finally {
    await stop(child);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (s: Start) => (s.rssMb === undefined ? '' : `, RSS ${s.rssMb} MiB (peak ${s.peakMb} MiB)`);

console.log(`# ${RUNS} runs of ${ENTRY} on an embedded database`);
const fresh: Start[] = [];
const existing: Start[] = [];
for (let run = 1; run <= RUNS; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'pp-bench-start-'));
  try {
    fresh.push(await start(dir));
    existing.push(await start(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`run ${run}: fresh ${fresh.at(-1)!.ms} ms${mb(fresh.at(-1)!)}; existing ${existing.at(-1)!.ms} ms${mb(existing.at(-1)!)}`);
}

const result = {
  freshMs: median(fresh.map((s) => s.ms)),
  existingMs: median(existing.map((s) => s.ms)),
  freshPeakMb: fresh[0].peakMb === undefined ? undefined : Math.max(...fresh.map((s) => s.peakMb!)),
  existingPeakMb: existing[0].peakMb === undefined ? undefined : Math.max(...existing.map((s) => s.peakMb!)),
};
console.log(JSON.stringify(result));
const misses = [
  result.freshMs > GOALS.freshMs && `fresh start ${result.freshMs} ms > ${GOALS.freshMs} ms`,
  result.existingMs > GOALS.existingMs && `existing start ${result.existingMs} ms > ${GOALS.existingMs} ms`,
].filter(Boolean);
console.log(misses.length ? `GOALS MISSED: ${misses.join('; ')}` : `goals met: fresh ≤ ${GOALS.freshMs} ms, existing ≤ ${GOALS.existingMs} ms (medians)`);
process.exit(misses.length ? 1 : 0);
