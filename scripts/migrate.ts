// Applies pending migrations to the database the environment names
// (DATABASE_URL, or the embedded one in DATA_DIR) and exits.
import { ConfigError, loadConfig } from '../server/config.js';
import { openDatabase } from '../server/runtime.js';

try {
  const handle = await openDatabase(loadConfig());
  await handle.close();
  console.log('Migrations are up to date.');
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `Migration failed: ${(err as Error).message}`);
  process.exit(1);
}
