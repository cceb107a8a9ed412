// Compares a deal's read model with a recomputation from the source tables.
import type { DB } from '../../server/db/index.js';
import { computeDealState, latestAnswersOf, readDealState } from '../../server/readmodel/service.js';

/** The read model of a deal as stored, and as computed afresh from claims, people and signals, in one comparable shape. */
export async function readModelAndTruth(db: DB, dealId: string) {
  const { vendor_id: vendorId } = await db.selectFrom('deals').select('vendor_id').where('id', '=', dealId).executeTakeFirstOrThrow();
  // Read first: it refreshes a deal that answers have marked, and the rows below are read after.
  const stored = await readDealState(db, vendorId, dealId);
  const [fresh, heldAnswers, trueAnswers, heldFields, heldPeople] = await Promise.all([
    computeDealState(db, vendorId, dealId, { fromSignals: true }),
    latestAnswersOf(db, vendorId, dealId),
    latestAnswersOf(db, vendorId, dealId, { fromSignals: true }),
    db
      .selectFrom('deal_field_state')
      .select(['concern', 'field', 'claimed', 'corrected', 'kinds', 'first_of_field', 'field_kinds'])
      .where('vendor_id', '=', vendorId)
      .where('deal_id', '=', dealId)
      .execute(),
    db
      .selectFrom('person_state')
      .select(['stakeholder_id', 'role', 'first_invited_at', 'reminders_total', 'first_answered_at', 'answer_days', 'answered_all'])
      .where('vendor_id', '=', vendorId)
      .where('deal_id', '=', dealId)
      .execute(),
  ]);
  // Insight's rows: the fields the security team corrected, and each person's engagement.
  const fieldKey = (r: { concern: string; field: string; corrected: unknown }) => JSON.stringify([r.concern, r.field, r.corrected]);
  const byField = <T extends { concern: string; field: string; corrected: unknown }>(rows: T[]) => [...rows].sort((a, b) => fieldKey(a).localeCompare(fieldKey(b)));
  const byPerson = <T extends { stakeholder_id: string }>(rows: T[]) => [...rows].sort((a, b) => a.stakeholder_id.localeCompare(b.stakeholder_id));
  const when = (d: Date | string | null | undefined) => (d == null ? null : new Date(d).toISOString());
  const byKey = (rows: { stakeholder_id: string | null; concern: string | null }[]) =>
    [...rows].sort((a, b) => `${a.stakeholder_id}${a.concern}`.localeCompare(`${b.stakeholder_id}${b.concern}`));
  const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  const truth = fresh && {
    ...fresh.state,
    gaps: parse(fresh.state.gaps),
    override: parse(fresh.state.override),
    awaiting_confirmation: parse(fresh.state.awaiting_confirmation),
    buyer_domains: parse(fresh.state.buyer_domains),
    last_activity_at: new Date(fresh.state.last_activity_at as Date).toISOString(),
    concerns: fresh.concerns.map(({ vendor_id: _v, deal_id: _d, ...c }) => c).sort((a, b) => a.concern.localeCompare(b.concern)),
    latest: byKey(trueAnswers),
    fields: byField(fresh.fields.map(({ vendor_id: _v, deal_id: _d, ...f }) => ({ ...f, claimed: parse(f.claimed), corrected: parse(f.corrected) }))),
    people: byPerson(
      fresh.people.map((p) => ({
        stakeholder_id: p.stakeholder_id,
        role: p.role,
        first_invited_at: when(p.first_invited_at),
        reminders_total: p.reminders_total,
        first_answered_at: when(p.first_answered_at),
        answer_days: p.answer_days ?? null,
        answered_all: p.answered_all,
      })),
    ),
  };
  // The refresh's sequence number is when, not what: the truth has none.
  const { refresh_seq: _seq, ...heldState } = stored?.state ?? ({} as NonNullable<typeof stored>['state']);
  const held = stored && {
    ...heldState,
    last_activity_at: heldState.last_activity_at.toISOString(),
    concerns: [...stored.concerns].sort((a, b) => a.concern.localeCompare(b.concern)),
    latest: byKey(heldAnswers),
    fields: byField(heldFields),
    people: byPerson(heldPeople.map((p) => ({ ...p, first_invited_at: when(p.first_invited_at), first_answered_at: when(p.first_answered_at) }))),
  };
  return { held, truth };
}
