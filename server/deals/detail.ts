// Everything the deal page, the champion's page and GET /api/v1/deals/:id
// show, loaded once: the deal, its claims, people, answers and signals, and
// the tracking computed from those same rows.
import type { Executor } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { getConcern } from '../concerns/index.js';
import { isChampion } from '../rules.js';
import { latestAnswers, listDealSignals } from '../signals/service.js';
import { dealStakeholders, undeliveredInvites } from '../stakeholders/service.js';
import { currentClaims, getDeal } from './service.js';
import { computeTracking } from './tracking.js';

export type GridCell = 'confirm' | 'correct' | 'not_mine' | 'none';

export async function loadDealDetail(db: Executor, clock: Clock, vendorId: string, dealId: string) {
  const deal = await getDeal(db, vendorId, dealId);
  const [claims, stakeholders, answers, signals, undelivered] = await Promise.all([
    currentClaims(db, vendorId, dealId),
    dealStakeholders(db, vendorId, dealId, clock.now()),
    latestAnswers(db, vendorId, [dealId]),
    listDealSignals(db, vendorId, dealId),
    undeliveredInvites(db, vendorId, dealId),
  ]);
  const lastOverride = signals.find((s) => s.type === 'checkpoint_override');
  const tracking = computeTracking({
    stage: deal.stage,
    startedOn: deal.started_on,
    claims: claims.map((c) => ({ concern: c.concern, revision: c.revision })),
    stakeholders: stakeholders.map((s) => ({ id: s.id, name: s.name, role: s.role, confirmed_at: s.confirmed_at })),
    answers: answers.map((a) => ({ stakeholder_id: a.stakeholder_id!, concern: a.concern!, verdict: a.verdict!, kind: a.kind, claim_revision: a.claim_revision! })),
    firsts: signals.map((s) => ({ type: s.type, verdict: s.verdict, stakeholder_id: s.stakeholder_id, role: s.stakeholder_role, week: s.week })),
    override: lastOverride ? { comment: lastOverride.comment ?? '', created_at: lastOverride.created_at } : undefined,
  });
  const answerOf = new Map(answers.map((a) => [`${a.stakeholder_id}:${a.concern}`, a]));
  const handedAway = new Map(signals.filter((s) => s.type === 'delegation').map((s) => [`${s.stakeholder_id}:${s.concern}`, s.target_name ?? '']));
  const respondents = stakeholders.filter((s) => !isChampion(s.role));
  const grid = claims.map((claim) => ({
    concern: claim.concern,
    title: getConcern(claim.concern)?.title ?? claim.concern,
    revision: claim.revision,
    tailored: claim.tailored,
    status: tracking.concerns.find((c) => c.concern === claim.concern)?.status ?? 'silent',
    answers: respondents.map((s) => {
      const a = answerOf.get(`${s.id}:${claim.concern}`);
      return {
        stakeholder_id: s.id,
        verdict: (a?.verdict ?? 'none') as GridCell,
        kind: a?.kind ?? null,
        stale: a ? a.claim_revision !== claim.revision : false,
        at: a?.created_at ?? null,
        handed_to: handedAway.get(`${s.id}:${claim.concern}`) ?? null,
      };
    }),
  }));
  const pendingMail = new Map(undelivered.map((o) => [o.stakeholder_id, o.status]));
  return { deal, claims, stakeholders, respondents, grid, signals, pendingMail, tracking };
}

export type DealDetail = Awaited<ReturnType<typeof loadDealDetail>>;
