// What the vendor does to a running deal: personal links (send, resend,
// revoke, extend), reminders, stages behind the alignment checkpoint, and
// changes to a claim after people have answered it. Every statement is
// scoped by vendor_id; each change worth remembering is a signal.
import { z } from 'zod';
import type { Clock } from '../lib/clock.js';
import { DAY } from '../lib/clock.js';
import { AppError, notFound } from '../lib/errors.js';
import { invalidInput, paragraph, zodDetails } from '../lib/validate.js';
import type { DB } from '../db/index.js';
import { DEAL_STAGES, type DealStage } from '../db/schema.js';
import type { Executor } from '../mail/outbox.js';
import { issueLink, revokeAllLinks } from './links.js';
import { sql } from 'kysely';
import { claimSchema, diffClaim, getConcern, partialClaimSchema } from '../concerns/index.js';
import type { ClaimValues } from '../concerns/types.js';
import { currentClaims, getDeal, weekOfDeal } from './service.js';
import { computeTracking, loadTracking } from './tracking.js';

async function stakeholderOf(db: Executor, vendorId: string, dealId: string, stakeholderId: string) {
  await getDeal(db, vendorId, dealId);
  const s = z.uuid().safeParse(stakeholderId).success
    ? await db
        .selectFrom('stakeholders')
        .selectAll()
        .where('vendor_id', '=', vendorId)
        .where('deal_id', '=', dealId)
        .where('id', '=', stakeholderId)
        .executeTakeFirst()
    : undefined;
  if (!s) throw notFound('That stakeholder');
  return s;
}

/** A new link by mail; every earlier link of this person stops working. */
export async function resendLink(db: DB, clock: Clock, ttlDays: number, vendorId: string, dealId: string, stakeholderId: string) {
  await db.transaction().execute(async (trx) => {
    const s = await stakeholderOf(trx, vendorId, dealId, stakeholderId);
    await issueLink(trx, clock, { vendorId, stakeholderId: s.id, recipient: s.email, ttlDays, reason: 'invite', replace: true });
  });
}

/** Every link of this person stops working; reminders stop with them. */
export async function revokeLinks(db: DB, clock: Clock, vendorId: string, dealId: string, stakeholderId: string) {
  const s = await stakeholderOf(db, vendorId, dealId, stakeholderId);
  await revokeAllLinks(db, clock.now(), vendorId, s.id);
}

export const extendInput = z.object({ days: z.coerce.number().int().min(1).max(365).optional() });

/** Links not revoked (expired ones included) work at least `days` more from now; none is shortened. */
export async function extendLinks(db: DB, clock: Clock, vendorId: string, dealId: string, stakeholderId: string, days: number) {
  const s = await stakeholderOf(db, vendorId, dealId, stakeholderId);
  const r = await db
    .updateTable('stakeholder_links')
    .set({ expires_at: sql<Date>`greatest(expires_at, ${new Date(clock.now().getTime() + days * DAY)})` })
    .where('vendor_id', '=', vendorId)
    .where('stakeholder_id', '=', s.id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) {
    throw new AppError(409, 'no_link', 'This person has no link to extend. Send them a new one instead.');
  }
}

export async function setStakeholderReminders(db: DB, vendorId: string, dealId: string, stakeholderId: string, paused: boolean) {
  const s = await stakeholderOf(db, vendorId, dealId, stakeholderId);
  await db.updateTable('stakeholders').set({ reminders_paused: paused }).where('vendor_id', '=', vendorId).where('id', '=', s.id).execute();
}

export const dealSettingsInput = z.object({
  reminders_paused: z.boolean().optional(),
  share_corrections: z.boolean().optional(),
  reminder_days: z
    .array(z.number().int().min(1).max(90))
    .max(3, 'at most 3 reminders')
    .refine((d) => d.every((v, i) => i === 0 || v > d[i - 1]), 'must be in increasing order')
    .optional(),
});
export type DealSettings = z.infer<typeof dealSettingsInput>;

export async function updateDealSettings(db: DB, vendorId: string, dealId: string, settings: DealSettings) {
  await getDeal(db, vendorId, dealId);
  if (Object.keys(settings).length === 0) return;
  await db.updateTable('deals').set(settings).where('vendor_id', '=', vendorId).where('id', '=', dealId).execute();
}

export const stageInput = z.object({
  stage: z.enum(DEAL_STAGES as [DealStage, ...DealStage[]], { message: `must be one of ${DEAL_STAGES.join(', ')}` }),
  override_reason: paragraph(1000).optional(),
});

