// The JSON shapes of /api/v1, built by pure functions from loaded data.
// Documented in the README; keep them stable.
import { answersCount, weekOfDeal } from '../rules.js';
import type { Deal } from '../deals/service.js';
import type { DealDetail } from '../deals/detail.js';
import type { Tracking } from '../deals/tracking.js';
import type { DealListRow } from '../deals/views.js';
import { trackingOf } from '../readmodel/service.js';
import type { getDraft, warningsFor } from '../profiles/service.js';

export function trackingJson(t: Tracking) {
  return {
    checkpoint: t.checkpoint,
    risk: { no_security_stakeholder: t.risk.noSecurityStakeholder },
    concerns_open: t.concernsOpen,
    corrections: t.corrections,
    first_security_signal_week: t.firstSecuritySignalWeek,
    first_security_correction_week: t.firstSecurityCorrectionWeek,
    awaiting_confirmation: t.awaitingConfirmation.map((s) => ({ stakeholder_id: s.id, name: s.name, role: s.role })),
  };
}

/** A deal in the list, from its read-model row. */
export function dealListItemJson(d: DealListRow, now: Date) {
  return {
    id: d.deal_id,
    buyer_name: d.buyer_name,
    buyer_domain: d.buyer_domain,
    started_on: d.started_on,
    week: weekOfDeal(d.started_on, now),
    stage: d.stage,
    industry: d.industry,
    region: d.region,
    profile_version: d.profile_version,
    owner_id: d.owner_id,
    created_at: d.created_at,
    last_activity_at: d.last_activity_at,
    stakeholders: d.stakeholders,
    signals: d.signals,
    ...trackingJson(trackingOf(d)),
  };
}

export function dealJson(deal: Deal, now: Date) {
  return {
    id: deal.id,
    buyer_name: deal.buyer_name,
    buyer_domain: deal.buyer_domain,
    started_on: deal.started_on,
    week: weekOfDeal(deal.started_on, now),
    stage: deal.stage,
    industry: deal.industry,
    region: deal.region,
    profile_version: deal.profile_version,
    owner_id: deal.owner_id,
    reminder_days: deal.reminder_days,
    reminders_paused: deal.reminders_paused,
    share_corrections: deal.share_corrections,
    created_at: deal.created_at,
  };
}

type Draft = Awaited<ReturnType<typeof getDraft>>;

export function profileJson(draft: Draft, warnings: ReturnType<typeof warningsFor>) {
  return {
    concerns: Object.fromEntries(Object.entries(draft).map(([k, c]) => [k, { ...c.values, narrative: c.narrative }])),
    warnings,
  };
}

export function dealDetailJson(d: DealDetail, now: Date) {
  return {
    ...dealJson(d.deal, now),
    ...trackingJson(d.tracking),
    stakeholders: d.stakeholders.map((s) => ({
      id: s.id,
      name: s.name,
      email: s.email,
      role: s.role,
      source: s.source,
      // Left joins: a row found (its id) has its NOT NULL columns.
      delegated_by: s.delegated_by_id ? { id: s.delegated_by_id, name: s.delegated_by_name! } : null,
      delegation_depth: s.delegation_depth,
      confirmed_at: s.confirmed_at,
      counts: answersCount(s),
      engaged: d.tracking.engaged.has(s.id),
      invited_at: s.invited_at,
      link: { state: s.link_state, expires_at: s.link_expires_at },
      reminders_paused: s.reminders_paused,
      reminders_sent: s.reminders_sent,
    })),
    concerns: d.grid.map((row) => ({
      concern: row.concern,
      status: row.status,
      claim_revision: row.revision,
      // The grid has one row per current claim.
      claim: d.claims.find((c) => c.concern === row.concern)!.claim,
      tailored: row.tailored,
      answers: row.answers.map((a) => ({
        stakeholder_id: a.stakeholder_id,
        verdict: a.verdict === 'none' ? null : a.verdict,
        kind: a.kind,
        stale: a.stale,
        answered_at: a.at,
        handed_to: a.handed_to,
      })),
    })),
  };
}

export function signalJson(s: DealDetail['signals'][number]) {
  return {
    id: s.id,
    type: s.type,
    concern: s.concern,
    claim_revision: s.claim_revision,
    verdict: s.verdict,
    kind: s.kind,
    comment: s.comment,
    changes: s.changes,
    // Left joins: a row found (its id) has its NOT NULL columns.
    stakeholder: s.stakeholder_id ? { id: s.stakeholder_id, name: s.stakeholder_name!, role: s.stakeholder_role! } : null,
    target_stakeholder: s.target_id ? { id: s.target_id, name: s.target_name!, role: s.target_role! } : null,
    week: s.week,
    created_at: s.created_at,
  };
}
