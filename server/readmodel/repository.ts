// SQL of the read model: what one deal's refresh reads (bounded by that deal,
// served by indexes), what it writes, and the list queries over deal_state.
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Executor } from '../db/index.js';
import { CONCERN_BIT } from '../concerns/index.js';
import type { CorrectionFieldsTable, DealConcernStateTable, DealFieldStateTable, DealStateTable, PersonStateTable } from '../db/schema.js';

/**
 * Serialises refreshes of one deal until the transaction ends. Taken last in
 * a transaction, after its writes, so the refresh that waits here sees the
 * other transaction's committed signals (READ COMMITTED takes a fresh
 * snapshot per statement) and no update is lost. An advisory lock, not a row
 * lock, so it never waits on locks the writes themselves hold.
 */
export async function lockDealState(trx: Executor, dealId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`deal_state:${dealId}`})::bigint)`.execute(trx);
}

/**
 * Takes a deal's marks, at the start of its refresh: those of answers already
 * committed. An answer still in flight keeps its mark (invisible here), so the
 * deal is refreshed again once it commits.
 */
export async function clearDirty(trx: Executor, vendorId: string, dealId: string): Promise<Date | undefined> {
  const marks = await trx.deleteFrom('deal_state_dirty').where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).returning('marked_at').execute();
  // The latest answer's time (the injected clock's), which dates what the refresh finds changed.
  return marks.reduce<Date | undefined>((latest, m) => (!latest || m.marked_at > latest ? new Date(m.marked_at) : latest), undefined);
}

/** How the deal's alignment checkpoint stands in its read model now (before a refresh writes it), if it has one. */
export async function checkpointOf(trx: Executor, vendorId: string, dealId: string) {
  return trx.selectFrom('deal_state').select('checkpoint').where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).executeTakeFirst();
}

/** Deals waiting for a refresh, oldest mark first: one workspace's, or everyone's. */
export async function dirtyDeals(db: Executor, limit: number, vendorId?: string) {
  let q = db
    .selectFrom('deal_state_dirty')
    .select(['vendor_id', 'deal_id'])
    .groupBy(['vendor_id', 'deal_id'])
    .orderBy((eb) => eb.fn.min('marked_at'))
    .limit(limit);
  if (vendorId) q = q.where('vendor_id', '=', vendorId);
  return q.execute();
}

export async function findDeal(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('deals')
    .select(['id', 'buyer_name', 'stage', 'started_on', 'created_at', 'industry', 'region', 'gate_checkpoint'])
    .where('vendor_id', '=', vendorId)
    .where('id', '=', dealId)
    .executeTakeFirst();
}

/** The current revision of each concern's claim. */
export async function claimRevisions(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('deal_claims')
    .select(['concern', 'revision'])
    .distinctOn('concern')
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .orderBy('concern')
    .orderBy('revision', 'desc')
    .execute();
}

export async function stakeholders(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('stakeholders')
    .select(['id', 'name', 'role', 'confirmed_at', 'email', 'source', 'invited_at', 'first_invited_at', 'reminders_total'])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .execute();
}

/** Each person's latest answer per concern, as latest_answers holds it (written with each answer). */
export async function latestAnswers(db: Executor, vendorId: string, dealId: string, stakeholderIds?: string[]) {
  if (stakeholderIds?.length === 0) return [];
  let q = db
    .selectFrom('latest_answers')
    .select(['stakeholder_id', 'concern', 'verdict', 'kind', 'claim_revision', 'created_at', 'signal_id'])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId);
  if (stakeholderIds) q = q.where('stakeholder_id', 'in', stakeholderIds);
  return q.execute();
}

/** The same, computed from the signals themselves: for checks and rebuilds, never on a request. */
export async function latestAnswersFromSignals(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('signals')
    .select(['stakeholder_id', 'concern', 'verdict', 'kind', 'claim_revision', 'created_at', 'id as signal_id'])
    .distinctOn(['stakeholder_id', 'concern'])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .where('type', '=', 'answer')
    .orderBy('stakeholder_id')
    .orderBy('concern')
    .orderBy('id', 'desc')
    .execute();
}

/** Rebuilds latest_answers from the signals (idempotent). */
export async function rebuildLatestAnswers(db: Executor): Promise<void> {
  await sql`
    insert into latest_answers (vendor_id, deal_id, stakeholder_id, concern, signal_id, verdict, kind, claim_revision, created_at, first_week, first_correction_week, first_answered_at)
    select distinct on (vendor_id, deal_id, stakeholder_id, concern) vendor_id, deal_id, stakeholder_id, concern, id, verdict, kind, claim_revision, created_at,
           min(week) over w, min(week) filter (where verdict = 'correct') over w, min(created_at) filter (where verdict <> 'not_mine') over w
      from signals where type = 'answer'
    window w as (partition by vendor_id, deal_id, stakeholder_id, concern)
     order by vendor_id, deal_id, stakeholder_id, concern, id desc
    on conflict (vendor_id, deal_id, stakeholder_id, concern) do update
      set signal_id = excluded.signal_id, verdict = excluded.verdict, kind = excluded.kind, claim_revision = excluded.claim_revision,
          created_at = excluded.created_at, first_week = excluded.first_week, first_correction_week = excluded.first_correction_week,
          first_answered_at = excluded.first_answered_at`.execute(db);
}

/** Each person's first answer week and first correction week, from latest_answers. */
export async function answerWeeks(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('latest_answers')
    .select((eb) => [
      'stakeholder_id',
      eb.fn.min<number>('first_week').as('week'),
      eb.fn.min<number | null>('first_correction_week').as('correction_week'),
      eb.fn.min<Date | null>('first_answered_at').as('first_answered_at'),
    ])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .groupBy('stakeholder_id')
    .execute();
}

/** The same, from the signals themselves: for checks, never on a request. */
export async function answerWeeksFromSignals(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('signals')
    .select((eb) => [
      'stakeholder_id',
      eb.fn.min<number>('week').as('week'),
      sql<number | null>`min(week) filter (where verdict = 'correct')`.as('correction_week'),
      sql<Date | null>`min(created_at) filter (where verdict <> 'not_mine')`.as('first_answered_at'),
    ])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .where('type', '=', 'answer')
    .groupBy('stakeholder_id')
    .execute();
}

/** Who handed which concern to whom on a deal (delegation signals, through signals_deal_type_idx). */
export async function handovers(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('signals')
    .select(['stakeholder_id', 'target_stakeholder_id', 'concern'])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .where('type', '=', 'delegation')
    .execute();
}

/** The field changes of some of a deal's corrections, by signal id. */
export async function changesOf(db: Executor, vendorId: string, dealId: string, signalIds: number[]) {
  if (signalIds.length === 0) return [];
  return db.selectFrom('signals').select(['id', 'changes']).where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).where('id', 'in', signalIds).execute();
}

/** How many signals the deal has, its latest one, and its latest checkpoint override. */
export async function signalSummary(db: Executor, vendorId: string, dealId: string) {
  const [counts, override] = await Promise.all([
    db
      .selectFrom('signals')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('created_at').as('last')])
      .where('vendor_id', '=', vendorId)
      .where('deal_id', '=', dealId)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('signals')
      .select(['comment', 'created_at'])
      .where('vendor_id', '=', vendorId)
      .where('deal_id', '=', dealId)
      .where('type', '=', 'checkpoint_override')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst(),
  ]);
  return { signals: Number(counts.n), lastSignalAt: (counts.last as Date | null) ?? null, override };
}

export interface DealRows {
  state: Insertable<DealStateTable>;
  concerns: Insertable<DealConcernStateTable>[];
  fields: Insertable<DealFieldStateTable>[];
  people: Insertable<PersonStateTable>[];
}

export async function writeDealState(trx: Executor, { state, concerns, fields, people }: DealRows): Promise<void> {
  const { vendor_id: _v, deal_id: _d, ...changes } = state;
  await trx
    .insertInto('deal_state')
    .values(state)
    .onConflict((oc) => oc.columns(['vendor_id', 'deal_id']).doUpdateSet({ ...changes, refresh_seq: sql<number>`nextval('deal_state_refresh_seq')` } as never))
    .execute();
  if (concerns.length === 0) return;
  await trx
    .insertInto('deal_concern_state')
    .values(concerns)
    .onConflict((oc) =>
      oc.columns(['vendor_id', 'deal_id', 'concern']).doUpdateSet((eb) => ({
        claim_revision: eb.ref('excluded.claim_revision'),
        status: eb.ref('excluded.status'),
        substantive: eb.ref('excluded.substantive'),
        answers: eb.ref('excluded.answers'),
        corrections: eb.ref('excluded.corrections'),
      })),
    )
    .execute();
  const { vendor_id: vendorId, deal_id: dealId } = state;
  await trx.deleteFrom('deal_field_state').where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).execute();
  if (fields.length) await trx.insertInto('deal_field_state').values(fields).execute();
  if (people.length === 0) return;
  // Only people whose row changed are written.
  await trx
    .insertInto('person_state')
    .values(people)
    .onConflict((oc) =>
      oc
        .columns(['vendor_id', 'deal_id', 'stakeholder_id'])
        .doUpdateSet((eb) => ({
          role: eb.ref('excluded.role'),
          first_invited_at: eb.ref('excluded.first_invited_at'),
          reminders_total: eb.ref('excluded.reminders_total'),
          first_answered_at: eb.ref('excluded.first_answered_at'),
          answer_days: eb.ref('excluded.answer_days'),
          answered_all: eb.ref('excluded.answered_all'),
        }))
        .where(
          sql<boolean>`(person_state.role, person_state.first_invited_at, person_state.reminders_total, person_state.first_answered_at, person_state.answer_days, person_state.answered_all)
            is distinct from (excluded.role, excluded.first_invited_at, excluded.reminders_total, excluded.first_answered_at, excluded.answer_days, excluded.answered_all)`,
        ),
    )
    .execute();
}

export async function insertCorrectionFields(trx: Executor, rows: Insertable<CorrectionFieldsTable>[]): Promise<void> {
  if (rows.length === 0) return;
  await trx
    .insertInto('correction_fields')
    .values(rows)
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/** Rebuilds correction_fields of every correction from the signals (idempotent). */
export async function rebuildCorrectionFields(db: Executor): Promise<void> {
  await sql`
    insert into correction_fields (vendor_id, signal_id, field, deal_id, concern, stakeholder_id, kind, claimed, corrected, week, created_at)
    select s.vendor_id, s.id, c->>'field', s.deal_id, s.concern, s.stakeholder_id, s.kind, c->'claimed', c->'corrected', s.week, s.created_at
      from signals s cross join lateral jsonb_array_elements(s.changes) c
     where s.type = 'answer' and s.verdict = 'correct'
    on conflict do nothing`.execute(db);
}

/** A batch of deals in id order after `after`; only those without a read-model row when `onlyMissing`. */
export async function dealBatch(db: Executor, after: string | null, limit: number, onlyMissing: boolean) {
  let q = db.selectFrom('deals').select(['deals.vendor_id', 'deals.id']).orderBy('deals.id').limit(limit);
  if (after) q = q.where('deals.id', '>', after);
  if (onlyMissing) {
    q = q.where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('deal_state').select('deal_id').whereRef('deal_state.vendor_id', '=', 'deals.vendor_id').whereRef('deal_state.deal_id', '=', 'deals.id'))),
    );
  }
  return q.execute();
}

/** A deal's read-model row with its concerns, in one query. */
export async function readDealState(db: Executor, vendorId: string, dealId: string) {
  const row = await db
    .selectFrom('deal_state as ds')
    .selectAll('ds')
    .select([
      sql<Selectable<Omit<DealConcernStateTable, 'vendor_id' | 'deal_id'>>[]>`(
        select coalesce(json_agg(json_build_object('concern', c.concern, 'claim_revision', c.claim_revision, 'status', c.status,
                 'substantive', c.substantive, 'answers', c.answers, 'corrections', c.corrections)), '[]')
          from deal_concern_state c where c.vendor_id = ds.vendor_id and c.deal_id = ds.deal_id)`.as('concern_states'),
      sql<boolean>`exists (select 1 from deal_state_dirty x where x.vendor_id = ds.vendor_id and x.deal_id = ds.deal_id)`.as('dirty'),
    ])
    .where('ds.vendor_id', '=', vendorId)
    .where('ds.deal_id', '=', dealId)
    .executeTakeFirst();
  if (!row) return undefined;
  const { concern_states: concerns, dirty, ...state } = row;
  return { state, concerns, dirty };
}

/** The deal list's sorts, each served by a deal_state index, and the column behind each. */
export const DEAL_SORTS = {
  last_activity: 'last_activity_at',
  // A deal in a later week started earlier: ascending weeks are descending start dates.
  week: 'started_on',
  concerns_open: 'concerns_open',
  corrections: 'corrections',
  buyer_name: 'buyer_name',
} as const;
export type DealSort = keyof typeof DEAL_SORTS;

export interface DealListQuery extends DealFilter {
  limit: number;
  sort: DealSort;
  descending: boolean;
  /** The sort value and deal id of the last row of the previous page. */
  after?: { value: string | number; id: string };
}

/** Which of a vendor's deals a list (or an export) shows: every filter of the deal list. */
export interface DealFilter {
  stage?: string;
  checkpoint?: 'ready' | 'open' | 'overridden';
  noSecurityStakeholder?: boolean;
  corrected?: boolean;
  /** Part of the buyer's name, any case. */
  q?: string;
  /** The buyer segment, as copied into deal_state. */
  industry?: NonNullable<DealStateTable['industry']>;
  region?: string;
  /** Deals where the buyer's security team corrects this concern's current claim. */
  correctedConcern?: string;
  /** Deals where the security team's current corrections change this field. */
  correctedField?: { concern: string; field: string };
  /** Deals owned by this member. */
  ownerId?: string;
}

/**
 * The vendor's deals (deal_state as ds) that pass the filter: the deal list's WHERE clause, shared with the
 * exports (a subquery of deal ids). Only filters, no order or limit.
 */
export function dealsMatching(db: Executor, vendorId: string, query: DealFilter) {
  let q = db.selectFrom('deal_state as ds').where('ds.vendor_id', '=', vendorId);
  if (query.stage) q = q.where('ds.stage', '=', query.stage as DealStateTable['stage']);
  if (query.checkpoint) q = q.where('ds.checkpoint', '=', query.checkpoint);
  if (query.noSecurityStakeholder !== undefined) q = q.where('ds.no_security_stakeholder', '=', query.noSecurityStakeholder);
  if (query.corrected !== undefined) q = q.where('ds.corrections', query.corrected ? '>' : '=', 0);
  if (query.q) q = q.where('ds.buyer_name', 'ilike', `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (query.industry) q = q.where('ds.industry', '=', query.industry);
  if (query.region) q = q.where('ds.region', '=', query.region);
  // The security team corrects that concern's current claim: its bit in team_corrected (concerns: CONCERN_BIT).
  if (query.correctedConcern) q = q.where(sql<boolean>`ds.team_corrected & ${CONCERN_BIT[query.correctedConcern] ?? 0} <> 0`);
  const ownerId = query.ownerId;
  if (ownerId) {
    // An index range on deals (vendor_id, owner_id).
    q = q.where('ds.deal_id', 'in', db.selectFrom('deals as o').select('o.id').where('o.vendor_id', '=', vendorId).where('o.owner_id', '=', ownerId));
  }
  const correctedField = query.correctedField;
  if (correctedField) {
    q = q.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('deal_field_state as f')
          .select('f.field')
          .whereRef('f.vendor_id', '=', 'ds.vendor_id')
          .whereRef('f.deal_id', '=', 'ds.deal_id')
          .where('f.concern', '=', correctedField.concern)
          .where('f.field', '=', correctedField.field),
      ),
    );
  }
  return q;
}

