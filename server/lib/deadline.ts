// A deadline on every request: one not answered in time gets 503
// `unavailable` through the one error path, rather than waiting as long as
// whatever holds it (a stalled database, typically). The work behind it is
// not cancelled; when it finishes or fails later, that passes quietly.
// Liveness (/healthz) is exempt: it must never depend on anything slow.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { handleError } from './error-handler.js';
import { DomainError } from './errors.js';

const EXEMPT = new Set(['/healthz']);

const MESSAGE =
  'The portal could not answer in time, most likely because its database is slow to respond. Please try again in a moment; if you were saving something, check first whether it was saved.';

/** Each pending request's timer, stopped as soon as an answer starts to go out. */
const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
/** Replies the deadline answered: their handler has nothing left to say. */
const expired = new WeakSet<FastifyReply>();

/** Adds the deadline to every route registered after this call. */
export function requestDeadline(app: FastifyInstance, ms: number): void {
  app.addHook('onRequest', async (req, reply) => {
    if (EXEMPT.has(req.routeOptions.url ?? '')) return;
    const timer = setTimeout(() => expire(req, reply, ms), ms);
    timer.unref(); // a timer alone never keeps the process from exiting
    timers.set(req, timer);
  });
  app.addHook('onSend', async (req, _reply, payload) => {
    clearTimeout(timers.get(req));
    return payload;
  });
  app.addHook('onRequestAbort', async (req) => clearTimeout(timers.get(req)));

  // A handler still running when the deadline answered usually fails later
  // (its query times out). Fastify would log that as an error about a reply
  // already sent; here it is expected, so it is noted and dropped.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (req, reply) {
      const result: unknown = handler.call(this, req, reply);
      if (!(result instanceof Promise)) return result;
      return result.catch((err: unknown) => {
        if (!expired.has(reply)) throw err;
        req.log.info({ err }, 'request failed after its deadline had answered');
      });
    };
  });
}

function expire(req: FastifyRequest, reply: FastifyReply, ms: number) {
  if (reply.sent || reply.raw.headersSent) return;
  expired.add(reply);
  // The handler may still answer later; Fastify would warn that the reply was already sent.
  const send = reply.send;
  reply.send = (payload?: unknown) => (reply.sent || reply.raw.headersSent ? reply : send.call(reply, payload));
  req.log.warn({ deadlineMs: ms }, 'request deadline passed');
  handleError(new DomainError('unavailable', MESSAGE), req, reply);
}
