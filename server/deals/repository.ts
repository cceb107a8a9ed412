// SQL of deals and their per-concern claims. Every statement is scoped by
// vendor_id: an id from another workspace behaves as unknown.
import { sql, type Insertable, type Updateable } from 'kysely';
import type { Executor } from '../db/index.js';
import type { DealClaimsTable, DealsTable, GateCheckpoint, StakeholderLinksTable, Verdict } from '../db/schema.js';
import type { DealStage } from '../rules.js';

export async function insertDeal(trx: Executor, deal: Insertable<DealsTable>): Promise<void> {
  await trx.insertInto('deals').values(deal).execute();
}

export async function insertClaims(trx: Executor, claims: Insertable<DealClaimsTable>[]): Promise<void> {
  await trx.insertInto('deal_claims').values(claims).execute();
}

export async function findDeal(db: Executor, vendorId: string, dealId: string) {
  return db.selectFrom('deals').selectAll().where('vendor_id', '=', vendorId).where('id', '=', dealId).executeTakeFirst();
}

/** Locks the deal's row for the rest of the transaction (claim revisions are numbered one at a time). */
export async function lockDeal(trx: Executor, vendorId: string, dealId: string): Promise<void> {
  await trx.selectFrom('deals').select('id').where('vendor_id', '=', vendorId).where('id', '=', dealId).forUpdate().execute();
}

/** The newest revision of each concern's claim for a deal. */
export async function latestClaims(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('deal_claims')
    .select(['concern', 'revision', 'claim', 'narrative', 'tailored'])
    .distinctOn('concern')
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .orderBy('concern')
    .orderBy('revision', 'desc')
    .execute();
}

/** The current revision number of each concern's claim, for the given deals. */
export async function claimRevisions(db: Executor, vendorId: string, dealIds: string[]) {
  if (dealIds.length === 0) return [];
  return db
    .selectFrom('deal_claims')
    .select(['deal_id', 'concern', 'revision'])
    .distinctOn(['deal_id', 'concern'])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', 'in', dealIds)
    .orderBy('deal_id')
    .orderBy('concern')
    .orderBy('revision', 'desc')
    .execute();
}

/** Id, name, role and confirmation of every stakeholder of the given deals (what tracking needs). */
export async function stakeholderRoles(db: Executor, vendorId: string, dealIds: string[]) {
  if (dealIds.length === 0) return [];
  return db.selectFrom('stakeholders').select(['id', 'deal_id', 'name', 'role', 'confirmed_at']).where('vendor_id', '=', vendorId).where('deal_id', 'in', dealIds).execute();
}

export async function listDeals(db: Executor, vendorId: string) {
  return db
    .selectFrom('deals')
    .select((eb) => [
      'deals.id',
      'deals.buyer_name',
      'deals.buyer_domain',
      'deals.started_on',
      'deals.stage',
      'deals.profile_version',
      'deals.created_at',
      eb
        .selectFrom('stakeholders')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('stakeholders.deal_id', '=', 'deals.id')
        .where('stakeholders.vendor_id', '=', vendorId)
        .as('stakeholders'),
      eb.selectFrom('signals').select(eb.fn.countAll<number>().as('n')).whereRef('signals.deal_id', '=', 'deals.id').where('signals.vendor_id', '=', vendorId).as('signals'),
    ])
    .where('deals.vendor_id', '=', vendorId)
    .orderBy('deals.created_at', 'desc')
    .execute();
}

export async function updateDeal(db: Executor, vendorId: string, dealId: string, values: Updateable<DealsTable>): Promise<void> {
  await db.updateTable('deals').set(values).where('vendor_id', '=', vendorId).where('id', '=', dealId).execute();
}

