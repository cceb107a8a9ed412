// Signals are the structured record of a deal: answers, hand-overs, claim
// changes, stage changes and checkpoint overrides. recordAnswer (a
// respondent's answer) and recordSignals (everything else) are the only ways
// any of them is written: each dates its signals by the injected clock and
// the deal's week, and stores them append-only.
import type { Executor } from '../db/index.js';
import type { CorrectionKind, SignalType, Verdict } from '../db/schema.js';
import type { FieldChange } from '../concerns/index.js';
import type { Clock } from '../lib/clock.js';
import { weekOfDeal } from '../rules.js';
import { recordCorrectionFields, touchDeal } from '../readmodel/service.js';
import { enqueueWebhooks, signalEvents } from '../webhooks/service.js';
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

/**
 * Records the vendor's signals (claims, stages, overrides, confirmations) and
 * hand-overs of one deal, in order, in the caller's transaction; resolves to
 * their ids. The deal's read model is refreshed before commit. Answers go
 * through recordAnswer.
 */
export async function recordSignals(trx: Executor, clock: Clock, deal: SignalDeal, signals: SignalInput[]): Promise<number[]> {
  if (signals.some((s) => s.type === 'answer')) throw new Error('answers are recorded by recordAnswer');
  const now = clock.now();
  const week = weekOfDeal(deal.startedOn, now);
  const rows = signals.map((s) => ({
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
  }));
  const ids = await repo.insertSignals(trx, rows);
  // Webhooks: signal.created for each, in this transaction (one cheap statement when the workspace has no endpoints).
  await enqueueWebhooks(
    trx,
    clock,
    deal.vendorId,
    signalEvents(
      deal.dealId,
      rows.map((r, i) => ({ ...r, id: ids[i], changes: signals[i].changes ?? [] })),
    ),
  );
  await touchDeal(trx, deal.vendorId, deal.dealId, clock);
  return ids;
}

/** An answer as the respondent's service gives it: the signal's own fields, its changes not yet stored as JSON. */
export type AnswerInput = Omit<repo.NewAnswer, 'vendorId' | 'dealId' | 'week' | 'at' | 'changes'> & { changes: FieldChange[] };

/**
 * Records a respondent's answer in the caller's transaction, dated by the
 * injected clock and the deal's week; resolves to its id. One statement
 * writes the signal, the person's latest answer and the mark that has the
 * deal's state refreshed after commit (see server/readmodel); a correction's
 * fields are recorded for the insights too. Undefined when the answer repeats
 * the person's latest one on the concern exactly (nothing is written).
 */
export async function recordAnswer(trx: Executor, clock: Clock, deal: SignalDeal, a: AnswerInput): Promise<number | undefined> {
  const at = clock.now();
  const week = weekOfDeal(deal.startedOn, at);
  const { vendorId, dealId } = deal;
  const saved = await repo.insertAnswer(trx, { vendorId, dealId, ...a, changes: JSON.stringify(a.changes), week, at });
  if (saved === undefined) return undefined;
  const { id } = saved;
  if (a.verdict === 'correct' && a.kind) {
    await recordCorrectionFields(trx, [{ signalId: id, vendorId, dealId, concern: a.concern, stakeholderId: a.stakeholderId, kind: a.kind, changes: a.changes, week, at }]);
  }
  // Webhooks: signal.created, and stakeholder.engaged when this is the person's first confirm or correct on the deal.
  if (!saved.webhooks) return id;
  await enqueueWebhooks(
    trx,
    clock,
    vendorId,
    signalEvents(dealId, [
      {
        id,
        type: 'answer',
        concern: a.concern,
        claim_revision: a.claimRevision,
        verdict: a.verdict,
        kind: a.kind,
        comment: a.comment,
        changes: a.changes,
        stakeholder_id: a.stakeholderId,
        target_stakeholder_id: null,
        week,
        created_at: at,
      },
    ]),
  );
  return id;
}

export const listDealSignals = repo.listDealSignals;
/** A workspace's signals with the people involved, as a query another feature's repository narrows (exports). */
export const signalsWithPeople = repo.signalsWithPeople;
export const signalFacts = repo.signalFacts;
export const hasAnswered = repo.hasAnswered;
export const handedConcerns = repo.handedConcerns;
export const correctionsAfter = repo.correctionsAfter;
