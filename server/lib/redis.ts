// The shared Redis named by REDIS_URL, optional. With it, rate-limit counters
// live in Redis, so every app server counts against one budget per address
// (see app.ts); without it, each process counts on its own.
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

export function connectRedis(url: string, log: FastifyBaseLogger): Redis {
  const redis = new Redis(url, {
    // A request waits at most this long for a counter (commands sent before the
    // connection is up wait for it, within this); then it goes on without one.
    commandTimeout: 500,
    maxRetriesPerRequest: 1,
  });
  // ioredis reconnects by itself; without a listener each failed attempt would be thrown.
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'Redis is unavailable; rate limits are not counted meanwhile'));
  return redis;
}
