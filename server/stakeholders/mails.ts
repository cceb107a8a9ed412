// The mails about a stakeholder's link: the invitation (also sent as a
// reminder and for a hand-over) and, to the deal's owner, "asked for a new
// link". Templates: templates/emails/{invite,champion-invite,link-request}.
//
// An invitation reaches someone who has no reason yet to trust the vendor, so
// it says who stands behind it: it comes "from" the deal's owner at the vendor
// (on our own address), a reply goes to that owner, and its body names them,
// the vendor's web domain and how to check that the mail is genuine.
import type { Composer } from '../mail/compose.js';
import { hashToken, newToken } from '../lib/tokens.js';
import { oneLine } from '../lib/text.js';
import { getConcern } from '../concerns/index.js';
import { CATALOG_WORDING, ROLE_LABELS, isChampion, remindable } from '../rules.js';
import { hasAnswered } from '../signals/service.js';
import * as repo from './repository.js';

/** Who an invitation comes from, as its From display name shows it. */
function inviteFromName(vendorName: string, owner: { name: string } | null): string {
  return owner ? `${owner.name} at ${vendorName} via Posture Portal` : `${vendorName} via Posture Portal`;
}

/**
 * From and Reply-To of every mail that asks a buyer's person for answers (invitations, reminders, hand-overs,
 * changed claims): the deal's owner at the vendor when the deal has one (owner columns as the queries select them).
 */
export function dealSender(vendorName: string, row: { owner_name: string | null; owner_email: string | null }) {
  const owner = row.owner_name !== null && row.owner_email !== null ? { name: row.owner_name, email: row.owner_email } : null;
  return { owner, sender: { fromName: inviteFromName(vendorName, owner), ...(owner ? { replyTo: owner.email } : {}) } };
}

/** The invitation's last words, instead of the layout's "do not forward": how to pass it on without forwarding the personal link. */
function inviteFooter(vendorName: string, champion: boolean, owner: { name: string } | null): string {
  const sent = `Sent by Posture Portal for ${vendorName}. This link is personal to you:`;
  return champion
    ? `${sent} if someone else should follow the review, ask ${owner?.name ?? vendorName} to add them rather than forwarding this email.`
    : `${sent} if someone else should answer, hand the concerns over from the page rather than forwarding this email, so they get a link of their own.`;
}

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
  const handOver = typeof row.params.delegatedBy === 'string';
  const from = handOver ? await repo.stakeholderName(db, link.vendor_id, String(row.params.delegatedBy)) : undefined;
  const handed = Array.isArray(row.params.concerns) ? row.params.concerns.map((k) => getConcern(String(k))?.title).filter(Boolean) : [];
  // Only a deal's creator is named: an invitation says who asked, so nobody else is put in their place.
  const { owner, sender } = dealSender(link.vendor_name, link);
  // The vendor's note is for the person it added; a hand-over carries a colleague's request, not that note.
  const note = handOver ? null : link.invite_note;
  const champion = isChampion(link.role);
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
    owner,
    vendorDomain: link.vendor_domain,
    note,
    noteLines: note ? note.split('\n') : [],
    noteFrom: owner?.name ?? link.vendor_name,
    footer: inviteFooter(link.vendor_name, champion, owner),
  };
  if (champion) {
    return {
      to: row.recipient,
      subject: oneLine(`${link.vendor_name}: follow your security team's review for ${link.buyer_name}`),
      ...sender,
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
  return { to: row.recipient, subject: oneLine(subject), ...sender, ...views.email('invite', data) };
};

export const linkRequestMail: Composer = async (row, { db, views, config }) => {
  const s = await repo.linkRequestMailData(db, row.vendor_id!, String(row.params.stakeholderId));
  if (!s) return null;
  const data = { name: s.name, role: ROLE_LABELS[s.role], buyerName: s.buyer_name, url: `${config.PUBLIC_URL}/app/deals/${s.deal_id}#stakeholders` };
  return { to: row.recipient, subject: oneLine(`${s.name} asked for a new link for ${s.buyer_name}`), ...views.email('link-request', data) };
};
