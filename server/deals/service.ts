// Deals, their per-concern claims, stakeholders and invitations. Every query
// is scoped by vendor_id; an id from another workspace behaves as unknown.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../lib/clock.js';
import { DAY } from '../lib/clock.js';
import { badRequest, conflict, notFound } from '../lib/errors.js';
import { domain, email, invalidInput, isoDate, line, todayIso, zodDetails } from '../lib/validate.js';
import type { DB } from '../db/index.js';
import { STAKEHOLDER_ROLES, type ProfileClaims } from '../db/schema.js';
import type { Executor } from '../mail/outbox.js';
import { issueLink } from './links.js';
import { CONCERNS, claimSchema, getConcern, partialClaimSchema } from '../concerns/index.js';
import type { ClaimValues } from '../concerns/types.js';
import { getVersion, listVersions } from '../profiles/service.js';


export const dealInput = z.object({
  buyer_name: line(120),
  buyer_domain: domain.optional(),
  started_on: isoDate.optional(),
  profile_version: z.coerce.number().int().positive().max(2_147_483_647).optional(),
  overrides: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});
export type DealInput = z.infer<typeof dealInput>;

export const stakeholderInput = z.object({
  name: line(120),
  email,
  role: z.enum(STAKEHOLDER_ROLES, { message: `must be one of ${STAKEHOLDER_ROLES.join(', ')}` }),
  invite: z.boolean().default(true),
});
export type StakeholderInput = z.infer<typeof stakeholderInput>;

/** Week 1 is the first seven days from the deal's start date. */
export function weekOfDeal(startedOn: string, at: Date): number {
  const start = new Date(`${startedOn}T00:00:00Z`).getTime();
  return Math.max(1, Math.floor((at.getTime() - start) / (7 * DAY)) + 1);
}

/** Validates tailoring against the catalogue; returns only the fields that differ from the base claims. */
function validateOverrides(base: ProfileClaims, overrides: Record<string, Record<string, unknown>> | undefined) {
  const clean: Record<string, ClaimValues> = {};
  const problems: { field: string; message: string }[] = [];
  for (const [key, fields] of Object.entries(overrides ?? {})) {
    const concern = getConcern(key);
    if (!concern) {
      problems.push({ field: `overrides.${key}`, message: 'is not a known concern' });
      continue;
    }
    const parsed = partialClaimSchema(concern).safeParse(fields);
    if (!parsed.success) {
      problems.push(...zodDetails(parsed.error, `overrides.${key}`));
      continue;
    }
    const changed = Object.fromEntries(
      Object.entries(parsed.data as ClaimValues).filter(
        ([f, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(base[key].values[f]),
      ),
    );
    if (Object.keys(changed).length) clean[key] = changed;
  }
  if (problems.length) throw invalidInput('tailoring', problems);
  return clean;
}

export async function createDeal(db: DB, clock: Clock, vendorId: string, userId: string | null, input: DealInput) {
  const versions = await listVersions(db, vendorId);
  if (versions.length === 0) {
    throw conflict('no_published_profile', 'Publish your posture profile before opening a deal: a deal puts a published version in front of the buyer.');
  }
  const versionNumber = input.profile_version ?? versions[0].version;
  const version = await getVersion(db, vendorId, versionNumber);
  if (!version) throw badRequest(`Profile version ${versionNumber} does not exist.`, [{ field: 'profile_version', message: 'is not a published version' }]);
  const overrides = validateOverrides(version.claims, input.overrides);
  // Every claim put in front of a buyer is complete and valid, whatever was tailored.
  const claims = Object.fromEntries(
    CONCERNS.map((c) => [c.key, claimSchema(c).parse({ ...version.claims[c.key].values, ...overrides[c.key] })]),
  );
  const now = clock.now();
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('deals')
      .values({
        id,
        vendor_id: vendorId,
        buyer_name: input.buyer_name,
        buyer_domain: input.buyer_domain ?? null,
        started_on: input.started_on ?? todayIso(now),
        profile_version: versionNumber,
        created_by: userId,
        created_at: now,
      })
      .execute();
    await trx
      .insertInto('deal_claims')
      .values(
        CONCERNS.map((c) => ({
          vendor_id: vendorId,
          deal_id: id,
          concern: c.key,
          revision: 1,
          claim: JSON.stringify(claims[c.key]),
          narrative: version.claims[c.key].narrative,
          tailored: Boolean(overrides[c.key]),
          created_at: now,
        })),
      )
      .execute();
  });
  return id;
}

