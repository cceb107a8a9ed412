// The respondent's page and answer, portal and minimal app side by side, in
// one run on PostgreSQL, so the ratio shows what the portal adds over the
// least work the same request can be.
//
//   npm run bench -- --side-by-side
//   npm run bench -- --side-by-side --rounds 5 --seconds 10 --connections 8 --links 1000 --deals 1 --warmup 1
//   npm run bench -- --side-by-side --profile      # also: where the portal's CPU goes (--cpu-prof)
//
// PostgreSQL: a throwaway database `pp_bench_<hex>` is made on the server
// DATABASE_URL names (default postgres://postgres@127.0.0.1:5432/postgres),
// migrated, seeded, and dropped at the end. The seed is the respondent
// bench's: a workspace, a published profile, one deal and --links invited
// stakeholders, their links read from the invitation mails (--deals N spreads
// the links over N deals: every answer on one deal waits for the deal's
// read-model lock, so one deal is the hot-deal worst case). The minimal app
// gets its own tables (minimal-app.ts) holding the same links and a copy of
// the deal's current claims.
//
// Each server runs in a child process (server-child.ts), so the load
// generator's CPU is not counted: the portal as production runs it (buildApp,
// NODE_ENV=production, request logs at info level to stdout = /dev/null, rate
// limits and the mail worker on), the minimal app with no logging, CSRF or
// rate limit. The load generator is the respondent bench's: keep-alive
// node:http clients in a loop, --connections at once. Rounds alternate
// portal, minimal, portal, minimal… so machine noise hits both alike; a
// --warmup before each scenario is not counted. Both get the same browser
// headers (accept-encoding: gzip, br included, so compression would be
// counted); the answer POSTs also send sec-fetch-site: same-origin, as a
// browser does, which the portal requires.
//
// Answers: each link walks its deal's six concerns, one per visit, with the
// claim's current revision, giving confirm on one pass over the six and
// not_mine on the next, so the portal (which ignores an answer identical to
// the last) really records each one; the rows added are counted and checked against the 303s. The per-link
// rate limits (60 page views, 30 answers a minute per link and address) are
// met as the respondent bench meets them: with many links (--links).
//
// Prints, for the page GET and the answer POST: requests/s of each app, the
// ratio portal/minimal against its target (page ≥ 0.25×, answer ≥ 0.35×, PASS
// or MISS), p50/p95/p99 latency, the server process's CPU per request
// (process.cpuUsage() of the child around each round, over IPC; PostgreSQL's
// own CPU is not in it), response bytes and content-encoding, and error counts
// by status (success is any 2xx or a 303 that does not report a ?problem=).
// With --profile, the portal child runs under --cpu-prof (into a temporary
// folder) and the top self-time functions and packages are printed, with
// what the portal's PostgreSQL sessions were waiting on during its rounds.
// Exits 1 on a MISS or any error.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildApp, ROOT } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { openDatabase } from '../../server/runtime.js';
import { systemClock } from '../../server/lib/clock.js';
import type { MailMessage } from '../../server/mail/transport.js';
import { createWorkspace } from '../../server/auth/service.js';
import { transaction } from '../../server/db/index.js';
import { getConcern } from '../../server/concerns/index.js';
import { publishProfile } from '../../server/profiles/service.js';
import { createDeal, currentClaims } from '../../server/deals/service.js';
import { addStakeholders } from '../../server/stakeholders/service.js';
import { systemActor } from '../../server/audit/service.js';
import { seedMinimal } from './minimal-app.js';

const TARGETS = { page: 0.25, answer: 0.35 };
const USAGE =
  'usage: npm run bench -- --side-by-side [--rounds 3] [--seconds 5] [--connections 8] [--links 1000] [--deals 1] [--warmup 1] [--profile]\n' +
  '  PostgreSQL from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); a throwaway database is made on it.';

