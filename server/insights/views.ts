// Template data for the insights page (/app/insights), built by pure functions
// from the four insights: the filters as chosen and what was ignored, each
// table's rows in words, and each chart's geometry. Charts are inline SVG whose
// shapes are computed here (the template only copies numbers into attributes);
// colours come from classes in app.css, so the page needs no script or style
// (the Content-Security-Policy allows neither inline).
import { REGIONS } from '../concerns/index.js';
import type { CorrectionKind } from '../db/schema.js';
import {
  CHECKPOINT_LABELS,
  DEAL_STAGES,
  INDUSTRIES,
  INDUSTRY_LABELS,
  KIND_SHORT,
  MIN_SAMPLE,
  OUTCOMES,
  ROLE_LABELS,
  STAGE_LABELS,
  type DealStage,
  type Outcome,
  type StakeholderRole,
} from '../rules.js';
import { weekRows, type ConcernInsight, type EngagementRow, type FieldInsight, type InsightFilters, type OutcomesInsight, type TimingInsight } from './service.js';

/** A filter the page dropped: the parameter, why, and (when the caller passes it) the value that was sent. */
export interface ClearedFilter {
  param: string;
  message: string;
  value?: unknown;
}

export interface InsightsPageInput {
  filters: InsightFilters;
  cleared: ClearedFilter[];
  corrections: { concerns: ConcernInsight[] };
  timing: TimingInsight;
  outcomes: OutcomesInsight;
  engagement: { roles: EngagementRow[] };
  now: Date;
}

/** Below rules.MIN_SAMPLE deals behind a rate, share or median (or people, for engagement), the page says "not enough … yet"; counts always show. */
export const MIN_FOR_FIGURE = MIN_SAMPLE;

export const NOT_ENOUGH_DEALS = 'not enough deals yet';
const NOT_ENOUGH_ANSWERS = 'not enough answers yet';

export const OUTCOME_LABELS: Record<Outcome, string> = { won: 'Won', lost: 'Lost', open: 'Open' };

const KINDS: readonly CorrectionKind[] = ['factual_error', 'requirement_gap', 'not_applicable'];
const FILTER_KEYS = ['industry', 'region', 'stage', 'outcome', 'from', 'to'] as const;
/** At most this many ignored parameters are named; the rest are counted. */
const CLEARED_SHOWN = 10;

// ---------------------------------------------------------------------------
// Words and numbers

const NUMBER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** 1234 → "1,234", 2.5 → "2.5". */
export const num = (n: number): string => NUMBER.format(n);

/** 0.357 → "36%". */
export const percent = (rate: number): string => `${Math.round(rate * 100)}%`;

/** "1 deal", "3 deals". */
export const count = (n: number, one: string, many = `${one}s`): string => `${num(n)} ${n === 1 ? one : many}`;

/** The part of a whole as a percentage, or undefined when the whole is too small to say. */
function shareOf(part: number, whole: number): string | undefined {
  return whole >= MIN_FOR_FIGURE ? percent(part / whole) : undefined;
}

/** A value sent in a query string, as the notice quotes it: short, on one line. */
function quoted(value: unknown): string {
  const text = Array.isArray(value) ? value.map(String).join(',') : typeof value === 'string' ? value : JSON.stringify(value);
  const line = (text ?? '').replace(/\s+/g, ' ');
  return line.length > 60 ? `${line.slice(0, 60)}…` : line;
}

// ---------------------------------------------------------------------------
// Links

/** The page's own query string for these (valid) filters: "" or "?stage=negotiation&…". */
export function filterQuery(filters: InsightFilters): string {
  const q = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key];
    if (value) q.set(key, value);
  }
  const qs = q.toString();
  return qs ? `?${qs}` : '';
}

/**
 * The deal list narrowed to the deals behind a row: the correction filter,
 * then the segment and stage. The list knows no dates and no "open" outcome;
 * a won or lost outcome is its closed stage.
 */
export function dealListHref(filters: InsightFilters, correction: { corrected_concern: string } | { corrected_field: string }): string {
  const q = new URLSearchParams(correction as Record<string, string>);
  if (filters.industry) q.set('industry', filters.industry);
  if (filters.region) q.set('region', filters.region);
  const stage: DealStage | undefined = filters.stage ?? (filters.outcome === 'won' ? 'closed_won' : filters.outcome === 'lost' ? 'closed_lost' : undefined);
  if (stage) q.set('stage', stage);
  return `/app?${q.toString()}`;
}

