// What every feature may use, decorated on the Fastify instance as
// `app.services`. Lives apart from app.ts so that no feature imports app.ts.
import type { Config } from './config.js';
import type { DB } from './db/index.js';
import type { Clock } from './lib/clock.js';
import type { MailWorker } from './mail/outbox.js';
import type { DirtyDealRefresher } from './readmodel/service.js';
import type { Views } from './views.js';
import type { FailureLimit } from './lib/failure-limit.js';
import type { Sealer } from './lib/crypto.js';
import type { WebhookWorker } from './webhooks/worker.js';

export interface Services {
  config: Config;
  db: DB;
  clock: Clock;
  views: Views;
  worker: MailWorker;
  /** Sends queued webhook deliveries (started by main.ts, stopped when the app closes). */
  webhooks: WebhookWorker;
  /** Encrypts secrets kept in the database (ENCRYPTION_KEY; see server/lib/crypto.ts). */
  sealer: Sealer;
  /** Brings the read model of deals that answers marked up to date, in the background (started by main.ts). */
  refresher: DirtyDealRefresher;
  /** Failed link and API-key lookups per client address, checked before each lookup. */
  failures: FailureLimit;
  /** Names the key that signs new session tokens (see auth/keys.ts). */
  sessionKeyId: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Every route as registered, so tests can walk them all. */
    routeTable: { method: string; url: string }[];
    /** The OpenAPI document of /api/v1, generated from the routes' schemas. */
    openapiDocument: () => object;
  }
}
