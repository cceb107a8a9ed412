// Exports of a workspace as files: its signals, its deals (the deal list) and
// one deal's concern × stakeholder grid, as CSV or NDJSON, streamed.
//
// Each export is an async generator of batches read from the database one
// query at a time (keyset pages, never OFFSET), turned into text chunks and
// wrapped in a Readable: the response pulls the next batch only once the
// client has taken the previous one (backpressure), so memory holds about one
// batch whatever the size of the export. When the client goes away the
// response destroys the stream, which returns the generator: no further query
// runs. No transaction spans the export (PGlite has one connection; a long
// one would stall every other request): rows committed while it runs may or
// may not be in it, and a deal-list export follows the list's order, as the
// list's own pages do.
//
// NDJSON lines are the API's own objects (signalJson, dealListItemJson) with
// the deal's id and buyer added to signals; CSV flattens them to fixed columns
// (stakeholder.id -> stakeholder_id), and a signal's field changes to one row
// per changed field.
import { Readable } from 'node:stream';
import type { DB } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { attachment, csvChunks, type CsvCell } from '../lib/csv.js';
import { todayIso } from '../lib/validate.js';
import { answersCount } from '../rules.js';
import { dealFilterOf, getDeal, isFiltered, listDealPage, type DealFilterParams, type DealListParams } from '../deals/service.js';
import { loadDealDetail } from '../deals/detail.js';
import { freshenDeals } from '../readmodel/service.js';
import { dealListItemJson, signalJson } from '../api/views.js';
import * as repo from './repository.js';

export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ExportFormat, string> = { csv: 'text/csv; charset=utf-8', ndjson: 'application/x-ndjson' };

/** Rows per database query. */
export const EXPORT_BATCH = 1000;
/** People per load of a deal's grid (each load reads the deal's claims and those people's answers). */
export const GRID_PEOPLE_BATCH = 200;

export interface ExportOptions {
  /** Rows per query (tests make it small to cross many batch boundaries). */
  batch?: number;
  /** Called after each database batch with its row count (tests count queries). */
  onBatch?: (rows: number) => void;
  /** The member asking (for owner=me): the signed-in member, or the API key's creator. */
  me?: string | null;
}

export interface ExportFile {
  /** The Content-Disposition value: an attachment with a dated file name. */
  disposition: string;
  contentType: string;
  body: Readable;
  /** The one deal it is of, if it is (the audit trail names it). */
  deal?: { id: string; buyer_name: string };
}

type Row = Record<string, unknown>;

// --- Writing ------------------------------------------------------------------------------------

/** A cell as CSV shows it: text, numbers and booleans as they are, a moment in ISO 8601 (as JSON has it), anything else as JSON. */
function cellOf(value: unknown): CsvCell {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return value as CsvCell;
}

/** The value at a dotted path ("stakeholder.id"), or undefined through a null. */
function at(row: Row, path: string): unknown {
  let v: unknown = row;
  for (const key of path.split('.')) v = v === null || v === undefined ? undefined : (v as Row)[key];
  return v;
}

/** A CSV layout: columns as dotted paths into the NDJSON object (the header joins them with _). */
interface Layout {
  columns: readonly string[];
  /** Extra columns after them, and the rows one object becomes (one, unless the layout says otherwise). */
  extra?: { header: readonly string[]; rows: (row: Row) => CsvCell[][] };
}

const headerOf = (layout: Layout) => [...layout.columns.map((c) => c.replace(/\./g, '_')), ...(layout.extra?.header ?? [])];

function csvRowsOf(layout: Layout, row: Row): CsvCell[][] {
  const base = layout.columns.map((c) => cellOf(at(row, c)));
  return layout.extra ? layout.extra.rows(row).map((tail) => [...base, ...tail]) : [base];
}

/**
 * Rows written per chunk of text. A database batch is cut into pieces of this many rows so each piece of text
 * stays a few tens of KiB: V8 puts a string over 128 KiB straight into the old generation, where a fast
 * export would pile them up until a full collection; small ones die young and cheaply.
 */
const ROWS_PER_CHUNK = 64;

async function* pieces<T>(batches: AsyncIterable<T[]>): AsyncGenerator<T[]> {
  for await (const rows of batches) for (let i = 0; i < rows.length; i += ROWS_PER_CHUNK) yield rows.slice(i, i + ROWS_PER_CHUNK);
}

