// Everything the deal page, the champion's page and GET /api/v1/deals/:id
// show, loaded once.
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { getConcern } from '../concerns/index.js';
import { currentClaims, getDeal, latestAnswers, listSignals } from './service.js';
import { computeTracking } from './tracking.js';

export type GridCell = 'confirm' | 'correct' | 'not_mine' | 'none';
export type LinkState = 'active' | 'expired' | 'revoked' | 'none';

export async function loadDealDetail(db: DB, clock: Clock, vendorId: string, dealId: string) {
  const deal = await getDeal(db, vendorId, dealId);
  const now = clock.now();
  const [claims, stakeholders, answers, signals, outbox] = await Promise.all([
    currentClaims(db, vendorId, dealId),
    db
      .selectFrom('stakeholders as s')
      .leftJoin('stakeholders as by', (j) => j.onRef('by.id', '=', 's.delegated_by').onRef('by.vendor_id', '=', 's.vendor_id'))
      .select([
        's.id',
        's.name',
        's.email',
        's.role',
        's.source',
        's.created_at',
        's.invited_at',
        's.reminders_paused',
        's.reminders_sent',
        'by.id as delegated_by_id',
        'by.name as delegated_by_name',
        // The best state among the person's links: one that works beats an expired one beats a revoked one.
        sql<LinkState>`coalesce((
          select case
            when bool_or(l.revoked_at is null and l.expires_at > ${now}) then 'active'
            when bool_or(l.revoked_at is null) then 'expired'
            else 'revoked' end
          from stakeholder_links l where l.vendor_id = s.vendor_id and l.stakeholder_id = s.id), 'none')`.as('link_state'),
        sql<Date | null>`(select max(l.expires_at) from stakeholder_links l
          where l.vendor_id = s.vendor_id and l.stakeholder_id = s.id and l.revoked_at is null)`.as('link_expires_at'),
      ])
      .where('s.vendor_id', '=', vendorId)
      .where('s.deal_id', '=', dealId)
      .orderBy('s.created_at')
      .execute(),
    latestAnswers(db, vendorId, dealId),
    listSignals(db, vendorId, dealId),
    // Invitations of this deal not delivered yet (or given up on), so the vendor sees them.
    db
      .selectFrom('outbox as o')
      .innerJoin('stakeholder_links as l', (j) => j.on(sql<boolean>`o.params->>'linkId' = l.id::text`).onRef('l.vendor_id', '=', 'o.vendor_id'))
      .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
      .select(['s.id as stakeholder_id', 'o.status'])
      .where('o.vendor_id', '=', vendorId)
      .where('s.deal_id', '=', dealId)
      .where('o.template', '=', 'invite')
      .where('o.status', '<>', 'sent')
      .execute(),
  ]);
  // The tracking is computed from the rows just loaded, not fetched again.
  const lastOverride = signals.find((s) => s.type === 'checkpoint_override');
  const tracking = computeTracking({
    stage: deal.stage,
    startedOn: deal.started_on,
    claims: claims.map((c) => ({ concern: c.concern, revision: c.revision })),
    stakeholders: stakeholders.map((s) => ({ id: s.id, name: s.name, role: s.role })),
    answers: answers.map((a) => ({ stakeholder_id: a.stakeholder_id!, concern: a.concern!, verdict: a.verdict!, kind: a.kind, claim_revision: a.claim_revision! })),
    firsts: signals.map((s) => ({ type: s.type, verdict: s.verdict, role: s.stakeholder_role, week: s.week })),
    override: lastOverride ? { comment: lastOverride.comment ?? '', created_at: lastOverride.created_at } : undefined,
  });
  const answerOf = new Map(answers.map((a) => [`${a.stakeholder_id}:${a.concern}`, a]));
  const handedAway = new Map(
    signals.filter((s) => s.type === 'delegation').map((s) => [`${s.stakeholder_id}:${s.concern}`, s.target_name ?? '']),
  );
  const respondents = stakeholders.filter((s) => s.role !== 'champion');
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
  const pendingMail = new Map(outbox.map((o) => [o.stakeholder_id, o.status]));
  return { deal, claims, stakeholders, respondents, grid, signals, pendingMail, tracking };
}

export type DealDetail = Awaited<ReturnType<typeof loadDealDetail>>;
