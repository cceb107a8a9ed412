// buildApp(deps) assembles the portal: external plugins, then our shared
// pieces, then the features, in a fixed order. No I/O happens at import time.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join } from 'node:path';
import { pino } from 'pino';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import jwt from '@fastify/jwt';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { Config } from './config.js';
import { ping, type DB } from './db/index.js';
import type { Clock } from './lib/clock.js';
import { DomainError } from './lib/errors.js';
import { handleError, isApi } from './lib/error-handler.js';
import { requestDeadline } from './lib/deadline.js';
import { registerCompression } from './lib/compress.js';
import { registerSecurityHeaders } from './lib/security-headers.js';
import type { Services } from './services.js';
import { MailWorker } from './mail/outbox.js';
import type { MailTransport } from './mail/transport.js';
import { clockStore } from './lib/rate-limit-store.js';
import { connectRedis } from './lib/redis.js';
import { FailureLimit } from './lib/failure-limit.js';
import { cookieSigner, jwtSecret, keyId } from './auth/keys.js';
import { checkRouteRoles } from './auth/session.js';
import { MAILS } from './mails.js';
import { scheduleReminders } from './stakeholders/service.js';
import { DirtyDealRefresher } from './readmodel/service.js';
import { Views } from './views.js';
import authRoutes from './auth/routes.js';
import apiAuth from './auth/api-key.js';
import profileRoutes from './profiles/routes.js';
import dealRoutes from './deals/routes.js';
import stakeholderRoutes from './stakeholders/routes.js';
import respondRoutes from './respond/routes.js';
import apiRoutes from './api/routes.js';
import { apiContract, openapiRoute } from './api/openapi.js';
import idempotency, { purgeIdempotencyKeys } from './api/idempotency.js';
import { insightApi, insightPages } from './insights/routes.js';
import { exportApi, exportPages } from './exports/routes.js';
import { auditApi, auditPages } from './audit/routes.js';
import settingsRoutes from './settings/routes.js';
import { webhookApi, webhookPages } from './webhooks/routes.js';
import { ssoApi, ssoPages } from './sso/routes.js';
import { memberApi, memberPages } from './members/routes.js';
import { WebhookWorker } from './webhooks/worker.js';
import { createSealer } from './lib/crypto.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The project folder (templates/ is in it): one up from server/, or two from dist/server/ when built. */
export const ROOT = join(HERE, basename(dirname(HERE)) === 'dist' ? '../..' : '..');

/** The version the OpenAPI document carries: the package's own. */
const API_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface AppDeps {
  config: Config;
  db: DB;
  clock: Clock;
  mail: MailTransport;
  /** Signs session and CSRF cookies (SESSION_SECRET). */
  sessionSecret: string;
  /** After a rotation: the old secret, still accepted for verification until `until` (by the injected clock). */
  previousSessionSecret?: { secret: string; until: Date };
  /** false for silence; otherwise the portal's logger (level from config), written to logStream or stdout. */
  logger?: false;
  logStream?: NodeJS.WritableStream;
  /** Poll interval of the outbox worker (the worker is started by main.ts, not here). */
  workerPollMs?: number;
  /** How often the worker looks for due reminders (by the injected clock); tests use 0. */
  scheduleEveryMs?: number;
  /** Starts every key the app keeps in Redis (REDIS_URL); tests use one of their own. */
  redisKeyPrefix?: string;
  /**
   * Derives the key that encrypts secrets kept in the database (webhook signing secrets). Defaults to
   * config.ENCRYPTION_KEY, and without it (local use only; production requires it) to the session secret.
   */
  encryptionKey?: string;
  /** Poll interval of the webhook worker (started by main.ts, not here). */
  webhookPollMs?: number;
  /**
   * Sees every /api/v1 response before it is sent (tests check each one against the OpenAPI document);
   * throwing turns the response into a 500.
   */
  checkApiResponse?: (res: ApiResponseSeen) => void;
}

export interface ApiResponseSeen {
  method: string;
  /** The route's pattern, e.g. /api/v1/deals/:id. */
  route: string;
  status: number;
  contentType: string;
  /** The body as sent: a string, or undefined when it is a stream or a buffer. */
  body: string | undefined;
}