async function* ndjsonChunks(batches: AsyncIterable<Row[]>): AsyncGenerator<string> {
  for await (const rows of pieces(batches)) yield rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

async function* csvBatches(layout: Layout, batches: AsyncIterable<Row[]>): AsyncGenerator<CsvCell[][]> {
  for await (const rows of pieces(batches)) yield rows.flatMap((r) => csvRowsOf(layout, r));
}

/**
 * Runs the export's first query before anything is answered, so a failure there is a proper error response
 * rather than a cut-off 200; the rest follows as the client reads.
 */
async function primed<T>(source: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const first = await source.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* source;
  })();
}

function fileOf(format: ExportFormat, name: string, layout: Layout, batches: AsyncIterable<Row[]>): ExportFile {
  const chunks = format === 'csv' ? csvChunks(headerOf(layout), csvBatches(layout, batches)) : ndjsonChunks(batches);
  return {
    disposition: attachment(name, format),
    contentType: CONTENT_TYPES[format],
    // Bytes, not objects: the stream buffers up to its highWaterMark (16 KiB) of text, about one chunk.
    body: Readable.from(chunks, { objectMode: false }),
  };
}

/** A file name part from a buyer's name: lower-case letters and digits, dashes between. */
const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'deal';

/** Keyset batches: `fetch(after)` gives the rows after a key, `key` the key of a row; stops on a short batch. */
async function* keyset<R, K>(first: K, fetch: (after: K) => Promise<R[]>, key: (row: R) => K, opts: ExportOptions, size: number): AsyncGenerator<R[]> {
  let after = first;
  for (;;) {
    const rows = await fetch(after);
    opts.onBatch?.(rows.length);
    if (rows.length > 0) yield rows;
    if (rows.length < size) return;
    after = key(rows.at(-1)!);
  }
}

async function* mapped<R>(batches: AsyncIterable<R[]>, f: (row: R) => Row): AsyncGenerator<Row[]> {
  for await (const rows of batches) yield rows.map(f);
}

// --- Signals ------------------------------------------------------------------------------------

export interface SignalExportParams extends DealFilterParams {
  deal_id?: string;
  /** First day, YYYY-MM-DD, UTC, inclusive. */
  from?: string;
  /** Last day, YYYY-MM-DD, UTC, inclusive. */
  to?: string;
}

/** A signal as the export has it: the API's object, with its deal. */
export function signalExportJson(row: repo.ExportSignalRow) {
  return { deal_id: row.deal_id, buyer_name: row.buyer_name, ...signalJson(row) };
}

const SIGNAL_LAYOUT: Layout = {
  columns: [
    'deal_id',
    'buyer_name',
    'id',
    'type',
    'concern',
    'claim_revision',
    'verdict',
    'kind',
    'comment',
    'stakeholder.id',
    'stakeholder.name',
    'stakeholder.role',
    'target_stakeholder.id',
    'target_stakeholder.name',
    'target_stakeholder.role',
    'week',
    'created_at',
  ],
  // One row per changed field; a signal without changes is one row with these empty.
  extra: {
    header: ['change_field', 'change_claimed', 'change_corrected'],
    rows: (row) => {
      const changes = (row.changes ?? []) as { field: string; claimed: unknown; corrected: unknown }[];
      return changes.length === 0 ? [[null, null, null]] : changes.map((c) => [c.field, cellOf(c.claimed), cellOf(c.corrected)]);
    },
  },
};

const DAY = 86_400_000;

export async function exportSignals(db: DB, clock: Clock, vendorId: string, params: SignalExportParams, format: ExportFormat, opts: ExportOptions = {}): Promise<ExportFile> {
  const { deal_id, from, to, ...list } = params;
  // A deal of another workspace, or none, is a 404 (as its page and API are), not an empty file.
  const deal = deal_id === undefined ? undefined : await getDeal(db, vendorId, deal_id);
  const deals = dealFilterOf(list, opts.me ?? null);
  const filtered = isFiltered(deals);
  // The deal filters read the read model: deals that answers changed are brought up to date first, as the list does.
  if (filtered) await freshenDeals(db, vendorId);
  const filter: repo.SignalExportFilter = {
    dealId: deal?.id,
    since: from ? new Date(`${from}T00:00:00Z`) : undefined,
    before: to ? new Date(Date.parse(`${to}T00:00:00Z`) + DAY) : undefined,
    deals: filtered ? deals : undefined,
  };
  const size = opts.batch ?? EXPORT_BATCH;
  const batches = keyset(
    0,
    (after) => repo.signalBatch(db, vendorId, filter, after, size),
    (r) => r.id,
    opts,
    size,
  );
  const rows = await primed(mapped(batches, signalExportJson));
  const name = deal ? `${slug(deal.buyer_name)}-signals-${todayIso(clock.now())}` : `signals-${todayIso(clock.now())}`;
  return { ...fileOf(format, name, SIGNAL_LAYOUT, rows), ...(deal ? { deal: { id: deal.id, buyer_name: deal.buyer_name } } : {}) };
}

