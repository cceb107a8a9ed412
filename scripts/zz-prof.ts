import { sql } from 'kysely';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { openDatabase } from '../server/runtime.js';
import { systemClock } from '../server/lib/clock.js';
const config = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/bench', LOG_LEVEL: 'silent', API_RATE_LIMIT: '100000' });
const h = await openDatabase(config);
const { deal_id: d, vendor_id: v } = (await sql<{ deal_id: string; vendor_id: string }>`select deal_id, vendor_id from deal_state order by signals desc limit 1`.execute(h.db))
  .rows[0];
const sent: string[] = [];
const app = await buildApp({ config, db: h.db, clock: systemClock, mail: { send: async (m) => void sent.push(m.text) }, sessionSecret: 's'.repeat(40), logger: false });
const email = (await sql<{ email: string }>`select email from users where vendor_id = ${v}`.execute(h.db)).rows[0].email;
await app.inject({ method: 'POST', url: '/signin', payload: `email=${encodeURIComponent(email)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
await app.services.worker.runOnce();
const link = /\/auth\/link\/[A-Za-z0-9_-]{43}/.exec(sent.join('\n'))![0];
const page = await app.inject({ method: 'GET', url: link });
const nonce = /name="nonce" value="([^"]+)"/.exec(page.body)![1];
const nc = String(page.headers['set-cookie']).split(';')[0];
const res = await app.inject({ method: 'POST', url: link, payload: `nonce=${nonce}`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: nc } });
const cookie = ([] as string[])
  .concat(res.headers['set-cookie'] as string[])
  .find((c) => c.startsWith('pp_session='))!
  .split(';')[0];
const time = async (name: string, url: string) => {
  for (let i = 0; i < 20; i++) await app.inject({ method: 'GET', url, headers: { cookie } });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) await app.inject({ method: 'GET', url, headers: { cookie } });
  const c = process.cpuUsage(c0);
  console.log(name.padEnd(12), 'wall', ((performance.now() - t0) / 100).toFixed(2), 'cpu', ((c.user + c.system) / 100000).toFixed(2), 'ms');
};
await time('deal page', `/app/deals/${d}`);
await time('list', '/app');
await time('healthz', '/healthz');
await app.close();
await h.close();
