// The invitation to join a workspace. Its link's secret is minted when the mail
// is composed, so the raw token exists only in memory and in the mail; a mail
// whose invitation was accepted, revoked, replaced or has expired is dropped.
// It names the workspace and who invited, and a reply goes to the inviter.
import { transaction } from '../db/index.js';
import { oneLine } from '../lib/text.js';
import type { Composer } from '../mail/compose.js';
import { MEMBER_ROLE_LABELS } from '../rules.js';
import { mintInvitationLink } from './service.js';
import { when } from './views.js';

export const memberInviteMail: Composer = async (row, { db, clock, views, config }) => {
  if (!row.vendor_id) return null;
  const vendorId = row.vendor_id;
  const link = await transaction(db, (trx) => mintInvitationLink(trx, clock, vendorId, String(row.params.invitationId)));
  if (!link) return null;
  const inviter = link.inviter_name !== null && link.inviter_email !== null ? { name: link.inviter_name, email: link.inviter_email } : null;
  const body = views.email('member-invite', {
    url: `${config.PUBLIC_URL}/invite/${link.token}`,
    name: link.name,
    workspace: link.workspace,
    webDomain: link.web_domain,
    inviter,
    role: MEMBER_ROLE_LABELS[link.role],
    expires: when(link.expires_at),
  });
  const subject = inviter ? `${inviter.name} invited you to ${link.workspace} on Posture Portal` : `You are invited to ${link.workspace} on Posture Portal`;
  return {
    to: row.recipient,
    subject: oneLine(subject),
    fromName: oneLine(inviter ? `${inviter.name} at ${link.workspace} via Posture Portal` : `${link.workspace} via Posture Portal`),
    ...(inviter ? { replyTo: inviter.email } : {}),
    ...body,
  };
};
