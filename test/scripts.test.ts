// The command-line scripts and the embedded database's lock, run as a user would.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { migrateToLatest, openPglite } from '../server/db/index.js';
import { systemClock } from '../server/lib/clock.js';
import { spendSignInLink } from './helpers/vendor.js';

const run = (script: string, args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { PATH: process.env.PATH, PUBLIC_URL: 'http://portal.test', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });

/** The portal on the embedded database a script left in `dir`, as `npm start` would open it (migrations first). */
async function appOn(t: Test, dir: string) {
  const handle = await openPglite(dir);
  t.teardown(() => handle.close());
  await migrateToLatest(handle.db);
  const app = await buildApp({
    config: loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }),
    db: handle.db,
    clock: systemClock,
    mail: { send: async () => {} },
    sessionSecret: 'x'.repeat(40),
    logger: false,
  });
  t.teardown(() => app.close());
  return { app, handle };
}

t.test('create-workspace prints a sign-in link and an API key that work', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-script-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const bad = run('scripts/create-workspace.ts', ['--name', 'Acme AI', '--email', 'not-an-email'], { DATA_DIR: dir });
  t.equal(bad.status, 2, 'bad arguments exit 2');
  t.match(bad.stderr, /--email: must be a valid email address/);

  const ok = run('scripts/create-workspace.ts', ['--name', 'Acme AI', '--email', 'admin@acme.example', '--admin', 'Ada Admin'], { DATA_DIR: dir });
  t.equal(ok.status, 0, ok.stderr);
  const link = /Sign in within 15 minutes: http:\/\/portal\.test(\/auth\/link\/[A-Za-z0-9_-]{43})/.exec(ok.stdout)?.[1];
  const key = /API key \(shown once\): (pp_[A-Za-z0-9_-]{43})/.exec(ok.stdout)?.[1];
  t.ok(link, 'a sign-in link is printed');
  t.ok(key, 'an API key is printed');

  const { app } = await appOn(t, dir);
  const signIn = await spendSignInLink(app, link!);
  t.equal(signIn.statusCode, 303, 'the printed link signs in');
  const profile = await app.inject({ method: 'GET', url: '/api/v1/profile', headers: { authorization: `Bearer ${key}` } });
  t.equal(profile.statusCode, 200, 'the printed key opens the API');
});

t.test('seed-demo fills a workspace whose insights show, and prints a sign-in link that works', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-seed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = run('scripts/seed-demo.ts', ['--email', 'nope'], { DATA_DIR: dir });
  t.equal(bad.status, 2, 'a bad address exits 2');
  t.match(bad.stderr, /--email: must be a valid email address/);

  const ok = run('scripts/seed-demo.ts', ['--email', 'demo@acme.example'], { DATA_DIR: dir });
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /seeded: 40 deals, \d+ people, \d+ answers \(\d+ corrections\)/);
  const link = /sign in within 15 minutes: http:\/\/portal\.test(\/auth\/link\/[A-Za-z0-9_-]{43})/.exec(ok.stdout)?.[1];
  const key = /API key \(shown once\): (pp_[A-Za-z0-9_-]{43})/.exec(ok.stdout)?.[1];
  t.ok(link && key, 'a sign-in link and an API key are printed');

  const { app, handle } = await appOn(t, dir);
  t.equal((await spendSignInLink(app, link!)).statusCode, 303, 'the printed link signs in');
  const api = async (url: string) => (await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } })).json();
  const deals = (await api('/api/v1/deals?limit=200')).deals as { industry: string | null; stage: string }[];
  t.equal(deals.length, 40);
  t.ok(new Set(deals.map((d) => d.industry)).size >= 8, 'deals across industries');
  t.ok(new Set(deals.map((d) => d.stage)).size >= 4, 'and across stages');
  const corrections = await api('/api/v1/insights/corrections');
  const residency = corrections.concerns.find((c: { concern: string }) => c.concern === 'data_residency');
  t.ok(residency.corrected_deals >= 5, `data residency corrected in ${residency.corrected_deals} deals`);
  t.equal(residency.fields.find((f: { field: string }) => f.field === 'inference_regions').top_values[0].label, 'EU/EEA', 'most often to the EU/EEA');
  const timing = await api('/api/v1/insights/timing');
  t.ok(timing.first_signal_week.histogram.length >= 3, 'first signals spread over weeks');
  const outcomes = await api('/api/v1/insights/outcomes');
  t.ok(outcomes.reached_negotiation.ready.deals > 0 && outcomes.reached_negotiation.overridden.deals > 0, 'deals passed the gate both ways');
  const pending = await handle.db.selectFrom('outbox').select('id').where('status', '=', 'pending').execute();
  t.equal(pending.length, 0, 'no mail waits for the made-up people');
});

t.test('a second process cannot open the same data directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const held = await openPglite(dir);
  t.teardown(() => held.close());
  const other = run('scripts/migrate.ts', [], { DATA_DIR: dir });
  t.equal(other.status, 1);
  t.match(other.stderr, /The data directory is in use by process \d+/);
  await t.rejects(openPglite(dir), { name: 'LockedError', message: /already open in this process/ }, 'nor a second handle in this process');
});