function readFlags() {
  return parseArgs({
    args: process.argv.slice(2),
    options: {
      'side-by-side': { type: 'boolean' },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '8' },
      links: { type: 'string', default: '1000' },
      deals: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '1' },
      profile: { type: 'boolean', default: false },
    },
  }).values;
}
let flags: ReturnType<typeof readFlags>;
try {
  flags = readFlags();
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const positive = (name: 'rounds' | 'seconds' | 'connections' | 'links' | 'deals' | 'warmup', min: number) => {
  const n = Number(flags[name]);
  if (!Number.isFinite(n) || n < min) {
    console.error(`--${name}: must be a number ≥ ${min}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const ROUNDS = Math.floor(positive('rounds', 1));
const SECONDS = positive('seconds', 0.1);
const CONNECTIONS = Math.floor(positive('connections', 1));
const LINKS = Math.floor(positive('links', 12));
const DEALS = Math.floor(positive('deals', 1));
const WARMUP = positive('warmup', 0);
const PROFILE = flags.profile === true;

// ---------------------------------------------------------------------------
// A throwaway database, dropped however the run ends.

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `pp_bench_${randomBytes(5).toString('hex')}`;
const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${dbName}` }).toString();
async function admin(sql: string) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}
const pgVersion = String((await admin('show server_version')).rows[0].server_version).split(' ')[0];
await admin(`create database ${dbName}`);

const children: ChildProcess[] = [];
const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), 'pp-bench-prof-')) : undefined;
let pool: pg.Pool | undefined;
let cleaned = false;
async function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await pool?.end().catch(() => {});
  await admin(`drop database if exists ${dbName} with (force)`).catch((err) => console.error(`could not drop ${dbName}: ${(err as Error).message}`));
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
}
process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));

// ---------------------------------------------------------------------------

interface Seeded {
  dealIds: string[];
  /** Per link: its token, and the current claims (concern and revision) of its deal. */
  links: { token: string; claims: { concern: string; revision: number }[] }[];
}

/** The respondent bench's seed, through the portal's own services (links spread over --deals deals); then the minimal app's copy. */
async function seed(): Promise<Seeded> {
  const config = loadConfig({ DATABASE_URL: dbUrl, LOG_LEVEL: 'silent', NODE_ENV: 'development', PUBLIC_URL: 'http://bench.test' });
  const handle = await openDatabase(config);
  const sent: MailMessage[] = [];
  const app = await buildApp({ config, db: handle.db, clock: systemClock, mail: { send: async (m) => void sent.push(m) }, sessionSecret: 'b'.repeat(40), logger: false });
  try {
    const vendorName = 'Bench AI';
    const ws = await transaction(handle.db, (trx) => createWorkspace(trx, systemClock, { workspace: vendorName, name: 'Bench', email: 'bench@bench.test' }));
    const actor = systemActor(ws.vendorId, 'bench', ws.userId);
    await transaction(handle.db, (trx) => publishProfile(trx, systemClock, actor));
    const people = new Map<string, { id: string; name: string; deal: number }>();
    const deals: { id: string; buyerName: string }[] = [];
    for (let d = 0; d < DEALS; d++) {
      const buyerName = DEALS === 1 ? 'Big Bank' : `Big Bank ${d + 1}`;
      deals.push({ id: await transaction(handle.db, (trx) => createDeal(trx, systemClock, actor, ws.userId, { buyer_name: buyerName })), buyerName });
      // Link i belongs to deal i mod DEALS.
      const mine = Array.from({ length: LINKS }, (_, i) => i).filter((i) => i % DEALS === d);
      for (let k = 0; k < mine.length; k += 500) {
        const rows = mine.slice(k, k + 500).map((i) => ({ name: `Person ${i}`, email: `p${i}@bank.example`, role: 'security', invite: true }));
        const added = await transaction(handle.db, (trx) => addStakeholders(trx, systemClock, config.LINK_TTL_DAYS, actor, deals[d].id, rows));
        for (const p of added.stakeholders) people.set(p.email, { ...p, deal: d });
      }
    }
    while ((await app.services.worker.runOnce()) > 0);
    const byIndex: { token: string; person: { id: string; name: string; deal: number } }[] = [];
    for (const m of sent) {
      const token = /http:\/\/\S+\/r\/([A-Za-z0-9_-]{43})/.exec(m.text)?.[1];
      const i = Number(/^p(\d+)@bank\.example$/.exec(m.to)?.[1]);
      if (token && people.has(m.to)) byIndex[i] = { token, person: people.get(m.to)! };
    }
    if (Object.keys(byIndex).length !== LINKS) throw new Error(`expected ${LINKS} links in the invitations, got ${Object.keys(byIndex).length}`);
    const claimsOf: { concern: string; revision: number }[][] = [];
    for (const [d, deal] of deals.entries()) {
      const claims = await currentClaims(handle.db, ws.vendorId, deal.id);
      if (claims.length !== 6) throw new Error(`expected six claims, got ${claims.length}`);
      claimsOf[d] = claims.map((c) => ({ concern: c.concern, revision: c.revision }));
      await seedMinimal((text, values) => pool!.query(text, values), {
        dealId: deal.id,
        vendorName,
        buyerName: deal.buyerName,
        claims: claims.map((c) => ({ concern: c.concern, title: getConcern(c.concern)!.title, revision: c.revision, claim: c.claim, narrative: c.narrative })),
        links: byIndex.filter((l) => l.person.deal === d).map((l) => ({ token: l.token, stakeholderId: l.person.id, name: l.person.name })),
      });
    }
    await pool!.query('analyze');
    return { dealIds: deals.map((d) => d.id), links: byIndex.map((l) => ({ token: l.token, claims: claimsOf[l.person.deal] })) };
  } finally {
    await app.close();
    await handle.close();
  }
}