/** Stages that need the alignment checkpoint passed (or overridden with a reason). */
const GATED: readonly DealStage[] = ['negotiation', 'closed_won'];

/**
 * Moves a deal to another stage. Into negotiation (or straight to won) only
 * when security has substantively answered every concern, or with a written
 * override, which is recorded as a signal.
 */
export async function changeStage(
  db: DB,
  clock: Clock,
  vendorId: string,
  dealId: string,
  userId: string | null,
  input: z.infer<typeof stageInput>,
) {
  const deal = await getDeal(db, vendorId, dealId);
  if (deal.stage === input.stage) return { stage: deal.stage, overridden: false };
  const tracking = computeTracking((await loadTracking(db, vendorId, [deal])).get(dealId)!);
  const reason = input.override_reason?.trim() || undefined;
  const needsOverride = GATED.includes(input.stage) && tracking.checkpoint.state === 'open';
  if (needsOverride && !reason) {
    throw new AppError(
      409,
      'checkpoint_open',
      `Security has not yet confirmed or corrected every concern: ${tracking.checkpoint.gaps.map((g) => g.title).join(', ')}. Wait for their answers, or override with a written reason.`,
      tracking.checkpoint.gaps,
    );
  }
  const now = clock.now();
  const week = weekOfDeal(deal.started_on, now);
  await db.transaction().execute(async (trx) => {
    const moved = await trx
      .updateTable('deals')
      .set({ stage: input.stage })
      .where('vendor_id', '=', vendorId)
      .where('id', '=', dealId)
      .where('stage', '=', deal.stage)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) throw new AppError(409, 'stage_changed', 'Someone else changed the stage just now. Reload and try again.');
    const base = { vendor_id: vendorId, deal_id: dealId, stakeholder_id: null, actor_user_id: userId, week, created_at: now };
    if (needsOverride) {
      await trx
        .insertInto('signals')
        .values({ ...base, type: 'checkpoint_override', concern: null, claim_revision: null, verdict: null, kind: null, comment: reason!, changes: JSON.stringify([]) })
        .execute();
    }
    await trx
      .insertInto('signals')
      .values({ ...base, type: 'stage_change', concern: null, claim_revision: null, verdict: null, kind: null, comment: null, changes: JSON.stringify([{ field: 'stage', claimed: deal.stage, corrected: input.stage }]) })
      .execute();
  });
  return { stage: input.stage, overridden: needsOverride };
}

/**
 * Changes this deal's claim on one concern. Answers given to the old claim
 * become stale (respondents are asked to look again), and the change is
 * recorded as a signal with the old and new values.
 */
export async function changeClaim(
  db: DB,
  clock: Clock,
  vendorId: string,
  dealId: string,
  userId: string | null,
  concernKey: string,
  fields: unknown,
) {
  const concern = getConcern(concernKey);
  if (!concern) throw notFound('That concern');
  const deal = await getDeal(db, vendorId, dealId);
  const partial = partialClaimSchema(concern).safeParse(fields ?? {});
  if (!partial.success) throw invalidInput('claim', zodDetails(partial.error));
  return db.transaction().execute(async (trx) => {
    // Lock the deal so two edits cannot both become revision n + 1.
    await trx.selectFrom('deals').select('id').where('vendor_id', '=', vendorId).where('id', '=', dealId).forUpdate().execute();
    const current = (await currentClaims(trx, vendorId, dealId)).find((c) => c.concern === concern.key)!;
    const given = Object.fromEntries(Object.entries(partial.data).filter(([, v]) => v !== undefined));
    const next = claimSchema(concern).parse({ ...current.claim, ...given }) as ClaimValues;
    const changes = diffClaim(concern, current.claim, next);
    if (changes.length === 0) return { revision: current.revision, changes };
    const now = clock.now();
    const revision = current.revision + 1;
    await trx
      .insertInto('deal_claims')
      .values({ vendor_id: vendorId, deal_id: dealId, concern: concern.key, revision, claim: JSON.stringify(next), narrative: current.narrative, tailored: true, created_at: now })
      .execute();
    await trx
      .insertInto('signals')
      .values({
        vendor_id: vendorId,
        deal_id: dealId,
        stakeholder_id: null,
        actor_user_id: userId,
        type: 'claim_change',
        concern: concern.key,
        claim_revision: revision,
        verdict: null,
        kind: null,
        comment: null,
        changes: JSON.stringify(changes),
        week: weekOfDeal(deal.started_on, now),
        created_at: now,
      })
      .execute();
    return { revision, changes };
  });
}

