// The digest of new corrections, to the deal's owner, at most one per
// interval. Template: templates/emails/digest.
import type { Composer } from '../mail/compose.js';
import { DeferMail } from '../mail/compose.js';
import { MINUTE } from '../lib/clock.js';
import { oneLine } from '../lib/text.js';
import { describeChanges } from '../lib/concern-form.js';
import { getConcern } from '../concerns/index.js';
import { KIND_LONG, ROLE_LABELS } from '../rules.js';
import { correctionsAfter } from '../signals/service.js';
import * as repo from './repository.js';

export const digestMail: Composer = async (row, { db, clock, views, config }) => {
  const deal = await repo.findDeal(db, row.vendor_id!, String(row.params.dealId));
  if (!deal) return null;
  // At most one digest per interval, even when the next was queued while the last was being sent.
  const spacedUntil = deal.digest_sent_at ? new Date(deal.digest_sent_at.getTime() + config.DIGEST_MINUTES * MINUTE) : undefined;
  if (spacedUntil && spacedUntil > clock.now()) throw new DeferMail(spacedUntil);
  const corrections = await correctionsAfter(db, deal.vendor_id, deal.id, deal.digest_through);
  if (corrections.length === 0) return null;
  const through = corrections.at(-1)!.id;
  const items = corrections.map((c) => ({
    concern: getConcern(c.concern!)?.title ?? c.concern,
    who: c.name,
    role: ROLE_LABELS[c.role],
    kind: c.kind ? KIND_LONG[c.kind] : '',
    comment: c.comment,
    week: c.week,
    changes: describeChanges(c.concern!, c.changes),
  }));
  const n = items.length;
  return {
    to: row.recipient,
    subject: oneLine(`${n} new correction${n === 1 ? '' : 's'} from ${deal.buyer_name}'s security team`),
    ...views.email('digest', { buyerName: deal.buyer_name, items, url: `${config.PUBLIC_URL}/app/deals/${deal.id}` }),
    // Only once the mail is out do these corrections count as told.
    afterSend: () => repo.markDigested(db, deal.vendor_id, deal.id, through, clock.now()),
  };
};
