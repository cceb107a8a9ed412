// Reminders for silence. Each worker pass finds stakeholders whose next
// reminder is due and, per person, bumps reminders_sent with a conditional
// UPDATE in the same transaction that queues the mail: of two instances (or a
// run before and after a crash) only one moves the count, so nobody gets the
// same reminder twice.
import { sql } from 'kysely';
import type { Clock } from '../lib/clock.js';
import type { DB } from '../db/index.js';
import { issueLink } from './links.js';

const BATCH = 100;

/** Queues every reminder due now; resolves to how many were queued. */
export async function scheduleReminders(db: DB, clock: Clock): Promise<number> {
  const now = clock.now();
  const due = await db
    .selectFrom('stakeholders as s')
    .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
    .select(['s.id', 's.vendor_id', 's.email', 's.reminders_sent', 's.invited_at', 'd.reminder_days'])
    .where('s.invited_at', 'is not', null)
    .where('s.reminders_paused', '=', false)
    .where('s.role', '<>', 'champion')
    .where('d.reminders_paused', '=', false)
    .where('d.stage', 'not in', ['closed_won', 'closed_lost'])
    .where(sql<boolean>`s.reminders_sent < cardinality(d.reminder_days)`)
    .where(sql<boolean>`s.invited_at + make_interval(days => d.reminder_days[s.reminders_sent + 1]) <= ${now}`)
    // Any answer (including "not mine") ends the silence.
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('signals as g')
            .select('g.id')
            .whereRef('g.vendor_id', '=', 's.vendor_id')
            .whereRef('g.stakeholder_id', '=', 's.id')
            .where('g.type', '=', 'answer'),
        ),
      ),
    )
    // A revoked or expired link ends them too.
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('stakeholder_links as l')
          .select('l.id')
          .whereRef('l.vendor_id', '=', 's.vendor_id')
          .whereRef('l.stakeholder_id', '=', 's.id')
          .where('l.revoked_at', 'is', null)
          .where('l.expires_at', '>', now),
      ),
    )
    .limit(BATCH)
    .execute();

  let queued = 0;
  for (const s of due) {
    const done = await db.transaction().execute(async (trx) => {
      // After a pause or downtime several steps may be due: send one reminder, count them all.
      const passed = s.reminder_days.filter((d) => s.invited_at!.getTime() + d * 86_400_000 <= now.getTime()).length;
      const bumped = await trx
        .updateTable('stakeholders')
        .set({ reminders_sent: Math.max(passed, s.reminders_sent + 1) })
        .where('vendor_id', '=', s.vendor_id)
        .where('id', '=', s.id)
        .where('reminders_sent', '=', s.reminders_sent)
        .executeTakeFirst();
      if (Number(bumped.numUpdatedRows) === 0) return false; // another worker got there first
      // The reminder's link lives as long as the person's current one.
      const live = await trx
        .selectFrom('stakeholder_links')
        .select((eb) => eb.fn.max('expires_at').as('until'))
        .where('vendor_id', '=', s.vendor_id)
        .where('stakeholder_id', '=', s.id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      await issueLink(trx, clock, {
        vendorId: s.vendor_id,
        stakeholderId: s.id,
        recipient: s.email,
        expiresAt: new Date(live!.until as Date),
        reason: 'reminder',
        replace: false,
        params: { n: Math.max(passed, s.reminders_sent + 1) },
      });
      return true;
    });
    if (done) queued++;
  }
  return queued;
}
