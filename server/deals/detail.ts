// Everything the deal page and GET /api/v1/deals/:id show, loaded once.
import type { DB } from '../db/index.js';
import { getConcern } from '../concerns/index.js';
import { currentClaims, getDeal, latestAnswers, listSignals, listStakeholders } from './service.js';

export type GridCell = 'confirm' | 'correct' | 'not_mine' | 'none';

export async function loadDealDetail(db: DB, vendorId: string, dealId: string) {
  const deal = await getDeal(db, vendorId, dealId);
  const [claims, stakeholders, answers, signals, outbox] = await Promise.all([
    currentClaims(db, vendorId, dealId),
    listStakeholders(db, vendorId, dealId),
    latestAnswers(db, vendorId, dealId),
    listSignals(db, vendorId, dealId),
    // Invitation mail that could not be delivered, so the vendor sees it.
    db
      .selectFrom('outbox')
      .select(['recipient', 'status', 'attempts', 'last_error'])
      .where('vendor_id', '=', vendorId)
      .where('template', '=', 'invite')
      .where('status', '<>', 'sent')
      .execute(),
  ]);
  const answerOf = new Map(answers.map((a) => [`${a.stakeholder_id}:${a.concern}`, a]));
  const grid = claims.map((claim) => ({
    concern: claim.concern,
    title: getConcern(claim.concern)?.title ?? claim.concern,
    revision: claim.revision,
    tailored: claim.tailored,
    answers: stakeholders.map((s) => {
      const a = answerOf.get(`${s.id}:${claim.concern}`);
      return {
        stakeholder_id: s.id,
        verdict: (a?.verdict ?? 'none') as GridCell,
        kind: a?.kind ?? null,
        stale: a ? a.claim_revision !== claim.revision : false,
        at: a?.created_at ?? null,
      };
    }),
  }));
  const pendingMail = new Map(outbox.map((o) => [o.recipient, o]));
  return { deal, claims, stakeholders, grid, signals, pendingMail };
}