// ---------------------------------------------------------------------------
// Charts: geometry for inline SVG

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  className: string;
}

export interface ChartText {
  x: number;
  y: number;
  text: string;
  anchor: 'start' | 'middle' | 'end';
  className?: string;
}

export interface ChartLine {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  className: string;
}

export interface Chart {
  id: string;
  width: number;
  height: number;
  title: string;
  desc: string;
  bars: Bar[];
  texts: ChartText[];
  lines: ChartLine[];
}

/** Rounds a coordinate to one decimal, so the markup stays short. */
const px = (n: number): number => Math.round(n * 10) / 10;

/**
 * Deals by week as vertical bars. The weeks run from 1 to the last week with a
 * deal, or to the marked week (the baseline) if that is later, so the bars are
 * seen against it.
 */
export function weekHistogram(input: { id: string; title: string; what: string; weeks: { week: number; deals: number }[]; markWeek?: number; markLabel?: string }): Chart {
  const width = 400;
  const height = 220;
  const left = 30;
  const right = 10;
  // Room above the plot for the top bar's number and, above that, the mark's label.
  const top = 36;
  const bottom = 40;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const lastWeek = Math.max(1, input.markWeek ?? 0, ...input.weeks.map((w) => w.week));
  const deals = (week: number) => input.weeks.find((w) => w.week === week)?.deals ?? 0;
  const max = Math.max(1, ...input.weeks.map((w) => w.deals));
  const band = plotW / lastWeek;
  const barW = Math.max(1, band * 0.7);
  const baseY = top + plotH;
  const bars: Bar[] = [];
  const texts: ChartText[] = [];
  const lines: ChartLine[] = [
    { x1: left, y1: baseY, x2: left + plotW, y2: baseY, className: 'axis' },
    { x1: left, y1: top, x2: left + plotW, y2: top, className: 'grid' },
  ];
  texts.push({ x: left - 6, y: top + 4, text: num(max), anchor: 'end' }, { x: left - 6, y: baseY + 4, text: '0', anchor: 'end' });
  // Label every week when they fit, else every second, fifth, …
  const step = [1, 2, 5, 10, 20, 50, 100].find((s) => lastWeek / s <= 14) ?? Math.ceil(lastWeek / 14);
  for (let week = 1; week <= lastWeek; week++) {
    const n = deals(week);
    const cx = left + (week - 0.5) * band;
    if (n > 0) {
      const h = (n / max) * plotH;
      bars.push({ x: px(cx - barW / 2), y: px(baseY - h), width: px(barW), height: px(h), className: 'bar' });
      if (band >= 14) texts.push({ x: px(cx), y: px(baseY - h - 4), text: num(n), anchor: 'middle', className: 'value' });
    }
    if (week === 1 || week % step === 0) texts.push({ x: px(cx), y: baseY + 15, text: String(week), anchor: 'middle' });
  }
  texts.push({ x: left + plotW / 2, y: height - 6, text: 'Week of the deal', anchor: 'middle' });
  if (input.markWeek) {
    const mx = px(left + (input.markWeek - 0.5) * band);
    lines.push({ x1: mx, y1: 4, x2: mx, y2: baseY, className: 'mark' });
    texts.push({ x: px(mx - 4), y: 14, text: input.markLabel ?? `week ${input.markWeek}`, anchor: 'end', className: 'mark-label' });
  }
  const withDeals = input.weeks.filter((w) => w.deals > 0);
  const listed = withDeals.map((w) => `week ${w.week}: ${count(w.deals, 'deal')}`).join('; ');
  const mark = input.markWeek ? ` A dashed line marks week ${input.markWeek}${input.markLabel ? ` (${input.markLabel})` : ''}.` : '';
  return {
    id: input.id,
    width,
    height,
    title: input.title,
    desc: `Deals by the week of ${input.what}, weeks 1 to ${lastWeek}. ${listed ? `${listed}; none in the other weeks.` : 'No deals yet.'}${mark}`,
    bars,
    texts,
    lines,
  };
}

