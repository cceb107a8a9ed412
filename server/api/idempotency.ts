// Idempotency-Key on API POSTs. A client that did not hear back (a timeout, a
// dropped connection) retries with the same key: it gets the first answer
// again and nothing is created twice. The same key with another request is a
// 422; a retry while the first is still running is a 409. Keys are kept 24
// hours per API key; a 5xx is not kept, so the retry runs afresh.
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError, invalid } from '../lib/errors.js';
import { sessionOf } from '../auth/session.js';
import * as repo from './repository.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/**
 * A first request still unanswered after this long died on the way (it is far past the request deadline,
 * after which the portal answers 503 itself); its key is taken over.
 */
const abandonedAfterMs = (deadlineMs: number) => Math.max(2 * 60_000, 3 * deadlineMs);
const KEY = /^[\x21-\x7e]{1,255}$/;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: repo.KeyHolder;
  }
}

/** JSON with object keys in order, so two bodies that mean the same hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function requestHash(req: FastifyRequest): string {
  return createHash('sha256')
    .update(`${req.method} ${req.routeOptions.url ?? req.url}\n${canonical(req.params ?? {})}\n${canonical(req.body ?? null)}`)
    .digest('base64url');
}

async function idempotency(app: FastifyInstance) {
  const { db, clock, sealer, config } = app.services;
  const abandonedMs = abandonedAfterMs(config.REQUEST_DEADLINE_MS);

  // Before the body is validated: a retry of a bad request gets the same 400, and the hash is of what was sent.
  app.addHook('preValidation', async (req, reply) => {
    const header = req.headers['idempotency-key'];
    if (req.method !== 'POST' || header === undefined) return;
    const key = Array.isArray(header) ? header[0] : header;
    if (!KEY.test(key))
      throw invalid('The Idempotency-Key header must be 1 to 255 printable characters without spaces.', [
        { field: 'Idempotency-Key', message: 'must be 1 to 255 printable characters without spaces' },
      ]);
    const { vendorId, apiKeyId } = sessionOf(req);
    if (!apiKeyId) return;
    const holder = { vendorId, apiKeyId, key, holder: randomUUID() };
    const hash = requestHash(req);
    const now = clock.now();
    if (await repo.claimKey(db, holder, hash, now, new Date(now.getTime() - IDEMPOTENCY_TTL_MS), new Date(now.getTime() - abandonedMs))) {
      req.idempotency = holder;
      return;
    }
    const kept = await repo.findKey(db, holder);
    // Gone between the two statements (purged, or its first request failed): treat as in progress; the retry will pass.
    if (!kept || kept.request_hash !== hash) {
      if (kept) throw new DomainError('idempotency_key_reused', 'This Idempotency-Key was already used with a different request. Use a new key for a new request.');
    }
    if (!kept || kept.status_code === null) {
      reply.header('retry-after', '1');
      throw new DomainError('idempotency_in_progress', 'A request with this Idempotency-Key is still being answered. Retry in a moment.');
    }
    reply.code(kept.status_code).header('idempotent-replayed', 'true');
    if (kept.content_type) reply.header('content-type', kept.content_type);
    return reply.send(kept.response_body ? sealer.open(kept.response_body) : undefined);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const holder = req.idempotency;
    if (!holder) return payload;
    req.idempotency = undefined;
    if (reply.statusCode >= 500 || (payload !== undefined && payload !== null && typeof payload !== 'string')) await repo.releaseKey(db, holder);
    else await repo.keepAnswer(db, holder, reply.statusCode, String(reply.getHeader('content-type') ?? ''), sealer.seal((payload as string | undefined) ?? ''));
    return payload;
  });
}

/** Forgets keys older than a day, a batch at a time (run by the worker's schedule). */
export function purgeIdempotencyKeys(db: Parameters<typeof repo.purgeKeys>[0], now: Date): Promise<number> {
  return repo.purgeKeys(db, new Date(now.getTime() - IDEMPOTENCY_TTL_MS), 1000);
}

export default fp(idempotency, { name: 'idempotency', dependencies: ['api-auth'] });
