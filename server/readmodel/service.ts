// The read model: each deal's current state (per deal and per concern), kept
// in tables so lists, pages and insights read it instead of recomputing from
// raw signals. The signals table stays the source of truth: a refresh
// recomputes one deal from it (bounded by that deal, through indexes), and
// rebuildReadModel does so for every deal.
//
// A vendor's write (a claim, a person, a stage) refreshes its deal inside its
// own transaction. A respondent's answer only marks its deal (in deal_state_dirty,
// by the statement that records it: see signals/repository.ts insertAnswer):
// the refresh grows with the deal's people and answers, and answers on one
// deal would queue for it. Marked deals are refreshed by the background
// DirtyDealRefresher within a second, and at once by any read of the deal
// (readDealState) or of the workspace's deal list (freshenDeals).
import { beforeCommit, transaction, type DB, type Executor } from '../db/index.js';
import { DAY, type Clock } from '../lib/clock.js';
import type {
  CorrectionKind,
  DealConcernStateTable,
  FieldChange,
  NewCorrectionField,
  NewDealConcernState,
  NewDealFieldState,
  NewDealState,
  NewPersonState,
  Verdict,
} from '../db/schema.js';
import { CONCERNS, concernBits } from '../concerns/index.js';
import { computeTracking, type Tracking } from '../deals/tracking.js';
import { answersCount, buyerDomains, isSecurityTeam, weekOfDeal, type StakeholderRole } from '../rules.js';
import { enqueueWebhooks } from '../webhooks/service.js';
import * as repo from './repository.js';

export { DEAL_SORTS, type DealFilter, type DealListQuery, type DealSort } from './repository.js';
export const pageDeals = repo.pageDeals;
/** The deal list's filter as a query of deal_state (ds), for another feature's repository to use as a subquery. */
export const dealsMatching = repo.dealsMatching;
export const stageCounts = repo.stageCounts;
export const readModelVersion = repo.readModelVersion;

/** A deal's read model, refreshed first if an answer has marked it. */
export async function readDealState(db: DB, vendorId: string, dealId: string) {
  const stored = await repo.readDealState(db, vendorId, dealId);
  if (!stored?.dirty) return stored;
  await refreshMarkedDeal(db, vendorId, dealId);
  return repo.readDealState(db, vendorId, dealId);
}

/** Each person's latest answer per concern of a deal (of some people only, when named), as held in latest_answers; or recomputed from the signals, for checks. */
export function latestAnswersOf(db: Executor, vendorId: string, dealId: string, opts: { fromSignals?: boolean; stakeholderIds?: string[] } = {}) {
  return opts.fromSignals ? repo.latestAnswersFromSignals(db, vendorId, dealId) : repo.latestAnswers(db, vendorId, dealId, opts.stakeholderIds);
}

/**
 * Marks a deal as changed by the current transaction: its read model is
 * refreshed once, just before the transaction commits, with all of its writes
 * in view. Call it from every write that can change what a deal shows
 * (signals, claims, stakeholders, stage). Outside a transaction opened by
 * transaction(), the refresh runs at once.
 */
export async function touchDeal(trx: Executor, vendorId: string, dealId: string, clock?: Clock): Promise<void> {
  const opts = { at: clock?.now() };
  if (!beforeCommit(trx, `deal_state:${dealId}`, (t) => refreshDeal(t, vendorId, dealId, opts))) await refreshDeal(trx, vendorId, dealId, opts);
}

export interface RefreshOptions {
  /** When the change happened (the injected clock's time); without it, the latest answer's or activity's time. */
  at?: Date;
  /** A bulk rebuild: no webhook events, and no look at the state before. */
  quiet?: boolean;
}

/**
 * Recomputes one deal's read model from its claims, people and signals, and
 * writes it, taking the marks answers left on the deal in the same
 * transaction: only those of committed answers are visible to it, so an
 * answer still in flight keeps its mark for the next refresh (and never waits
 * for this one), and a refresh that fails keeps the marks it saw.
 */