/** Horizontal bars in groups (one group per role, one bar per step of the funnel), each bar labelled with its number. */
export function groupedBars(input: { id: string; title: string; desc: string; steps: string[]; groups: { label: string; values: number[] }[] }): Chart {
  const width = 400;
  const left = 110;
  const right = 36;
  const labelH = 20;
  const barH = 14;
  const gap = 5;
  const groupGap = 12;
  const plotW = width - left - right;
  const max = Math.max(1, ...input.groups.flatMap((g) => g.values));
  const bars: Bar[] = [];
  const texts: ChartText[] = [];
  const lines: ChartLine[] = [];
  let y = 4;
  for (const group of input.groups) {
    texts.push({ x: 0, y: y + 14, text: group.label, anchor: 'start', className: 'group' });
    y += labelH;
    const groupTop = y;
    group.values.forEach((value, i) => {
      const w = (value / max) * plotW;
      texts.push({ x: left - 6, y: px(y + barH - 3), text: input.steps[i], anchor: 'end' });
      if (value > 0) bars.push({ x: left, y: px(y), width: px(Math.max(w, 1)), height: barH, className: `bar step-${i + 1}` });
      texts.push({ x: px(left + w + 4), y: px(y + barH - 3), text: num(value), anchor: 'start', className: 'value' });
      y += barH + gap;
    });
    lines.push({ x1: left, y1: groupTop - 2, x2: left, y2: px(y - gap + 2), className: 'axis' });
    y += groupGap;
  }
  return { id: input.id, width, height: Math.max(40, Math.ceil(y)), title: input.title, desc: input.desc, bars, texts, lines };
}

// ---------------------------------------------------------------------------
// The sections

/** A rate in words: a percentage, or why there is none yet. */
function rateText(rate: number | null, base: number, matching: number): string {
  return rate != null && base >= MIN_FOR_FIGURE && matching >= MIN_FOR_FIGURE ? percent(rate) : NOT_ENOUGH_DEALS;
}

function kindCells(byKind: Record<CorrectionKind, number>) {
  return KINDS.map((k) => ({ kind: k, n: byKind[k] }));
}

function fieldRow(concern: string, f: FieldInsight, filters: InsightFilters, matching: number) {
  return {
    label: f.label,
    corrected: f.corrected_deals,
    linkWords: `${f.corrected_deals === 1 ? 'deal' : 'deals'} that corrected ${f.label}`,
    href: dealListHref(filters, { corrected_field: `${concern}.${f.field}` }),
    rate: rateText(f.rate, f.answered_deals, matching),
    kinds: kindCells(f.by_kind),
    top: f.top_values.map((v) => `${v.label} in ${num(v.deals)} of ${count(f.answered_deals, 'deal')}`),
  };
}

export function correctionsView(data: { concerns: ConcernInsight[] }, filters: InsightFilters, matching: number) {
  const concerns = data.concerns.map((c) => {
    const corrected = c.fields.filter((f) => f.corrected_deals > 0);
    return {
      key: c.concern,
      title: c.title,
      answered: c.answered_deals,
      confirmed: c.confirmed_deals,
      corrected: c.corrected_deals,
      linkWords: `${c.corrected_deals === 1 ? 'deal' : 'deals'} that corrected ${c.title}`,
      href: c.corrected_deals > 0 ? dealListHref(filters, { corrected_concern: c.concern }) : undefined,
      rate: rateText(c.rate, c.answered_deals, matching),
      kinds: kindCells(c.by_kind),
      summary: `${c.title}: ${count(corrected.length, 'field')} corrected`,
      fields: corrected.map((f) => fieldRow(c.concern, f, filters, matching)),
      uncorrected: c.fields
        .filter((f) => f.corrected_deals === 0)
        .map((f) => f.label)
        .join(', '),
    };
  });
  return {
    kinds: KINDS.map((k) => KIND_SHORT[k].charAt(0).toUpperCase() + KIND_SHORT[k].slice(1)),
    concerns,
    answered: concerns.some((c) => c.answered > 0),
    withFields: concerns.filter((c) => c.fields.length > 0),
  };
}

/** "week 2.5", or why there is no median yet. */
function weekText(value: number | null, deals: number, matching: number): string {
  return value != null && deals >= MIN_FOR_FIGURE && matching >= MIN_FOR_FIGURE ? `week ${num(value)}` : NOT_ENOUGH_DEALS;
}

