// SQL of the buyer's people on a deal and their personal links. Every
// statement is scoped by vendor_id.
import { CompiledQuery, sql, type InferResult, type Insertable } from 'kysely';
import { preparedAs, type Executor, type SqlFragment } from '../db/index.js';
import type { StakeholderLinksTable, StakeholdersTable } from '../db/schema.js';
import { CHAMPION, CLOSED_STAGES, type StakeholderRole } from '../rules.js';

export type LinkState = 'active' | 'expired' | 'revoked' | 'none';

export async function findStakeholder(db: Executor, vendorId: string, dealId: string, id: string) {
  return db.selectFrom('stakeholders').selectAll().where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).where('id', '=', id).executeTakeFirst();
}

export async function findByEmail(db: Executor, vendorId: string, dealId: string, email: string) {
  return db.selectFrom('stakeholders').select(['id', 'role']).where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).where('email', '=', email).executeTakeFirst();
}

/** Inserts unless the address is already on the deal; undefined then (the unique key decides races). */
export async function insertStakeholder(trx: Executor, values: Insertable<StakeholdersTable>) {
  return trx
    .insertInto('stakeholders')
    .values(values)
    .onConflict((oc) => oc.columns(['vendor_id', 'deal_id', 'email']).doNothing())
    .returning(['id', 'role'])
    .executeTakeFirst();
}

/**
 * Inserts many people in one statement; resolves to the ids inserted. An
 * address already on the deal is skipped (the unique key decides races), so
 * fewer ids than rows means someone else added one of them meanwhile.
 */
export async function insertStakeholders(trx: Executor, rows: Insertable<StakeholdersTable>[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const inserted = await trx
    .insertInto('stakeholders')
    .values(rows)
    .onConflict((oc) => oc.columns(['vendor_id', 'deal_id', 'email']).doNothing())
    .returning('id')
    .execute();
  return inserted.map((r) => r.id);
}

/** Which of these addresses are already on the deal. */
export async function emailsOnDeal(db: Executor, vendorId: string, dealId: string, emails: string[]): Promise<string[]> {
  if (emails.length === 0) return [];
  const rows = await db.selectFrom('stakeholders').select('email').where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).where('email', 'in', emails).execute();
  return rows.map((r) => r.email);
}

