// The outbox: mail is a row written in the same transaction as the change
// that causes it, and a worker sends it later with retries and backoff.
//
// Claiming uses FOR UPDATE SKIP LOCKED and a lease (next_attempt_at pushed
// forward before sending), so several app instances can share one outbox and
// a worker that dies mid-send leaves the row to be retried, not lost.
import { sql, type Transaction } from 'kysely';
import type { Clock } from '../lib/clock.js';
import type { DB } from '../db/index.js';
import type { Database } from '../db/schema.js';
import type { MailMessage, MailTransport } from './transport.js';

export interface OutboxMail {
  template: string;
  recipient: string;
  vendorId: string | null;
  /** Ids and flags only: never a token or anything secret. */
  params: Record<string, unknown>;
}

export type Executor = DB | Transaction<Database>;

export async function enqueueMail(db: Executor, clock: Clock, mail: OutboxMail): Promise<void> {
  const now = clock.now();
  await db
    .insertInto('outbox')
    .values({
      template: mail.template,
      recipient: mail.recipient,
      vendor_id: mail.vendorId,
      params: JSON.stringify(mail.params),
      next_attempt_at: now,
      created_at: now,
    })
    .execute();
}

export interface OutboxRow {
  id: number;
  template: string;
  recipient: string;
  vendor_id: string | null;
  params: Record<string, unknown>;
  attempts: number;
}

/**
 * Turns an outbox row into a message at send time. This is where link tokens
 * are minted, so a raw token exists only in memory and in the mail itself.
 * Returns null when the mail no longer makes sense (e.g. the link was revoked).
 */
export type Composer = (row: OutboxRow) => Promise<ComposedMail | null>;

/** Thrown by a composer: not yet, try again at `until` (does not count as a failed attempt). */
export class DeferMail extends Error {
  constructor(readonly until: Date) {
    super('deferred');
  }
}

/** A message, and what to record once it has really been handed to the mail server. */
export interface ComposedMail extends MailMessage {
  afterSend?: () => Promise<void>;
}

export const MAX_ATTEMPTS = 8;
const LEASE_MS = 5 * 60_000;
const BATCH = 10;

/** 30 s, 1 min, 2 min … capped at one hour. */
export function backoffMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

export interface WorkerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class MailWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  /** Polling is on (start() was called and stop() was not). */
  private polling = false;
  /** stop() was called: finish the current mail, hand the rest of the batch back. */
  private stopping = false;

  constructor(
    private readonly db: DB,
    private readonly clock: Clock,
    private readonly transport: MailTransport,
    private readonly composers: Record<string, Composer>,
    private readonly log: WorkerLog,
    private readonly pollMs = 2_000,
    /** Work that queues mail on a schedule (reminders); runs at the start of a pass, at most every scheduleEveryMs. */
    private readonly beforePass?: () => Promise<unknown>,
    private readonly scheduleEveryMs = 60_000,
  ) {}

  private lastScheduled = -Infinity;

  private async schedulePass(): Promise<void> {
    const now = this.clock.now().getTime();
    if (!this.beforePass || now - this.lastScheduled < this.scheduleEveryMs) return;
    this.lastScheduled = now;
    try {
      await this.beforePass();
    } catch (err) {
      // Sign-in links and invitations must still go out.
      this.log.error({ err: (err as Error).message }, 'scheduling reminders failed');
    }
  }

  start(): void {
    this.polling = true;
    this.stopping = false;
    this.schedule(0);
  }

  /** Ask for a pass soon (after a request enqueued mail). */
  nudge(): void {
    if (!this.polling) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Stops polling and waits for the mail being sent to finish. */
  async stop(): Promise<void> {
    this.polling = false;
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => 0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!this.polling || this.running) return;
    try {
      await this.runOnce();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'outbox pass failed');
    }
    if (this.polling) this.schedule(this.again ? 0 : this.pollMs);
    this.again = false;
  }

  /** One pass over the due mail; resolves to the number of mails handled. Tests call this directly. */
  runOnce(): Promise<number> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    await this.schedulePass();
    let handled = 0;
    for (;;) {
      const batch = await this.claim();
      if (batch.length === 0) return handled;
      for (const [i, row] of batch.entries()) {
        if (this.stopping) {
          await this.release(batch.slice(i));
          return handled;
        }
        await this.deliver(row);
        handled++;
      }
    }
  }

  private async claim(): Promise<OutboxRow[]> {
    const now = this.clock.now();
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'template', 'recipient', 'vendor_id', 'params', 'attempts'])
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return [];
      await trx
        .updateTable('outbox')
        .set({ next_attempt_at: new Date(now.getTime() + LEASE_MS), attempts: sql`attempts + 1` })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.map((r) => ({ ...r, attempts: r.attempts + 1 }));
    });
  }

  /** Gives claimed but unsent rows back, as if never claimed, so another worker sends them now. */
  private async release(rows: OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .updateTable('outbox')
      .set({ next_attempt_at: this.clock.now(), attempts: sql`attempts - 1` })
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .where('status', '=', 'pending')
      .execute();
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const compose = this.composers[row.template];
    try {
      if (!compose) throw new Error(`no composer for template ${row.template}`);
      const composed = await compose(row);
      if (composed) {
        const { afterSend, ...message } = composed;
        await this.transport.send(message);
        await afterSend?.();
      }
      await this.db
        .updateTable('outbox')
        .set({ status: 'sent', sent_at: this.clock.now(), last_error: composed ? null : 'cancelled: no longer applicable' })
        .where('id', '=', row.id)
        .execute();
      this.log.info({ outboxId: row.id, template: row.template, sent: Boolean(composed) }, 'outbox mail handled');
    } catch (err) {
      if (err instanceof DeferMail) {
        await this.db
          .updateTable('outbox')
          .set({ next_attempt_at: err.until, attempts: sql`attempts - 1` })
          .where('id', '=', row.id)
          .execute();
        return;
      }
      const failed = row.attempts >= MAX_ATTEMPTS;
      const reason = describe(err);
      await this.db
        .updateTable('outbox')
        .set({
          status: failed ? 'failed' : 'pending',
          last_error: reason,
          next_attempt_at: new Date(this.clock.now().getTime() + backoffMs(row.attempts)),
        })
        .where('id', '=', row.id)
        .execute();
      this.log.warn({ outboxId: row.id, template: row.template, attempts: row.attempts, failed, reason }, 'outbox mail not sent');
    }
  }
}

/** An error as one short line, with no message body or address detail beyond the SMTP reply code. */
function describe(err: unknown): string {
  const e = err as { code?: string; responseCode?: number; message?: string };
  const parts = [e.code, e.responseCode].filter(Boolean).join(' ');
  return (parts || e.message || 'unknown error').slice(0, 200);
}
