// Personal links for stakeholders. A link's secret is minted when its mail is
// composed, so opening one here only creates the row and queues the mail.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { DAY } from '../lib/clock.js';
import { enqueueMail, type Executor } from '../mail/outbox.js';

export type LinkReason = 'invite' | 'reminder' | 'delegation';

/**
 * Opens a personal link for a stakeholder and queues the mail that carries it
 * (its secret is minted when the mail is composed). `replace` revokes the
 * person's other links first, as a resend does; a reminder or a delegation
 * leaves earlier links working.
 */
export async function issueLink(
  trx: Executor,
  clock: Clock,
  opts: {
    vendorId: string;
    stakeholderId: string;
    recipient: string;
    reason: LinkReason;
    replace: boolean;
    params?: Record<string, unknown>;
  } & ({ ttlDays: number } | { expiresAt: Date }),
) {
  const now = clock.now();
  if (opts.replace) await revokeAllLinks(trx, now, opts.vendorId, opts.stakeholderId);
  const linkId = randomUUID();
  await trx
    .insertInto('stakeholder_links')
    .values({
      id: linkId,
      vendor_id: opts.vendorId,
      stakeholder_id: opts.stakeholderId,
      token_hash: null,
      created_at: now,
      expires_at: 'expiresAt' in opts ? opts.expiresAt : new Date(now.getTime() + opts.ttlDays * DAY),
    })
    .execute();
  if (opts.reason === 'invite') {
    await trx
      .updateTable('stakeholders')
      .set({ invited_at: now, reminders_sent: 0 })
      .where('vendor_id', '=', opts.vendorId)
      .where('id', '=', opts.stakeholderId)
      .execute();
  }
  await enqueueMail(trx, clock, {
    template: 'invite',
    recipient: opts.recipient,
    vendorId: opts.vendorId,
    params: { linkId, reason: opts.reason, ...opts.params },
  });
}


/** Every live link of this person stops working. */
export async function revokeAllLinks(trx: Executor, now: Date, vendorId: string, stakeholderId: string) {
  return trx
    .updateTable('stakeholder_links')
    .set({ revoked_at: now })
    .where('vendor_id', '=', vendorId)
    .where('stakeholder_id', '=', stakeholderId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}