// ---------------------------------------------------------------------------
// The servers, each in a child process.

interface Server {
  name: 'portal' | 'minimal';
  child: ChildProcess;
  host: string;
  port: number;
  agent: Agent;
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(name: Server['name'], profile: boolean): Promise<Server> {
  const self = fileURLToPath(import.meta.url);
  const entry = join(self, '..', `server-child${extname(self)}`);
  const execArgv = [...(profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir!] : []), ...(extname(self) === '.ts' ? ['--import', 'tsx'] : [])];
  const child = spawn(process.execPath, [...execArgv, entry, name], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, BENCH_DATABASE_URL: dbUrl },
    // stdout is where the portal logs, as in production: to /dev/null here.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  const waiting = new Map<number, (usage: NodeJS.CpuUsage) => void>();
  let nextId = 0;
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${name} server did not start in 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`the ${name} server exited (${code}) before it was ready`)));
    child.on('message', (m: { type: string; address?: string; id?: number; usage?: NodeJS.CpuUsage }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m.address!);
      } else if (m.type === 'cpu') {
        waiting.get(m.id!)?.(m.usage!);
        waiting.delete(m.id!);
      }
    });
  });
  const url = new URL(address);
  return {
    name,
    child,
    host: url.hostname,
    port: Number(url.port),
    agent: new Agent({ keepAlive: true, maxSockets: CONNECTIONS }),
    cpu: () =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, (u) => resolve((u.user + u.system) / 1000));
        child.send({ type: 'cpu', id });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ type: 'stop' });
      }),
  };
}

// ---------------------------------------------------------------------------
// The load generator: the respondent bench's loop, per round.

const BROWSER = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'accept-encoding': 'gzip, br',
  'accept-language': 'en-GB,en;q=0.9',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'upgrade-insecure-requests': '1',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'sec-fetch-user': '?1',
};

interface Req {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}
interface Res {
  /** The status code, "303 problem" for a redirect that reports the answer refused (the portal's ?problem=…), "connection" for no answer. */
  status: string;
  bytes: number;
  encoding: string;
}

