// A missing or malformed setting stops the process with a message naming the variable.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../server/config.js';

t.test('loadConfig names each bad variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { constructor: ConfigError, message: /PORT/ });
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL: must start with postgres/);
  t.throws(() => loadConfig({ SMTP_URL: 'http://mail' }), /SMTP_URL/);
  t.throws(() => loadConfig({ REDIS_URL: 'http://cache:6379' }), /REDIS_URL: must start with redis:\/\/ or rediss:\/\//);
  t.equal(loadConfig({ REDIS_URL: 'rediss://cache.example:6380/2' }).REDIS_URL, 'rediss://cache.example:6380/2', 'redis:// or rediss://, with a database number');
  t.throws(() => loadConfig({ SESSION_SECRET: 'short' }), /SESSION_SECRET: must be at least 32 characters/);
  t.throws(() => loadConfig({ PUBLIC_URL: 'not a url' }), /PUBLIC_URL/);
  t.throws(() => loadConfig({ LINK_TTL_DAYS: '0' }), /LINK_TTL_DAYS/);
  const c = loadConfig({ PORT: '4000', DATABASE_URL: '' });
  t.equal(c.PUBLIC_URL, 'http://localhost:4000', 'a default public URL');
  t.equal(c.DATABASE_URL, undefined, 'an empty variable counts as unset');
  t.equal(c.secureCookies, false);
  t.equal(loadConfig({ PUBLIC_URL: 'https://portal.example/' }).secureCookies, true);
  t.ok(Object.isFrozen(c));
});

t.test('the server exits non-zero and names the variable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { PATH: process.env.PATH, PORT: 'not-a-port', DATA_DIR: dir },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(run.status, 2);
  t.match(run.stderr, /PORT/);
});

t.test('proxies are trusted by hop count or address, never wholesale', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: '1' }).TRUST_PROXY, 1);
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY, ['10.0.0.0/8', '127.0.0.1']);
  t.equal(loadConfig({}).TRUST_PROXY, false);
  t.throws(() => loadConfig({ TRUST_PROXY: 'true' }), /TRUST_PROXY/);
});

t.test('production refuses to print mailed links to the log', async (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), /SMTP_URL: is required when NODE_ENV is production/);
  t.ok(loadConfig({ NODE_ENV: 'production', SMTP_URL: 'smtp://mail:25', SESSION_SECRET: 's'.repeat(40), ENCRYPTION_KEY: 'e'.repeat(40) }));
});

t.test('production needs a session secret of its own; rotation needs an end', async (t) => {
  const prod = { NODE_ENV: 'production', SMTP_URL: 'smtp://mail.example:587' };
  t.throws(() => loadConfig(prod), /SESSION_SECRET: is required when NODE_ENV is production/, 'no key kept in the database in production');
  t.equal(loadConfig({ ...prod, SESSION_SECRET: 's'.repeat(40), ENCRYPTION_KEY: 'e'.repeat(40) }).SESSION_SECRET, 's'.repeat(40));
  t.throws(() => loadConfig({ ...prod, SESSION_SECRET: 's'.repeat(40) }), /ENCRYPTION_KEY: is required when NODE_ENV is production/, 'stored secrets need a key of their own');
  t.throws(() => loadConfig({ ENCRYPTION_KEY: 'short' }), /ENCRYPTION_KEY: must be at least 32 characters/);
  t.equal(loadConfig({}).ENCRYPTION_KEY, undefined, 'local use derives it from the session secret');
  t.equal(loadConfig({}).WEBHOOK_ALLOW_PRIVATE, false, 'webhooks reach only public addresses unless allowed');
  t.equal(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'true' }).WEBHOOK_ALLOW_PRIVATE, true);
  t.throws(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'yes' }), /WEBHOOK_ALLOW_PRIVATE: must be true or false/);
  t.equal(loadConfig({}).SESSION_SECRET, undefined, 'local use still starts without one');
  t.throws(() => loadConfig({ SESSION_SECRET: 's'.repeat(40), SESSION_SECRET_PREVIOUS: 'p'.repeat(40) }), /SESSION_SECRET_PREVIOUS_UNTIL: set it together/);
  t.throws(
    () => loadConfig({ SESSION_SECRET: 's'.repeat(40), SESSION_SECRET_PREVIOUS: 'p'.repeat(40), SESSION_SECRET_PREVIOUS_UNTIL: 'tomorrow' }),
    /SESSION_SECRET_PREVIOUS_UNTIL: must be an ISO 8601 time/,
  );
  t.throws(
    () => loadConfig({ SESSION_SECRET_PREVIOUS: 'p'.repeat(40), SESSION_SECRET_PREVIOUS_UNTIL: '2026-12-06T12:00:00Z' }),
    /SESSION_SECRET: is required when SESSION_SECRET_PREVIOUS/,
  );
  const rotating = loadConfig({ SESSION_SECRET: 's'.repeat(40), SESSION_SECRET_PREVIOUS: 'p'.repeat(40), SESSION_SECRET_PREVIOUS_UNTIL: '2026-12-06T12:00:00Z' });
  t.equal(rotating.SESSION_SECRET_PREVIOUS_UNTIL, '2026-12-06T12:00:00Z');
});

t.test('the server refuses to start in production without SESSION_SECRET', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { PATH: process.env.PATH, NODE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:1', DATA_DIR: dir },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(run.status, 2);
  t.match(run.stderr, /SESSION_SECRET: is required when NODE_ENV is production/);
});
