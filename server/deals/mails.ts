// The digest of new corrections, to the deal's owner, at most one per
// interval, and the mail asking a respondent to look again at claims changed
// since they answered. Templates: templates/emails/{digest,claim-changed}.
import { randomUUID } from 'node:crypto';
import type { Composer } from '../mail/compose.js';
import type { Verdict } from '../db/schema.js';
import { DeferMail } from '../mail/compose.js';
import { MINUTE } from '../lib/clock.js';
import { oneLine } from '../lib/text.js';
import { hashToken, newToken } from '../lib/tokens.js';
import { describeChanges } from '../lib/concern-form.js';
import { getConcern } from '../concerns/index.js';
import { KIND_LONG, ROLE_LABELS, VERDICT_LABELS, isChampion, isClosed } from '../rules.js';
import { correctionsAfter } from '../signals/service.js';
import { latestAnswersOf } from '../readmodel/service.js';
import { dealSender } from '../stakeholders/mails.js';
import { ASKED_AGAIN, staleChangesOf } from './service.js';
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

/**
 * "Claims you answered have changed": to one respondent, every concern they
 * confirmed or corrected on an older revision than the current claim, with
 * what changed field by field since the revision they answered. Worked out
 * when sent, so a burst of changes is one mail, and nothing is sent when
 * nothing is stale any more (they answered again, their link was revoked or
 * expired, the deal closed). The mail carries a link of its own, minted now;
 * the links of earlier mails keep working.
 */
export const claimChangedMail: Composer = async (row, { db, clock, views, config }) => {
  const now = clock.now();
  const person = await repo.claimChangedMailData(db, row.vendor_id!, String(row.params.stakeholderId), now);
  if (!person || !person.link_expires_at || isChampion(person.role) || isClosed(person.stage)) return null;
  const answers = await latestAnswersOf(db, person.vendor_id, person.deal_id, { stakeholderIds: [person.id] });
  const asked = new Map<string, { verdict: Verdict; revision: number }>();
  for (const a of answers) {
    if (a.concern && a.verdict && a.claim_revision != null && ASKED_AGAIN.includes(a.verdict)) asked.set(a.concern, { verdict: a.verdict, revision: a.claim_revision });
  }
  const stale = await staleChangesOf(
    db,
    person.vendor_id,
    person.deal_id,
    [...asked].map(([concern, a]) => ({ concern, revision: a.revision })),
  );
  const items = [...stale]
    .filter(([, changes]) => changes.length > 0)
    .map(([key, changes]) => ({
      concern: getConcern(key)?.title ?? key,
      answered: VERDICT_LABELS[asked.get(key)!.verdict],
      changes: describeChanges(key, changes),
    }));
  if (items.length === 0) return null;

  const token = newToken();
  await repo.insertMailedLink(db, {
    id: randomUUID(),
    vendor_id: person.vendor_id,
    stakeholder_id: person.id,
    token_hash: hashToken(token),
    created_at: now,
    expires_at: person.link_expires_at,
    last_sent_at: now,
  });
  // From and Reply-To as on the invitation this mail follows up: the deal's owner at the vendor, when there is one.
  const { sender } = dealSender(person.vendor_name, person);
  const n = items.length;
  const data = {
    url: `${config.PUBLIC_URL}/r/${token}`,
    name: person.name,
    role: ROLE_LABELS[person.role],
    vendorName: person.vendor_name,
    buyerName: person.buyer_name,
    expires: person.link_expires_at.toISOString().slice(0, 10),
    count: n,
    plural: n !== 1,
    items,
  };
  return {
    to: row.recipient,
    subject: oneLine(`${person.vendor_name}: ${n} claim${n === 1 ? '' : 's'} changed for ${person.buyer_name} — please look again`),
    ...sender,
    ...views.email('claim-changed', data),
  };
};
