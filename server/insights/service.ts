// Pipeline insight: what buyers' security teams correct across a vendor's
// deals, how early they speak, how deals that passed the checkpoint fare, and
// who engages. Every figure is counted per deal (or per person), over the
// buyer's security team (rules.SECURITY_TEAM) and the current claims, by SQL
// over the read model (repository.ts); this file only shapes the answers.
import { z } from 'zod';
import type { DB, Executor } from '../db/index.js';
import type { CorrectionKind } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { invalid } from '../lib/errors.js';
import { isoDate } from '../lib/validate.js';
import { CONCERNS, REGIONS, sameValue, type FieldValue } from '../concerns/index.js';
import { formatFieldValue } from '../lib/concern-form.js';
import {
  BASELINE_SECURITY_WEEK,
  DEAL_STAGES,
  INDUSTRIES,
  MIN_CLOSED_FOR_RATE,
  OUTCOMES,
  OUTCOME_STAGES,
  STAKEHOLDER_ROLES,
  isChampion,
  type DealStage,
  type Industry,
  type Outcome,
} from '../rules.js';
import { freshenDeals, readModelVersion } from '../readmodel/service.js';
import { recordAudit, type Actor } from '../audit/service.js';
import * as repo from './repository.js';

// ---------------------------------------------------------------------------
// Filters

const REGION_VALUES = REGIONS.map((r) => r.value) as [string, ...string[]];

/** Each filter, validated on its own, so a page can drop only the bad one. */
const FILTERS = {
  industry: z.enum(INDUSTRIES, { message: `must be one of ${INDUSTRIES.join(', ')}` }),
  region: z.enum(REGION_VALUES, { message: `must be one of ${REGION_VALUES.join(', ')}` }),
  stage: z.enum(DEAL_STAGES, { message: `must be one of ${DEAL_STAGES.join(', ')}` }),
  outcome: z.enum(OUTCOMES, { message: `must be one of ${OUTCOMES.join(', ')}` }),
  from: isoDate,
  to: isoDate,
} as const;

export interface InsightFilters {
  industry?: Industry;
  region?: string;
  stage?: DealStage;
  outcome?: Outcome;
  from?: string;
  to?: string;
}

/** The API's query: the filters and `format`; anything else, or a bad value, is a 400 naming the parameter. */
export const insightQuery = z.preprocess(
  // An empty parameter (a form's "any") is no filter, as on the page.
  (q) => (q && typeof q === 'object' ? Object.fromEntries(Object.entries(q).filter(([, v]) => v !== '')) : q),
  z
    .object({
      industry: FILTERS.industry.optional(),
      region: FILTERS.region.optional(),
      stage: FILTERS.stage.optional(),
      outcome: FILTERS.outcome.optional(),
      from: FILTERS.from.optional(),
      to: FILTERS.to.optional(),
      format: z.enum(['json', 'csv'], { message: 'must be json or csv' }).optional(),
    })
    .strict()
    .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'must not be before from', path: ['to'] }),
) as z.ZodType<InsightFilters & { format?: 'json' | 'csv' }>;

/**
 * The page's filters: each parameter checked on its own; a bad or unknown one
 * is dropped and named in `cleared`, so the page shows the rest and says what it ignored.
 */
export function pageFilters(query: Record<string, unknown>): { filters: InsightFilters; cleared: { param: string; value: string; message: string }[] } {
  const filters: Record<string, string> = {};
  const cleared: { param: string; value: string; message: string }[] = [];
  for (const [param, raw] of Object.entries(query ?? {})) {
    if (raw === '' || raw === undefined) continue;
    const schema = Object.hasOwn(FILTERS, param) ? FILTERS[param as keyof typeof FILTERS] : undefined;
    const value = Array.isArray(raw) ? raw.map(String).join(',') : String(raw);
    if (!schema) {
      cleared.push({ param, value, message: 'is not a filter of this page' });
      continue;
    }
    const parsed = schema.safeParse(raw);
    if (parsed.success) filters[param] = parsed.data;
    else cleared.push({ param, value, message: parsed.error.issues[0].message });
  }
  if (filters.from && filters.to && filters.from > filters.to) {
    cleared.push({ param: 'to', value: filters.to, message: 'must not be before from' });
    delete filters.to;
  }
  return { filters: filters as InsightFilters, cleared };
}

function toRepoFilter(f: InsightFilters): repo.InsightFilter {
  // Stage and outcome both narrow the stages: a stage outside the outcome matches nothing.
  const stages = f.outcome ? OUTCOME_STAGES[f.outcome].filter((s) => !f.stage || s === f.stage) : f.stage ? [f.stage] : undefined;
  return { industry: f.industry, region: f.region, stages, from: f.from, to: f.to };
}