function send(server: Server, req: Req): Promise<Res> {
  return new Promise((resolve) => {
    const r = request(
      {
        host: server.host,
        port: server.port,
        method: req.method,
        path: req.path,
        agent: server.agent,
        headers: req.body ? { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) } : req.headers,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        const status = res.statusCode === 303 && /[?&]problem=/.test(String(res.headers.location)) ? '303 problem' : String(res.statusCode);
        res.on('end', () => resolve({ status, bytes, encoding: String(res.headers['content-encoding'] ?? 'none') }));
        res.on('error', () => resolve({ status: 'connection', bytes, encoding: 'none' }));
      },
    );
    // A failed connection is an error like any other.
    r.on('error', () => resolve({ status: 'connection', bytes: 0, encoding: 'none' }));
    r.end(req.body);
  });
}

/** Success: any 2xx, or a 303 (post/redirect/get) that does not report a problem. */
const ok = (status: string) => /^2\d\d$/.test(status) || status === '303';

interface Round {
  requests: number;
  ok: number;
  wallS: number;
  cpuMs: number;
  latencies: number[];
  statuses: Map<string, number>;
  bytes: number;
  encodings: Set<string>;
}

async function round(server: Server, next: () => Req, seconds: number): Promise<Round> {
  const r: Round = { requests: 0, ok: 0, wallS: 0, cpuMs: 0, latencies: [], statuses: new Map(), bytes: 0, encodings: new Set() };
  const cpuBefore = await server.cpu();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const req = next();
        const t0 = performance.now();
        const res = await send(server, req);
        r.latencies.push(performance.now() - t0);
        r.requests++;
        if (ok(res.status)) r.ok++;
        r.statuses.set(res.status, (r.statuses.get(res.status) ?? 0) + 1);
        r.bytes += res.bytes;
        r.encodings.add(res.encoding);
      }
    }),
  );
  r.wallS = (performance.now() - start) / 1000;
  r.cpuMs = (await server.cpu()) - cpuBefore;
  return r;
}

function summary(rounds: Round[]) {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
  const requests = rounds.reduce((a, r) => a + r.requests, 0);
  const okCount = rounds.reduce((a, r) => a + r.ok, 0);
  const wallS = rounds.reduce((a, r) => a + r.wallS, 0);
  const cpuMs = rounds.reduce((a, r) => a + r.cpuMs, 0);
  const statuses = new Map<string, number>();
  for (const r of rounds) for (const [s, c] of r.statuses) statuses.set(s, (statuses.get(s) ?? 0) + c);
  return {
    requests,
    ok: okCount,
    perSecond: okCount / wallS,
    p50: pct(50),
    p95: pct(95),
    p99: pct(99),
    cpuPerRequestMs: cpuMs / Math.max(1, requests),
    cpuCores: cpuMs / 1000 / wallS,
    bytesPerResponse: rounds.reduce((a, r) => a + r.bytes, 0) / Math.max(1, requests),
    encodings: [...new Set(rounds.flatMap((r) => [...r.encodings]))].join(', '),
    errors: requests - okCount,
    errorStatuses: [...statuses].filter(([s]) => !ok(s)),
  };
}

/** What the database sessions other than idle ones are doing, sampled every 20 ms until stop() (--profile, portal rounds only). */
function sampleSessions() {
  const tally = new Map<string, number>();
  let samples = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const { rows } = await pool!.query(
        `select case when state = 'idle in transaction' then 'idle in transaction' when wait_event is null then 'on CPU' else wait_event_type || ':' || wait_event end as what,
                count(*)::int n
           from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend' and state <> 'idle'
          group by 1`,
      );
      samples++;
      for (const r of rows) tally.set(r.what, (tally.get(r.what) ?? 0) + r.n);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return async () => {
    running = false;
    await done;
    return { tally, samples };
  };
}

// ---------------------------------------------------------------------------
// A CPU profile, by self time.