const total = (weeks: { deals: number }[]) => weeks.reduce((sum, w) => sum + w.deals, 0);

export function timingView(t: TimingInsight, matching: number) {
  const signalDeals = total(t.first_signal_week.histogram);
  const correctionDeals = total(t.first_correction_week.histogram);
  const median = t.first_signal_week.median;
  const signalMedian = weekText(median, signalDeals, matching);
  const earlier =
    signalMedian !== NOT_ENOUGH_DEALS && median != null
      ? median < t.baseline_week
        ? `${count(Math.round((t.baseline_week - median) * 10) / 10, 'week')} earlier than the week-${t.baseline_week} baseline`
        : `no earlier than the week-${t.baseline_week} baseline`
      : undefined;
  const spoke = t.spoke_by_week_2;
  const spokeShare = spoke.share != null && spoke.of_deals >= MIN_FOR_FIGURE && matching >= MIN_FOR_FIGURE ? percent(spoke.share) : undefined;
  const markLabel = `week ${t.baseline_week}: without the portal`;
  return {
    deals: matching,
    baselineWeek: t.baseline_week,
    signal: { deals: signalDeals, median: signalMedian, p75: weekText(t.first_signal_week.p75, signalDeals, matching), earlier },
    correction: {
      deals: correctionDeals,
      median: weekText(t.first_correction_week.median, correctionDeals, matching),
      p75: weekText(t.first_correction_week.p75, correctionDeals, matching),
    },
    spoke: {
      invited: spoke.of_deals > 0,
      text: `${num(spoke.deals)} of ${count(spoke.of_deals, 'deal')}${spokeShare ? ` (${spokeShare})` : ''}`,
      share: spokeShare ?? NOT_ENOUGH_DEALS,
    },
    weeks: weekRows(t),
    charts: [
      signalDeals > 0 &&
        weekHistogram({
          id: 'chart-signal',
          title: 'Week of the first security signal',
          what: "the buyer's security team's first answer",
          weeks: t.first_signal_week.histogram,
          markWeek: t.baseline_week,
          markLabel,
        }),
      correctionDeals > 0 &&
        weekHistogram({
          id: 'chart-correction',
          title: 'Week of the first security correction',
          what: "the buyer's security team's first correction",
          weeks: t.first_correction_week.histogram,
          markWeek: t.baseline_week,
          markLabel,
        }),
    ].filter((c): c is Chart => Boolean(c)),
  };
}

export function outcomesView(o: OutcomesInsight, matching: number) {
  const reached = o.reached_negotiation.deals;
  const rows = (['ready', 'overridden'] as const).map((gate) => {
    const r = o.reached_negotiation[gate];
    const w = o.won[gate];
    const share = r.share != null && reached >= MIN_FOR_FIGURE && matching >= MIN_FOR_FIGURE ? percent(r.share) : NOT_ENOUGH_DEALS;
    return {
      gate,
      label: CHECKPOINT_LABELS[gate],
      deals: r.deals,
      share,
      closed: w.closed,
      won: w.won,
      wonRate:
        w.rate != null
          ? `${percent(w.rate)} (${num(w.won)} of ${num(w.closed)} closed won)`
          : `not enough closed deals yet (${num(w.closed)} closed; needs ${o.min_closed_for_rate})`,
    };
  });
  return { reached, rows };
}

