// Measures what a respondent feels: the personal page and saving an answer,
// over real HTTP on loopback, with concurrent clients. Seeds its own workspace
// in a throwaway embedded database (or the one DATABASE_URL names), prints
// throughput, latency percentiles and memory, and exits non-zero when a goal
// is missed.
//
//   npm run bench                      # defaults: 16 clients, 10 s per scenario
//   BENCH_CLIENTS=32 BENCH_SECONDS=20 npm run bench
import { mkdtempSync, rmSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { openDatabase } from '../../server/runtime.js';
import { systemClock } from '../../server/lib/clock.js';
import type { MailMessage } from '../../server/mail/transport.js';
import { createApiKey, createWorkspace } from '../../server/auth/service.js';
import { transaction } from '../../server/db/index.js';
import { publishProfile } from '../../server/profiles/service.js';
import { createDeal } from '../../server/deals/service.js';
import { addStakeholder } from '../../server/stakeholders/service.js';
import { systemActor } from '../../server/audit/service.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PEOPLE = 300; // spread load over many links, as real traffic is (and under the per-link limit)
// Goals for one instance on a small machine (2 cores), embedded database.
const GOALS = { pageP95Ms: 150, answerP95Ms: 250, errors: 0 };

const dir = process.env.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'pp-bench-'));
const config = loadConfig({ ...process.env, DATA_DIR: dir ?? './data', LOG_LEVEL: process.env.BENCH_LOG ? 'warn' : 'silent', NODE_ENV: 'development' });
const handle = await openDatabase(config);
const sent: MailMessage[] = [];
const app = await buildApp({
  config,
  db: handle.db,
  clock: systemClock,
  mail: { send: async (m) => void sent.push(m) },
  sessionSecret: 'b'.repeat(40),
  ...(process.env.BENCH_LOG ? { logStream: process.stderr } : { logger: false as const }),
});
const address = await app.listen({ host: '127.0.0.1', port: 0 });

// Seed: a workspace, a published profile, one deal, PEOPLE invited stakeholders.
const ws = await transaction(handle.db, (trx) => createWorkspace(trx, systemClock, { workspace: 'Bench AI', name: 'Bench', email: `bench-${Date.now()}@bench.test` }));
await createApiKey(handle.db, systemClock, ws.vendorId, ws.userId, 'bench', 'owner');
const actor = systemActor(ws.vendorId, 'bench', ws.userId);
await transaction(handle.db, (trx) => publishProfile(trx, systemClock, actor));
const dealId = await transaction(handle.db, (trx) => createDeal(trx, systemClock, actor, ws.userId, { buyer_name: 'Big Bank' }));
for (let i = 0; i < PEOPLE; i++) {
  await transaction(handle.db, (trx) => addStakeholder(trx, systemClock, 45, actor, dealId, { name: `Person ${i}`, email: `p${i}@bank.example`, role: 'security', invite: true }));
}
while ((await app.services.worker.runOnce()) > 0);
const paths = sent.map((m) => new URL(/http:\/\/\S+\/r\/\S+/.exec(m.text)![0]).pathname);
if (paths.length !== PEOPLE) throw new Error(`expected ${PEOPLE} links, got ${paths.length}`);

// Seeding is one long burst of work; the load shedder rightly reacts to it. Let a sample pass
// so the measurement is of steady traffic, not of the seeding's aftermath.
await new Promise((r) => setTimeout(r, 2_500));

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
function call(method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${address}${path}`,
      { method, agent, headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function scenario(name: string, next: (n: number) => [string, string, string?], ok: (status: number) => boolean) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  const rssBefore = process.memoryUsage().rss;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end) {
        const [method, path, body] = next(n++);
        const t0 = process.hrtime.bigint();
        const status = await call(method, path, body);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  const errors = [...statuses].filter(([s]) => !ok(s)).reduce((a, [, c]) => a + c, 0);
  const result = {
    scenario: name,
    requests: latencies.length,
    perSecond: Math.round(latencies.length / SECONDS),
    p50: +pct(50).toFixed(1),
    p95: +pct(95).toFixed(1),
    p99: +pct(99).toFixed(1),
    errors,
    statuses: Object.fromEntries(statuses),
    rssMbDelta: Math.round((process.memoryUsage().rss - rssBefore) / 1048576),
  };
  console.log(JSON.stringify(result));
  return result;
}

console.log(`# ${CLIENTS} clients, ${SECONDS} s per scenario, ${PEOPLE} links, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}`);
const page = await scenario(
  'respondent page',
  (n) => ['GET', paths[n % PEOPLE]],
  (s) => s === 200,
);
const verdicts = ['confirm', 'not_mine'];
const answer = await scenario(
  'save an answer',
  (n) => ['POST', `${paths[n % PEOPLE]}/answer/data_residency`, `verdict=${verdicts[Math.floor(n / PEOPLE) % 2]}`],
  (s) => s === 303 || s === 429,
);

await app.close();
agent.destroy();
await handle.close();
if (dir) rmSync(dir, { recursive: true, force: true });

const misses = [
  page.p95 > GOALS.pageP95Ms && `respondent page p95 ${page.p95} ms > ${GOALS.pageP95Ms} ms`,
  answer.p95 > GOALS.answerP95Ms && `answer p95 ${answer.p95} ms > ${GOALS.answerP95Ms} ms`,
  page.errors + answer.errors > GOALS.errors && `${page.errors + answer.errors} unexpected statuses`,
].filter(Boolean);
console.log(misses.length ? `GOALS MISSED: ${misses.join('; ')}` : `goals met: page p95 ≤ ${GOALS.pageP95Ms} ms, answer p95 ≤ ${GOALS.answerP95Ms} ms, no errors`);
process.exit(misses.length ? 1 : 0);
