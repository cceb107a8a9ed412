// One server of `npm run bench -- --side-by-side`, in a process of its own so
// the load generator's CPU is never counted as the server's. Started by
// side-by-side.ts with an IPC channel:
//
//   node --import tsx scripts/bench/server-child.ts portal|minimal
//   env: BENCH_DATABASE_URL (the throwaway database, already migrated and seeded)
//
// It sends {type:'ready', address} once listening, answers {type:'cpu', id}
// with its process.cpuUsage(), and on {type:'stop'} closes and exits 0 (so a
// --cpu-prof profile is written). It exits too when the parent goes away.
//
// The portal runs as server/main.ts runs it in production: buildApp with its
// own logger at info level writing to stdout (which the parent points at
// /dev/null), NODE_ENV=production, the mail worker polling, rate limits on.
import pg from 'pg';
import { buildApp } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';
import { systemClock } from '../../server/lib/clock.js';
import { openDatabase } from '../../server/runtime.js';
import { buildMinimalApp } from './minimal-app.js';

type Message = { type: 'cpu'; id: number } | { type: 'stop' };

const which = process.argv[2];
const url = process.env.BENCH_DATABASE_URL;
if (!process.send || !url || (which !== 'portal' && which !== 'minimal')) {
  console.error('usage: BENCH_DATABASE_URL=… node --import tsx scripts/bench/server-child.ts portal|minimal (with an IPC channel)');
  process.exit(2);
}

let close: () => Promise<void>;
let address: string;
if (which === 'portal') {
  const config = loadConfig({
    DATABASE_URL: url,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    SESSION_SECRET: 's'.repeat(40),
    ENCRYPTION_KEY: 'e'.repeat(40),
    // Required in production; nothing is sent (the transport below drops mail, and the seeding sent every invitation).
    SMTP_URL: 'smtp://127.0.0.1:9',
    PUBLIC_URL: 'http://127.0.0.1',
  });
  const handle = await openDatabase(config);
  const app = await buildApp({ config, db: handle.db, clock: systemClock, mail: { send: async () => {} }, sessionSecret: config.SESSION_SECRET! });
  app.services.worker.start();
  app.services.refresher.start();
  address = await app.listen({ host: '127.0.0.1', port: 0 });
  close = async () => {
    await app.close();
    await handle.close();
  };
} else {
  // The portal's pool size (connectPostgres defaults to 10).
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {});
  const app = await buildMinimalApp((text, values) => pool.query(text, values));
  address = await app.listen({ host: '127.0.0.1', port: 0 });
  close = async () => {
    await app.close();
    await pool.end();
  };
}

process.on('message', (m: Message) => {
  if (m.type === 'cpu') process.send!({ type: 'cpu', id: m.id, usage: process.cpuUsage() });
  if (m.type === 'stop') {
    void close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', address });