const rate = (part: number, whole: number): number | null => (whole > 0 ? Math.round((part / whole) * 1000) / 1000 : null);
const oneDecimal = (n: number | null | undefined): number | null => (n == null ? null : Math.round(Number(n) * 10) / 10);

// ---------------------------------------------------------------------------
// Results kept while the read model stands still

/**
 * An insight computed at a workspace's read-model version (readModelVersion:
 * the highest refresh number of its deals, which any change to any of its
 * deals' state raises) is the same until that version moves, so it is kept and
 * served again until then: never stale, and a page of four insights read by
 * several people at once costs the database once. Concurrent requests share one
 * computation. Kept per database, at most CACHE_LIMIT results, least recently used out first.
 */
const CACHE_LIMIT = 1000;
const caches = new WeakMap<object, Map<string, { version: string; value: Promise<unknown> }>>();

async function atVersion<T>(db: Executor, vendorId: string, key: string, compute: () => Promise<T>): Promise<T> {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  const version = await readModelVersion(db, vendorId);
  const k = `${vendorId} ${key}`;
  const hit = cache.get(k);
  cache.delete(k);
  if (hit && hit.version === version) {
    cache.set(k, hit);
    return hit.value as Promise<T>;
  }
  const entry = { version, value: compute() as Promise<unknown> };
  cache.set(k, entry);
  entry.value.catch(() => cache.get(k) === entry && cache.delete(k));
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return entry.value as Promise<T>;
}

const filterKey = (f: InsightFilters) => JSON.stringify([f.industry, f.region, f.stage, f.outcome, f.from, f.to]);

// ---------------------------------------------------------------------------
// Corrections

const KINDS: readonly CorrectionKind[] = ['factual_error', 'requirement_gap', 'not_applicable'];
type ByKind = Record<CorrectionKind, number>;
const byKind = (row: Partial<ByKind> | undefined): ByKind => ({
  factual_error: row?.factual_error ?? 0,
  requirement_gap: row?.requirement_gap ?? 0,
  not_applicable: row?.not_applicable ?? 0,
});
/** The most common corrected-to values shown per field. */
const TOP_VALUES = 3;

export interface FieldInsight {
  field: string;
  label: string;
  answered_deals: number;
  corrected_deals: number;
  rate: number | null;
  by_kind: ByKind;
  top_values: { value: unknown; label: string; deals: number }[];
}

export interface ConcernInsight {
  concern: string;
  title: string;
  answered_deals: number;
  confirmed_deals: number;
  corrected_deals: number;
  rate: number | null;
  by_kind: ByKind;
  fields: FieldInsight[];
}

/** Highest rate first; no rate (nothing answered) last; then most corrections, then catalogue order. */
function byRate<T extends { rate: number | null; corrected_deals: number }>(rows: T[]): T[] {
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (b.r.rate ?? -1) - (a.r.rate ?? -1) || b.r.corrected_deals - a.r.corrected_deals || a.i - b.i)
    .map((x) => x.r);
}

export function corrections(db: DB, vendorId: string, filters: InsightFilters): Promise<{ concerns: ConcernInsight[] }> {
  return atVersion(db, vendorId, `corrections ${filterKey(filters)}`, () => computeCorrections(db, vendorId, filters));
}

async function computeCorrections(db: DB, vendorId: string, filters: InsightFilters): Promise<{ concerns: ConcernInsight[] }> {
  const f = toRepoFilter(filters);
  const [concerns, fields, values] = await Promise.all([repo.concernCounts(db, vendorId, f), repo.fieldCounts(db, vendorId, f), repo.topValues(db, vendorId, f, TOP_VALUES)]);
  return {
    concerns: byRate(
      CONCERNS.map((c) => {
        const row = concerns.find((r) => r.concern === c.key);
        const answered = row?.answered ?? 0;
        return {
          concern: c.key,
          title: c.title,
          answered_deals: answered,
          confirmed_deals: row?.confirmed ?? 0,
          corrected_deals: row?.corrected ?? 0,
          rate: rate(row?.corrected ?? 0, answered),
          by_kind: byKind(row),
          fields: byRate(
            c.fields.map((fd) => {
              const fr = fields.find((r) => r.concern === c.key && r.field === fd.key);
              return {
                field: fd.key,
                label: fd.label,
                answered_deals: answered,
                corrected_deals: fr?.corrected ?? 0,
                rate: rate(fr?.corrected ?? 0, answered),
                by_kind: byKind(fr),
                top_values: values
                  .filter((v) => v.concern === c.key && v.field === fd.key)
                  .map((v) => ({ value: v.value, label: formatFieldValue(c.key, fd.key, v.value), deals: v.deals })),
              };
            }),
          ),
        };
      }),
    ),
  };
}