/** One page of a vendor's deals: keyset-paginated over deal_state, one more row than asked to tell if another page follows. */
export async function pageDeals(db: Executor, vendorId: string, query: DealListQuery) {
  const column = DEAL_SORTS[query.sort];
  // "week" runs against started_on, so its direction flips.
  const descending = query.sort === 'week' ? !query.descending : query.descending;
  const direction = descending ? 'desc' : 'asc';
  let q = dealsMatching(db, vendorId, query)
    .innerJoin('deals as d', (j) => j.onRef('d.vendor_id', '=', 'ds.vendor_id').onRef('d.id', '=', 'ds.deal_id'))
    .innerJoin('users as owner', (j) => j.onRef('owner.vendor_id', '=', 'd.vendor_id').onRef('owner.id', '=', 'd.owner_id'))
    .selectAll('ds')
    .select(['d.buyer_domain', 'd.profile_version', 'd.created_at', 'd.owner_id', 'owner.name as owner_name']);
  if (query.after) {
    const type = { last_activity_at: 'timestamptz', started_on: 'date', concerns_open: 'integer', corrections: 'integer', buyer_name: 'text' }[column];
    const value = sql`cast(${query.after.value} as ${sql.raw(type)})`;
    q = q.where(sql<boolean>`(${sql.ref(`ds.${column}`)}, ds.deal_id) ${sql.raw(descending ? '<' : '>')} (${value}, cast(${query.after.id} as uuid))`);
  }
  return q
    .orderBy(`ds.${column}`, direction)
    .orderBy('ds.deal_id', direction)
    .limit(query.limit + 1)
    .execute();
}

/** How many deals the vendor has in each stage (an index-only count over deal_state). */
export async function stageCounts(db: Executor, vendorId: string, ownerId?: string) {
  let q = db
    .selectFrom('deal_state')
    .select((eb) => ['stage', eb.fn.countAll<number>().as('n')])
    .where('vendor_id', '=', vendorId);
  // "My deals" counts only the member's own.
  if (ownerId) q = q.where('deal_id', 'in', db.selectFrom('deals as o').select('o.id').where('o.vendor_id', '=', vendorId).where('o.owner_id', '=', ownerId));
  return q.groupBy('stage').execute();
}

/** A workspace's read-model version: the highest refresh_seq of its deals (an index lookup). */
export async function readModelVersion(db: Executor, vendorId: string): Promise<string> {
  const row = await db
    .selectFrom('deal_state')
    .select((eb) => eb.fn.max('refresh_seq').as('v'))
    .where('vendor_id', '=', vendorId)
    .executeTakeFirst();
  return String(row?.v ?? 0);
}