/** Moves the stage only if it is still `from`; false when someone else moved it first. */
export async function moveStage(trx: Executor, vendorId: string, dealId: string, from: DealStage, to: DealStage, gate?: GateCheckpoint): Promise<boolean> {
  const r = await trx
    .updateTable('deals')
    .set(gate ? { stage: to, gate_checkpoint: gate } : { stage: to })
    .where('vendor_id', '=', vendorId)
    .where('id', '=', dealId)
    .where('stage', '=', from)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The person a deal's mail goes to: its owner. */
export async function dealOwner(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('deals as d')
    .innerJoin('users as u', (j) => j.onRef('u.vendor_id', '=', 'd.vendor_id').onRef('u.id', '=', 'd.owner_id'))
    .select(['u.id', 'u.email', 'u.name'])
    .where('d.vendor_id', '=', vendorId)
    .where('d.id', '=', dealId)
    .executeTakeFirst();
}

/** A member's role in the workspace; undefined when they are no member of it. */
export async function memberRole(db: Executor, vendorId: string, userId: string) {
  const row = await db.selectFrom('users').select('role').where('vendor_id', '=', vendorId).where('id', '=', userId).executeTakeFirst();
  return row?.role;
}

/** The workspace's members, by name. */
export async function workspaceMembers(db: Executor, vendorId: string) {
  return db.selectFrom('users').select(['id', 'name', 'role']).where('vendor_id', '=', vendorId).orderBy('name').orderBy('id').execute();
}

/** The workspace's first owner: owns deals opened by no one in particular (a key whose creator is gone). */
export async function firstOwnerId(db: Executor, vendorId: string): Promise<string> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('vendor_id', '=', vendorId)
    .orderBy(sql`role = 'owner'`, 'desc')
    .orderBy('created_at')
    .orderBy('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Records that corrections up to signal `through` were mailed (never moves backwards). */
export async function markDigested(db: Executor, vendorId: string, dealId: string, through: number, at: Date): Promise<void> {
  await db
    .updateTable('deals')
    .set({ digest_through: through, digest_sent_at: at })
    .where('vendor_id', '=', vendorId)
    .where('id', '=', dealId)
    .where('digest_through', '<', through)
    .execute();
}

// ---------------------------------------------------------------------------
// Changed claims are asked again: who is asked, the claims they answered, and
// the mail that asks them (one waiting per person, see deals/service.askAgain).

/** The outbox template of the mail "claims you answered have changed". */
export const CLAIM_CHANGED_MAIL = 'claim-changed';

/**
 * The people whose latest answer on `concern` is one of `verdicts` given to a
 * revision older than `revision`, who still have a live link, and for whom no
 * claim-changed mail is waiting (queued and not yet picked up by the worker:
 * once it is, a later change queues another, so no change goes untold).
 */
export async function peopleToAskAgain(trx: Executor, vendorId: string, dealId: string, concern: string, revision: number, verdicts: readonly Verdict[], now: Date) {
  return trx
    .selectFrom('latest_answers as a')
    .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'a.stakeholder_id').onRef('s.vendor_id', '=', 'a.vendor_id').onRef('s.deal_id', '=', 'a.deal_id'))
    .select(['s.id', 's.email', 's.role'])
    .where('a.vendor_id', '=', vendorId)
    .where('a.deal_id', '=', dealId)
    .where('a.concern', '=', concern)
    .where('a.verdict', 'in', verdicts)
    .where('a.claim_revision', '<', revision)
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
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('outbox as o')
            .select('o.id')
            .where('o.vendor_id', '=', vendorId)
            .where('o.template', '=', CLAIM_CHANGED_MAIL)
            .where('o.status', '=', 'pending')
            .where('o.attempts', '=', 0)
            .where(sql<boolean>`o.params->>'stakeholderId' = s.id::text`),
        ),
      ),
    )
    .orderBy('s.id')
    .execute();
}

/** Queues one claim-changed mail per person, due at `at`, in one statement. */
export async function insertClaimChangedMails(trx: Executor, vendorId: string, people: readonly { id: string; email: string }[], now: Date, at: Date): Promise<void> {
  if (people.length === 0) return;
  await trx
    .insertInto('outbox')
    .values(
      people.map((p) => ({
        vendor_id: vendorId,
        template: CLAIM_CHANGED_MAIL,
        recipient: p.email,
        params: JSON.stringify({ stakeholderId: p.id }),
        next_attempt_at: at,
        created_at: now,
      })),
    )
    .execute();
}

/** The claims of the given concerns at the given (older) revisions, in one query. */
export async function claimsAt(db: Executor, vendorId: string, dealId: string, wanted: readonly { concern: string; revision: number }[]) {
  if (wanted.length === 0) return [];
  return db
    .selectFrom('deal_claims')
    .select(['concern', 'revision', 'claim'])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .where((eb) => eb.or(wanted.map((w) => eb.and([eb('concern', '=', w.concern), eb('revision', '=', w.revision)]))))
    .execute();
}

/**
 * What a claim-changed mail needs about its person: who they are, their deal,
 * the workspace, the deal's owner (the user who opened it; none for a deal
 * opened through the API or whose creator is gone), and when their newest
 * live link expires (null: no live link).
 */
export async function claimChangedMailData(db: Executor, vendorId: string, stakeholderId: string, now: Date) {
  return db
    .selectFrom('stakeholders as s')
    .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
    .innerJoin('vendors as v', 'v.id', 's.vendor_id')
    .leftJoin('users as o', (j) => j.onRef('o.id', '=', 'd.owner_id').onRef('o.vendor_id', '=', 'd.vendor_id'))
    .select((eb) => [
      's.id',
      's.vendor_id',
      's.name',
      's.role',
      'd.id as deal_id',
      'd.buyer_name',
      'd.stage',
      'v.name as vendor_name',
      'o.name as owner_name',
      'o.email as owner_email',
      eb
        .selectFrom('stakeholder_links as l')
        .select(sql<Date | null>`max(l.expires_at)`.as('until'))
        .whereRef('l.vendor_id', '=', 's.vendor_id')
        .whereRef('l.stakeholder_id', '=', 's.id')
        .where('l.revoked_at', 'is', null)
        .where('l.expires_at', '>', now)
        .as('link_expires_at'),
    ])
    .where('s.vendor_id', '=', vendorId)
    .where('s.id', '=', stakeholderId)
    .executeTakeFirst();
}

/**
 * A personal link of its own for one mail, its secret minted as the mail is
 * composed (only the hash is kept), so the links of earlier mails keep working.
 */
export async function insertMailedLink(db: Executor, link: Insertable<StakeholderLinksTable>): Promise<void> {
  await db.insertInto('stakeholder_links').values(link).execute();
}
