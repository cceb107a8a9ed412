// Compares a deal's read model with a recomputation from the source tables.
import type { DB } from '../../server/db/index.js';
import { computeDealState, latestAnswersOf, readDealState } from '../../server/readmodel/service.js';

/** The read model of a deal as stored, and as computed afresh from claims, people and signals, in one comparable shape. */
export async function readModelAndTruth(db: DB, dealId: string) {
  const { vendor_id: vendorId } = await db.selectFrom('deals').select('vendor_id').where('id', '=', dealId).executeTakeFirstOrThrow();
  const [stored, fresh, heldAnswers, trueAnswers] = await Promise.all([
    readDealState(db, vendorId, dealId),
    computeDealState(db, vendorId, dealId, { fromSignals: true }),
    latestAnswersOf(db, vendorId, dealId),
    latestAnswersOf(db, vendorId, dealId, { fromSignals: true }),
  ]);
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
  };
  const held = stored && {
    ...stored.state,
    last_activity_at: stored.state.last_activity_at.toISOString(),
    concerns: [...stored.concerns].sort((a, b) => a.concern.localeCompare(b.concern)),
    latest: byKey(heldAnswers),
  };
  return { held, truth };
}
