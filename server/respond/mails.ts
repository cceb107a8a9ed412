// The respondent's receipt: their own answers on this deal, to their own
// address, on request from the completion panel. It carries no link (a new
// link would replace the one they are using) and nobody else's answers.
import type { Composer } from '../mail/compose.js';
import { oneLine } from '../lib/text.js';
import { getConcern } from '../concerns/index.js';
import { describeChanges } from '../lib/concern-form.js';
import { KIND_LONG, ROLE_LABELS, VERDICT_LABELS } from '../rules.js';
import { loadPageOf } from './service.js';
import { dealSender } from '../stakeholders/mails.js';
import * as repo from './repository.js';

export const receiptMail: Composer = async (row, { db, clock, views }) => {
  const p = await repo.receiptPerson(db, row.vendor_id!, String(row.params.stakeholderId));
  if (!p) return null;
  const page = await loadPageOf(db, row.vendor_id!, p.deal_id, p.id);
  const answers = page.claims.map((c) => {
    const concern = getConcern(c.concern)!;
    const a = page.answers.get(c.concern);
    return {
      title: concern.title,
      sentence: concern.sentence(c.claim),
      verdict: a ? VERDICT_LABELS[a.verdict] : VERDICT_LABELS.none,
      stale: a !== undefined && a.claim_revision !== c.revision,
      kind: a?.kind ? KIND_LONG[a.kind] : undefined,
      changes: a ? describeChanges(c.concern, a.changes) : [],
      comment: a?.comment ?? undefined,
      when: a?.created_at.toISOString().slice(0, 10),
    };
  });
  const data = {
    name: p.name,
    role: ROLE_LABELS[p.role],
    vendorName: p.vendor_name,
    buyerName: p.buyer_name,
    sentOn: clock.now().toISOString().slice(0, 10),
    answers,
  };
  // From and Reply-To as on their invitation: the deal's owner at the vendor.
  const { sender } = dealSender(p.vendor_name, p);
  return { to: p.email, subject: oneLine(`Your answers on ${p.vendor_name}'s security claims for ${p.buyer_name}`), ...sender, ...views.email('receipt', data) };
};
