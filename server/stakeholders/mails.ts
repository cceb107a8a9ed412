// The mails about a stakeholder's link: the invitation (also sent as a
// reminder and for a hand-over) and, to the deal's owner, "asked for a new
// link". Templates: templates/emails/{invite,champion-invite,link-request}.
import type { Composer } from '../mail/compose.js';
import { hashToken, newToken } from '../lib/tokens.js';
import { oneLine } from '../lib/text.js';
import { getConcern } from '../concerns/index.js';
import { CATALOG_WORDING, ROLE_LABELS, isChampion, remindable } from '../rules.js';
import { hasAnswered } from '../signals/service.js';
import * as repo from './repository.js';

export const inviteMail: Composer = async (row, { db, clock, views, config }) => {
  const reason = String(row.params.reason ?? 'invite');
  const link = await repo.inviteMailData(db, String(row.params.linkId));
  if (!link || link.revoked_at || link.expires_at <= clock.now()) return null;
  if (reason === 'reminder') {
    // Still silent, still wanted? An answer or a pause since scheduling cancels it.
    const wanted = remindable({ role: link.role, reminders_paused: link.reminders_paused }, { stage: link.stage, reminders_paused: link.deal_paused });
    if (!wanted || (await hasAnswered(db, link.vendor_id, link.stakeholder_id))) return null;
  }
  const token = newToken();
  await repo.setLinkSecret(db, link.vendor_id, link.id, hashToken(token), clock.now());
  const from = typeof row.params.delegatedBy === 'string' ? await repo.stakeholderName(db, link.vendor_id, row.params.delegatedBy) : undefined;
  const handed = Array.isArray(row.params.concerns) ? row.params.concerns.map((k) => getConcern(String(k))?.title).filter(Boolean) : [];
  const data = {
    url: `${config.PUBLIC_URL}/r/${token}`,
    name: link.name,
    role: ROLE_LABELS[link.role],
    vendorName: link.vendor_name,
    buyerName: link.buyer_name,
    expires: link.expires_at.toISOString().slice(0, 10),
    reminder: reason === 'reminder',
    from,
    handed,
  };
  if (isChampion(link.role)) {
    return {
      to: row.recipient,
      subject: oneLine(`${link.vendor_name}: follow your security team's review for ${link.buyer_name}`),
      ...views.email('champion-invite', data),
    };
  }
  const subject =
    reason === 'reminder'
      ? `Reminder: ${link.vendor_name}'s security claims for ${link.buyer_name} are waiting for you`
      : from
        ? // The colleague's name was typed by a respondent, not by the vendor: it stays in the body, out of the subject.
          `${link.vendor_name}: a colleague asked you to review security claims for ${link.buyer_name}`
        : `${link.vendor_name}: ${CATALOG_WORDING.countWord} security claims for ${link.buyer_name} to confirm or correct`;
  return { to: row.recipient, subject: oneLine(subject), ...views.email('invite', data) };
};

export const linkRequestMail: Composer = async (row, { db, views, config }) => {
  const s = await repo.linkRequestMailData(db, row.vendor_id!, String(row.params.stakeholderId));
  if (!s) return null;
  const data = { name: s.name, role: ROLE_LABELS[s.role], buyerName: s.buyer_name, url: `${config.PUBLIC_URL}/app/deals/${s.deal_id}#stakeholders` };
  return { to: row.recipient, subject: oneLine(`${s.name} asked for a new link for ${s.buyer_name}`), ...views.email('link-request', data) };
};
