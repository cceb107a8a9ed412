// The respondent's side: a personal link resolves to one stakeholder of one
// deal; each answer becomes an append-only signal.
import { sql } from 'kysely';
import { z } from 'zod';
import type { Clock } from '../lib/clock.js';
import { badRequest, conflict } from '../lib/errors.js';
import { hashToken, TOKEN_PATTERN } from '../lib/tokens.js';
import { paragraph, zodDetails } from '../lib/validate.js';
import type { DB } from '../db/index.js';
import type { CorrectionKind, FieldChange, Verdict } from '../db/schema.js';
import { claimSchema, diffClaim, getConcern } from '../concerns/index.js';
import type { ClaimValues } from '../concerns/types.js';
import { currentClaims, weekOfDeal } from '../deals/service.js';
import { dealOwner, queueDigest } from '../deals/digest.js';
import { enqueueMail, type Executor } from '../mail/outbox.js';

export const COMMENT_MAX = 2000;

export interface LinkContext {
  linkId: string;
  vendorId: string;
  vendorName: string;
  stakeholder: { id: string; name: string; role: string; email: string };
  deal: { id: string; buyerName: string; startedOn: string; stage: string };
}

/** Unknown, expired and revoked links all resolve to undefined: the caller cannot tell them apart. */
export async function resolveLink(db: DB, clock: Clock, token: string): Promise<LinkContext | undefined> {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  const row = await db
    .selectFrom('stakeholder_links as l')
    .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
    .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
    .innerJoin('vendors as v', 'v.id', 'l.vendor_id')
    .select([
      'l.id as link_id',
      'l.vendor_id',
      'v.name as vendor_name',
      's.id as stakeholder_id',
      's.name as stakeholder_name',
      's.role',
      's.email',
      'd.id as deal_id',
      'd.buyer_name',
      'd.started_on',
      'd.stage',
    ])
    .where('l.token_hash', '=', hashToken(token))
    .where('l.revoked_at', 'is', null)
    .where('l.expires_at', '>', clock.now())
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    linkId: row.link_id,
    vendorId: row.vendor_id,
    vendorName: row.vendor_name,
    stakeholder: { id: row.stakeholder_id, name: row.stakeholder_name, role: row.role, email: row.email },
    deal: { id: row.deal_id, buyerName: row.buyer_name, startedOn: row.started_on, stage: row.stage },
  };
}

const revision = z.coerce.number().int().positive().max(2_147_483_647).optional();

export const answerInput = z.discriminatedUnion('verdict', [
  z.object({ verdict: z.literal('confirm'), revision, comment: paragraph(COMMENT_MAX).optional() }),
  z.object({ verdict: z.literal('not_mine'), revision, comment: paragraph(COMMENT_MAX).optional() }),
  z.object({
    verdict: z.literal('correct'),
    revision,
    kind: z.enum(['factual_error', 'requirement_gap', 'not_applicable'], { message: 'choose what kind of correction this is' }),
    values: z.record(z.string(), z.unknown()),
    comment: paragraph(COMMENT_MAX).optional(),
  }),
], { error: () => ({ message: 'choose confirm, correct or not mine' }) });
export type AnswerInput = z.infer<typeof answerInput>;

/**
 * Records one answer as a signal. The corrected values are checked against
 * the catalogue and diffed against the claim the respondent saw. Sending the
 * same answer again (a double click, a retry) adds nothing.
 */
