// Everything the deal page, the champion's page and GET /api/v1/deals/:id
// show, loaded once: the deal, its claims, people, answers and signals, and
// the tracking computed from those same rows.
import type { Executor } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { getConcern } from '../concerns/index.js';
import { answersCount, isChampion } from '../rules.js';
import { listDealSignals } from '../signals/service.js';
import { buyerDomainsOf, dealStakeholders } from '../stakeholders/service.js';
import { currentClaims, getDeal } from './service.js';
import { computeDealState, latestAnswersOf, readDealState, trackingOf } from '../readmodel/service.js';

export type GridCell = 'confirm' | 'correct' | 'not_mine' | 'none';

/** How many of the newest signals a deal page shows at once. */
export const TIMELINE_PAGE = 50;

/**
 * `people` loads one page of the deal's people (the deal page); without it,
 * everyone (the champion's page and the API).
 */
export async function loadDealDetail(
  db: Executor,
  clock: Clock,
  vendorId: string,
  dealId: string,
  /** timeline: false leaves the signal timeline out (an export of the grid reads it page by page of people). */
  opts: { signalsBefore?: number; corrections?: boolean; people?: { offset: number; limit: number }; timeline?: boolean } = {},
) {
  // The deal and its people at once: for another workspace's id, getDeal's 404 wins and the rest (scoped by vendor) is empty anyway.
  const [deal, stakeholders] = await Promise.all([getDeal(db, vendorId, dealId), dealStakeholders(db, vendorId, dealId, clock.now(), opts.people)]);
  const [claims, answers, signals, handovers, corrections, state] = await Promise.all([
    currentClaims(db, vendorId, dealId),
    latestAnswersOf(db, vendorId, dealId, { stakeholderIds: opts.people ? stakeholders.map((s) => s.id) : undefined }),
    opts.timeline === false ? [] : listDealSignals(db, vendorId, dealId, { limit: TIMELINE_PAGE, beforeId: opts.signalsBefore }),
    listDealSignals(db, vendorId, dealId, { limit: 1000, type: 'delegation' }),
    // The newest corrections, for the champion's page when the vendor shares them.
    opts.corrections ? listDealSignals(db, vendorId, dealId, { limit: TIMELINE_PAGE, type: 'answer', verdict: 'correct' }) : [],
    readDealState(db, vendorId, dealId),
  ]);
  const domains = state ? state.state.buyer_domains : await buyerDomainsOf(db, vendorId, dealId);
  const counted = new Set(stakeholders.filter(answersCount).map((s) => s.id));
  const engaged = new Set(answers.map((a) => a.stakeholder_id!).filter((id) => counted.has(id)));
  // The read model holds the deal's state; a deal written before it existed is computed once, here.
  const tracking = state ? trackingOf(state.state, state.concerns, engaged) : { ...(await computeDealState(db, vendorId, dealId))!.tracking, engaged };
  const answerOf = new Map(answers.map((a) => [`${a.stakeholder_id}:${a.concern}`, a]));
  const handedAway = new Map([...handovers].reverse().map((s) => [`${s.stakeholder_id}:${s.concern}`, s.target_name ?? '']));
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
  const pendingMail = new Map(stakeholders.filter((s) => s.mail_status).map((s) => [s.id, s.mail_status]));
  const olderSignals = signals.length === TIMELINE_PAGE ? signals.at(-1)!.id : undefined;
  const people = { offset: opts.people?.offset ?? 0, total: state?.state.stakeholders ?? stakeholders.length };
  return { deal, claims, stakeholders, respondents, grid, signals, handovers, corrections, olderSignals, pendingMail, tracking, domains, people };
}

export type DealDetail = Awaited<ReturnType<typeof loadDealDetail>>;
