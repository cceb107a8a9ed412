// Signals are the structured record of a deal: answers, hand-overs, claim
// changes, stage changes and checkpoint overrides. recordSignals is the one
// way any of them is written: it dates each signal by the injected clock and
// the deal's week, and stores it append-only.
import type { Executor } from '../db/index.js';
import type { CorrectionKind, SignalType, Verdict } from '../db/schema.js';
import type { FieldChange } from '../concerns/index.js';
import type { Clock } from '../lib/clock.js';
import { weekOfDeal } from '../rules.js';
import { recordCorrectionFields, recordLatestAnswers, touchDeal } from '../readmodel/service.js';
import * as repo from './repository.js';

export interface SignalInput {
  type: SignalType;
  concern?: string | null;
  /** The respondent who spoke (answers, hand-overs); null for the vendor's own actions. */
  stakeholderId?: string | null;
  /** The colleague a concern was handed to. */
  targetStakeholderId?: string | null;
  /** The vendor's user behind a claim, stage or override; null for the API. */
  actorUserId?: string | null;
  claimRevision?: number | null;
  verdict?: Verdict | null;
  kind?: CorrectionKind | null;
  comment?: string | null;
  changes?: FieldChange[];
}

export interface SignalDeal {
  vendorId: string;
  dealId: string;
  startedOn: string;
}

/** Records signals of one deal, in order, in the caller's transaction; resolves to their ids. */
export async function recordSignals(trx: Executor, clock: Clock, deal: SignalDeal, signals: SignalInput[]): Promise<number[]> {
  const now = clock.now();
  const week = weekOfDeal(deal.startedOn, now);
  const ids = await repo.insertSignals(
    trx,
    signals.map((s) => ({
      vendor_id: deal.vendorId,
      deal_id: deal.dealId,
      type: s.type,
      concern: s.concern ?? null,
      stakeholder_id: s.stakeholderId ?? null,
      target_stakeholder_id: s.targetStakeholderId ?? null,
      actor_user_id: s.actorUserId ?? null,
      claim_revision: s.claimRevision ?? null,
      verdict: s.verdict ?? null,
      kind: s.kind ?? null,
      comment: s.comment ?? null,
      changes: JSON.stringify(s.changes ?? []),
      week,
      created_at: now,
    })),
  );
  // The read model follows in the same transaction: latest answers and corrected fields now, the deal's state before commit.
  await recordLatestAnswers(
    trx,
    signals.flatMap((s, i) =>
      s.type === 'answer' && s.stakeholderId && s.concern && s.verdict && s.claimRevision != null
        ? [
            {
              vendor_id: deal.vendorId,
              deal_id: deal.dealId,
              stakeholder_id: s.stakeholderId,
              concern: s.concern,
              signal_id: ids[i],
              verdict: s.verdict,
              kind: s.kind ?? null,
              claim_revision: s.claimRevision,
              created_at: now,
              first_week: week,
              first_correction_week: s.verdict === 'correct' ? week : null,
            },
          ]
        : [],
    ),
  );
  await recordCorrectionFields(
    trx,
    signals.flatMap((s, i) =>
      s.type === 'answer' && s.verdict === 'correct' && s.kind
        ? [
            {
              signalId: ids[i],
              vendorId: deal.vendorId,
              dealId: deal.dealId,
              concern: s.concern!,
              stakeholderId: s.stakeholderId!,
              kind: s.kind,
              changes: s.changes ?? [],
              week,
              at: now,
            },
          ]
        : [],
    ),
  );
  await touchDeal(trx, deal.vendorId, deal.dealId);
  return ids;
}

export const listDealSignals = repo.listDealSignals;
export const signalFacts = repo.signalFacts;
export const hasAnswered = repo.hasAnswered;
export const handedConcerns = repo.handedConcerns;
export const correctionsAfter = repo.correctionsAfter;
export const lastAnswerOn = repo.lastAnswerOn;

/** One stakeholder's latest answer per concern, by concern. */
export async function answersOf(db: Executor, vendorId: string, dealId: string, stakeholderId: string) {
  const rows = await repo.answersOf(db, vendorId, dealId, stakeholderId);
  return new Map(rows.map((r) => [r.concern!, r]));
}
export type StakeholderAnswer = Awaited<ReturnType<typeof repo.answersOf>>[number];

/** Concerns handed to this person (by whom) and handed away by this person (to whom). */
export async function delegationsOf(db: Executor, vendorId: string, dealId: string, stakeholderId: string) {
  const toMe = new Map<string, string>();
  const fromMe = new Map<string, string>();
  for (const r of await repo.delegationsAround(db, vendorId, dealId, stakeholderId)) {
    if (r.target_stakeholder_id === stakeholderId) toMe.set(r.concern!, r.from_name);
    else fromMe.set(r.concern!, r.to_name);
  }
  return { toMe, fromMe };
}
