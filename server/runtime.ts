// Shared start-up for the server and the command-line scripts: open the
// database the configuration names, migrate it, and pick the mail transport.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config.js';
import { connectPostgres, migrateToLatest, openPglite, type DatabaseHandle, type DB } from './db/index.js';
import { folderTransport, smtpTransport, type MailTransport } from './mail/transport.js';
import { forgetStoredSessionSecret, storedSessionSecret } from './auth/service.js';
import { rebuildReadModel } from './readmodel/service.js';

/** The configuration from the environment; a bad setting is named on stderr and the process exits 2. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

export async function openDatabase(config: Config): Promise<DatabaseHandle> {
  const handle = config.DATABASE_URL ? connectPostgres(config.DATABASE_URL, undefined, { statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS }) : await openPglite(config.DATA_DIR);
  try {
    await migrateToLatest(handle.db);
    // Deals that have no read model yet (those that existed before it did) get one now.
    await rebuildReadModel(handle.db, { onlyMissing: true });
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
 * The secrets that sign session cookies. SESSION_SECRET (required in
 * production), plus the previous one during a rotation. For local use only,
 * without SESSION_SECRET, one is generated on first start and kept in the
 * database: `stored` tells the caller to warn.
 */
export async function sessionSecrets(config: Config, db: DB): Promise<{ sessionSecret: string; previousSessionSecret?: { secret: string; until: Date }; stored: boolean }> {
  if (!config.SESSION_SECRET) return { sessionSecret: await storedSessionSecret(db, randomBytes(48).toString('base64url')), stored: true };
  // Once the operator sets a secret, the stored one (if any) has no use left: drop it from the database.
  await forgetStoredSessionSecret(db);
  const previous = config.SESSION_SECRET_PREVIOUS && config.SESSION_SECRET_PREVIOUS_UNTIL;
  return {
    sessionSecret: config.SESSION_SECRET,
    previousSessionSecret: previous ? { secret: config.SESSION_SECRET_PREVIOUS!, until: new Date(config.SESSION_SECRET_PREVIOUS_UNTIL!) } : undefined,
    stored: false,
  };
}
