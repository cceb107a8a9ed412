// SQL of pipeline insight: aggregates over the read model (deal_state and the
// rows each deal's refresh writes beside it), filtered by segment, stage,
// outcome and start date. Each is one statement over at most a few rows per
// deal of one vendor; none reads the signals.
import { sql, type RawBuilder } from 'kysely';
import type { Executor } from '../db/index.js';
import type { CorrectionKind, Industry } from '../db/schema.js';
import { SUGGESTION_MIN_DEALS, type DealStage } from '../rules.js';
import { CONCERNS, CONCERN_BIT } from '../concerns/index.js';

export interface InsightFilter {
  industry?: Industry;
  region?: string;
  stages?: readonly DealStage[];
  /** Deals started on or after this date, and on or before `to` (YYYY-MM-DD). */
  from?: string;
  to?: string;
}

/** The WHERE clause over deal_state `ds` for one vendor and a filter. */
function dealsMatching(vendorId: string, f: InsightFilter): RawBuilder<boolean> {
  const parts = [sql`ds.vendor_id = ${vendorId}`];
  if (f.industry) parts.push(sql`ds.industry = ${f.industry}`);
  if (f.region) parts.push(sql`ds.region = ${f.region}`);
  if (f.stages) parts.push(f.stages.length ? sql`ds.stage in (${sql.join(f.stages)})` : sql`false`);
  if (f.from) parts.push(sql`ds.started_on >= cast(${f.from} as date)`);
  if (f.to) parts.push(sql`ds.started_on <= cast(${f.to} as date)`);
  return sql<boolean>`${sql.join(parts, sql` and `)}`;
}

const filtered = (f: InsightFilter) => Boolean(f.industry || f.region || f.stages || f.from || f.to);

/**
 * FROM and WHERE for a table of per-deal rows (alias `x`): joined to deal_state
 * only when a filter needs its columns; unfiltered, the table alone.
 */
function rowsOfMatchingDeals(table: 'deal_field_state' | 'person_state', vendorId: string, f: InsightFilter) {
  return filtered(f)
    ? sql`${sql.table(table)} x join deal_state ds on ds.vendor_id = x.vendor_id and ds.deal_id = x.deal_id where ${dealsMatching(vendorId, f)} and x.vendor_id = ${vendorId}`
    : sql`${sql.table(table)} x where x.vendor_id = ${vendorId}`;
}

const KINDS: readonly CorrectionKind[] = ['factual_error', 'requirement_gap', 'not_applicable'];

type KindCounts = Record<CorrectionKind, number>;
const CONCERN_COUNTS = ['answered', 'confirmed', 'corrected', ...KINDS] as const;
type ConcernCount = (typeof CONCERN_COUNTS)[number];
/** The deal_state column holding each count's bits (one per concern). */
const BITS_OF: Record<ConcernCount, string> = {
  answered: 'team_answered',
  confirmed: 'team_confirmed',
  corrected: 'team_corrected',
  factual_error: 'team_factual_error',
  requirement_gap: 'team_requirement_gap',
  not_applicable: 'team_not_applicable',
};

/**
 * Per concern: deals whose security team answered, confirmed and corrected its
 * current claim, and corrected it with each kind. One pass over one narrow row
 * per deal: each count is a test of the concern's bit.
 */
export async function concernCounts(db: Executor, vendorId: string, f: InsightFilter) {
  const counts = CONCERNS.flatMap((c) =>
    // Column names are the catalogue's concern keys and our own count names ([a-z_]), never input.
    CONCERN_COUNTS.map((n) => sql`count(*) filter (where ${sql.ref(`ds.${BITS_OF[n]}`)} & ${sql.lit(CONCERN_BIT[c.key])} <> 0)::int as ${sql.raw(`${c.key}__${n}`)}`),
  );
  const { rows } = await sql<Record<string, number>>`select ${sql.join(counts)} from deal_state ds where ${dealsMatching(vendorId, f)}`.execute(db);
  const row = rows[0] ?? {};
  return CONCERNS.map((c) => ({
    concern: c.key,
    ...(Object.fromEntries(CONCERN_COUNTS.map((n) => [n, Number(row[`${c.key}__${n}`] ?? 0)])) as Record<ConcernCount, number>),
  }));
}

