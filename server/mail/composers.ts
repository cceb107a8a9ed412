// One composer per mail template: it loads what the mail needs, mints the
// link's secret (so no raw token ever rests in the outbox), and renders the
// HTML and plain-text bodies.
import type { Services } from '../app.js';
import { hashToken, newToken } from '../lib/tokens.js';
import { mintLoginToken, mintSigninLinks } from '../auth/repository.js';
import { ROLE_LABELS } from '../deals/service.js';
import type { StakeholderRole } from '../db/schema.js';
import type { Composer, OutboxRow } from './outbox.js';
import type { MailMessage } from './transport.js';

/** Subjects are built from data people typed: keep them on one line. */
function oneLine(s: string): string {
  return s.replace(/[\r\n\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim().slice(0, 200);
}

export function composers(services: Services): Record<string, Composer> {
  const { db, clock, views, config } = services;

  const signup: Composer = async (row: OutboxRow): Promise<MailMessage | null> => {
    const minted = await mintLoginToken(db, clock, String(row.params.loginId));
    if (!minted) return null;
    const workspace = (minted.payload as { workspace: string } | null)?.workspace ?? '';
    const body = views.email('signup', { url: `${config.PUBLIC_URL}/auth/link/${minted.token}`, workspace, minutes: 15 });
    // Anyone can ask for a sign-up mail to any address, so its subject carries no text they chose.
    return { to: row.recipient, subject: 'Confirm your new Posture Portal workspace', ...body };
  };

  const signin: Composer = async (row: OutboxRow): Promise<MailMessage | null> => {
    const links = await mintSigninLinks(db, clock, row.recipient);
    if (links.length === 0) return null; // unknown address: nothing to send
    const workspaces = links.map((l) => ({ name: l.workspace, url: `${config.PUBLIC_URL}/auth/link/${l.token}` }));
    const body = views.email('signin', { workspaces, single: workspaces.length === 1, minutes: 15 });
    const subject = workspaces.length === 1 ? `Your sign-in link for ${workspaces[0].name}` : 'Your Posture Portal sign-in links';
    return { to: row.recipient, subject: oneLine(subject), ...body };
  };

  const invite: Composer = async (row) => {
    const linkId = String(row.params.linkId);
    const link = await db
      .selectFrom('stakeholder_links as l')
      .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
      .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
      .innerJoin('vendors as v', 'v.id', 'l.vendor_id')
      .select(['l.id', 'l.vendor_id', 'l.revoked_at', 'l.expires_at', 's.name', 's.role', 'd.buyer_name', 'v.name as vendor_name'])
      .where('l.id', '=', linkId)
      .executeTakeFirst();
    if (!link || link.revoked_at || link.expires_at <= clock.now()) return null;
    const token = newToken();
    await db
      .updateTable('stakeholder_links')
      .set({ token_hash: hashToken(token), last_sent_at: clock.now() })
      .where('id', '=', link.id)
      .where('vendor_id', '=', link.vendor_id)
      .execute();
    const url = `${config.PUBLIC_URL}/r/${token}`;
    const data = {
      url,
      name: link.name,
      role: ROLE_LABELS[link.role as StakeholderRole],
      vendorName: link.vendor_name,
      buyerName: link.buyer_name,
      expires: link.expires_at.toISOString().slice(0, 10),
    };
    return {
      to: row.recipient,
      subject: oneLine(`${link.vendor_name}: six security claims for ${link.buyer_name} to confirm or correct`),
      ...views.email('invite', data),
    };
  };

  return { signup, signin, invite };
}
