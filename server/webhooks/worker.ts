// The webhook worker: sends queued deliveries, Standard Webhooks v1 signed,
// with retries on the standard schedule. Modelled on the mail outbox
// (server/mail/outbox.ts): deliveries are claimed with FOR UPDATE SKIP LOCKED
// and a lease, so several app instances share the queue and never send one
// delivery twice at once; a worker that dies mid-send leaves its deliveries to
// be tried again when the lease ends.
//
// Each attempt POSTs the JSON with webhook-id (the message id, the same on
// every retry), webhook-timestamp and webhook-signature (during a secret's
// rotation, the new and the old secret's signatures), follows no redirects,
// and gives up after timeoutMs. The address is checked again as it is
// connected to (ssrf.ts). Neither secrets nor payloads are ever logged.
import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../config.js';
import type { DB } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import type { Sealer } from '../lib/crypto.js';
import * as repo from './repository.js';
import { checkWebhookUrl, guardedLookup, RefusedUrl } from './ssrf.js';
import { slackMessage } from './views.js';
import { PollingWorker } from '../lib/poller.js';

/** Standard Webhooks' retry schedule: the wait after the 1st, 2nd, … failed attempt; after the last, the delivery fails. */
export const RETRY_SCHEDULE_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 10 * 3_600_000];
/** Attempts in all: the first and one per step of the schedule. */
export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length + 1;
/** A Retry-After longer than the schedule's wait is honoured up to this. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
export const DEFAULT_TIMEOUT_MS = 15_000;

export interface WebhookWorkerOptions {
  db: DB;
  clock: Clock;
  sealer: Sealer;
  config: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_PRIVATE'>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** How often to look for due deliveries while started. */
  pollMs?: number;
  /** How long one attempt may take (connect, send, first byte of the answer); 15 s. Tests make it short. */
  timeoutMs?: number;
  /** Deliveries claimed and sent at once. */
  batch?: number;
}

interface Answer {
  code: number;
  retryAfter?: string;
}

