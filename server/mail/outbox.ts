// The outbox: mail is a row written in the same transaction as the change
// that causes it, and a worker sends it later with retries and backoff.
//
// Claiming uses FOR UPDATE SKIP LOCKED and a lease (next_attempt_at pushed
// forward before sending), so several app instances can share one outbox and
// a worker that dies mid-send leaves the row to be retried, not lost.
//
// The worker claims a batch at a time and sends it over as many lanes as the
// transport carries at once (its SMTP connections). Mails to one address
// still go one at a time, in the order queued: composers that read and then
// record (a deal's digest and its spacing, a link's secret) see what the
// previous mail to that person did, as they would one by one.
import type { Clock } from '../lib/clock.js';
import type { DB, Executor } from '../db/index.js';
import { DeferMail, type Composer, type MailContext, type OutboxRow } from './compose.js';
import * as repo from './repository.js';
import type { OutboxMail } from './repository.js';
import type { MailTransport } from './transport.js';
import { PollingWorker } from '../lib/poller.js';

export type { OutboxMail };

/** Queues a mail in the caller's transaction: it goes out once that commits. */
export async function enqueueMail(db: Executor, clock: Clock, mail: OutboxMail): Promise<void> {
  await repo.insertMails(db, clock.now(), [mail]);
}

/** Queues many mails at once (a batch of invitations), in the caller's transaction. */
export async function enqueueMails(db: Executor, clock: Clock, mails: OutboxMail[]): Promise<void> {
  await repo.insertMails(db, clock.now(), mails);
}

/** Queues a deal's digest due at `at`, unless one is already waiting to be sent. */
export async function enqueueDigest(db: Executor, clock: Clock, at: Date, digest: { vendorId: string; dealId: string; recipient: string }): Promise<void> {
  await repo.insertDigestOnce(db, clock.now(), at, digest);
}

export const MAX_ATTEMPTS = 8;
const LEASE_MS = 5 * 60_000;
/** No mail is started with less than this left of its lease: one send and its bookkeeping fit well within it. */
const LEASE_MARGIN_MS = 2 * 60_000;
/** Rows claimed at once: a few per lane, so several instances share a backlog and a claim is rarely waited for. */
export const BATCH = 20;

/** 30 s, 1 min, 2 min … capped at one hour. */
export function backoffMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

export interface WorkerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class MailWorker extends PollingWorker {
  constructor(
    private readonly db: DB,
    private readonly clock: Clock,
    private readonly transport: MailTransport,
    private readonly composers: Record<string, Composer>,
    private readonly context: MailContext,
    private readonly log: WorkerLog,
    pollMs = 2_000,
    /** Work that queues mail on a schedule (reminders); runs at the start of a pass, at most every scheduleEveryMs. */
    private readonly beforePass?: () => Promise<unknown>,
    private readonly scheduleEveryMs = 60_000,
  ) {
    super((err) => log.error({ err: err.message }, 'outbox pass failed'), pollMs);
  }

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

