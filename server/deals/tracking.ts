// What sales and the buying committee act on, computed in one place from a
// deal's claims, stakeholders and signals: each concern's status, the
// alignment checkpoint, the stakeholder-map risk, and when security spoke first.
import type { DB } from '../db/index.js';
import type { CorrectionKind, DealStage, StakeholderRole, Verdict } from '../db/schema.js';
import { CONCERNS } from '../concerns/index.js';

/**
 * The security roles: their presence clears the stakeholder-map risk, their
 * confirm or correct counts toward the checkpoint, and their first answers
 * date the deal's first security signals.
 */
export const SECURITY_ROLES: readonly StakeholderRole[] = ['ciso', 'security'];

export type ConcernStatus = 'corrected' | 'confirmed' | 'not_mine' | 'stale' | 'silent';

export interface TrackingInput {
  stage: DealStage;
  startedOn: string;
  claims: { concern: string; revision: number }[];
  stakeholders: { id: string; name: string; role: StakeholderRole }[];
  /** Latest answer per stakeholder and concern. */
  answers: { stakeholder_id: string; concern: string; verdict: Verdict; kind: CorrectionKind | null; claim_revision: number }[];
  /** Every signal's type, role of its stakeholder, verdict and week, for the first-signal weeks. */
  firsts: { type: string; verdict: Verdict | null; role: StakeholderRole | null; week: number }[];
  override: { comment: string; created_at: Date } | undefined;
}

export interface ConcernState {
  concern: string;
  status: ConcernStatus;
  /** A confirm or correct on the current claim from the CISO's team. */
  substantive: boolean;
}

export interface Tracking {
  concerns: ConcernState[];
  checkpoint: {
    state: 'ready' | 'open' | 'overridden';
    gaps: { concern: string; title: string }[];
    override?: { reason: string; at: Date };
  };
  risk: { noSecurityStakeholder: boolean };
  engaged: Set<string>;
  concernsOpen: number;
  corrections: number;
  firstSecuritySignalWeek: number | null;
  firstSecurityCorrectionWeek: number | null;
}

const title = (key: string) => CONCERNS.find((c) => c.key === key)?.title ?? key;

export function computeTracking(input: TrackingInput): Tracking {
  const role = new Map(input.stakeholders.map((s) => [s.id, s.role]));
  const order = (key: string) => CONCERNS.findIndex((c) => c.key === key);
  const claims = [...input.claims].sort((a, b) => order(a.concern) - order(b.concern));
  const concerns = claims.map(({ concern, revision }) => {
    const current = input.answers.filter((a) => a.concern === concern && a.claim_revision === revision);
    const older = input.answers.some((a) => a.concern === concern && a.claim_revision !== revision);
    const verdicts = new Set(current.map((a) => a.verdict));
    const status: ConcernStatus = verdicts.has('correct')
      ? 'corrected'
      : verdicts.has('confirm')
        ? 'confirmed'
        : verdicts.has('not_mine')
          ? 'not_mine'
          : older
            ? 'stale'
            : 'silent';
    const substantive = current.some((a) => a.verdict !== 'not_mine' && SECURITY_ROLES.includes(role.get(a.stakeholder_id)!));
    return { concern, status, substantive };
  });
  const gaps = concerns.filter((c) => !c.substantive).map((c) => ({ concern: c.concern, title: title(c.concern) }));
  const overridden = input.override && gaps.length > 0 && ['negotiation', 'closed_won', 'closed_lost'].includes(input.stage);
  const security = input.firsts.filter((f) => f.role && SECURITY_ROLES.includes(f.role) && f.type === 'answer');
  const firstWeek = (rows: typeof security) => (rows.length ? Math.min(...rows.map((r) => r.week)) : null);
  return {
    concerns,
    checkpoint: {
      state: gaps.length === 0 ? 'ready' : overridden ? 'overridden' : 'open',
      gaps,
      ...(overridden ? { override: { reason: input.override!.comment, at: input.override!.created_at } } : {}),
    },
    risk: { noSecurityStakeholder: !input.stakeholders.some((s) => SECURITY_ROLES.includes(s.role)) },
    engaged: new Set(input.answers.map((a) => a.stakeholder_id)),
    concernsOpen: gaps.length,
    corrections: input.answers.filter((a) => a.verdict === 'correct').length,
    firstSecuritySignalWeek: firstWeek(security),
    firstSecurityCorrectionWeek: firstWeek(security.filter((s) => s.verdict === 'correct')),
  };
}

/** Loads the tracking input of the given deals of a vendor in four queries, however many deals. */
export async function loadTracking(
  db: DB,
  vendorId: string,
  deals: { id: string; stage: DealStage; started_on: string }[],
): Promise<Map<string, TrackingInput>> {
  const out = new Map<string, TrackingInput>();
  if (deals.length === 0) return out;
  const dealIds = deals.map((d) => d.id);
  const [claims, stakeholders, answers, signals] = await Promise.all([
    db
      .selectFrom('deal_claims')
      .select(['deal_id', 'concern', 'revision'])
      .distinctOn(['deal_id', 'concern'])
      .where('vendor_id', '=', vendorId)
      .where('deal_id', 'in', dealIds)
      .orderBy('deal_id')
      .orderBy('concern')
      .orderBy('revision', 'desc')
      .execute(),
    db.selectFrom('stakeholders').select(['id', 'deal_id', 'name', 'role']).where('vendor_id', '=', vendorId).where('deal_id', 'in', dealIds).execute(),
    db
      .selectFrom('signals')
      .select(['deal_id', 'stakeholder_id', 'concern', 'verdict', 'kind', 'claim_revision'])
      .distinctOn(['deal_id', 'stakeholder_id', 'concern'])
      .where('vendor_id', '=', vendorId)
      .where('deal_id', 'in', dealIds)
      .where('type', '=', 'answer')
      .orderBy('deal_id')
      .orderBy('stakeholder_id')
      .orderBy('concern')
      .orderBy('id', 'desc')
      .execute(),
    db
      .selectFrom('signals')
      .leftJoin('stakeholders', (j) => j.onRef('stakeholders.id', '=', 'signals.stakeholder_id').onRef('stakeholders.vendor_id', '=', 'signals.vendor_id'))
      .select(['signals.deal_id', 'signals.type', 'signals.verdict', 'signals.week', 'signals.comment', 'signals.created_at', 'stakeholders.role'])
      .where('signals.vendor_id', '=', vendorId)
      .where('signals.deal_id', 'in', dealIds)
      .orderBy('signals.id')
      .execute(),
  ]);
  for (const d of deals) {
    const mine = <T extends { deal_id: string }>(rows: T[]) => rows.filter((r) => r.deal_id === d.id);
    const overrides = mine(signals).filter((s) => s.type === 'checkpoint_override');
    const last = overrides.at(-1);
    out.set(d.id, {
      stage: d.stage,
      startedOn: d.started_on,
      claims: mine(claims).map((c) => ({ concern: c.concern, revision: c.revision })),
      stakeholders: mine(stakeholders).map((s) => ({ id: s.id, name: s.name, role: s.role })),
      answers: mine(answers).map((a) => ({
        stakeholder_id: a.stakeholder_id!,
        concern: a.concern!,
        verdict: a.verdict!,
        kind: a.kind,
        claim_revision: a.claim_revision!,
      })),
      firsts: mine(signals).map((s) => ({ type: s.type, verdict: s.verdict, role: s.role, week: s.week })),
      override: last ? { comment: last.comment ?? '', created_at: last.created_at } : undefined,
    });
  }
  return out;
}
