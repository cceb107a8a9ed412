// Process entry: configuration -> database -> migrations -> app -> mail
// worker -> listen. SIGTERM/SIGINT close the server (in-flight requests
// finish), stop the worker after its current mail, and close the database.
import { LockedError } from './db/index.js';
import { systemClock } from './lib/clock.js';
import { loadConfigOrExit, mailTransport, openDatabase, sessionSecrets } from './runtime.js';

async function main() {
  const config = loadConfigOrExit();

  // The app's modules (a few hundred ms of loading) load while the database starts.
  const appModule = import('./app.js');
  let handle;
  try {
    handle = await openDatabase(config);
  } catch (err) {
    console.error(err instanceof LockedError ? err.message : `Could not open the database: ${(err as Error).message}`);
    process.exit(1);
  }

  const mail = mailTransport(config, (line) => process.stdout.write(`${line}\n`));
  const { stored, ...secrets } = await sessionSecrets(config, handle.db);
  if (stored) {
    process.stderr.write(
      '\nWARNING: SESSION_SECRET is not set, so the key that signs sessions is kept in the database.\n' +
        'Anyone with a copy of the database could sign in as any user. This is for local use only;\n' +
        'set SESSION_SECRET (32+ random characters, e.g. `openssl rand -base64 48`) anywhere else.\n\n',
    );
  }
  if (!config.ENCRYPTION_KEY) {
    process.stderr.write(
      `WARNING: ENCRYPTION_KEY is not set, so the secrets kept in the database (webhook signing secrets) are\n` +
        `encrypted with a key derived from the session secret${stored ? ', which is in the same database' : ''}. For local use only;\n` +
        'set ENCRYPTION_KEY (32+ random characters) anywhere else, and keep it.\n\n',
    );
  }
  const { buildApp } = await appModule;
  const app = await buildApp({ config, db: handle.db, clock: systemClock, mail, ...secrets });
  app.services.worker.start();
  app.services.webhooks.start();
  app.services.refresher.start();

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await app.close(); // stops accepting, lets requests finish, stops the worker (onClose)
    mail.close?.();
    await handle.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ host: config.HOST, port: config.PORT });
  const where = config.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `embedded PostgreSQL in ${config.DATA_DIR}`;
  const outbox = config.SMTP_URL ? 'SMTP (SMTP_URL)' : `the local outbox ${config.DATA_DIR}/outbox (links are printed here)`;
  process.stdout.write(`\nPosture Portal is running: open ${config.PUBLIC_URL}\n  database: ${where}\n  mail: ${outbox}\n\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
