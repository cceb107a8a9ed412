// SQL of the signals table: the append-only record of everything said on a
// deal. Rows are only ever inserted; the database refuses UPDATE and DELETE.
import { preparedAs, type Executor } from '../db/index.js';
import { sql, type Insertable } from 'kysely';
import type { CorrectionKind, SignalType, SignalsTable, Verdict } from '../db/schema.js';

export async function insertSignals(trx: Executor, rows: Insertable<SignalsTable>[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const ids = await trx.insertInto('signals').values(rows).returning('id').execute();
  return ids.map((r) => r.id);
}

export interface NewAnswer {
  vendorId: string;
  dealId: string;
  stakeholderId: string;
  concern: string;
  claimRevision: number;
  verdict: Verdict;
  kind: CorrectionKind | null;
  comment: string | null;
  changes: string;
  week: number;
  at: Date;
}

/**
 * Records an answer in one statement, unless it repeats the person's latest
 * answer on the concern exactly (then undefined), with the read model's share of it:
 * the signal; the person's latest answer on the concern in latest_answers
 * (the later signal wins; first weeks and the first confirm or correct keep their minimum); and the mark that
 * sends the deal's state to be refreshed (deal_state_dirty, see
 * server/readmodel): a row of its own, so answers on one deal never wait for
 * each other, and a refresh that takes the marks it can see leaves this one
 * until the answer has committed. Prepared: every answer a respondent saves runs it. Also says whether
 * the workspace has an enabled webhook endpoint, so an answer queues webhook events only when it might.
 */
export async function insertAnswer(trx: Executor, a: NewAnswer): Promise<{ id: number; webhooks: boolean } | undefined> {
  const { rows } = await sql<{ id: number; webhooks: boolean }>`${sql.raw(preparedAs('insert-answer'))}
    WITH g AS (
      INSERT INTO signals (vendor_id, deal_id, type, concern, stakeholder_id, claim_revision, verdict, kind, comment, changes, week, created_at)
      SELECT ${a.vendorId}::uuid, ${a.dealId}::uuid, 'answer', ${a.concern}::text, ${a.stakeholderId}::uuid, ${a.claimRevision}::int, ${a.verdict}::text,
             ${a.kind}::text, ${a.comment}::text, ${a.changes}::jsonb, ${a.week}::int, ${a.at}::timestamptz
      -- Not when it repeats the person's latest answer on the concern exactly. The caller checked that
      -- already, but with what its locking statement saw before the lock was granted; this statement
      -- starts after, so it also sees an identical answer committed meanwhile (a double click).
      WHERE NOT EXISTS (
        SELECT 1 FROM latest_answers la JOIN signals p ON p.id = la.signal_id AND p.vendor_id = la.vendor_id
         WHERE la.vendor_id = ${a.vendorId}::uuid AND la.deal_id = ${a.dealId}::uuid AND la.stakeholder_id = ${a.stakeholderId}::uuid AND la.concern = ${a.concern}::text
           AND p.verdict = ${a.verdict}::text AND p.kind IS NOT DISTINCT FROM ${a.kind}::text AND p.comment IS NOT DISTINCT FROM ${a.comment}::text
           AND p.claim_revision = ${a.claimRevision}::int AND p.changes = ${a.changes}::jsonb)
      RETURNING id, vendor_id, deal_id, stakeholder_id, concern, verdict, kind, claim_revision, created_at, week
    ), latest AS (
      INSERT INTO latest_answers (vendor_id, deal_id, stakeholder_id, concern, signal_id, verdict, kind, claim_revision, created_at, first_week, first_correction_week, first_answered_at)
      SELECT vendor_id, deal_id, stakeholder_id, concern, id, verdict, kind, claim_revision, created_at, week, CASE WHEN verdict = 'correct' THEN week END,
             CASE WHEN verdict <> 'not_mine' THEN created_at END FROM g
      ON CONFLICT (vendor_id, deal_id, stakeholder_id, concern) DO UPDATE SET
        signal_id = excluded.signal_id, verdict = excluded.verdict, kind = excluded.kind, claim_revision = excluded.claim_revision, created_at = excluded.created_at,
        first_week = least(latest_answers.first_week, excluded.first_week),
        first_correction_week = least(latest_answers.first_correction_week, excluded.first_correction_week),
        first_answered_at = least(latest_answers.first_answered_at, excluded.first_answered_at)
      WHERE latest_answers.signal_id < excluded.signal_id
    ), marked AS (
      INSERT INTO deal_state_dirty (vendor_id, deal_id, signal_id, marked_at) SELECT vendor_id, deal_id, id, created_at FROM g
    )
    -- Whether the workspace has a webhook endpoint at all: most have none, and their answers then skip the
    -- webhook queue without another round trip (server/webhooks decides what is delivered).
    SELECT id, EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.vendor_id = ${a.vendorId}::uuid AND e.enabled) AS webhooks FROM g`.execute(trx);
  return rows[0] && { id: Number(rows[0].id), webhooks: rows[0].webhooks };
}

/** Every signal of a deal, newest first, with the names of the people involved. */
export interface SignalPage {
  limit: number;
  /** Only signals older than this id (the previous page's last). */
  beforeId?: number;
  type?: SignalType;
  verdict?: Verdict;
}

/** A workspace's signals with the people involved: the columns the API's signalJson reads. */
export function signalsWithPeople(db: Executor, vendorId: string) {
  return db
    .selectFrom('signals')
    .leftJoin('stakeholders', (j) => j.onRef('stakeholders.id', '=', 'signals.stakeholder_id').onRef('stakeholders.vendor_id', '=', 'signals.vendor_id'))
    .leftJoin('stakeholders as target', (j) => j.onRef('target.id', '=', 'signals.target_stakeholder_id').onRef('target.vendor_id', '=', 'signals.vendor_id'))
    .leftJoin('users as actor', (j) => j.onRef('actor.id', '=', 'signals.actor_user_id').onRef('actor.vendor_id', '=', 'signals.vendor_id'))
    .select([
      'signals.id',
      'signals.type',
      'signals.concern',
      'signals.claim_revision',
      'signals.verdict',
      'signals.kind',
      'signals.comment',
      'signals.changes',
      'signals.week',
      'signals.created_at',
      'stakeholders.id as stakeholder_id',
      'stakeholders.name as stakeholder_name',
      'stakeholders.role as stakeholder_role',
      'stakeholders.confirmed_at as stakeholder_confirmed_at',
      'target.id as target_id',
      'target.name as target_name',
      'target.role as target_role',
      'actor.name as actor_name',
    ])
    .where('signals.vendor_id', '=', vendorId);
}

/** A deal's signals, newest first, a page at a time (signals_deal_idx). */
export async function listDealSignals(db: Executor, vendorId: string, dealId: string, page: SignalPage) {
  let q = signalsWithPeople(db, vendorId).where('signals.deal_id', '=', dealId);
  if (page.beforeId !== undefined) q = q.where('signals.id', '<', page.beforeId);
  if (page.type) q = q.where('signals.type', '=', page.type);
  if (page.verdict) q = q.where('signals.verdict', '=', page.verdict);
  return q.orderBy('signals.id', 'desc').limit(page.limit).execute();
}

/** Type, verdict, week, comment and the speaker (id and role) of every signal of the given deals, oldest first. */
export async function signalFacts(db: Executor, vendorId: string, dealIds: string[]) {
  if (dealIds.length === 0) return [];
  return db
    .selectFrom('signals')
    .leftJoin('stakeholders', (j) => j.onRef('stakeholders.id', '=', 'signals.stakeholder_id').onRef('stakeholders.vendor_id', '=', 'signals.vendor_id'))
    .select(['signals.deal_id', 'signals.type', 'signals.verdict', 'signals.week', 'signals.comment', 'signals.created_at', 'signals.stakeholder_id', 'stakeholders.role'])
    .where('signals.vendor_id', '=', vendorId)
    .where('signals.deal_id', 'in', dealIds)
    .orderBy('signals.id')
    .execute();
}

/** Whether this stakeholder has answered anything at all. */
export async function hasAnswered(db: Executor, vendorId: string, stakeholderId: string): Promise<boolean> {
  const row = await db
    .selectFrom('signals')
    .select('id')
    .where('vendor_id', '=', vendorId)
    .where('stakeholder_id', '=', stakeholderId)
    .where('type', '=', 'answer')
    .executeTakeFirst();
  return Boolean(row);
}

/** The concerns already handed from one person to another. */
export async function handedConcerns(db: Executor, vendorId: string, fromId: string, toId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('signals')
    .select('concern')
    .where('vendor_id', '=', vendorId)
    .where('type', '=', 'delegation')
    .where('stakeholder_id', '=', fromId)
    .where('target_stakeholder_id', '=', toId)
    .execute();
  return rows.map((r) => r.concern!);
}

/**
 * A deal's corrections after signal `afterId`, oldest first, with who made
 * them: only those of people whose answers count (rules.answersCount).
 */
export async function correctionsAfter(db: Executor, vendorId: string, dealId: string, afterId: number) {
  return db
    .selectFrom('signals as g')
    .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'g.stakeholder_id').onRef('s.vendor_id', '=', 'g.vendor_id'))
    .select(['g.id', 'g.concern', 'g.kind', 'g.comment', 'g.changes', 'g.week', 's.name', 's.role'])
    .where('g.vendor_id', '=', vendorId)
    .where('g.deal_id', '=', dealId)
    .where('g.type', '=', 'answer')
    .where('g.verdict', '=', 'correct')
    .where('s.confirmed_at', 'is not', null)
    .where('g.id', '>', afterId)
    .orderBy('g.id')
    .execute();
}