// ---------------------------------------------------------------------------
// Timing

export interface WeekStats {
  median: number | null;
  p75: number | null;
  histogram: { week: number; deals: number }[];
}

export interface TimingInsight {
  deals: number;
  first_signal_week: WeekStats;
  first_correction_week: WeekStats;
  spoke_by_week_2: { deals: number; of_deals: number; share: number | null };
  baseline_week: number;
}

/** Weeks up to this one are listed even with no deal, so a chart and a table show the gaps as zeros; later weeks only when they have deals. */
const ZERO_FILLED_WEEKS = 26;

function histogram(rows: { week: number; deals: number }[]): { week: number; deals: number }[] {
  const last = Math.min(ZERO_FILLED_WEEKS, Math.max(0, ...rows.map((r) => r.week)));
  const early = Array.from({ length: last }, (_, i) => ({ week: i + 1, deals: rows.find((r) => r.week === i + 1)?.deals ?? 0 }));
  const late = rows.filter((r) => r.week > ZERO_FILLED_WEEKS).sort((a, b) => a.week - b.week);
  return [...early, ...late.map((r) => ({ week: r.week, deals: r.deals }))];
}

/**
 * The two histograms side by side, one row per week either lists: matched by
 * week, not by position (weeks after the zero-filled ones are listed only when they have deals).
 */
export function weekRows(t: TimingInsight): { week: number; signal: number; correction: number }[] {
  const weeks = [...new Set([...t.first_signal_week.histogram, ...t.first_correction_week.histogram].map((h) => h.week))].sort((a, b) => a - b);
  const at = (h: { week: number; deals: number }[], week: number) => h.find((x) => x.week === week)?.deals ?? 0;
  return weeks.map((week) => ({ week, signal: at(t.first_signal_week.histogram, week), correction: at(t.first_correction_week.histogram, week) }));
}

export function timing(db: DB, vendorId: string, filters: InsightFilters): Promise<TimingInsight> {
  return atVersion(db, vendorId, `timing ${filterKey(filters)}`, () => computeTiming(db, vendorId, filters));
}

async function computeTiming(db: DB, vendorId: string, filters: InsightFilters): Promise<TimingInsight> {
  const { summary: s, histogram: h } = await repo.timing(db, vendorId, toRepoFilter(filters));
  return {
    deals: s.deals,
    first_signal_week: {
      median: oneDecimal(s.signal_median),
      p75: oneDecimal(s.signal_p75),
      histogram: histogram(h.filter((r) => r.what === 'signal')),
    },
    first_correction_week: {
      median: oneDecimal(s.correction_median),
      p75: oneDecimal(s.correction_p75),
      histogram: histogram(h.filter((r) => r.what === 'correction')),
    },
    spoke_by_week_2: { deals: s.spoke_by_week_2, of_deals: s.invited, share: rate(s.spoke_by_week_2, s.invited) },
    baseline_week: BASELINE_SECURITY_WEEK,
  };
}

// ---------------------------------------------------------------------------
// Checkpoint and outcome

export interface OutcomeGroup {
  won: number;
  closed: number;
  /** Null below MIN_CLOSED_FOR_RATE closed deals: "not enough closed deals yet". */
  rate: number | null;
}

export interface OutcomesInsight {
  reached_negotiation: { deals: number; ready: { deals: number; share: number | null }; overridden: { deals: number; share: number | null } };
  won: { ready: OutcomeGroup; overridden: OutcomeGroup };
  min_closed_for_rate: number;
}

export function outcomes(db: DB, vendorId: string, filters: InsightFilters): Promise<OutcomesInsight> {
  return atVersion(db, vendorId, `outcomes ${filterKey(filters)}`, () => computeOutcomes(db, vendorId, filters));
}

async function computeOutcomes(db: DB, vendorId: string, filters: InsightFilters): Promise<OutcomesInsight> {
  const rows = await repo.gateOutcomes(db, vendorId, toRepoFilter(filters));
  const of = (gate: 'ready' | 'overridden') => rows.find((r) => r.gate === gate) ?? { deals: 0, closed: 0, won: 0 };
  const ready = of('ready');
  const overridden = of('overridden');
  const reached = ready.deals + overridden.deals;
  const group = (g: { won: number; closed: number }): OutcomeGroup => ({ won: g.won, closed: g.closed, rate: g.closed >= MIN_CLOSED_FOR_RATE ? rate(g.won, g.closed) : null });
  return {
    reached_negotiation: {
      deals: reached,
      ready: { deals: ready.deals, share: rate(ready.deals, reached) },
      overridden: { deals: overridden.deals, share: rate(overridden.deals, reached) },
    },
    won: { ready: group(ready), overridden: group(overridden) },
    min_closed_for_rate: MIN_CLOSED_FOR_RATE,
  };
}