export function engagementView(e: { roles: EngagementRow[] }, matching: number) {
  // A median or mean over the people who answered: shown from MIN_FOR_FIGURE of them, on at least as many deals.
  const figure = (value: number | null, people: number, words: (v: number) => string) =>
    matching < MIN_FOR_FIGURE ? NOT_ENOUGH_DEALS : value == null || people < MIN_FOR_FIGURE ? NOT_ENOUGH_ANSWERS : words(value);
  const label = (role: string) => ROLE_LABELS[role as StakeholderRole] ?? role;
  const rows = e.roles.map((r) => {
    const anyShare = matching >= MIN_FOR_FIGURE ? shareOf(r.answered_any, r.invited) : undefined;
    const allShare = matching >= MIN_FOR_FIGURE ? shareOf(r.answered_all, r.invited) : undefined;
    return {
      role: r.role,
      label: label(r.role),
      invited: r.invited,
      answeredAny: `${num(r.answered_any)}${anyShare ? ` (${anyShare})` : ''}`,
      answeredAll: `${num(r.answered_all)}${allShare ? ` (${allShare})` : ''}`,
      medianDays: figure(r.median_days_to_first_answer, r.answered_any, (v) => count(v, 'day')),
      reminders: figure(r.reminders_per_answering_person, r.answered_any, num),
    };
  });
  const invited = e.roles.filter((r) => r.invited > 0);
  const steps = ['Invited', 'Answered any', 'Answered all'];
  return {
    invited: invited.length > 0,
    rows,
    chart:
      invited.length > 0
        ? groupedBars({
            id: 'chart-engagement',
            title: 'Engagement by role: invited, answered any claim, answered all',
            desc: invited.map((r) => `${label(r.role)}: ${num(r.invited)} invited, ${num(r.answered_any)} answered any claim, ${num(r.answered_all)} answered all.`).join(' '),
            steps,
            groups: invited.map((r) => ({ label: label(r.role), values: [r.invited, r.answered_any, r.answered_all] })),
          })
        : undefined,
  };
}

// ---------------------------------------------------------------------------
// The page

/** The filters in words: "Financial services · EU/EEA · started 2026-01-01 to 2026-03-31", or undefined for none. */
function scopeText(f: InsightFilters): string | undefined {
  const parts = [
    f.industry && INDUSTRY_LABELS[f.industry],
    f.region && (REGIONS.find((r) => r.value === f.region)?.label ?? f.region),
    f.stage && `stage ${STAGE_LABELS[f.stage]}`,
    f.outcome && `outcome ${OUTCOME_LABELS[f.outcome].toLowerCase()}`,
    f.from && f.to ? `started ${f.from} to ${f.to}` : f.from ? `started on or after ${f.from}` : f.to && `started on or before ${f.to}`,
  ].filter(Boolean);
  return parts.length ? parts.join(' · ') : undefined;
}

export function insightsPageView(input: InsightsPageInput) {
  const { filters } = input;
  const matching = input.timing.deals;
  const filtered = FILTER_KEYS.some((k) => Boolean(filters[k]));
  const query = filterQuery(filters);
  const csv = (name: string) => `/app/insights/${name}.csv${query}`;
  const cleared = input.cleared.slice(0, CLEARED_SHOWN).map((c) => {
    const message = c.message.replace(/\.$/, '');
    return `We ignored ${quoted(c.param)}${c.value === undefined ? '' : `=${quoted(c.value)}`}: ${message}.`;
  });
  const more = input.cleared.length - cleared.length;
  return {
    title: 'Insights',
    nav: 'insights',
    asOf: `${input.now.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    cleared: more > 0 ? [...cleared, `We ignored ${count(more, 'other parameter')} as well.`] : cleared,
    // A workspace without a deal gets a start, not empty tables.
    emptyWorkspace: matching === 0 && !filtered,
    noMatch: matching === 0 && filtered,
    thin: matching > 0 && matching < MIN_FOR_FIGURE,
    matching: count(matching, 'deal'),
    minForFigure: MIN_FOR_FIGURE,
    scope: scopeText(filters),
    // The deal list narrows by segment and stage only: say so when the page narrows by more.
    linksWider: Boolean(filters.from || filters.to || filters.outcome === 'open'),
    form: {
      industries: INDUSTRIES.map((i) => ({ value: i, label: INDUSTRY_LABELS[i], selected: filters.industry === i })),
      regions: REGIONS.map((r) => ({ value: r.value, label: r.label, selected: filters.region === r.value })),
      stages: DEAL_STAGES.map((s) => ({ value: s, label: STAGE_LABELS[s], selected: filters.stage === s })),
      outcomes: OUTCOMES.map((o) => ({ value: o, label: OUTCOME_LABELS[o], selected: filters.outcome === o })),
      from: filters.from ?? '',
      to: filters.to ?? '',
      filtered,
    },
    csv: { corrections: csv('corrections'), timing: csv('timing'), outcomes: csv('outcomes'), engagement: csv('engagement') },
    corrections: correctionsView(input.corrections, filters, matching),
    timing: timingView(input.timing, matching),
    outcomes: outcomesView(input.outcomes, matching),
    engagement: engagementView(input.engagement, matching),
  };
}
