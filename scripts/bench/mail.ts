// Measures the mail pipeline: queues 1,000 invitations through the real
// services (a workspace, a published profile, one deal, 1,000 invited
// stakeholders), then lets the app's own outbox worker send them over the real
// SMTP transport to a local SMTP sink, and times how long until the sink has
// accepted every one. Prints mails per second and the number of SMTP
// connections, and exits non-zero when the goal is missed or a mail is lost
// or doubled.
//
//   npm run bench -- --mail                          # throwaway embedded database
//   DATABASE_URL=postgres://… npm run bench -- --mail
//   BENCH_MAILS=2000 npm run bench -- --mail
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { buildApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { openDatabase } from '../../server/runtime.js';
import { systemClock } from '../../server/lib/clock.js';
import { smtpTransport } from '../../server/mail/transport.js';
import { createWorkspace } from '../../server/auth/service.js';
import { transaction } from '../../server/db/index.js';
import { publishProfile } from '../../server/profiles/service.js';
import { createDeal } from '../../server/deals/service.js';
import { addStakeholder } from '../../server/stakeholders/service.js';
import { systemActor } from '../../server/audit/service.js';

const MAILS = Number(process.env.BENCH_MAILS ?? 1000);
// Goal: 1,000 invitations handed to the SMTP server within 15 s of the worker starting (in proportion for more).
const GOAL_MS = Number(process.env.BENCH_GOAL_MS ?? 15_000) * Math.max(1, MAILS / 1000);

// The sink: accepts everything, keeps only who each mail was for, and counts connections.
const accepted: string[] = [];
let connections = 0;
const sink = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  closeTimeout: 100,
  onConnect(_session, callback) {
    connections++;
    callback();
  },
  onData(stream, session, callback) {
    stream.resume();
    stream.on('end', () => {
      accepted.push(...session.envelope.rcptTo.map((a) => a.address));
      callback();
    });
  },
});
sink.on('error', () => {});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `smtp://127.0.0.1:${(sink.server.address() as AddressInfo).port}`;

const dir = process.env.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'pp-bench-mail-'));
const config = loadConfig({ ...process.env, DATA_DIR: dir ?? './data', LOG_LEVEL: process.env.BENCH_LOG ? 'warn' : 'silent', NODE_ENV: 'development' });
const handle = await openDatabase(config);
const mail = smtpTransport(sinkUrl, config.MAIL_FROM);
const app = await buildApp({
  config,
  db: handle.db,
  clock: systemClock,
  mail,
  sessionSecret: 'b'.repeat(40),
  ...(process.env.BENCH_LOG ? { logStream: process.stderr } : { logger: false as const }),
});
await app.ready();

// Queue: each stakeholder added and invited in its own transaction, as the API does it.
const queueStart = performance.now();
const ws = await transaction(handle.db, (trx) => createWorkspace(trx, systemClock, { workspace: 'Bench AI', name: 'Bench', email: `bench-${Date.now()}@bench.test` }));
const actor = systemActor(ws.vendorId, 'bench', ws.userId);
await transaction(handle.db, (trx) => publishProfile(trx, systemClock, actor));
const dealId = await transaction(handle.db, (trx) => createDeal(trx, systemClock, actor, ws.userId, { buyer_name: 'Big Bank' }));
const run = Date.now().toString(36);
for (let i = 0; i < MAILS; i++) {
  await transaction(handle.db, (trx) =>
    addStakeholder(trx, systemClock, 45, actor, dealId, { name: `Person ${i}`, email: `p${i}-${run}@bank.example`, role: 'security', invite: true }),
  );
}
const queueMs = performance.now() - queueStart;

// Send: the app's own worker, pass after pass, until the outbox is empty.
const sendStart = performance.now();
let handled = 0;
for (let n; (n = await app.services.worker.runOnce()) > 0;) handled += n;
const sendMs = performance.now() - sendStart;

await app.close();
mail.close?.();
await handle.close();
await new Promise<void>((resolve) => sink.close(() => resolve()));
if (dir) rmSync(dir, { recursive: true, force: true });

const invites = accepted.filter((to) => to.endsWith(`-${run}@bank.example`));
const result = {
  mails: MAILS,
  database: process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite',
  queueSeconds: +(queueMs / 1000).toFixed(2),
  sendSeconds: +(sendMs / 1000).toFixed(2),
  mailsPerSecond: Math.round(invites.length / (sendMs / 1000)),
  msPerMail: +(sendMs / Math.max(1, invites.length)).toFixed(2),
  totalSeconds: +((queueMs + sendMs) / 1000).toFixed(2),
  handled,
  accepted: invites.length,
  distinct: new Set(invites).size,
  smtpConnections: connections,
};
console.log(JSON.stringify(result));

const misses = [
  invites.length !== MAILS && `the sink accepted ${invites.length} of ${MAILS} invitations`,
  new Set(invites).size !== invites.length && `${invites.length - new Set(invites).size} invitations arrived twice`,
  sendMs > GOAL_MS && `sending took ${(sendMs / 1000).toFixed(1)} s > ${GOAL_MS / 1000} s`,
].filter(Boolean);
console.log(misses.length ? `GOAL MISSED: ${misses.join('; ')}` : `goal met: ${MAILS} mails accepted within ${GOAL_MS / 1000} s, each once`);
process.exit(misses.length ? 1 : 0);