// ---------------------------------------------------------------------------
// Engagement

export interface EngagementRow {
  role: string;
  invited: number;
  answered_any: number;
  answered_all: number;
  median_days_to_first_answer: number | null;
  reminders_per_answering_person: number | null;
}

/** Every role but the champion's (who follows the review and never answers), in the rule book's order. */
const ANSWERING_ROLES = STAKEHOLDER_ROLES.filter((r) => !isChampion(r));

export function engagement(db: DB, vendorId: string, filters: InsightFilters): Promise<{ roles: EngagementRow[] }> {
  return atVersion(db, vendorId, `engagement ${filterKey(filters)}`, () => computeEngagement(db, vendorId, filters));
}

async function computeEngagement(db: DB, vendorId: string, filters: InsightFilters): Promise<{ roles: EngagementRow[] }> {
  const rows = await repo.engagement(db, vendorId, toRepoFilter(filters));
  return {
    roles: ANSWERING_ROLES.map((role) => {
      const r = rows.find((x) => x.role === role);
      const answered = r?.answered_any ?? 0;
      return {
        role,
        invited: r?.invited ?? 0,
        answered_any: answered,
        answered_all: r?.answered_all ?? 0,
        median_days_to_first_answer: oneDecimal(r?.median_days),
        reminders_per_answering_person: answered > 0 ? Math.round(((r?.reminders ?? 0) / answered) * 100) / 100 : null,
      };
    }),
  };
}

// ---------------------------------------------------------------------------
// CSV: each insight as rows of plain cells

export const INSIGHTS = ['corrections', 'timing', 'outcomes', 'engagement'] as const;
export type InsightName = (typeof INSIGHTS)[number];

/**
 * Before insight is read: the workspace's deals that answers have marked are
 * refreshed (at most a bounded number; the background refresher takes the
 * rest), so the figures include the latest answers. Once per request.
 */
export const freshen = (db: DB, vendorId: string) => freshenDeals(db, vendorId);

/** One insight, freshened first. */
export async function insight(db: DB, vendorId: string, name: InsightName, filters: InsightFilters) {
  await freshen(db, vendorId);
  switch (name) {
    case 'corrections':
      return corrections(db, vendorId, filters);
    case 'timing':
      return timing(db, vendorId, filters);
    case 'outcomes':
      return outcomes(db, vendorId, filters);
    case 'engagement':
      return engagement(db, vendorId, filters);
  }
}

type Cell = string | number | null;

/** An insight as a header row and data rows. */
export function csvRows(name: InsightName, data: Awaited<ReturnType<typeof insight>>): Cell[][] {
  switch (name) {
    case 'corrections': {
      const d = data as Awaited<ReturnType<typeof corrections>>;
      const head = ['concern', 'field', 'answered_deals', 'confirmed_deals', 'corrected_deals', 'rate', ...KINDS, 'top_values'];
      const rows = d.concerns.flatMap((c) => [
        [c.concern, '', c.answered_deals, c.confirmed_deals, c.corrected_deals, c.rate, ...KINDS.map((k) => c.by_kind[k]), ''],
        ...c.fields.map((f) => [
          c.concern,
          f.field,
          f.answered_deals,
          '',
          f.corrected_deals,
          f.rate,
          ...KINDS.map((k) => f.by_kind[k]),
          f.top_values.map((v) => `${v.label} (${v.deals})`).join('; '),
        ]),
      ]);
      return [head, ...rows];
    }
    case 'timing': {
      const d = data as TimingInsight;
      return [
        ['measure', 'week', 'deals', 'median', 'p75', 'share'],
        ['first_signal_week', '', d.deals, d.first_signal_week.median, d.first_signal_week.p75, ''],
        ['first_correction_week', '', d.deals, d.first_correction_week.median, d.first_correction_week.p75, ''],
        ['spoke_by_week_2', 2, d.spoke_by_week_2.deals, '', '', d.spoke_by_week_2.share],
        ['baseline_week', d.baseline_week, '', '', '', ''],
        ...weekRows(d).flatMap((w) => [
          ['first_signal_histogram', w.week, w.signal, '', '', ''],
          ['first_correction_histogram', w.week, w.correction, '', '', ''],
        ]),
      ];
    }
    case 'outcomes': {
      const d = data as OutcomesInsight;
      return [
        ['checkpoint_at_gate', 'reached_negotiation', 'share', 'closed', 'won', 'won_rate'],
        ...(['ready', 'overridden'] as const).map((g) => [g, d.reached_negotiation[g].deals, d.reached_negotiation[g].share, d.won[g].closed, d.won[g].won, d.won[g].rate]),
      ];
    }
    case 'engagement': {
      const d = data as Awaited<ReturnType<typeof engagement>>;
      return [
        ['role', 'invited', 'answered_any', 'answered_all', 'median_days_to_first_answer', 'reminders_per_answering_person'],
        ...d.roles.map((r) => [r.role, r.invited, r.answered_any, r.answered_all, r.median_days_to_first_answer, r.reminders_per_answering_person]),
      ];
    }
  }
}