/** How many colleagues this stakeholder has added to the deal. */
export async function countDelegatesOf(db: Executor, vendorId: string, stakeholderId: string): Promise<number> {
  const row = await db
    .selectFrom('stakeholders')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('vendor_id', '=', vendorId)
    .where('delegated_by', '=', stakeholderId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How many delegated people the deal has, whoever added them. */
export async function countDealDelegates(db: Executor, vendorId: string, dealId: string): Promise<number> {
  const row = await db
    .selectFrom('stakeholders')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .where('source', '=', 'delegated')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The addresses of the people the vendor itself added to the deal (the buyer domains come from these). */
export async function vendorAddedPeople(db: Executor, vendorId: string, dealId: string) {
  return db.selectFrom('stakeholders').select(['email', 'source']).where('vendor_id', '=', vendorId).where('deal_id', '=', dealId).where('source', '=', 'vendor').execute();
}

/**
 * Locks the deal's row against other hand-overs for the rest of the
 * transaction, so the per-deal limit holds. NO KEY UPDATE: answers and new
 * people referencing the deal are not held up.
 */
export async function lockDealForDelegation(trx: Executor, vendorId: string, dealId: string): Promise<void> {
  await trx.selectFrom('deals').select('id').where('vendor_id', '=', vendorId).where('id', '=', dealId).forNoKeyUpdate().execute();
}

/** Confirms that this person's answers count; resolves to the time it was done, or undefined when it already was. */
export async function confirmStakeholder(db: Executor, vendorId: string, id: string, at: Date): Promise<Date | undefined> {
  const row = await db
    .updateTable('stakeholders')
    .set({ confirmed_at: at })
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .where('confirmed_at', 'is', null)
    .returning('confirmed_at')
    .executeTakeFirst();
  return row?.confirmed_at ?? undefined;
}

/** Locks the stakeholder's row for the rest of the transaction: their writes happen one at a time. */
export async function lockStakeholder(trx: Executor, vendorId: string, id: string): Promise<void> {
  await trx.selectFrom('stakeholders').select('id').where('vendor_id', '=', vendorId).where('id', '=', id).forUpdate().execute();
}

export async function setRole(db: Executor, vendorId: string, id: string, role: StakeholderRole): Promise<void> {
  await db.updateTable('stakeholders').set({ role }).where('vendor_id', '=', vendorId).where('id', '=', id).execute();
}

export async function setRemindersPaused(db: Executor, vendorId: string, id: string, paused: boolean): Promise<void> {
  await db.updateTable('stakeholders').set({ reminders_paused: paused }).where('vendor_id', '=', vendorId).where('id', '=', id).execute();
}

/** An invitation starts the person's reminder cadence afresh. */
export async function markInvited(trx: Executor, vendorId: string, id: string, at: Date): Promise<void> {
  await trx
    .updateTable('stakeholders')
    .set((eb) => ({ invited_at: at, first_invited_at: eb.fn.coalesce('first_invited_at', eb.val(at)), reminders_sent: 0 }))
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .execute();
}

export async function insertLink(trx: Executor, link: Insertable<StakeholderLinksTable>): Promise<void> {
  await trx.insertInto('stakeholder_links').values(link).execute();
}

/** Many links in one statement. */
export async function insertLinks(trx: Executor, links: Insertable<StakeholderLinksTable>[]): Promise<void> {
  if (links.length === 0) return;
  await trx.insertInto('stakeholder_links').values(links).execute();
}

/** Every live link of this person stops working. */
export async function revokeLinks(trx: Executor, vendorId: string, stakeholderId: string, at: Date): Promise<void> {
  await trx
    .updateTable('stakeholder_links')
    .set({ revoked_at: at })
    .where('vendor_id', '=', vendorId)
    .where('stakeholder_id', '=', stakeholderId)
    .where('revoked_at', 'is', null)
    .execute();
}

/** Links not revoked work at least until `until` (none is shortened); resolves to how many there are. */
export async function extendLinks(db: Executor, vendorId: string, stakeholderId: string, until: Date): Promise<number> {
  const r = await db
    .updateTable('stakeholder_links')
    .set({ expires_at: sql<Date>`greatest(expires_at, ${until})` })
    .where('vendor_id', '=', vendorId)
    .where('stakeholder_id', '=', stakeholderId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** How many links this person has had, and how many of them were revoked. */
export async function linkCounts(db: Executor, vendorId: string, stakeholderId: string) {
  return db
    .selectFrom('stakeholder_links')
    .select((eb) => [eb.fn.countAll<number>().as('all'), eb.fn.count<number>('revoked_at').as('revoked')])
    .where('vendor_id', '=', vendorId)
    .where('stakeholder_id', '=', stakeholderId)
    .executeTakeFirstOrThrow();
}

/** When the person's latest unrevoked link expires. */
export async function liveLinkUntil(db: Executor, vendorId: string, stakeholderId: string): Promise<Date> {
  const row = await db
    .selectFrom('stakeholder_links')
    .select((eb) => eb.fn.max('expires_at').as('until'))
    .where('vendor_id', '=', vendorId)
    .where('stakeholder_id', '=', stakeholderId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return new Date(row!.until as Date);
}

/** Silent, remindable people whose next reminder is due at `now`, across every workspace (the worker's view). */
export async function dueReminders(db: Executor, now: Date, limit: number) {
  return (
    db
      .selectFrom('stakeholders as s')
      .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
      .select(['s.id', 's.vendor_id', 's.deal_id', 's.email', 's.reminders_sent', 's.invited_at', 'd.reminder_days'])
      .where('s.invited_at', 'is not', null)
      .where('s.reminders_paused', '=', false)
      .where('s.role', '<>', CHAMPION)
      .where('d.reminders_paused', '=', false)
      .where('d.stage', 'not in', CLOSED_STAGES)
      .where(sql<boolean>`s.reminders_sent < cardinality(d.reminder_days)`)
      .where(sql<boolean>`s.invited_at + make_interval(days => d.reminder_days[s.reminders_sent + 1]) <= ${now}`)
      // Any answer (including "not mine") ends the silence.
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('signals as g').select('g.id').whereRef('g.vendor_id', '=', 's.vendor_id').whereRef('g.stakeholder_id', '=', 's.id').where('g.type', '=', 'answer'))),
      )
      // A revoked or expired link ends them too.
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('stakeholder_links as l')
            .select('l.id')
            .whereRef('l.vendor_id', '=', 's.vendor_id')
            .whereRef('l.stakeholder_id', '=', 's.id')
            .where('l.revoked_at', 'is', null)
            .where('l.expires_at', '>', now),
        ),
      )
      .limit(limit)
      .execute()
  );
}

/** Moves the reminder cadence from `from` to `to` steps (one mail, however many steps), counting the mail in reminders_total; false when another worker moved it first. */
export async function bumpReminders(trx: Executor, vendorId: string, id: string, from: number, to: number): Promise<boolean> {
  const r = await trx
    .updateTable('stakeholders')
    .set((eb) => ({ reminders_sent: to, reminders_total: eb('reminders_total', '+', 1) }))
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .where('reminders_sent', '=', from)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The deal's people with who delegated them and the best state of their links. */
export async function dealStakeholders(db: Executor, vendorId: string, dealId: string, now: Date, page?: { offset: number; limit: number }) {
  let q = db
    .selectFrom('stakeholders as s')
    .leftJoin('stakeholders as by', (j) => j.onRef('by.id', '=', 's.delegated_by').onRef('by.vendor_id', '=', 's.vendor_id'))
    .select([
      's.id',
      's.name',
      's.email',
      's.role',
      's.source',
      's.created_at',
      's.invited_at',
      's.reminders_paused',
      's.reminders_sent',
      's.confirmed_at',
      's.delegation_depth',
      'by.id as delegated_by_id',
      'by.name as delegated_by_name',
      // The best state among the person's links: one that works beats an expired one beats a revoked one.
      sql<LinkState>`coalesce((
        select case
          when bool_or(l.revoked_at is null and l.expires_at > ${now}) then 'active'
          when bool_or(l.revoked_at is null) then 'expired'
          else 'revoked' end
        from stakeholder_links l where l.vendor_id = s.vendor_id and l.stakeholder_id = s.id), 'none')`.as('link_state'),
      sql<Date | null>`(select max(l.expires_at) from stakeholder_links l
        where l.vendor_id = s.vendor_id and l.stakeholder_id = s.id and l.revoked_at is null)`.as('link_expires_at'),
      // An invitation not delivered yet (pending) or given up on (failed), from the few unsent ones (outbox_unsent_invites_idx).
      sql<'pending' | 'failed' | null>`(select o.status from outbox o
        where o.vendor_id = s.vendor_id and o.template = 'invite' and o.status <> 'sent'
          and o.params->>'linkId' in (select l.id::text from stakeholder_links l where l.vendor_id = s.vendor_id and l.stakeholder_id = s.id)
        order by o.id desc limit 1)`.as('mail_status'),
    ])
    .where('s.vendor_id', '=', vendorId)
    .where('s.deal_id', '=', dealId)
    // Oldest first; people added at the same instant, nearest the vendor first, then in a fixed order so pages never overlap.
    .orderBy('s.created_at')
    .orderBy('s.delegation_depth')
    .orderBy('s.id');
  if (page) q = q.offset(page.offset).limit(page.limit);
  return q.execute();
}

/**
 * Links joined to their person, that person's deal, the workspace, and the
 * deal's owner (`o`).
 */
function linksWithDeal(db: Executor) {
  return db
    .selectFrom('stakeholder_links as l')
    .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
    .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
    .innerJoin('vendors as v', 'v.id', 'l.vendor_id')
    .leftJoin('users as o', (j) => j.onRef('o.id', '=', 'd.owner_id').onRef('o.vendor_id', '=', 'd.vendor_id'));
}

/**
 * A live link by the hash of its token, with its person, deal and workspace;
 * and, when given, what `extra` selects for them in the same query (it may
 * refer to the link, person and deal as l, s and d).
 */
export async function findLiveLink<T = never>(db: Executor, tokenHash: string, now: Date, extra?: LinkExtra<T>) {
  // Every link page asks this: its SQL is compiled once per shape (with or without each kind of extra), not on every request.
  const key = extra?.key ?? '';
  let compiled = liveLinkSql.get(key);
  if (!compiled) {
    compiled = liveLinkQuery(db, extra?.sql, extra?.lock).compile();
    // $1 and $2 are written into the SQL by hand: any other value would take their numbers.
    if (compiled.parameters.length > 0) throw new Error('the live-link query must hold no values of its own');
    compiled = CompiledQuery.raw(preparedAs(`live-link${key ? `-${key}` : ''}`) + compiled.sql);
    liveLinkSql.set(key, compiled);
  }
  const { rows } = await db.executeQuery<InferResult<ReturnType<typeof liveLinkQuery>>[number] & { extra?: T }>(
    CompiledQuery.raw(compiled.sql, [tokenHash, now, ...(extra?.params ?? [])]),
  );
  return rows[0];
}

const liveLinkSql = new Map<string, CompiledQuery>();

/**
 * What a caller adds to the live-link query: `sql`, selected as `extra`, may
 * refer to the link, person and deal as l, s and d, and to `params` as $3, $4…
 * (it holds no values of its own); `lock` locks the person's row for the rest
 * of the transaction; `key` names the combination (compiled once per key).
 */
export interface LinkExtra<T> {
  key: string;
  sql: SqlFragment<T>;
  params?: unknown[];
  lock?: boolean;
}

/** The live-link query with its two values left as $1 (the token's hash) and $2 (now): compiled once, run many times. */
function liveLinkQuery(db: Executor, extra?: SqlFragment<unknown>, lock = false) {
  return linksWithDeal(db)
    .$if(extra !== undefined, (q) => q.select(extra!.as('extra')))
    .$if(lock, (q) => q.forUpdate('s'))
    .select([
      'l.id as link_id',
      'l.vendor_id',
      'v.name as vendor_name',
      'v.web_domain as vendor_domain',
      'o.name as owner_name',
      'o.email as owner_email',
      's.id as stakeholder_id',
      's.name as stakeholder_name',
      's.role',
      's.email',
      's.confirmed_at',
      's.delegation_depth',
      'd.id as deal_id',
      'd.buyer_name',
      'd.started_on',
      'd.stage',
    ])
    .where('l.token_hash', '=', sql<string>`$1`)
    .where('l.revoked_at', 'is', null)
    .where('l.expires_at', '>', sql<Date>`$2`);
}

/** Whoever a link (live or not) belongs to, by the hash of its token. */
export async function linkHolder(db: Executor, tokenHash: string) {
  return db
    .selectFrom('stakeholder_links as l')
    .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
    .select(['s.id', 's.vendor_id', 's.deal_id', 's.email'])
    .where('l.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Whether a request for a new link was already passed on for this person since `since`. */
export async function linkRequestedSince(db: Executor, vendorId: string, stakeholderId: string, since: Date): Promise<boolean> {
  const row = await db
    .selectFrom('outbox')
    .select('id')
    .where('vendor_id', '=', vendorId)
    .where('template', '=', 'link-request')
    .where(sql<boolean>`params->>'stakeholderId' = ${stakeholderId}`)
    .where('created_at', '>', since)
    .executeTakeFirst();
  return Boolean(row);
}

/** What an invitation mail shows, by its link. */
export async function inviteMailData(db: Executor, linkId: string) {
  return linksWithDeal(db)
    .select([
      'l.id',
      'l.vendor_id',
      'l.revoked_at',
      'l.expires_at',
      's.id as stakeholder_id',
      's.name',
      's.role',
      's.reminders_paused',
      's.invite_note',
      'd.buyer_name',
      'd.stage',
      'd.reminders_paused as deal_paused',
      'v.name as vendor_name',
      'v.web_domain as vendor_domain',
      'o.name as owner_name',
      'o.email as owner_email',
    ])
    .where('l.id', '=', linkId)
    .executeTakeFirst();
}

/** Gives a link its secret (only the hash is kept) as its mail is composed. */
export async function setLinkSecret(db: Executor, vendorId: string, linkId: string, tokenHash: string, at: Date): Promise<void> {
  await db.updateTable('stakeholder_links').set({ token_hash: tokenHash, last_sent_at: at }).where('id', '=', linkId).where('vendor_id', '=', vendorId).execute();
}

export async function stakeholderName(db: Executor, vendorId: string, id: string): Promise<string | undefined> {
  return (await db.selectFrom('stakeholders').select('name').where('vendor_id', '=', vendorId).where('id', '=', id).executeTakeFirst())?.name;
}

/** What a "new link requested" mail shows. */
export async function linkRequestMailData(db: Executor, vendorId: string, stakeholderId: string) {
  return db
    .selectFrom('stakeholders as s')
    .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
    .select(['s.name', 's.role', 'd.id as deal_id', 'd.buyer_name'])
    .where('s.vendor_id', '=', vendorId)
    .where('s.id', '=', stakeholderId)
    .executeTakeFirst();
}
