// Rebuilds the read model (deal_state, deal_concern_state, correction_fields)
// from the source tables, for every deal. Idempotent and safe to run while
// the portal serves: each deal is recomputed in its own short transaction.
// Usage: npm run rebuild-read-model   (DATABASE_URL or DATA_DIR as for the server)
import { loadConfigOrExit, openDatabase } from '../server/runtime.js';
import { rebuildReadModel } from '../server/readmodel/service.js';

async function main() {
  const config = loadConfigOrExit();
  const handle = await openDatabase(config);
  try {
    const started = Date.now();
    const n = await rebuildReadModel(handle.db, { progress: (done) => done % 1000 === 0 && process.stdout.write(`  ${done} deals…\n`) });
    process.stdout.write(`Rebuilt the read model of ${n} deals in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
  } finally {
    await handle.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
