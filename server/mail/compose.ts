// What a kind of mail is: a composer that, at send time, loads what the mail
// needs, mints the link's secret (so no raw token ever rests in the outbox)
// and renders its template pair templates/emails/<name>.{html,txt}.hbs.
// Each composer lives with the feature that owns its data; app.ts lists them.
import type { Config } from '../config.js';
import type { DB } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import type { Views } from '../views.js';
import type { MailMessage } from './transport.js';

export interface OutboxRow {
  id: number;
  template: string;
  recipient: string;
  vendor_id: string | null;
  params: Record<string, unknown>;
  attempts: number;
}

/** What every composer may use. */
export interface MailContext {
  db: DB;
  clock: Clock;
  views: Views;
  config: Config;
}

/** A message, and what to record once it has really been handed to the mail server. */
export interface ComposedMail extends MailMessage {
  afterSend?: () => Promise<void>;
}

/** Turns an outbox row into a message; null when the mail no longer makes sense (e.g. the link was revoked). */
export type Composer = (row: OutboxRow, ctx: MailContext) => Promise<ComposedMail | null>;

/** Thrown by a composer: not yet, try again at `until` (does not count as a failed attempt). */
export class DeferMail extends Error {
  constructor(readonly until: Date) {
    super('deferred');
  }
}