export async function recordAnswer(
  db: DB,
  clock: Clock,
  ctx: LinkContext,
  concernKey: string,
  input: AnswerInput,
  digestMinutes: number,
) {
  const concern = getConcern(concernKey);
  if (!concern) throw badRequest(`"${concernKey}" is not a known concern.`, [{ field: 'concern', message: 'is not a known concern' }]);

  return db.transaction().execute(async (trx) => {
    // Serialise answers of one stakeholder so the duplicate check below is reliable.
    await lockStakeholder(trx, ctx);
    const claim = (await currentClaims(trx, ctx.vendorId, ctx.deal.id)).find((c) => c.concern === concern.key);
    if (!claim) throw conflict('no_claim', 'This deal has no claim for that concern.');
    if (input.revision !== undefined && input.revision !== claim.revision) {
      throw conflict('claim_changed', 'The vendor changed this claim while you were answering. Please read the new claim and answer again.');
    }

    let changes: FieldChange[] = [];
    let kind: CorrectionKind | null = null;
    if (input.verdict === 'correct') {
      // A field left out of the correction keeps its claimed value.
      const given = Object.fromEntries(Object.entries(input.values).filter(([, v]) => v !== undefined));
      const corrected = claimSchema(concern).safeParse({ ...claim.claim, ...given });
      if (!corrected.success) {
        const details = zodDetails(corrected.error, 'values');
        throw badRequest(`Some corrected values are not valid: ${details.map((d) => `${d.field} (${d.message})`).join('; ')}`, details);
      }
      changes = diffClaim(concern, claim.claim, corrected.data as ClaimValues);
      kind = input.kind;
      if (changes.length === 0 && !input.comment) {
        throw badRequest('A correction needs at least one changed value or a comment saying what is wrong.', [
          { field: 'values', message: 'change at least one value, or explain in a comment' },
        ]);
      }
    }
    const comment = input.comment ? input.comment : null;
    const verdict: Verdict = input.verdict;

    const last = await trx
      .selectFrom('signals')
      .select(['id', 'verdict', 'kind', 'comment', 'changes', 'claim_revision'])
      .where('vendor_id', '=', ctx.vendorId)
      .where('deal_id', '=', ctx.deal.id)
      .where('stakeholder_id', '=', ctx.stakeholder.id)
      .where('concern', '=', concern.key)
      .where('type', '=', 'answer')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    if (
      last &&
      last.verdict === verdict &&
      last.kind === kind &&
      (last.comment ?? null) === comment &&
      last.claim_revision === claim.revision &&
      JSON.stringify(last.changes) === JSON.stringify(changes)
    ) {
      return { id: last.id, duplicate: true };
    }

    const now = clock.now();
    const row = await trx
      .insertInto('signals')
      .values({
        vendor_id: ctx.vendorId,
        deal_id: ctx.deal.id,
        stakeholder_id: ctx.stakeholder.id,
        type: 'answer',
        concern: concern.key,
        claim_revision: claim.revision,
        verdict,
        kind,
        comment,
        changes: JSON.stringify(changes),
        week: weekOfDeal(ctx.deal.startedOn, now),
        created_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (verdict === 'correct') await queueDigest(trx, clock, ctx.vendorId, ctx.deal.id, digestMinutes);
    return { id: row.id, duplicate: false };
  });
}

/** This stakeholder's latest answer per concern. */
export async function myAnswers(db: DB, ctx: LinkContext) {
  const rows = await db
    .selectFrom('signals')
    .select(['concern', 'verdict', 'kind', 'comment', 'changes', 'claim_revision', 'created_at'])
    .distinctOn('concern')
    .where('vendor_id', '=', ctx.vendorId)
    .where('deal_id', '=', ctx.deal.id)
    .where('stakeholder_id', '=', ctx.stakeholder.id)
    .where('type', '=', 'answer')
    .orderBy('concern')
    .orderBy('id', 'desc')
    .execute();
  return new Map(rows.map((r) => [r.concern!, r]));
}

/**
 * Someone whose link no longer works asks for a new one. When the link and
 * address belong together, the deal's owner is told (at most once a day per
 * person); either way the caller learns nothing.
 */
export async function requestNewLink(db: DB, clock: Clock, token: string, address: string): Promise<void> {
  if (!TOKEN_PATTERN.test(token)) return;
  const row = await db
    .selectFrom('stakeholder_links as l')
    .innerJoin('stakeholders as s', (j) => j.onRef('s.id', '=', 'l.stakeholder_id').onRef('s.vendor_id', '=', 'l.vendor_id'))
    .select(['s.id', 's.vendor_id', 's.deal_id', 's.email'])
    .where('l.token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.email !== address) return;
  const since = new Date(clock.now().getTime() - 86_400_000);
  const recent = await db
    .selectFrom('outbox')
    .select('id')
    .where('vendor_id', '=', row.vendor_id)
    .where('template', '=', 'link-request')
    .where(sql<boolean>`params->>'stakeholderId' = ${row.id}`)
    .where('created_at', '>', since)
    .executeTakeFirst();
  if (recent) return;
  const owner = await dealOwner(db, row.vendor_id, row.deal_id);
  if (!owner) return;
  await enqueueMail(db, clock, {
    template: 'link-request',
    recipient: owner.email,
    vendorId: row.vendor_id,
    params: { dealId: row.deal_id, stakeholderId: row.id },
  });
}

/** Locks the respondent's row for the rest of the transaction: their writes happen one at a time. */
export async function lockStakeholder(trx: Executor, ctx: LinkContext): Promise<void> {
  await trx.selectFrom('stakeholders').select('id').where('vendor_id', '=', ctx.vendorId).where('id', '=', ctx.stakeholder.id).forUpdate().execute();
}
