// Everything the deal page and GET /api/v1/deals/:id show, loaded once.
import { sql } from 'kysely';
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
    // Invitations of this deal not delivered yet (or given up on), so the vendor sees them.
    db
      .selectFrom('outbox as o')
      .innerJoin('stakeholder_links as l', (j) =>
        j.on(sql<boolean>`o.params->>'linkId' = l.id::text`).onRef('l.vendor_id', '=', 'o.vendor_id'),
      )
      .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
      .select(['s.id as stakeholder_id', 'o.status'])
      .where('o.vendor_id', '=', vendorId)
      .where('s.deal_id', '=', dealId)
      .where('o.template', '=', 'invite')
      .where('o.status', '<>', 'sent')
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
  const pendingMail = new Map(outbox.map((o) => [o.stakeholder_id, o.status]));
  return { deal, claims, stakeholders, grid, signals, pendingMail };
}
