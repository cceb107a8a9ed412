// The audit trail: every vendor-side change, written in the transaction of the
// change itself, with who made it (a member, or an API key), when, from which
// address, and what changed. The features' services take the Actor and call
// recordAudit next to the change; routes pass actorOf(req). Owners and admins
// read the trail a page at a time (newest first) or as one CSV file.
//
// This module imports nothing of auth (whose service imports profiles, which
// audit): actorOf reads the session the key check or requireSession put on
// the request.
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../lib/clock.js';
import type { DB, Executor } from '../db/index.js';
import type { AuditActorKind } from '../db/schema.js';
import { csvAttachment, csvChunks, type CsvCell } from '../lib/csv.js';
import { invalid, signedOut } from '../lib/errors.js';
import { pageLimit, todayIso } from '../lib/validate.js';
import * as repo from './repository.js';

/** Who made a change, as the trail records it. */
export interface Actor {
  vendorId: string;
  /** The member's id, or the API key's; for the system, the member it acts for (or null). */
  id: string | null;
  /** The member's name, or the key's ("API key “CRM sync”"), as it was at the time. */
  name: string;
  kind: AuditActorKind;
  ip: string | null;
}

/** The actor of a request that passed the session or API key check (a request without one is refused, 401). */
export function actorOf(req: FastifyRequest): Actor {
  const s = req.session;
  if (!s) throw signedOut();
  return s.via === 'api_key'
    ? { vendorId: s.vendorId, id: s.apiKeyId ?? null, name: `API key “${s.userName}”`, kind: 'api_key', ip: req.ip }
    : { vendorId: s.vendorId, id: s.userId, name: s.userName, kind: 'user', ip: req.ip };
}

/**
 * Changes made by the portal itself or a command-line script (create-workspace, the demo seed), not through a
 * page or a key; `memberId` names the member on whose behalf it acts, if any (who then owns what it opens).
 */
export function systemActor(vendorId: string, name: string, memberId: string | null = null): Actor {
  return { vendorId, id: memberId, name, kind: 'system', ip: null };
}

/** The member who acted (or on whose behalf the system did), as signals and created_by record it; null for an API key. */
export const memberOf = (actor: Actor): string | null => (actor.kind === 'api_key' ? null : actor.id);

/** What one entry says: the action ("member.invited"), its target, and what changed (before/after or the values set). */
export interface AuditEntry {
  action: string;
  target: { type: string; id?: string | null; name?: string | null };
  changes?: Record<string, unknown>;
}

/** Appends entries to the workspace's trail, in the caller's transaction. */
export async function recordAudit(trx: Executor, clock: Clock, actor: Actor, ...entries: AuditEntry[]): Promise<void> {
  const createdAt = clock.now();
  await repo.insertAuditEntries(
    trx,
    entries.map((e) => ({
      vendorId: actor.vendorId,
      actorId: actor.id,
      actorName: actor.name,
      actorKind: actor.kind,
      action: e.action,
      targetType: e.target.type,
      targetId: e.target.id ?? null,
      targetName: e.target.name ?? null,
      changes: e.changes ?? {},
      ip: actor.ip,
      createdAt,
    })),
  );
}

/** Two values the same for the trail (JSON-equal: lists and objects compare by content). */
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * `{ field: { before, after } }` for each key of `after` whose value differs from `before`'s
 * (keys left undefined in `after` are not changes); empty when nothing changed.
 */
export function beforeAfter(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, { before: unknown; after: unknown }> {
  const out: Record<string, { before: unknown; after: unknown }> = {};
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined || same(before[key], value)) continue;
    out[key] = { before: before[key] ?? null, after: value };
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reading the trail

/** Action names: a thing and a verb ("deal.stage_changed"). */
const ACTION = /^[a-z][a-z_]{0,39}\.[a-z][a-z_]{0,39}$/;

const cursorMessage = 'is not a cursor from this list';

/** An opaque cursor: the last entry's id, wrapped so no one builds on its form. */
const encodeCursor = (id: number) => Buffer.from(`audit:${id}`).toString('base64url');

function decodeCursor(raw: string): number {
  const m = /^audit:([1-9][0-9]{0,15})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  const id = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(id)) throw invalid('The cursor is not one this list gave out. Start again without it.', [{ field: 'cursor', message: cursorMessage }]);
  return id;
}

/** The filter both the list and the CSV take. */
const filterFields = {
  action: z
    .string()
    .regex(ACTION, 'must be an action name such as deal.stage_changed')
    .optional()
    .describe('Only entries of this action (for example deal.stage_changed, webhook.updated, export.downloaded)'),
};

