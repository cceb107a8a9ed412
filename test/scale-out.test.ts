// Two app servers, one database, one Redis (REDIS_URL): rate-limit counters
// live in Redis, so an address has one budget however a load balancer spreads
// its requests. Without Redis each process counts on its own, which the last
// test shows, so the first cannot pass by accident. Should Redis fail, requests
// go on uncounted. The shared-budget test needs a Redis at TEST_REDIS_URL
// (default redis://127.0.0.1:6379); without one it is reported as skipped,
// never as passed.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import type { DB } from '../server/db/index.js';
import { ManualClock } from '../server/lib/clock.js';
import { TEST_PUBLIC_URL, TEST_START } from './helpers/app.js';
import { guard, testDatabase, type TapLike } from './helpers/db.js';
import { form } from './helpers/http.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A connection to the test Redis, or undefined when none answers within a second. */
async function redisAnswers(): Promise<Redis | undefined> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    redis.disconnect();
    return undefined;
  }
}

/** One app server over `db`, with its own rate-limit state (in Redis when env names it). */
async function instance(t: TapLike, db: DB, env: Record<string, string>, redisKeyPrefix?: string): Promise<FastifyInstance> {
  const config = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: TEST_PUBLIC_URL, LOG_LEVEL: 'silent', ...env });
  const app = await buildApp({ config, db, clock: new ManualClock(TEST_START), mail: { send: async () => {} }, sessionSecret: 's'.repeat(40), logger: false, redisKeyPrefix });
  t.teardown(() => guard('close app', () => app.close()));
  await app.ready();
  return app;
}

/** Sign-in requests from one address: ten per 10 minutes. */
const signIn = (app: FastifyInstance, i: number) =>
  app.inject({ method: 'POST', url: '/signin', ...form({ email: `someone${i}@example.test` }), remoteAddress: '203.0.113.77' }).then((r) => r.statusCode);

const redis = await redisAnswers();
// One database for every instance here, as app servers behind a load balancer share one.
const { db } = await testDatabase(t);
// Every key this run writes starts with its own prefix, and is removed at the end.
const prefix = `pp-test-${randomBytes(6).toString('hex')}:`;
if (redis) {
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
}

t.test('two instances with REDIS_URL share one rate-limit budget', { skip: redis ? false : `no Redis at ${REDIS_URL}; start one (or set TEST_REDIS_URL)` }, async (t) => {
  const a = await instance(t, db, { REDIS_URL }, prefix);
  const b = await instance(t, db, { REDIS_URL }, prefix);

  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push(await signIn(a, i));
  for (let i = 6; i < 10; i++) codes.push(await signIn(b, i));
  t.same(codes, Array(10).fill(200), 'ten sign-in requests, six on A and four on B, are answered');
  t.equal(await signIn(b, 10), 429, 'the eleventh, on B, is refused: A’s six counted there too');
  t.equal(await signIn(a, 11), 429, 'and on A');
  t.ok((await redis!.keys(`${prefix}*`)).length > 0, 'the counters are in Redis, under the prefix given');
});

t.test('without REDIS_URL each instance counts on its own', async (t) => {
  const a = await instance(t, db, {});
  const b = await instance(t, db, {});
  for (let i = 0; i < 6; i++) await signIn(a, i);
  for (let i = 6; i < 10; i++) await signIn(b, i);
  t.equal(await signIn(b, 10), 200, 'B has seen only five, so the eleventh passes');
});

t.test('while Redis is unreachable, requests are answered, uncounted', async (t) => {
  // Nothing listens on port 1: every counter fails, after at most the command timeout.
  const app = await instance(t, db, { REDIS_URL: 'redis://127.0.0.1:1' }, prefix);
  const codes = [await signIn(app, 0), await signIn(app, 1)];
  t.same(codes, [200, 200], 'sign-in still works rather than failing with the rate limiter');
});