export async function getDeal(db: Executor, vendorId: string, dealId: string) {
  const deal = z.uuid().safeParse(dealId).success
    ? await db.selectFrom('deals').selectAll().where('vendor_id', '=', vendorId).where('id', '=', dealId).executeTakeFirst()
    : undefined;
  if (!deal) throw notFound('That deal');
  return deal;
}

export interface CurrentClaim {
  concern: string;
  revision: number;
  claim: ClaimValues;
  narrative: string;
  tailored: boolean;
}

/** The newest revision of each concern's claim for a deal, in catalogue order. */
export async function currentClaims(db: Executor, vendorId: string, dealId: string): Promise<CurrentClaim[]> {
  const rows = await db
    .selectFrom('deal_claims')
    .select(['concern', 'revision', 'claim', 'narrative', 'tailored'])
    .distinctOn('concern')
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .orderBy('concern')
    .orderBy('revision', 'desc')
    .execute();
  const byKey = new Map(rows.map((r) => [r.concern, r]));
  return CONCERNS.filter((c) => byKey.has(c.key)).map((c) => byKey.get(c.key)!);
}

export async function listDeals(db: DB, vendorId: string) {
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
      eb
        .selectFrom('signals')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('signals.deal_id', '=', 'deals.id')
        .where('signals.vendor_id', '=', vendorId)
        .where('signals.verdict', '=', 'correct')
        .as('corrections'),
      eb
        .selectFrom('signals')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('signals.deal_id', '=', 'deals.id')
        .where('signals.vendor_id', '=', vendorId)
        .as('signals'),
    ])
    .where('deals.vendor_id', '=', vendorId)
    .orderBy('deals.created_at', 'desc')
    .execute();
}

export async function addStakeholder(
  db: DB,
  clock: Clock,
  linkTtlDays: number,
  vendorId: string,
  dealId: string,
  input: StakeholderInput,
) {
  await getDeal(db, vendorId, dealId);
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('stakeholders')
      .values({ id, vendor_id: vendorId, deal_id: dealId, name: input.name, email: input.email, role: input.role, delegated_by: null, created_at: clock.now(), invited_at: null })
      .onConflict((oc) => oc.columns(['vendor_id', 'deal_id', 'email']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) throw conflict('duplicate_stakeholder', `${input.email} is already a stakeholder on this deal.`);
    if (input.invite) {
      await issueLink(trx, clock, { vendorId, stakeholderId: id, recipient: input.email, ttlDays: linkTtlDays, reason: 'invite', replace: true });
    }
  });
  return id;
}

/** Latest answer of each stakeholder on each concern. */
export async function latestAnswers(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('signals')
    .select(['stakeholder_id', 'concern', 'verdict', 'kind', 'claim_revision', 'created_at', 'id'])
    .distinctOn(['stakeholder_id', 'concern'])
    .where('vendor_id', '=', vendorId)
    .where('deal_id', '=', dealId)
    .where('type', '=', 'answer')
    .orderBy('stakeholder_id')
    .orderBy('concern')
    .orderBy('id', 'desc')
    .execute();
}

export async function listSignals(db: Executor, vendorId: string, dealId: string) {
  return db
    .selectFrom('signals')
    .leftJoin('stakeholders', (j) =>
      j.onRef('stakeholders.id', '=', 'signals.stakeholder_id').onRef('stakeholders.vendor_id', '=', 'signals.vendor_id'),
    )
    .leftJoin('stakeholders as target', (j) =>
      j.onRef('target.id', '=', 'signals.target_stakeholder_id').onRef('target.vendor_id', '=', 'signals.vendor_id'),
    )
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
      'target.id as target_id',
      'target.name as target_name',
      'target.role as target_role',
      'actor.name as actor_name',
    ])
    .where('signals.vendor_id', '=', vendorId)
    .where('signals.deal_id', '=', dealId)
    .orderBy('signals.id', 'desc')
    .execute();
}

