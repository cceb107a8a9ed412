// Shared start-up for the server and the command-line scripts: open the
// database the configuration names, migrate it, and pick the mail transport.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from './config.js';
import { connectPostgres, migrateToLatest, openPglite, type DatabaseHandle, type DB } from './db/index.js';
import { folderTransport, smtpTransport, type MailTransport } from './mail/transport.js';
import { keepSecret } from './auth/repository.js';

export async function openDatabase(config: Config): Promise<DatabaseHandle> {
  const handle = config.DATABASE_URL ? connectPostgres(config.DATABASE_URL) : await openPglite(config.DATA_DIR);
  try {
    await migrateToLatest(handle.db);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

export function mailTransport(config: Config, print: (line: string) => void): MailTransport {
  return config.SMTP_URL ? smtpTransport(config.SMTP_URL, config.MAIL_FROM) : folderTransport(join(config.DATA_DIR, 'outbox'), config.MAIL_FROM, print);
}

/**
 * The secret that signs session cookies: SESSION_SECRET when set, otherwise
 * one generated on first start and kept in the database, so every instance
 * behind a load balancer shares it without configuration.
 */
export async function sessionSecret(config: Config, db: DB): Promise<string> {
  if (config.SESSION_SECRET) return config.SESSION_SECRET;
  return keepSecret(db, 'session', randomBytes(48).toString('base64url'));
}
