// SQL of deals and their per-concern claims. Every statement is scoped by
// vendor_id: an id from another workspace behaves as unknown.
import { sql, type Insertable, type Updateable } from 'kysely';
import type { Executor } from '../db/index.js';
import type { DealClaimsTable, DealsTable } from '../db/schema.js';
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
export async function moveStage(trx: Executor, vendorId: string, dealId: string, from: DealStage, to: DealStage): Promise<boolean> {
  const r = await trx.updateTable('deals').set({ stage: to }).where('vendor_id', '=', vendorId).where('id', '=', dealId).where('stage', '=', from).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The person a deal's mail goes to: its creator, else the workspace's first admin. */
export async function dealOwner(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('deals as d')
    .innerJoin('users as u', 'u.vendor_id', 'd.vendor_id')
    .select(['u.email', 'u.name'])
    .where('d.vendor_id', '=', vendorId)
    .where('d.id', '=', dealId)
    .orderBy(sql`u.id = d.created_by`, 'desc')
    .orderBy(sql`u.role = 'admin'`, 'desc')
    .orderBy('u.created_at')
    .executeTakeFirst();
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