t.test('migrate applies migrations to an empty data directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-migrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = run('scripts/migrate.ts', [], { DATA_DIR: dir });
  t.equal(first.status, 0, first.stderr);
  t.match(first.stdout, 'Migrations are up to date.');
});

t.test('.ci/run ends with "N passed, N failed, N skipped", read from tap\'s last summary line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-ci-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Sourcing the script defines its functions without running it.
  const lastLine = (log: string, what: string) => {
    const file = join(dir, 'npm-test.log');
    writeFileSync(file, log);
    const res = spawnSync('bash', ['-c', 'source .ci/run && parse_tap_summary "$1" && summary_line', 'ci-run', file], { encoding: 'utf8' });
    t.equal(res.status, 0, `${what}: the parser runs${res.stderr ? ` (stderr: ${res.stderr.trim()})` : ''}`);
    return res.stdout;
  };
  const cases: [log: string, line: string, what: string][] = [
    ['ok 1 - a\n# { total: 13, pass: 11, fail: 1, skip: 1 }\n# time=1ms\n', '11 passed, 1 failed, 1 skipped', 'all three counts'],
    ['# { total: 20, skip: 2, todo: 1, pass: 17 }\n', '17 passed, 0 failed, 2 skipped', 'keys in any order, todo ignored, an absent fail is 0'],
    ['# { total: 5, pass: 5 }\r\n', '5 passed, 0 failed, 0 skipped', 'an absent skip is 0'],
    ['\x1b[2m# { total: 3, pass: 1, fail: 1, skip: 1 }\x1b[0m\n', '1 passed, 1 failed, 1 skipped', 'colour codes are ignored'],
    ['# { total: 9, pass: 9, skip: 4 }\nmore output\n# { total: 2, pass: 1, skip: 1 }\n', '1 passed, 0 failed, 1 skipped', 'the last summary line wins'],
    ['TAP version 14\nBail out!\n', '0 passed, 1 failed, 0 skipped', 'no summary line counts as a failure'],
  ];
  for (const [log, line, what] of cases) t.equal(lastLine(log, what), `${line}\n`, `${what}: "${line}"`);
  t.match(readFileSync('.ci/run', 'utf8'), '\n  summary_line\n  exit "$rc"\n}', 'main prints that line last, just before it exits');
});

t.test("the side-by-side bench's minimal app renders six claims in one query and saves an answer with one INSERT", async (t) => {
  const { randomBytes, randomUUID } = await import('node:crypto');
  const { CompiledQuery } = await import('kysely');
  const { testDatabase } = await import('./helpers/db.js');
  const { buildMinimalApp, seedMinimal } = await import('../scripts/bench/minimal-app.js');
  const handle = await testDatabase(t);
  let queries = 0;
  const query = async (text: string, values: unknown[] = []) => {
    queries++;
    return { rows: [...(await handle.db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, values))).rows] };
  };
  const token = randomBytes(32).toString('base64url');
  const stakeholderId = randomUUID();
  const claims = ['a', 'b', 'c', 'd', 'e', 'f'].map((k, i) => ({
    concern: `concern_${k}`,
    title: `Concern ${k.toUpperCase()}`,
    revision: i + 1,
    claim: { storage_regions: ['EU_EEA'], prompt_retention_days: i },
    narrative: `We keep <data> in region ${k}.`,
  }));
  await seedMinimal(query, { dealId: randomUUID(), vendorName: 'Acme AI', buyerName: 'Big Bank', claims, links: [{ token, stakeholderId, name: 'Ada' }] });
  const app = await buildMinimalApp(query);
  t.teardown(() => app.close());

  queries = 0;
  const page = await app.inject({ method: 'GET', url: `/r/${token}` });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.equal(page.body.match(/<section class="card concern"/g)?.length, 6, 'six claims');
  t.match(page.body, 'We keep &lt;data&gt; in region f.', 'claims are escaped');
  t.match(page.body, `action="/r/${token}/answer/concern_c"`, 'each claim has its answer form');
  t.equal(queries, 1, 'one query');

  queries = 0;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const post = await app.inject({ method: 'POST', url: `/r/${token}/answer/concern_c`, headers: form, payload: 'verdict=not_mine&revision=3' });
  t.equal(post.statusCode, 303);
  t.equal(queries, 1, 'one INSERT');
  const rows = (await query('select stakeholder_id, concern, revision, verdict from bench_minimal.answers')).rows;
  t.same(rows, [{ stakeholder_id: stakeholderId, concern: 'concern_c', revision: 3, verdict: 'not_mine' }], 'the answer is a row');

  const unknown = await app.inject({ method: 'POST', url: `/r/${'x'.repeat(43)}/answer/concern_c`, headers: form, payload: 'verdict=confirm&revision=3' });
  t.equal(unknown.statusCode, 404, 'an unknown link saves nothing');
  t.equal((await app.inject({ method: 'GET', url: `/r/${'x'.repeat(43)}` })).statusCode, 404);
  t.equal((await app.inject({ method: 'POST', url: `/r/${token}/answer/concern_c`, headers: form, payload: 'verdict=maybe&revision=3' })).statusCode, 400);
});