export async function refreshDeal(trx: Executor, vendorId: string, dealId: string, opts: RefreshOptions = {}): Promise<void> {
  await repo.lockDealState(trx, dealId);
  const marked = await repo.clearDirty(trx, vendorId, dealId);
  // One primary-key lookup, under the lock: how the checkpoint stood, to tell the webhooks when it changes.
  const before = opts.quiet ? undefined : await repo.checkpointOf(trx, vendorId, dealId);
  const fresh = await computeDealState(trx, vendorId, dealId);
  if (!fresh) return;
  await repo.writeDealState(trx, fresh);
  const checkpoint = fresh.tracking.checkpoint;
  if (before && before.checkpoint !== checkpoint.state) {
    const at = opts.at ?? marked ?? fresh.state.last_activity_at;
    await enqueueWebhooks(trx, { now: () => at }, vendorId, [
      {
        type: 'deal.checkpoint_changed',
        dealId,
        checkpoint: { state: checkpoint.state, previous_state: before.checkpoint, gaps: checkpoint.gaps.map((g) => ({ concern: g.concern, title: g.title })) },
      },
    ]);
  }
}

/**
 * A deal's tracking and its read-model rows, computed from its claims, people
 * and latest answers (latest_answers, written with each answer; with
 * `fromSignals`, recomputed from the signals themselves, as checks do).
 */
export async function computeDealState(db: Executor, vendorId: string, dealId: string, opts: { fromSignals?: boolean } = {}) {
  const deal = await repo.findDeal(db, vendorId, dealId);
  if (!deal) return undefined;
  const [claims, people, answers, weeks, summary, handovers] = await Promise.all([
    repo.claimRevisions(db, vendorId, dealId),
    repo.stakeholders(db, vendorId, dealId),
    opts.fromSignals ? repo.latestAnswersFromSignals(db, vendorId, dealId) : repo.latestAnswers(db, vendorId, dealId),
    opts.fromSignals ? repo.answerWeeksFromSignals(db, vendorId, dealId) : repo.answerWeeks(db, vendorId, dealId),
    repo.signalSummary(db, vendorId, dealId),
    repo.handovers(db, vendorId, dealId),
  ]);
  const role = new Map(people.map((p) => [p.id, p.role]));
  const revision = new Map(claims.map((c) => [c.concern, c.revision]));
  // The security team's latest answers on the current claims: what insight counts (rules.SECURITY_TEAM).
  const team = new Set(people.filter((p) => answersCount(p) && isSecurityTeam(p.role)).map((p) => p.id));
  const teamAnswers = answers.filter((a) => team.has(a.stakeholder_id!) && a.claim_revision === revision.get(a.concern!) && a.verdict !== 'not_mine');
  const teamCorrections = teamAnswers.filter((a) => a.verdict === 'correct');
  const changes = await repo.changesOf(
    db,
    vendorId,
    dealId,
    teamCorrections.map((a) => Number(a.signal_id)),
  );
  const tracking = computeTracking({
    stage: deal.stage,
    startedOn: deal.started_on,
    claims: claims.map((c) => ({ concern: c.concern, revision: c.revision })),
    stakeholders: people,
    answers: answers.map((a) => ({ stakeholder_id: a.stakeholder_id!, concern: a.concern!, verdict: a.verdict!, kind: a.kind, claim_revision: a.claim_revision! })),
    // Each person's first answer and first correction stand for all of their answers: only the earliest weeks matter.
    firsts: weeks.flatMap((w) => [
      { type: 'answer', verdict: null, stakeholder_id: w.stakeholder_id, role: role.get(w.stakeholder_id!) ?? null, week: w.week },
      ...(w.correction_week === null
        ? []
        : [{ type: 'answer', verdict: 'correct' as const, stakeholder_id: w.stakeholder_id, role: role.get(w.stakeholder_id!) ?? null, week: w.correction_week }]),
    ]),
    override: summary.override ? { comment: summary.override.comment ?? '', created_at: summary.override.created_at } : undefined,
  });
  const lastActivity = summary.lastSignalAt && summary.lastSignalAt > deal.created_at ? summary.lastSignalAt : deal.created_at;
  const state: NewDealState = {
    vendor_id: vendorId,
    deal_id: dealId,
    buyer_name: deal.buyer_name,
    stage: deal.stage,
    started_on: deal.started_on,
    concerns_open: tracking.concernsOpen,
    corrections: tracking.corrections,
    checkpoint: tracking.checkpoint.state,
    gaps: JSON.stringify(tracking.checkpoint.gaps),
    override: JSON.stringify(tracking.checkpoint.override ? { reason: tracking.checkpoint.override.reason, at: tracking.checkpoint.override.at.toISOString() } : null),
    no_security_stakeholder: tracking.risk.noSecurityStakeholder,
    awaiting_confirmation: JSON.stringify(tracking.awaitingConfirmation),
    buyer_domains: JSON.stringify(buyerDomains(people)),
    first_security_week: tracking.firstSecuritySignalWeek,
    first_correction_week: tracking.firstSecurityCorrectionWeek,
    stakeholders: people.length,
    signals: summary.signals,
    last_activity_at: lastActivity,
    industry: deal.industry,
    region: deal.region,
    gate_checkpoint: deal.gate_checkpoint,
    security_invited: people.some((p) => team.has(p.id) && p.invited_at !== null),
    first_answer_week: firstAnswerWeek(
      deal.started_on,
      weeks.filter((w) => team.has(w.stakeholder_id!)),
    ),
    ...teamBits(teamAnswers),
  };
  const concerns: NewDealConcernState[] = tracking.concerns.map((c) => ({
    vendor_id: vendorId,
    deal_id: dealId,
    concern: c.concern,
    claim_revision: claims.find((k) => k.concern === c.concern)!.revision,
    status: c.status,
    substantive: c.substantive,
    answers: c.answers,
    corrections: c.corrections,
  }));
  return {
    tracking,
    state,
    concerns,
    fields: fieldRows(vendorId, dealId, teamCorrections, changes),
    people: personRows(vendorId, dealId, people, answers, weeks, handovers, revision),
  };
}

