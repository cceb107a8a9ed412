// One composer per mail template: it loads what the mail needs, mints the
// link's secret (so no raw token ever rests in the outbox), and renders the
// HTML and plain-text bodies.
import type { Services } from '../app.js';
import { hashToken, newToken } from '../lib/tokens.js';
import { mintLoginToken, mintSigninLinks } from '../auth/repository.js';
import { KIND_LONG, ROLE_LABELS } from '../deals/labels.js';
import { getConcern } from '../concerns/index.js';
import { describeChanges } from '../lib/concern-form.js';
import type { StakeholderRole } from '../db/schema.js';
import { DeferMail, type Composer, type OutboxRow } from './outbox.js';
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
    const reason = String(row.params.reason ?? 'invite');
    const link = await db
      .selectFrom('stakeholder_links as l')
      .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
      .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
      .innerJoin('vendors as v', 'v.id', 'l.vendor_id')
      .select(['l.id', 'l.vendor_id', 'l.revoked_at', 'l.expires_at', 's.id as stakeholder_id', 's.name', 's.role', 's.reminders_paused', 'd.buyer_name', 'd.stage', 'd.reminders_paused as deal_paused', 'v.name as vendor_name'])
      .where('l.id', '=', linkId)
      .executeTakeFirst();
    if (!link || link.revoked_at || link.expires_at <= clock.now()) return null;
    if (reason === 'reminder') {
      // Still silent, still wanted? An answer or a pause since scheduling cancels it.
      const answered = await db
        .selectFrom('signals')
        .select('id')
        .where('vendor_id', '=', link.vendor_id)
        .where('stakeholder_id', '=', link.stakeholder_id)
        .where('type', '=', 'answer')
        .executeTakeFirst();
      if (answered || link.reminders_paused || link.deal_paused || link.stage.startsWith('closed')) return null;
    }
    const token = newToken();
    await db
      .updateTable('stakeholder_links')
      .set({ token_hash: hashToken(token), last_sent_at: clock.now() })
      .where('id', '=', link.id)
      .where('vendor_id', '=', link.vendor_id)
      .execute();
    let from: string | undefined;
    if (typeof row.params.delegatedBy === 'string') {
      from = (
        await db
          .selectFrom('stakeholders')
          .select('name')
          .where('vendor_id', '=', link.vendor_id)
          .where('id', '=', row.params.delegatedBy)
          .executeTakeFirst()
      )?.name;
    }
    const handed = Array.isArray(row.params.concerns) ? row.params.concerns.map((k) => getConcern(String(k))?.title).filter(Boolean) : [];
    const data = {
      url: `${config.PUBLIC_URL}/r/${token}`,
      name: link.name,
      role: ROLE_LABELS[link.role as StakeholderRole],
      vendorName: link.vendor_name,
      buyerName: link.buyer_name,
      expires: link.expires_at.toISOString().slice(0, 10),
      reminder: reason === 'reminder',
      from,
      handed,
    };
    if (link.role === 'champion') {
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
          ? `${from} asked you to review security claims from ${link.vendor_name}`
          : `${link.vendor_name}: six security claims for ${link.buyer_name} to confirm or correct`;
    return { to: row.recipient, subject: oneLine(subject), ...views.email('invite', data) };
  };

  const digest: Composer = async (row) => {
    const dealId = String(row.params.dealId);
    const deal = await db
      .selectFrom('deals')
      .select(['id', 'vendor_id', 'buyer_name', 'digest_through', 'digest_sent_at'])
      .where('vendor_id', '=', row.vendor_id!)
      .where('id', '=', dealId)
      .executeTakeFirst();
    if (!deal) return null;
    // At most one digest per interval, even when the next was queued while the last was being sent.
    const spacedUntil = deal.digest_sent_at ? new Date(deal.digest_sent_at.getTime() + config.DIGEST_MINUTES * 60_000) : undefined;
    if (spacedUntil && spacedUntil > clock.now()) throw new DeferMail(spacedUntil);
    const corrections = await db
      .selectFrom('signals as g')
      .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'g.stakeholder_id').onRef('s.vendor_id', '=', 'g.vendor_id'))
      .select(['g.id', 'g.concern', 'g.kind', 'g.comment', 'g.changes', 'g.week', 's.name', 's.role'])
      .where('g.vendor_id', '=', deal.vendor_id)
      .where('g.deal_id', '=', deal.id)
      .where('g.type', '=', 'answer')
      .where('g.verdict', '=', 'correct')
      .where('g.id', '>', deal.digest_through)
      .orderBy('g.id')
      .execute();
    if (corrections.length === 0) return null;
    const through = corrections.at(-1)!.id;
    const items = corrections.map((c) => ({
      concern: getConcern(c.concern!)?.title ?? c.concern,
      who: c.name,
      role: ROLE_LABELS[c.role as StakeholderRole],
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
      afterSend: async () => {
        await db
          .updateTable('deals')
          .set({ digest_through: through, digest_sent_at: clock.now() })
          .where('vendor_id', '=', deal.vendor_id)
          .where('id', '=', deal.id)
          .where('digest_through', '<', through)
          .execute();
      },
    };
  };

  const linkRequest: Composer = async (row) => {
    const s = await db
      .selectFrom('stakeholders as s')
      .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
      .select(['s.name', 's.role', 'd.id as deal_id', 'd.buyer_name'])
      .where('s.vendor_id', '=', row.vendor_id!)
      .where('s.id', '=', String(row.params.stakeholderId))
      .executeTakeFirst();
    if (!s) return null;
    const data = { name: s.name, role: ROLE_LABELS[s.role as StakeholderRole], buyerName: s.buyer_name, url: `${config.PUBLIC_URL}/app/deals/${s.deal_id}#stakeholders` };
    return { to: row.recipient, subject: oneLine(`${s.name} asked for a new link for ${s.buyer_name}`), ...views.email('link-request', data) };
  };

  return { signup, signin, invite, digest, 'link-request': linkRequest };

}
