// The whole portal for one test: a fresh database, a manual clock, an SMTP
// sink behind a real SMTP transport, and a built (not listening) Fastify app.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/app.js';
import { loadConfig, type Config } from '../../server/config.js';
import type { DatabaseHandle, DB } from '../../server/db/index.js';
import { ManualClock } from '../../server/lib/clock.js';
import { smtpTransport, type MailTransport } from '../../server/mail/transport.js';
import { guard, testDatabase, type TapLike } from './db.js';
import { smtpSink, type SmtpSink } from './smtp.js';
import { ContractChecker } from './contract.js';

export const TEST_START = '2026-03-02T09:00:00Z';
export const TEST_PUBLIC_URL = 'http://portal.test';

export interface TestApp {
  app: FastifyInstance;
  db: DB;
  handle: DatabaseHandle;
  clock: ManualClock;
  smtp: SmtpSink;
  mail: MailTransport;
  config: Config;
  sessionSecret: string;
  /** Runs the outbox worker until a pass handles nothing; resolves to the number of mails handled. */
  drainMail(): Promise<number>;
}

export interface TestAppOptions {
  /** Extra environment for loadConfig (overrides the test defaults). */
  env?: Record<string, string>;
  /** Capture the portal's real log (its redaction included) here instead of silencing it. */
  logStream?: NodeJS.WritableStream;
}

export async function testApp(t: TapLike, opts: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: TEST_PUBLIC_URL, LOG_LEVEL: 'silent', ...opts.env });
  // Teardowns run last-in first-out: app, then mail transport, then SMTP sink, then database.
  const handle = await testDatabase(t);
  const smtp = await smtpSink(t);
  const mail = smtpTransport(smtp.url, config.MAIL_FROM);
  t.teardown(() => guard('close mail transport', () => mail.close?.()));
  const clock = new ManualClock(TEST_START);
  const sessionSecret = randomBytes(24).toString('hex');
  const logging = opts.logStream ? { logStream: opts.logStream } : { logger: false as const };
  // Every API response of every test is checked against the OpenAPI document the app serves.
  const contract = new ContractChecker(() => app);
  const app: FastifyInstance = await buildApp({ config, db: handle.db, clock, mail, sessionSecret, scheduleEveryMs: 0, checkApiResponse: contract.check, ...logging });
  t.teardown(() => guard('close app', () => app.close()));
  await app.ready();

  return {
    app,
    db: handle.db,
    handle,
    clock,
    smtp,
    mail,
    config,
    sessionSecret,
    async drainMail() {
      let total = 0;
      for (let pass = 0; ; pass++) {
        if (pass > 1000) throw new Error('drainMail: the outbox does not drain (over 1000 passes)');
        const n = await app.services.worker.runOnce();
        if (n === 0) return total;
        total += n;
      }
    },
  };
}