  /**
   * Sends due mail over up to `transport.concurrency` lanes until a claim finds
   * nothing due. A lane takes the oldest claimed row whose address has no mail
   * in flight (so one person's mails keep their order); when none is left, it
   * claims the next batch while the other lanes are still sending. No new mail
   * is started once stop() was called or the database failed: the rows not
   * started are handed back. Resolves once every mail started is recorded.
   */
  protected async pass(): Promise<number> {
    await this.schedulePass();
    const lanes = Math.max(1, Math.floor(this.transport.concurrency ?? 1));
    const waiting: Claimed[] = []; // claimed, not started, in the order claimed
    const busy = new Set<string>(); // addresses with a mail in flight
    let handled = 0;
    let drained = false; // a claim found nothing due
    let refilling: Promise<void> | undefined;
    let failure: { err: unknown } | undefined;
    let wake!: () => void;
    let changed = new Promise<void>((resolve) => (wake = resolve));
    /** Wakes the lanes waiting for a mail to finish or a claim to end. */
    const notify = () => {
      wake();
      changed = new Promise<void>((resolve) => (wake = resolve));
    };

    /** One at a time: claims a batch; first hands back every row not started when the oldest one's lease runs short. */
    const refill = (handBack: boolean): Promise<void> =>
      (refilling ??= (async () => {
        if (handBack) await this.release(waiting.splice(0).map((c) => c.row));
        const now = this.clock.now();
        const rows = await repo.claimDue(this.db, now, new Date(now.getTime() + LEASE_MS), BATCH);
        const startBefore = now.getTime() + LEASE_MS - LEASE_MARGIN_MS;
        waiting.push(...rows.map((row) => ({ row, startBefore })));
        drained = rows.length === 0;
      })()
        .catch((err: unknown) => void (failure ??= { err }))
        .finally(() => {
          refilling = undefined;
          notify();
        }));

    const lane = async (): Promise<void> => {
      while (!this.stopping && !failure) {
        if (refilling) {
          await changed; // another lane is claiming
          continue;
        }
        if (waiting.length > 0 && this.clock.now().getTime() >= waiting[0].startBefore) {
          await refill(true); // the lease runs short: leased afresh, still in order
          continue;
        }
        const i = waiting.findIndex((c) => !busy.has(addressKey(c.row)));
        if (i >= 0) {
          const { row } = waiting.splice(i, 1)[0];
          const key = addressKey(row);
          busy.add(key);
          try {
            await this.deliver(row);
            handled++;
          } catch (err) {
            failure ??= { err }; // the database is gone: stop, and let the pass fail
          } finally {
            busy.delete(key);
            notify();
          }
        } else if (waiting.length > 0) {
          await changed; // every waiting address has a mail in flight
        } else if (drained) {
          return;
        } else {
          await refill(false);
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    try {
      await this.release(waiting.map((c) => c.row));
    } catch (err) {
      failure ??= { err };
    }
    if (failure) throw failure.err;
    return handled;
  }

  /** Gives claimed but unsent rows back, as if never claimed, so another worker sends them now. */
  private release(rows: OutboxRow[]): Promise<void> {
    return repo.release(
      this.db,
      this.clock.now(),
      rows.map((r) => r.id),
    );
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const compose = this.composers[row.template];
    try {
      if (!compose) throw new Error(`no composer for template ${row.template}`);
      const composed = await compose(row, this.context);
      if (composed) {
        const { afterSend, ...message } = composed;
        await this.transport.send(message);
        await afterSend?.();
      }
      await repo.markHandled(this.db, row.id, this.clock.now(), !composed);
      this.log.info({ outboxId: row.id, template: row.template, sent: Boolean(composed) }, 'outbox mail handled');
    } catch (err) {
      if (err instanceof DeferMail) {
        await repo.defer(this.db, row.id, err.until);
        return;
      }
      const failed = row.attempts >= MAX_ATTEMPTS;
      const reason = describe(err);
      await repo.markAttemptFailed(this.db, row.id, failed, reason, new Date(this.clock.now().getTime() + backoffMs(row.attempts)));
      this.log.warn({ outboxId: row.id, template: row.template, attempts: row.attempts, failed, reason }, 'outbox mail not sent');
    }
  }
}

/** A claimed row and the time after which it must not be started (its lease would be too short). */
interface Claimed {
  row: OutboxRow;
  startBefore: number;
}

/** Mails to one address go one at a time. */
function addressKey(row: OutboxRow): string {
  return row.recipient.trim().toLowerCase();
}

/** An error as one short line, with no message body or address detail beyond the SMTP reply code. */
function describe(err: unknown): string {
  const e = err as { code?: string; responseCode?: number; message?: string };
  const parts = [e.code, e.responseCode].filter(Boolean).join(' ');
  return (parts || e.message || 'unknown error').slice(0, 200);
}