/** Per concern, one bit each: the security team's current confirms and corrections, and the kinds of those corrections. */
function teamBits(answers: { concern: string | null; verdict: Verdict | null; kind: CorrectionKind | null }[]) {
  const of = (test: (a: (typeof answers)[number]) => boolean) => concernBits(answers.filter(test).map((a) => a.concern!));
  return {
    team_answered: of(() => true),
    team_confirmed: of((a) => a.verdict === 'confirm'),
    team_corrected: of((a) => a.verdict === 'correct'),
    team_factual_error: of((a) => a.kind === 'factual_error'),
    team_requirement_gap: of((a) => a.kind === 'requirement_gap'),
    team_not_applicable: of((a) => a.kind === 'not_applicable'),
  };
}

/** The deal week of the earliest confirm or correct among these people's answers. */
function firstAnswerWeek(startedOn: string, weeks: { first_answered_at: Date | string | null }[]): number | null {
  const times = weeks.filter((w) => w.first_answered_at !== null).map((w) => new Date(w.first_answered_at!).getTime());
  return times.length ? weekOfDeal(startedOn, new Date(Math.min(...times))) : null;
}

/** One row per field the security team's current corrections change, and per value it is corrected to, with the kinds that say so. */
function fieldRows(
  vendorId: string,
  dealId: string,
  corrections: { signal_id: number | string; concern: string | null; kind: CorrectionKind | null }[],
  changes: { id: number | string; changes: FieldChange[] }[],
): NewDealFieldState[] {
  const byId = new Map(changes.map((c) => [Number(c.id), c.changes]));
  const rows = new Map<string, { concern: string; field: string; claimed: unknown; corrected: unknown; kinds: Set<CorrectionKind> }>();
  for (const a of corrections) {
    for (const change of byId.get(Number(a.signal_id)) ?? []) {
      const corrected = canonical(change.corrected);
      const key = JSON.stringify([a.concern, change.field, corrected]);
      const row = rows.get(key) ?? { concern: a.concern!, field: change.field, claimed: canonical(change.claimed), corrected, kinds: new Set() };
      row.kinds.add(a.kind!);
      rows.set(key, row);
    }
  }
  // In a fixed order, so the row that carries each field's count does not depend on the order answers were read.
  const values = [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  const fieldOf = (r: (typeof values)[number]) => `${r.concern}.${r.field}`;
  return values.map((r, n) => ({
    vendor_id: vendorId,
    deal_id: dealId,
    concern: r.concern,
    field: r.field,
    claimed: JSON.stringify(r.claimed),
    corrected: JSON.stringify(r.corrected),
    kinds: [...r.kinds].sort(),
    first_of_field: values.findIndex((x) => fieldOf(x) === fieldOf(r)) === n,
    field_kinds: [...new Set(values.filter((x) => fieldOf(x) === fieldOf(r)).flatMap((x) => [...x.kinds]))].sort(),
  }));
}

/** A value as insight groups it: a list of options in one order, so the same choice is one value. */
function canonical(value: unknown): unknown {
  return Array.isArray(value) ? [...value].sort() : (value ?? null);
}

/**
 * Each person's engagement: when they first confirmed or corrected a concern,
 * and whether every concern of theirs has their confirm or correct on its
 * current claim. A person the vendor added holds every concern of the deal,
 * as their page shows them; a delegate holds those handed to them and those
 * they answered anyway. Neither holds one they last called "not mine" or
 * handed on to a colleague.
 */
function personRows(
  vendorId: string,
  dealId: string,
  people: { id: string; source: 'vendor' | 'delegated'; role: StakeholderRole; first_invited_at: Date | null; reminders_total: number }[],
  answers: { stakeholder_id: string | null; concern: string | null; verdict: Verdict | null; claim_revision: number | null }[],
  weeks: { stakeholder_id: string | null; first_answered_at: Date | null }[],
  handovers: { stakeholder_id: string | null; target_stakeholder_id: string | null; concern: string | null }[],
  revision: Map<string, number>,
): NewPersonState[] {
  const first = new Map(weeks.map((w) => [w.stakeholder_id, w.first_answered_at]));
  return people.map((p) => {
    const mine = answers.filter((a) => a.stakeholder_id === p.id);
    const dropped = new Set([...mine.filter((a) => a.verdict === 'not_mine').map((a) => a.concern!), ...handovers.filter((h) => h.stakeholder_id === p.id).map((h) => h.concern!)]);
    const held =
      p.source === 'vendor'
        ? [...revision.keys()]
        : [...handovers.filter((h) => h.target_stakeholder_id === p.id).map((h) => h.concern!), ...mine.filter((a) => a.verdict !== 'not_mine').map((a) => a.concern!)];
    const theirs = new Set(held.filter((c) => !dropped.has(c)));
    const done = (concern: string) => mine.some((a) => a.concern === concern && a.verdict !== 'not_mine' && a.claim_revision === revision.get(concern));
    const firstAnswered = first.get(p.id) ?? null;
    return {
      vendor_id: vendorId,
      deal_id: dealId,
      stakeholder_id: p.id,
      role: p.role,
      first_invited_at: p.first_invited_at,
      reminders_total: p.reminders_total,
      first_answered_at: firstAnswered === null ? null : new Date(firstAnswered),
      answer_days: firstAnswered === null || p.first_invited_at === null ? null : Math.max(0, (new Date(firstAnswered).getTime() - new Date(p.first_invited_at).getTime()) / DAY),
      answered_all: theirs.size > 0 && [...theirs].every(done),
    };
  });
}

type StateRow = Awaited<ReturnType<typeof repo.pageDeals>>[number] | NonNullable<Awaited<ReturnType<typeof repo.readDealState>>>['state'];

/** The Tracking shape from read-model rows; per-concern states only when given. */
export function trackingOf(
  s: StateRow,
  concerns: Pick<DealConcernStateTable, 'concern' | 'status' | 'substantive' | 'answers' | 'corrections'>[] = [],
  engaged = new Set<string>(),
): Tracking {
  const order = (key: string) => CONCERNS.findIndex((c) => c.key === key);
  return {
    concerns: concerns
      .map((c) => ({ concern: c.concern, status: c.status, substantive: c.substantive, answers: c.answers, corrections: c.corrections }))
      .sort((a, b) => order(a.concern) - order(b.concern)),
    checkpoint: {
      state: s.checkpoint,
      gaps: s.gaps,
      ...(s.override ? { override: { reason: s.override.reason, at: new Date(s.override.at) } } : {}),
    },
    risk: { noSecurityStakeholder: s.no_security_stakeholder },
    engaged,
    awaitingConfirmation: s.awaiting_confirmation,
    concernsOpen: s.concerns_open,
    corrections: s.corrections,
    firstSecuritySignalWeek: s.first_security_week,
    firstSecurityCorrectionWeek: s.first_correction_week,
  };
}

/** Mirrors a correction's fields into correction_fields, in the transaction that records it. */
export async function recordCorrectionFields(
  trx: Executor,
  rows: { signalId: number; vendorId: string; dealId: string; concern: string; stakeholderId: string; kind: CorrectionKind; changes: FieldChange[]; week: number; at: Date }[],
): Promise<void> {
  const out: NewCorrectionField[] = rows.flatMap((r) =>
    r.changes.map((c) => ({
      vendor_id: r.vendorId,
      signal_id: r.signalId,
      field: c.field,
      deal_id: r.dealId,
      concern: r.concern,
      stakeholder_id: r.stakeholderId,
      kind: r.kind,
      claimed: JSON.stringify(c.claimed ?? null),
      corrected: JSON.stringify(c.corrected ?? null),
      week: r.week,
      created_at: r.at,
    })),
  );
  await repo.insertCorrectionFields(trx, out);
}

/**
 * Recomputes the read model of every deal (or only of deals without one),
 * a batch of deals per transaction; idempotent and safe to run while the
 * portal serves. Resolves to the number of deals refreshed.
 */
export async function rebuildReadModel(db: DB, opts: { onlyMissing?: boolean; batch?: number; concurrency?: number; progress?: (done: number) => void } = {}): Promise<number> {
  // The migration filled latest_answers and correction_fields; a full rebuild checks them again.
  if (!opts.onlyMissing) {
    await repo.rebuildLatestAnswers(db);
    await repo.rebuildCorrectionFields(db);
  }
  let after: string | null = null;
  let done = 0;
  for (;;) {
    const deals = await repo.dealBatch(db, after, opts.batch ?? 200, opts.onlyMissing ?? false);
    if (deals.length === 0) return done;
    // One transaction per deal: short locks, and never more advisory locks at once than a small server allows.
    // A few at a time on a server with a pool (embedded PGlite has one connection: concurrency 1).
    const queue = [...deals];
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) await transaction(db, (trx) => refreshDeal(trx, d!.vendor_id, d!.id, { quiet: true }));
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, worker));
    done += deals.length;
    after = deals.at(-1)!.id;
    opts.progress?.(done);
  }
}