/** Per corrected field: deals whose security team corrected it, in all and with each kind (one row per deal and field carries the count). */
export async function fieldCounts(db: Executor, vendorId: string, f: InsightFilter) {
  const { rows } = await sql<{ concern: string; field: string; corrected: number } & KindCounts>`
    select x.concern, x.field,
           count(*)::int as corrected,
           ${sql.join(KINDS.map((k) => sql`count(*) filter (where ${k} = any(x.field_kinds))::int as ${sql.ref(k)}`))}
      from ${rowsOfMatchingDeals('deal_field_state', vendorId, f)} and x.first_of_field
     group by x.concern, x.field`.execute(db);
  return rows;
}

/** Per corrected field, its most common corrected-to values (at most `top`), each with the number of deals. */
export async function topValues(db: Executor, vendorId: string, f: InsightFilter, top: number) {
  const { rows } = await sql<{ concern: string; field: string; value: unknown; deals: number }>`
    select concern, field, value, deals from (
      select x.concern, x.field, x.corrected as value, count(*)::int as deals,
             row_number() over (partition by x.concern, x.field order by count(*) desc, x.corrected::text) as n
        from ${rowsOfMatchingDeals('deal_field_state', vendorId, f)}
       group by x.concern, x.field, x.corrected
    ) ranked
     where n <= ${top}
     order by concern, field, n`.execute(db);
  return rows;
}

/** Weeks to the security team's first confirm or correct and first correction, over the matching deals. */
export async function timing(db: Executor, vendorId: string, f: InsightFilter) {
  const where = dealsMatching(vendorId, f);
  const [summary, histogram] = await Promise.all([
    sql<{
      deals: number;
      signal_median: number | null;
      signal_p75: number | null;
      correction_median: number | null;
      correction_p75: number | null;
      invited: number;
      spoke_by_week_2: number;
    }>`
      select count(*)::int as deals,
             percentile_cont(0.5) within group (order by ds.first_answer_week) as signal_median,
             percentile_cont(0.75) within group (order by ds.first_answer_week) as signal_p75,
             percentile_cont(0.5) within group (order by ds.first_correction_week) as correction_median,
             percentile_cont(0.75) within group (order by ds.first_correction_week) as correction_p75,
             count(*) filter (where ds.security_invited)::int as invited,
             count(*) filter (where ds.security_invited and ds.first_answer_week <= 2)::int as spoke_by_week_2
        from deal_state ds
       where ${where}`.execute(db),
    sql<{ what: 'signal' | 'correction'; week: number; deals: number }>`
      select 'signal' as what, ds.first_answer_week as week, count(*)::int as deals
        from deal_state ds where ${where} and ds.first_answer_week is not null group by ds.first_answer_week
      union all
      select 'correction', ds.first_correction_week, count(*)::int
        from deal_state ds where ${where} and ds.first_correction_week is not null group by ds.first_correction_week`.execute(db),
  ]);
  return { summary: summary.rows[0], histogram: histogram.rows };
}

/** Deals past the gate, by how the checkpoint stood then: how many, how many closed, how many won. */
export async function gateOutcomes(db: Executor, vendorId: string, f: InsightFilter) {
  const { rows } = await sql<{ gate: 'ready' | 'overridden'; deals: number; closed: number; won: number }>`
    select ds.gate_checkpoint as gate, count(*)::int as deals,
           count(*) filter (where ds.stage in ('closed_won', 'closed_lost'))::int as closed,
           count(*) filter (where ds.stage = 'closed_won')::int as won
      from deal_state ds
     where ${dealsMatching(vendorId, f)} and ds.gate_checkpoint is not null
     group by ds.gate_checkpoint`.execute(db);
  return rows;
}

