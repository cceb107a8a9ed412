// Makes the prepared embedded database that every new DATA_DIR starts as a
// copy of (see server/db/pglite-seed.ts), so the first start skips initdb and
// the migrations. Run by `npm install` (postinstall) and by the Docker build.
// It never fails an install: without it, the first start makes the copy.
import { prepareEmbeddedDatabase } from '../server/db/index.js';

try {
  console.log(`Prepared the embedded database: ${await prepareEmbeddedDatabase()}`);
} catch (err) {
  console.warn(`Could not prepare the embedded database (${(err as Error).message}); the first start will.`);
}