/** One log line per request, once it is answered: what was asked (redacted, below), the status and the time. */
class OneLinePerRequest extends LogController {
  override incomingRequest() {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply) {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/** Paths whose last segment is a credential; logs show them redacted. */
const TOKEN_IN_PATH = /^\/(r|auth\/link|invite)\/[^/?#]+/;

/**
 * What the log shows of a request's address: the matched route's pattern
 * ("/r/:token") when there is one, so no encoding of the path can smuggle a
 * token into the log; otherwise the path with token-like segments redacted.
 */
export function loggedUrl(req: FastifyRequest): string {
  return req.routeOptions?.url ?? redactUrl(req.url);
}

export function redactUrl(url: string): string {
  return url
    .replace(/\?.*$/, '?[…]')
    .replace(TOKEN_IN_PATH, (_m, prefix: string) => `/${prefix}/[redacted]`)
    .replace(/[A-Za-z0-9_%-]{32,}/g, '[redacted]');
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  // The security headers, set by the hook registered below; frameworkErrors (which runs before hooks) uses them too.
  let headers: Record<string, string> = {};
  const app = Fastify({
    logger:
      deps.logger === undefined
        ? {
            level: config.LOG_LEVEL,
            // Standard output, written asynchronously: a request never waits for its log line to be written
            // (pino flushes what is pending when the process exits).
            stream: deps.logStream ?? pino.destination({ dest: 1, sync: false }),
            redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
            serializers: {
              req: (req: FastifyRequest) => ({ method: req.method, url: loggedUrl(req), remoteAddress: req.ip }),
            },
          }
        : deps.logger,
    // A hop count trusts that many proxies nearest to us, never the client's own claims.
    trustProxy: typeof config.TRUST_PROXY === 'number' ? (_addr: string, hop: number) => hop < (config.TRUST_PROXY as number) : config.TRUST_PROXY,
    bodyLimit: 256 * 1024,
    // One log line per request ("request completed", with its status and time), not Fastify's two.
    logController: new OneLinePerRequest(),
    routerOptions: { ignoreTrailingSlash: true },
    // Fastify's own client errors (a bad %-escape, an over-long path parameter,
    // an unreadable body) take the same path as ours.
    frameworkErrors: (err, req, reply) => {
      // Fastify answers these before any hook runs: they get the security headers here.
      reply.headers(headers);
      return handleError(err, req, reply);
    },
  });

  const views = new Views(join(ROOT, 'templates'));
  const sealer = createSealer({ 1: deps.encryptionKey ?? config.ENCRYPTION_KEY ?? deps.sessionSecret });
  const services: Services = {
    config,
    db: deps.db,
    clock: deps.clock,
    views,
    worker: undefined as unknown as MailWorker,
    sealer,
    webhooks: new WebhookWorker({ db: deps.db, clock: deps.clock, sealer, config, log: app.log, pollMs: deps.webhookPollMs }),
    refresher: new DirtyDealRefresher(deps.db, app.log),
    sessionKeyId: keyId(deps.sessionSecret),
    // 120 failed lookups a minute per address: far above a person mistyping, far below guessing at scale.
    failures: new FailureLimit(deps.clock, 120, 60_000),
  };
  services.worker = new MailWorker(
    deps.db,
    deps.clock,
    deps.mail,
    MAILS,
    { db: deps.db, clock: deps.clock, views, config },
    app.log,
    deps.workerPollMs,
    async () => {
      await scheduleReminders(deps.db, deps.clock);
      await purgeIdempotencyKeys(deps.db, deps.clock.now());
    },
    deps.scheduleEveryMs,
  );
  app.decorate('services', services);
  const routeTable: { method: string; url: string }[] = [];
  app.decorate('routeTable', routeTable);
  // Every vendor route that changes something declares the role it needs.
  checkRouteRoles(app);
  app.addHook('onRoute', (route) => {
    for (const method of ([] as string[]).concat(route.method)) routeTable.push({ method, url: route.url });
  });
  app.addHook('onClose', async () => {
    await Promise.all([services.worker.stop(), services.refresher.stop(), services.webhooks.stop()]);
  });

  // 1. External plugins.
  headers = registerSecurityHeaders(app, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        scriptSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        connectSrc: ["'self'"],
      },
    },
    // Link pages carry tokens in their URL: never send it anywhere.
    referrerPolicy: { policy: 'no-referrer' },
    hsts: config.secureCookies ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
  // HTML, CSS and JSON go compressed to clients that ask.
  await registerCompression(app);
  const keys = { current: deps.sessionSecret, previous: deps.previousSessionSecret };
  await app.register(cookie, { secret: cookieSigner(keys, deps.clock) });
  await app.register(formbody, { bodyLimit: 128 * 1024 });
  await app.register(jwt, {
    secret: jwtSecret(keys, deps.clock),
    cookie: { cookieName: 'pp_session', signed: false },
    sign: { expiresIn: '12h' },
  });
  await app.register(csrf, {
    cookieKey: 'pp_csrf',
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'lax', secure: config.secureCookies, signed: true },
    getToken: (req) => (req.body as Record<string, string> | undefined)?._csrf,
  });
  // A request not answered in time gets 503 rather than waiting on a stalled database (/healthz exempt).
  requestDeadline(app, config.REQUEST_DEADLINE_MS);
  // Under sustained overload, answer 503 quickly rather than queue without bound.
  // Liveness (/healthz) is exempt so a busy instance is not mistaken for a dead one.
  await app.register(underPressure, {
    maxEventLoopDelay: config.MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: config.MAX_HEAP_MB * 1024 * 1024,
    retryAfter: 10,
    pressureHandler: (req, _reply, type) => {
      if (req.url === '/healthz') return;
      req.log.warn({ type }, 'shedding load');
      throw new DomainError('overloaded', 'The portal is very busy right now. Please try again in a few seconds.');
    },
  });
  const redis = config.REDIS_URL ? connectRedis(config.REDIS_URL, app.log) : undefined;
  if (redis) app.addHook('onClose', async () => redis.disconnect());
  await app.register(rateLimit, {
    global: false,
    // With REDIS_URL the counters live in Redis, one budget for every instance, timed by Redis;
    // should Redis fail, requests go on uncounted rather than fail. Without it, windows move with
    // the injected clock, as every other rule about time does.
    ...(redis ? { redis, nameSpace: `${deps.redisKeyPrefix ?? 'posture-portal:'}rate-limit:`, skipOnError: true } : { store: clockStore(deps.clock) }),
    errorResponseBuilder: (_req, ctx) => new DomainError('rate_limited', `Too many requests. Please wait ${Math.ceil(ctx.ttl / 1000)} seconds and try again.`),
  });

  // 2. Shared pieces: one error path, a not-found page, assets, health.
  app.setErrorHandler((err, req, reply) => handleError(err, req, reply));
  app.setNotFoundHandler((req, reply) => handleError(new DomainError('not_found', 'There is nothing at this address.'), req, reply));

  const css = readFileSync(join(ROOT, 'templates', 'assets', 'app.css'));
  app.get('/assets/app.css', (_req, reply) => {
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(css);
  });
  const favicon = readFileSync(join(ROOT, 'templates', 'assets', 'favicon.svg'));
  const sendFavicon = (_req: FastifyRequest, reply: FastifyReply) => reply.header('cache-control', 'public, max-age=86400').type('image/svg+xml').send(favicon);
  app.get('/assets/favicon.svg', sendFavicon);
  app.get('/favicon.ico', sendFavicon);
  // Liveness: the process answers. Readiness: it can reach its database.
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) =>
    (await ping(deps.db)) ? { status: 'ready' } : reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reason: 'database' }),
  );

  // Every HTML form is posted by our own pages, url-encoded. Refusing other
  // origins stops login CSRF on the link pages (which have no session yet);
  // refusing other body types keeps objects out of code that expects strings.
  const ownOrigin = new URL(config.PUBLIC_URL).origin;
  app.addHook('onRequest', async (req) => {
    if (req.method !== 'POST' || isApi(req)) return;
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    // Browsers without Fetch Metadata still send Origin on a cross-site POST ("null" from sandboxes and redirects).
    if ((site !== undefined && site !== 'same-origin') || (site === undefined && origin !== undefined && origin !== ownOrigin)) {
      throw new DomainError('cross_site', 'This form can only be sent from the portal’s own pages.');
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== '' && type !== 'application/x-www-form-urlencoded') {
      throw new DomainError('unsupported_media_type', 'Send this form as application/x-www-form-urlencoded.');
    }
  });

  // 3. Features.
  await app.register(authRoutes);
  await app.register(settingsRoutes);
  await app.register(webhookPages);
  await app.register(ssoPages);
  await app.register(memberPages);
  await app.register(profileRoutes);
  await app.register(dealRoutes);
  await app.register(stakeholderRoutes);
  await app.register(respondRoutes);
  await app.register(insightPages);
  await app.register(exportPages);
  await app.register(auditPages);
  let apiScope: FastifyInstance | undefined;
  app.decorate('openapiDocument', () => apiScope!.swagger() as object);
  // Outside the scope below: the document needs no key.
  openapiRoute(app);
  await app.register(
    async (api) => {
      apiScope = api;
      if (deps.checkApiResponse) {
        const check = deps.checkApiResponse;
        api.addHook('onSend', async (req, reply, payload) => {
          check({
            method: req.method,
            route: req.routeOptions.url ?? req.url,
            status: reply.statusCode,
            contentType: String(reply.getHeader('content-type') ?? ''),
            body: typeof payload === 'string' ? payload : undefined,
          });
          return payload;
        });
      }
      await apiContract(api, API_VERSION);
      await api.register(apiAuth);
      await api.register(idempotency);
      await api.register(apiRoutes);
      await api.register(webhookApi);
      await api.register(ssoApi);
      await api.register(memberApi);
      await api.register(exportApi);
      await api.register(insightApi);
      await api.register(auditApi);
    },
    { prefix: '/api/v1' },
  );

  return app;
}