// ---------------------------------------------------------------------------
// Profile suggestions

export interface Suggestion {
  key: string;
  concern: string;
  field: string;
  claimed: unknown;
  corrected: unknown;
  deals: number;
  evidence: { deal_id: string; buyer_name: string }[];
}

/** How many deals a suggestion names as its evidence. */
const EVIDENCE_SHOWN = 10;
/** How many suggestions show at once: those with the most deals behind them. */
const SUGGESTIONS_SHOWN = 10;

/** A stable name for one suggestion (its concern, field and values), for dismissals and the apply form. */
export function suggestionKey(s: { concern: string; field: string; claimed: unknown; corrected: unknown }): string {
  return `${s.concern}.${s.field}:${JSON.stringify(s.claimed ?? null)}>${JSON.stringify(s.corrected ?? null)}`;
}

/**
 * Fields of the published profile that the security team called a factual
 * error, with the same corrected value, in at least the workspace's threshold
 * of deals; minus those dismissed while the evidence has not grown. `published`
 * gives each field's value in the latest published version: a correction of
 * a deal's tailored value (not the profile's) is not evidence against the profile.
 */
export async function profileSuggestions(db: Executor, vendorId: string, published: (concern: string, field: string) => unknown): Promise<Suggestion[]> {
  const [min, dismissed] = await Promise.all([repo.suggestionThreshold(db, vendorId), repo.dismissals(db, vendorId)]);
  const rows = await atVersion(db, vendorId, `factual-errors ${min}`, () => repo.factualErrors(db, vendorId, min));
  const gone = new Map(dismissed.map((d) => [d.key, d.evidence_deals]));
  const shown = rows.filter((r) => {
    const key = suggestionKey(r);
    return (
      sameValue(published(r.concern, r.field) as FieldValue, r.claimed as FieldValue) &&
      !sameValue(r.claimed as FieldValue, r.corrected as FieldValue) &&
      (gone.get(key) ?? -1) < r.deals
    );
  });
  const top = shown.slice(0, SUGGESTIONS_SHOWN);
  const evidence = await atVersion(db, vendorId, `evidence ${JSON.stringify(top.map(suggestionKey))}`, () => repo.factualErrorDeals(db, vendorId, top, EVIDENCE_SHOWN));
  return top.map((r, i) => ({
    key: suggestionKey(r),
    ...r,
    evidence: evidence.filter((e) => Number(e.i) === i).map((e) => ({ deal_id: e.deal_id, buyer_name: e.buyer_name })),
  }));
}

/** Hides a suggestion until more deals than now are its evidence (audited: call in a transaction). */
export async function dismissSuggestion(trx: Executor, clock: Clock, actor: Actor, suggestion: Suggestion): Promise<void> {
  await repo.dismiss(trx, actor.vendorId, suggestion.key, suggestion.deals, clock.now());
  await recordAudit(trx, clock, actor, {
    action: 'profile.suggestion_dismissed',
    target: { type: 'profile' },
    changes: { concern: suggestion.concern, field: suggestion.field, before: suggestion.claimed ?? null, after: suggestion.corrected ?? null, deals: suggestion.deals },
  });
}

/** The suggestion with this key among those shown now, or a 400 naming the key. */
export function findSuggestion(suggestions: Suggestion[], key: unknown): Suggestion {
  const found = suggestions.find((s) => s.key === key);
  if (!found)
    throw invalid('That suggestion is no longer shown: its evidence changed or it was dismissed. Open the profile page again to see the current ones.', [
      { field: 'key', message: 'is not a current suggestion' },
    ]);
  return found;
}