/**
 * Refreshes deals that answers have marked, oldest first (one workspace's, or
 * everyone's); resolves to how many were refreshed. A deal whose refresh
 * fails keeps its marks and is reported to `onError`; the others go on.
 */
export async function refreshDirtyDeals(db: DB, opts: { vendorId?: string; limit?: number; onError?: (err: Error, dealId: string) => void } = {}): Promise<number> {
  const deals = await repo.dirtyDeals(db, opts.limit ?? 100, opts.vendorId);
  let done = 0;
  for (const d of deals) {
    try {
      await refreshMarkedDeal(db, d.vendor_id, d.deal_id);
      done++;
    } catch (err) {
      opts.onError?.(err as Error, d.deal_id);
    }
  }
  return done;
}

const refreshMarkedDeal = (db: DB, vendorId: string, dealId: string) => transaction(db, (trx) => refreshDeal(trx, vendorId, dealId));

/** Before a workspace's deal list is read: its marked deals are refreshed, so the list shows every answer. */
export async function freshenDeals(db: DB, vendorId: string): Promise<void> {
  await refreshDirtyDeals(db, { vendorId, limit: FRESHEN_LIMIT });
}
/** A list read refreshes at most this many deals itself; the background refresher takes the rest. */
const FRESHEN_LIMIT = 50;

/** Refreshes marked deals in the background, every `everyMs`, until stopped (started by main.ts). */
export class DirtyDealRefresher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: DB,
    private readonly log: { error(obj: object, msg: string): void },
    // Every read of a deal or a deal list refreshes what it shows itself; this only keeps the rest from
    // waiting long. Once a second, a busy deal is recomputed once for all the answers of that second.
    private readonly everyMs = 1_000,
  ) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      const onError = (err: Error, dealId: string) => this.log.error({ err: err.message, dealId }, 'read model refresh failed');
      this.running = refreshDirtyDeals(this.db, { limit: 200, onError })
        .catch((err: Error) => this.log.error({ err: err.message }, 'read model refresh failed'))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.schedule();
        });
    }, this.everyMs);
    this.timer.unref();
  }
}