const listFields = {
  // No default here: with format=csv a limit is refused, so an absent one stays absent (listAudit pages by 50).
  limit: pageLimit.unwrap().optional().describe('How many entries (1–200, default 50); not with format=csv'),
  cursor: z.string().max(100, cursorMessage).optional().describe("The previous page's next_cursor; not with format=csv"),
  ...filterFields,
};

/** The page's query: a page of entries, optionally of one action. Unknown parameters are refused, so a typo never widens the answer. */
export const auditPageQuery = z.object(listFields).strict();
/** The page's CSV: every entry, optionally of one action. */
export const auditCsvQuery = z.object(filterFields).strict();

/** GET /api/v1/audit's query: the page's, and the format (the CSV takes no page). */
export const auditListQuery = z
  .object({
    ...listFields,
    format: z
      .enum(['json', 'csv'], { message: 'must be json or csv' })
      .default('json')
      .describe('json (the default): one page; csv: every matching entry, newest first, streamed as an attachment'),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.format !== 'csv') return;
    for (const key of ['limit', 'cursor'] as const) {
      if (q[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'is not taken with format=csv: the file holds every matching entry' });
    }
  });

export interface AuditFilter {
  action?: string;
}

/** One entry as the page and the API show it. */
export interface AuditRecord {
  id: number;
  actor: { id: string | null; name: string; kind: AuditActorKind };
  action: string;
  target: { type: string; id: string | null; name: string | null };
  changes: Record<string, unknown>;
  ip: string | null;
  created_at: Date;
}

const recordOf = (r: repo.AuditLogRow): AuditRecord => ({
  id: r.id,
  actor: { id: r.actor_id, name: r.actor_name, kind: r.actor_kind },
  action: r.action,
  target: { type: r.target_type, id: r.target_id, name: r.target_name },
  changes: r.changes ?? {},
  ip: r.ip,
  created_at: r.created_at,
});

/** One page of the workspace's trail, newest first, and the cursor of the next (null on the last). */
export async function listAudit(db: Executor, vendorId: string, q: { limit?: number; cursor?: string } & AuditFilter) {
  const limit = q.limit ?? 50;
  const beforeId = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const rows = await repo.listAuditEntries(db, vendorId, { limit: limit + 1, beforeId, action: q.action });
  const page = rows.slice(0, limit);
  return { entries: page.map(recordOf), nextCursor: rows.length > limit ? encodeCursor(page.at(-1)!.id) : null };
}

/** Entries per query of the CSV. */
export const AUDIT_CSV_BATCH = 500;

export const AUDIT_CSV_HEADER = ['id', 'created_at', 'actor_kind', 'actor_id', 'actor_name', 'action', 'target_type', 'target_id', 'target_name', 'changes', 'ip'] as const;

const csvRow = (e: AuditRecord): CsvCell[] => [
  e.id,
  e.created_at.toISOString(),
  e.actor.kind,
  e.actor.id,
  e.actor.name,
  e.action,
  e.target.type,
  e.target.id,
  e.target.name,
  JSON.stringify(e.changes),
  e.ip,
];

/** Rows per chunk of text: a batch is written in pieces of a few tens of KiB (as the exports are, for the same reason). */
const ROWS_PER_CHUNK = 64;

/**
 * Every entry matching the filter, newest first, as streamed CSV: keyset batches read as the client takes
 * them (no transaction spans the file: entries recorded meanwhile are newer than its first row, so not in it).
 * Cells that a spreadsheet would run as a formula are neutralised (lib/csv). The first batch is read before
 * anything is answered, so a failure there is an error response rather than a cut-off file.
 */
export async function auditCsv(db: DB, clock: Clock, vendorId: string, filter: AuditFilter, opts: { batch?: number; onBatch?: () => void } = {}) {
  const batch = opts.batch ?? AUDIT_CSV_BATCH;
  async function* batches(): AsyncGenerator<CsvCell[][]> {
    let beforeId: number | undefined;
    for (;;) {
      const rows = await repo.listAuditEntries(db, vendorId, { limit: batch, beforeId, action: filter.action });
      opts.onBatch?.();
      for (let i = 0; i < rows.length; i += ROWS_PER_CHUNK) yield rows.slice(i, i + ROWS_PER_CHUNK).map((r) => csvRow(recordOf(r)));
      if (rows.length < batch) return;
      beforeId = rows.at(-1)!.id;
    }
  }
  const source = batches();
  const first = await source.next();
  async function* primed(): AsyncGenerator<CsvCell[][]> {
    if (first.done) return;
    yield first.value;
    yield* source;
  }
  return {
    disposition: csvAttachment(`audit-trail-${todayIso(clock.now())}`),
    contentType: 'text/csv; charset=utf-8',
    // Bytes, not objects: the stream buffers about one chunk of text.
    body: Readable.from(csvChunks(AUDIT_CSV_HEADER, primed()), { objectMode: false }),
  };
}