/** Per role, over invited people on the matching deals: who answered, who finished, how fast from their first invitation, and every reminder they were sent. */
export async function engagement(db: Executor, vendorId: string, f: InsightFilter) {
  const { rows } = await sql<{ role: string; invited: number; answered_any: number; answered_all: number; median_days: number | null; reminders: number }>`
    select x.role,
           count(*)::int as invited,
           count(*) filter (where x.first_answered_at is not null)::int as answered_any,
           count(*) filter (where x.answered_all)::int as answered_all,
           percentile_cont(0.5) within group (order by x.answer_days) as median_days,
           coalesce(sum(x.reminders_total) filter (where x.first_answered_at is not null), 0)::int as reminders
      from ${rowsOfMatchingDeals('person_state', vendorId, f)} and x.first_invited_at is not null
     group by x.role`.execute(db);
  return rows;
}

/** The deals behind each field the security team called a factual error, grouped by the claimed and corrected values; at least `min` deals each. */
export async function factualErrors(db: Executor, vendorId: string, min: number) {
  const { rows } = await sql<{ concern: string; field: string; claimed: unknown; corrected: unknown; deals: number }>`
    select fs.concern, fs.field, fs.claimed, fs.corrected, count(*)::int as deals
      from deal_field_state fs
     where fs.vendor_id = ${vendorId} and 'factual_error' = any(fs.kinds)
     group by fs.concern, fs.field, fs.claimed, fs.corrected
    having count(*) >= ${min}
     order by deals desc, fs.concern, fs.field`.execute(db);
  return rows;
}

/**
 * For each of these suggestions (a field, its claimed and its corrected value), the deals where the security team
 * called the field a factual error with that value: the `limit` with the newest activity, in one statement.
 */
export async function factualErrorDeals(db: Executor, vendorId: string, wanted: { concern: string; field: string; claimed: unknown; corrected: unknown }[], limit: number) {
  if (wanted.length === 0) return [];
  const keys = wanted.map(
    (w, i) => sql`(${i}::int, ${w.concern}::text, ${w.field}::text, cast(${JSON.stringify(w.claimed ?? null)} as jsonb), cast(${JSON.stringify(w.corrected ?? null)} as jsonb))`,
  );
  const { rows } = await sql<{ i: number; deal_id: string; buyer_name: string }>`
    with w (i, concern, field, claimed, corrected) as (values ${sql.join(keys)})
    select i, deal_id, buyer_name from (
      select w.i, ds.deal_id, ds.buyer_name,
             row_number() over (partition by w.i order by ds.last_activity_at desc, ds.deal_id) as n
        from deal_field_state fs
        join w on fs.concern = w.concern and fs.field = w.field and fs.claimed = w.claimed and fs.corrected = w.corrected
        join deal_state ds on ds.vendor_id = fs.vendor_id and ds.deal_id = fs.deal_id
       where fs.vendor_id = ${vendorId} and 'factual_error' = any(fs.kinds)
    ) ranked
     where n <= ${limit}
     order by i, n`.execute(db);
  return rows;
}

export async function suggestionThreshold(db: Executor, vendorId: string): Promise<number> {
  const row = await db.selectFrom('vendors').select('suggestion_min_deals').where('id', '=', vendorId).executeTakeFirst();
  return row?.suggestion_min_deals ?? SUGGESTION_MIN_DEALS.default;
}

export async function dismissals(db: Executor, vendorId: string) {
  return db.selectFrom('suggestion_dismissals').select(['key', 'evidence_deals']).where('vendor_id', '=', vendorId).execute();
}

export async function dismiss(db: Executor, vendorId: string, key: string, evidenceDeals: number, at: Date): Promise<void> {
  await db
    .insertInto('suggestion_dismissals')
    .values({ vendor_id: vendorId, key, evidence_deals: evidenceDeals, dismissed_at: at })
    .onConflict((oc) => oc.columns(['vendor_id', 'key']).doUpdateSet({ evidence_deals: evidenceDeals, dismissed_at: at }))
    .execute();
}
