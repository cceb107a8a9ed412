// What sales and the buying committee act on, computed in one place from a
// deal's claims, stakeholders and signals: each concern's status, the
// alignment checkpoint, the stakeholder-map risk, and when security spoke first.
// Only the answers of people whose answers count (rules.answersCount) enter
// any of these; the others are named as awaiting the vendor's confirmation.
import type { CorrectionKind, Verdict } from '../db/schema.js';
import { CONCERNS } from '../concerns/index.js';
import { PAST_CHECKPOINT, answersCount, isSecurityTeam, type DealStage, type StakeholderRole } from '../rules.js';

export type ConcernStatus = 'corrected' | 'confirmed' | 'not_mine' | 'stale' | 'silent';

export interface TrackingInput {
  stage: DealStage;
  startedOn: string;
  claims: { concern: string; revision: number }[];
  stakeholders: { id: string; name: string; role: StakeholderRole; confirmed_at: Date | null }[];
  /** Latest answer per stakeholder and concern. */
  answers: { stakeholder_id: string; concern: string; verdict: Verdict; kind: CorrectionKind | null; claim_revision: number }[];
  /** Every signal's type, its stakeholder and their role, verdict and week, for the first-signal weeks. */
  firsts: { type: string; verdict: Verdict | null; stakeholder_id: string | null; role: StakeholderRole | null; week: number }[];
  override: { comment: string; created_at: Date } | undefined;
}

export interface ConcernState {
  concern: string;
  status: ConcernStatus;
  /** A confirm or correct on the current claim from the CISO's team. */
  substantive: boolean;
  /** Latest answers on the current claim from people who count, and how many of them correct it. */
  answers: number;
  corrections: number;
}

export interface Tracking {
  concerns: ConcernState[];
  checkpoint: {
    state: 'ready' | 'open' | 'overridden';
    gaps: { concern: string; title: string }[];
    override?: { reason: string; at: Date };
  };
  risk: { noSecurityStakeholder: boolean };
  /** People who answered and count. */
  engaged: Set<string>;
  /** People who answered but count only once the vendor confirms them. */
  awaitingConfirmation: { id: string; name: string; role: StakeholderRole }[];
  concernsOpen: number;
  corrections: number;
  firstSecuritySignalWeek: number | null;
  firstSecurityCorrectionWeek: number | null;
}

const title = (key: string) => CONCERNS.find((c) => c.key === key)?.title ?? key;

export function computeTracking(input: TrackingInput): Tracking {
  const role = new Map(input.stakeholders.map((s) => [s.id, s.role]));
  const counted = new Set(input.stakeholders.filter(answersCount).map((s) => s.id));
  const counts = (stakeholderId: string | null) => stakeholderId !== null && counted.has(stakeholderId);
  const answers = input.answers.filter((a) => counts(a.stakeholder_id));
  const answeredBy = new Set(input.answers.map((a) => a.stakeholder_id));
  const order = (key: string) => CONCERNS.findIndex((c) => c.key === key);
  const claims = [...input.claims].sort((a, b) => order(a.concern) - order(b.concern));
  const concerns = claims.map(({ concern, revision }) => {
    const current = answers.filter((a) => a.concern === concern && a.claim_revision === revision);
    const older = answers.some((a) => a.concern === concern && a.claim_revision !== revision);
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
    const substantive = current.some((a) => a.verdict !== 'not_mine' && isSecurityTeam(role.get(a.stakeholder_id)));
    return { concern, status, substantive, answers: current.length, corrections: current.filter((a) => a.verdict === 'correct').length };
  });
  const gaps = concerns.filter((c) => !c.substantive).map((c) => ({ concern: c.concern, title: title(c.concern) }));
  const overridden = input.override && gaps.length > 0 && PAST_CHECKPOINT.includes(input.stage);
  const security = input.firsts.filter((f) => f.type === 'answer' && counts(f.stakeholder_id) && isSecurityTeam(f.role));
  const firstWeek = (rows: typeof security) => (rows.length ? Math.min(...rows.map((r) => r.week)) : null);
  return {
    concerns,
    checkpoint: {
      state: gaps.length === 0 ? 'ready' : overridden ? 'overridden' : 'open',
      gaps,
      ...(overridden ? { override: { reason: input.override!.comment, at: input.override!.created_at } } : {}),
    },
    risk: { noSecurityStakeholder: !input.stakeholders.some((s) => counts(s.id) && isSecurityTeam(s.role)) },
    engaged: new Set(answers.map((a) => a.stakeholder_id)),
    awaitingConfirmation: input.stakeholders.filter((s) => !counts(s.id) && answeredBy.has(s.id)).map((s) => ({ id: s.id, name: s.name, role: s.role })),
    concernsOpen: gaps.length,
    corrections: answers.filter((a) => a.verdict === 'correct').length,
    firstSecuritySignalWeek: firstWeek(security),
    firstSecurityCorrectionWeek: firstWeek(security.filter((s) => s.verdict === 'correct')),
  };
}
