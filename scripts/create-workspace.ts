// Creates a vendor workspace and its first admin from the command line, and
// prints a sign-in link (15 minutes, single use) and an API key.
//
//   npm run create-workspace -- --name "Acme AI" --email admin@acme.example --admin "Ada Admin"
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../server/config.js';
import { openDatabase } from '../server/runtime.js';
import { MINUTE, systemClock } from '../server/lib/clock.js';
import { email, name } from '../server/lib/validate.js';
import { transaction } from '../server/db/index.js';
import { createApiKey, createWorkspace, issueSigninLink, LOGIN_TTL_MS } from '../server/auth/service.js';

const usage = 'Usage: npm run create-workspace -- --name "Company" --email admin@company.example [--admin "Admin Name"]';

const input = z.object({ name: name(120), email, admin: name(120) });

async function run() {
  const { values } = parseArgs({ options: { name: { type: 'string' }, email: { type: 'string' }, admin: { type: 'string' } } });
  const parsed = input.safeParse({ name: values.name, email: values.email, admin: values.admin ?? values.email?.split('@')[0] });
  if (!parsed.success) {
    console.error(`${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n')}\n${usage}`);
    process.exit(2);
  }
  const config = loadConfig();
  const handle = await openDatabase(config);
  try {
    const clock = systemClock;
    const { token, key, vendorId } = await transaction(handle.db, async (trx) => {
      const ws = await createWorkspace(trx, clock, { workspace: parsed.data.name, name: parsed.data.admin, email: parsed.data.email });
      return {
        token: await issueSigninLink(trx, clock, { userId: ws.userId, email: parsed.data.email }),
        key: await createApiKey(trx, clock, ws.vendorId, ws.userId, 'Created by create-workspace', 'owner'),
        vendorId: ws.vendorId,
      };
    });
    console.log(`Workspace "${parsed.data.name}" created (${vendorId}).`);
    console.log(`Sign in within ${LOGIN_TTL_MS / MINUTE} minutes: ${config.PUBLIC_URL}/auth/link/${token}`);
    console.log(`API key (shown once): ${key}`);
  } finally {
    await handle.close();
  }
}

run().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `Could not create the workspace: ${(err as Error).message}`);
  process.exit(1);
});