// --- Deals --------------------------------------------------------------------------------------

export type DealExportParams = Omit<DealListParams, 'limit' | 'cursor'>;

const DEAL_LAYOUT: Layout = {
  columns: [
    'id',
    'buyer_name',
    'buyer_domain',
    'started_on',
    'week',
    'stage',
    'industry',
    'region',
    'profile_version',
    'owner_id',
    'created_at',
    'last_activity_at',
    'stakeholders',
    'signals',
    'checkpoint.state',
    // The concerns still open: JSON in one cell ([{"concern","title"}]).
    'checkpoint.gaps',
    'checkpoint.override.reason',
    'checkpoint.override.at',
    'risk.no_security_stakeholder',
    'concerns_open',
    'corrections',
    'first_security_signal_week',
    'first_security_correction_week',
    // A list of people: JSON in one cell ([{"stakeholder_id","name","role"}]).
    'awaiting_confirmation',
  ],
};

/** The deal list with its filters and order, every page of it: the API's list items. */
export async function exportDeals(db: DB, clock: Clock, vendorId: string, params: DealExportParams, format: ExportFormat, opts: ExportOptions = {}): Promise<ExportFile> {
  const size = opts.batch ?? EXPORT_BATCH;
  const now = clock.now();
  async function* pages(): AsyncGenerator<Row[]> {
    let cursor: string | undefined;
    for (;;) {
      const page = await listDealPage(db, vendorId, { ...params, limit: size, cursor }, opts.me ?? null);
      opts.onBatch?.(page.deals.length);
      if (page.deals.length > 0) yield page.deals.map((d) => dealListItemJson(d, now));
      if (!page.nextCursor) return;
      cursor = page.nextCursor;
    }
  }
  return fileOf(format, `deals-${todayIso(now)}`, DEAL_LAYOUT, await primed(pages()));
}

// --- A deal's grid ------------------------------------------------------------------------------

const GRID_LAYOUT: Layout = {
  columns: [
    'deal_id',
    'buyer_name',
    'concern',
    'concern_title',
    'claim_revision',
    'concern_status',
    'tailored',
    'stakeholder.id',
    'stakeholder.name',
    'stakeholder.role',
    'stakeholder.counted',
    'state',
    'kind',
    'stale',
    'answered_at',
    'handed_to',
  ],
};

/**
 * One row per respondent × concern of the deal (the deal page's grid: champions do not answer), person by person
 * in the stakeholder map's order, each person's concerns in catalogue order. `state` is the latest answer
 * (confirm, correct, not_mine) or none.
 */
export async function exportGrid(db: DB, clock: Clock, vendorId: string, dealId: string, format: ExportFormat, opts: ExportOptions = {}): Promise<ExportFile> {
  const size = opts.batch ?? GRID_PEOPLE_BATCH;
  const load = (offset: number) => loadDealDetail(db, clock, vendorId, dealId, { people: { offset, limit: size }, timeline: false });
  const first = await load(0); // a 404 for another workspace's deal, before anything is sent
  opts.onBatch?.(first.stakeholders.length);
  async function* pages(): AsyncGenerator<Row[]> {
    let detail = first;
    for (let offset = 0; ;) {
      const rows = detail.respondents.flatMap((s, i) =>
        detail.grid.map((g) => {
          const a = g.answers[i];
          return {
            deal_id: detail.deal.id,
            buyer_name: detail.deal.buyer_name,
            concern: g.concern,
            concern_title: g.title,
            claim_revision: g.revision,
            concern_status: g.status,
            tailored: g.tailored,
            stakeholder: { id: s.id, name: s.name, role: s.role, counted: answersCount(s) },
            state: a.verdict,
            kind: a.kind,
            stale: a.stale,
            answered_at: a.at,
            handed_to: a.handed_to,
          };
        }),
      );
      if (rows.length > 0) yield rows;
      if (detail.stakeholders.length < size) return;
      offset += size;
      detail = await load(offset);
      opts.onBatch?.(detail.stakeholders.length);
    }
  }
  const deal = { id: first.deal.id, buyer_name: first.deal.buyer_name };
  return { ...fileOf(format, `${slug(first.deal.buyer_name)}-grid-${todayIso(clock.now())}`, GRID_LAYOUT, pages()), deal };
}

/** The CSV header of each export (for the README and the tests). */
export const CSV_HEADERS = { signals: headerOf(SIGNAL_LAYOUT), deals: headerOf(DEAL_LAYOUT), grid: headerOf(GRID_LAYOUT) };