function printProfile(dir: string) {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return console.log('  (no .cpuprofile was written)');
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  /** node_modules/<package>, a project file (server/…), node:<module>, or a V8 pseudo-frame such as (garbage collector). */
  const groupOf = (url: string, fn: string) => {
    if (!url) return fn.startsWith('(') ? fn : '(native)';
    const path = url.startsWith('file://') ? fileURLToPath(url) : url;
    const nm = path.lastIndexOf('/node_modules/');
    if (nm >= 0) {
      const parts = path.slice(nm + '/node_modules/'.length).split('/');
      return `node_modules/${parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]}`;
    }
    if (path.startsWith('node:')) return path; // node:zlib, node:internal/streams/writable, …
    const rel = relative(ROOT, path);
    return rel.startsWith('..') ? path : rel;
  };
  const isOurs = (group: string) => !group.startsWith('node:') && !group.startsWith('(');
  /** The nearest caller in a package or project file: who asked for Node's own code or a native call. */
  const owner = new Map<number, string | undefined>();
  const ownerOf = (id: number): string | undefined => {
    if (owner.has(id)) return owner.get(id);
    const f = byId.get(id)!;
    const group = groupOf(f.url, f.functionName);
    const up = parent.get(id);
    const found = isOurs(group) ? group : up === undefined ? undefined : ownerOf(up);
    owner.set(id, found);
    return found;
  };
  const fns = new Map<string, { label: string; fn: string; us: number }>();
  const groups = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!;
    if (f.functionName === '(idle)') continue;
    const group = groupOf(f.url, f.functionName);
    const by = ownerOf(id);
    const fn = `${f.functionName || '(anonymous)'}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    const label = isOurs(group) || !by || group === f.functionName ? group : `${group} ← ${by}`;
    const key = `${label} ${fn}`;
    const entry = fns.get(key) ?? { label, fn, us: 0 };
    entry.us += us;
    fns.set(key, entry);
    const charged = by ?? group;
    groups.set(charged, (groups.get(charged) ?? 0) + us);
    total += us;
  }
  const share = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  console.log(`\nportal CPU profile (--cpu-prof: the whole child process, start-up and warm-up included; idle left out), ${(total / 1e6).toFixed(1)} s of CPU`);
  console.log("  by package or file (Node's own code and native calls charged to the package or file that called them):");
  for (const [group, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`    ${share(us)}  ${group}`);
  console.log('  top 15 functions by self time (← the package or file that called them):');
  for (const f of [...fns.values()].sort((a, b) => b.us - a.us).slice(0, 15)) console.log(`    ${share(f.us)}  ${f.fn.padEnd(34)} ${f.label}`);
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const seedStart = performance.now();
  const seeded = await seed();
  // A database in use has planner statistics (autovacuum gathers them); a freshly seeded one has none yet
  // (each scenario analyzes again after its warm-up, below).
  await pool.query('ANALYZE');
  const seedS = (performance.now() - seedStart) / 1000;
  const portal = await startServer('portal', PROFILE);
  const minimal = await startServer('minimal', false);
  const servers = [portal, minimal];

  console.log(
    `# side by side on PostgreSQL ${pgVersion} (throwaway database ${dbName}): ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s per app and scenario, ` +
      `interleaved portal/minimal, ${WARMUP} s warm-up each; ${LINKS} links on ${DEALS === 1 ? 'one deal' : `${DEALS} deals`} (seeded in ${seedS.toFixed(1)} s); ${availableParallelism()} CPUs, Node ${process.version}`,
  );
  console.log(
    `# portal:  buildApp in a child process, NODE_ENV=production, logger at info level to stdout = /dev/null (not silenced), rate limits and mail worker on` +
      (PROFILE ? '; under --cpu-prof, which costs it a little' : ''),
  );
  console.log('# minimal: Fastify + pg in a child process, one query per request, Handlebars template compiled at start-up; no logging, CSRF or rate limit');
  console.log('# cpu/req: the server process only (process.cpuUsage() over IPC); PostgreSQL and the load generator are not in it');

  const pageReq = (): (() => Req) => {
    let n = 0;
    return () => ({ method: 'GET', path: `/r/${seeded.links[n++ % LINKS].token}`, headers: { ...BROWSER, 'sec-fetch-site': 'none' } });
  };
  const answerReq = (server: Server): (() => Req) => {
    let n = 0;
    const visits = new Array<number>(LINKS).fill(0);
    return () => {
      const i = n++ % LINKS;
      // As a respondent does, link i walks its deal's six concerns, each visit the next one; on every
      // pass over the six it gives the other verdict, so no answer repeats the last on that concern.
      const { token, claims } = seeded.links[i];
      const v = visits[i]++;
      const claim = claims[(i + v) % claims.length];
      const verdict = Math.floor(v / claims.length) % 2 === 0 ? 'confirm' : 'not_mine';
      return {
        method: 'POST',
        path: `/r/${token}/answer/${claim.concern}`,
        headers: {
          ...BROWSER,
          'sec-fetch-site': 'same-origin',
          origin: `http://${server.host}:${server.port}`,
          'content-type': 'application/x-www-form-urlencoded',
          'cache-control': 'max-age=0',
        },
        body: `revision=${claim.revision}&verdict=${verdict}`,
      };
    };
  };
  const rowsOf = async (server: Server) =>
    Number(
      (server === portal
        ? await pool!.query(`select count(*)::int n from signals where type = 'answer' and deal_id = any($1::uuid[])`, [seeded.dealIds])
        : await pool!.query('select count(*)::int n from bench_minimal.answers')
      ).rows[0].n,
    );

  // The same page, asked for without accept-encoding: how much each app renders.
  const plain = await Promise.all(servers.map((s) => send(s, { method: 'GET', path: `/r/${seeded.links[0].token}`, headers: { accept: 'text/html' } })));
  console.log(
    `# the page uncompressed: portal ${plain[0].bytes} bytes (${plain[0].status}), minimal ${plain[1].bytes} bytes (${plain[1].status}); ` +
      `both carry the deal's six current claims (the portal also each claim's fields, its answer buttons and the page's layout)`,
  );
  const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  const results: Record<string, { ratio: number; target: number; errors: number; unsaved: number }> = {};
  for (const scenario of ['page', 'answer'] as const) {
    const title = scenario === 'page' ? 'respondent page: GET /r/:token' : 'save an answer: POST /r/:token/answer/:concern';
    console.log(`\n${title}`);
    const next = new Map(servers.map((s) => [s, scenario === 'page' ? pageReq() : answerReq(s)]));
    if (WARMUP > 0) for (const s of servers) await round(s, next.get(s)!, WARMUP);
    // The warm-up filled tables the seed left empty (answers, latest answers). A database in use has
    // planner statistics for them (autovacuum gathers them within a minute or so); without them, the
    // plans cached for prepared statements stay those of empty tables, and every round gets slower.
    await pool.query('ANALYZE');
    const rowsBefore = new Map(await Promise.all(servers.map(async (s) => [s, await rowsOf(s)] as const)));
    const rounds = new Map<Server, Round[]>(servers.map((s) => [s, []]));
    const sessions = { tally: new Map<string, number>(), samples: 0 };
    for (let i = 1; i <= ROUNDS; i++) {
      const line: string[] = [];
      for (const s of servers) {
        const stopSampling = PROFILE && s === portal ? sampleSessions() : undefined;
        const r = await round(s, next.get(s)!, SECONDS);
        if (stopSampling) {
          const sampled = await stopSampling();
          sessions.samples += sampled.samples;
          for (const [what, n] of sampled.tally) sessions.tally.set(what, (sessions.tally.get(what) ?? 0) + n);
        }
        rounds.get(s)!.push(r);
        line.push(
          `${s.name} ${fmt(r.ok / r.wallS, 0).padStart(6)} req/s ${fmt(r.cpuMs / Math.max(1, r.requests), 2)} ms cpu/req${r.requests > r.ok ? ` (${r.requests - r.ok} errors)` : ''}`,
        );
      }
      console.log(`  round ${i}/${ROUNDS}: ${line.join(' | ')}`);
    }
    const sums = new Map(servers.map((s) => [s, summary(rounds.get(s)!)]));
    const unsaved = new Map<Server, number>();
    if (scenario === 'answer') for (const s of servers) unsaved.set(s, sums.get(s)!.ok - ((await rowsOf(s)) - rowsBefore.get(s)!));
    console.log(
      `  ${'app'.padEnd(8)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'cpu ms/req'.padStart(11)} ${'cores'.padStart(6)} ${'bytes/resp'.padStart(11)}  encoding  errors`,
    );
    for (const s of servers) {
      const m = sums.get(s)!;
      const errors = m.errors ? `${m.errors} (${m.errorStatuses.map(([st, c]) => `${st}: ${c}`).join(', ')})` : '0';
      console.log(
        `  ${s.name.padEnd(8)} ${fmt(m.perSecond, 0).padStart(8)} ${fmt(m.p50).padStart(8)} ${fmt(m.p95).padStart(8)} ${fmt(m.p99).padStart(8)} ${fmt(m.cpuPerRequestMs, 3).padStart(11)} ${fmt(m.cpuCores, 2).padStart(6)} ${fmt(m.bytesPerResponse, 0).padStart(11)}  ${m.encodings.padEnd(8)}  ${errors}`,
      );
    }
    if (scenario === 'answer') {
      console.log(`  rows added: ${servers.map((s) => `${s.name} ${sums.get(s)!.ok - unsaved.get(s)!} for ${sums.get(s)!.ok} answers saved (303)`).join(', ')}`);
    }
    if (scenario === 'answer' && DEALS === 1)
      console.log("  (every answer here is on one deal, so they queue for that deal's read-model lock; --deals N spreads the links over N deals)");
    if (PROFILE && sessions.samples) {
      const busy = [...sessions.tally.values()].reduce((a, n) => a + n, 0);
      const shares = [...sessions.tally].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${what} ${Math.round((100 * n) / busy)}%`);
      console.log(
        `  portal's PostgreSQL sessions during its rounds (sampled every 20 ms, idle ones left out): ${fmt(busy / sessions.samples, 2)} busy on average: ${shares.join(', ')}`,
      );
    }
    const p = sums.get(portal)!;
    const m = sums.get(minimal)!;
    const ratio = p.perSecond / m.perSecond;
    const perRound = rounds.get(portal)!.map((r, i) => r.ok / r.wallS / (rounds.get(minimal)![i].ok / rounds.get(minimal)![i].wallS));
    const target = TARGETS[scenario];
    console.log(
      `  ratio portal/minimal: ${fmt(ratio, 2)}× requests/s (rounds ${fmt(Math.min(...perRound), 2)}–${fmt(Math.max(...perRound), 2)}×), ` +
        `${fmt(p.cpuPerRequestMs / m.cpuPerRequestMs, 1)}× CPU per request; target ≥ ${target}×: ${ratio >= target ? 'PASS' : 'MISS'}`,
    );
    results[scenario] = { ratio, target, errors: p.errors + m.errors, unsaved: scenario === 'answer' ? Math.abs(unsaved.get(portal)!) + Math.abs(unsaved.get(minimal)!) : 0 };
    if (p.errorStatuses.some(([s]) => s === '429')) console.log(`  the portal answered 429: its per-link limit was reached; run with more --links (now ${LINKS})`);
  }

  await Promise.all(servers.map((s) => s.stop()));
  for (const s of servers) s.agent.destroy();
  if (profileDir) printProfile(profileDir);

  const misses = Object.entries(results).flatMap(([name, r]) => [
    ...(r.ratio < r.target ? [`${name} ratio ${r.ratio.toFixed(2)}× < ${r.target}×`] : []),
    ...(r.errors ? [`${name}: ${r.errors} errors`] : []),
    ...(r.unsaved ? [`${name}: ${r.unsaved} saved answers without a row (or rows without one)`] : []),
  ]);
  console.log(`\n${misses.length ? `MISSED: ${misses.join('; ')}` : `targets met: page ≥ ${TARGETS.page}×, answer ≥ ${TARGETS.answer}× of the minimal app, no errors`}`);
  return misses.length ? 1 : 0;
}

// Last, so every constant above is initialised before main() runs.
let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(err);
} finally {
  await cleanUp();
}
process.exit(code);