/** The wait a Retry-After header asks for (seconds or an HTTP date), from `now`; undefined when unreadable. */
export function retryAfterMs(value: string | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

export class WebhookWorker extends PollingWorker {
  private readonly timeoutMs: number;
  private readonly batch: number;

  constructor(private readonly o: WebhookWorkerOptions) {
    super((err) => o.log.error({ err: err.message }, 'webhook pass failed'), o.pollMs ?? 2_000);
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.batch = o.batch ?? 10;
  }

  /** The lease of a claimed delivery: well past one attempt's timeout. */
  private get leaseMs() {
    return Math.max(60_000, 4 * this.timeoutMs);
  }

  protected async pass(): Promise<number> {
    let handled = 0;
    for (;;) {
      const now = this.o.clock.now();
      const rows = await repo.claimDue(this.o.db, now, new Date(now.getTime() + this.leaseMs), this.batch);
      if (rows.length === 0) return handled;
      await Promise.all(rows.map((row) => this.attempt(row)));
      handled += rows.length;
      if (this.stopping) return handled;
    }
  }

  /** The body as sent: the payload, or for Slack a message people read. */
  private body(row: repo.ClaimedDelivery): string {
    const payload = row.payload as { type: string; data: Record<string, unknown> };
    return JSON.stringify(row.kind === 'slack' ? slackMessage(payload) : payload);
  }

  /** Every signature the delivery carries: the current secret's, and during a rotation the previous one's. */
  private signatures(row: repo.ClaimedDelivery, at: Date, body: string): string {
    const secrets = [row.secret];
    if (row.previous_secret && row.previous_secret_until && row.previous_secret_until > at) secrets.push(row.previous_secret);
    return secrets.map((s) => new Webhook(this.o.sealer.open(s)).sign(row.message_id, at, body)).join(' ');
  }

  private async attempt(row: repo.ClaimedDelivery): Promise<void> {
    const { db, clock, log } = this.o;
    const where = { deliveryId: row.id, endpointId: row.endpoint_id, event: row.event_type, attempt: row.attempts };
    if (!row.enabled && row.event_type !== 'endpoint.test') {
      await repo.recordAttempt(db, row, clock.now(), { status: 'failed', code: null, error: 'The endpoint is switched off' });
      return;
    }
    let answer: Answer | undefined;
    let error: string | null = null;
    try {
      const at = clock.now();
      const body = this.body(row);
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'PosturePortal-Webhooks/1',
        'webhook-id': row.message_id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': this.signatures(row, at, body),
      };
      answer = await this.post(row.url, body, headers);
    } catch (err) {
      error = describe(err, this.timeoutMs);
    }
    const now = clock.now();
    const code = answer?.code ?? null;
    if (code !== null && code >= 200 && code < 300) {
      await repo.recordAttempt(db, row, now, { status: 'sent', code, error: null });
      log.info({ ...where, status: code }, 'webhook delivered');
      return;
    }
    if (code === 410) {
      // Gone: the receiver asks us to stop. The endpoint is switched off, with the reason shown.
      await repo.recordAttempt(db, row, now, { status: 'failed', code, error: 'The endpoint answered 410 Gone' });
      await repo.disableEndpoint(db, row.vendor_id, row.endpoint_id, `Switched off on ${now.toISOString().slice(0, 10)}: the endpoint answered 410 Gone`, now);
      log.warn({ ...where, status: code }, 'webhook endpoint gone: switched off');
      return;
    }
    error ??= `The endpoint answered ${code}`;
    if (row.attempts >= MAX_ATTEMPTS) {
      await repo.recordAttempt(db, row, now, { status: 'failed', code, error });
      log.warn({ ...where, status: code, error }, 'webhook delivery failed for good');
      return;
    }
    const scheduled = RETRY_SCHEDULE_MS[row.attempts - 1];
    const asked = retryAfterMs(answer?.retryAfter, now);
    const wait = asked !== undefined && asked > scheduled ? Math.min(asked, MAX_RETRY_AFTER_MS) : scheduled;
    await repo.recordAttempt(db, row, now, { status: 'pending', code, error, nextAt: new Date(now.getTime() + wait) });
    log.warn({ ...where, status: code, error, retryInMs: wait }, 'webhook delivery failed; will retry');
  }

  /** One POST, no redirects followed, the connected address checked, at most timeoutMs. */
  private async post(rawUrl: string, body: string, headers: Record<string, string>): Promise<Answer> {
    // The name is resolved (and its addresses checked) within the attempt's time too.
    let checking: NodeJS.Timeout | undefined;
    const url = await Promise.race([
      checkWebhookUrl(rawUrl, this.o.config),
      new Promise<never>((_, reject) => {
        checking = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_WEBHOOK' })), this.timeoutMs);
      }),
    ]).finally(() => clearTimeout(checking));
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      const req = client.request(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
          lookup: guardedLookup(this.o.config.WEBHOOK_ALLOW_PRIVATE) as never,
          agent: false,
        },
        (res) => {
          const retryAfter = res.headers['retry-after'];
          // The answer's body is not needed: read and drop it (a little only), then hang up.
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > 64 * 1024) res.destroy();
          });
          res.on('error', () => {});
          res.on('close', () => clearTimeout(timer));
          resolve({ code: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
          res.resume();
        },
      );
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_WEBHOOK' })), this.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(body);
    });
  }
}

/** An attempt's failure in one short line: no secret, no payload, no answer body. */
function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof RefusedUrl) return `Refused: ${err.reason}`.slice(0, 300);
  const e = err as { code?: string; message?: string };
  if (e.code === 'ETIMEDOUT_WEBHOOK') return `No answer within ${Math.round(timeoutMs / 100) / 10} s`;
  if (e.code === 'EREFUSEDADDRESS') return (e.message ?? 'Refused address').replace(/^refused/, 'Refused').slice(0, 300);
  return (e.code ? `Could not connect (${e.code})` : `Could not deliver: ${e.message ?? 'unknown error'}`).slice(0, 300);
}
