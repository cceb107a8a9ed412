// The respondent's answers. Each answer is checked against the catalogue,
// diffed against the claim the respondent saw, and recorded as an
// append-only signal; a correction queues the owner's digest. Sending the
// same answer again (a double click, a retry) adds nothing.
import { z } from 'zod';
import type { Executor } from '../db/index.js';
import type { CorrectionKind, Verdict } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { DomainError, invalid } from '../lib/errors.js';
import { paragraph, zodDetails } from '../lib/validate.js';
import { claimSchema, diffClaim, getConcern, sameChanges, type ClaimValues, type FieldChange } from '../concerns/index.js';
import { currentClaims, queueDigest } from '../deals/service.js';
import { lastAnswerOn, recordSignals } from '../signals/service.js';
import { lockRespondent, type LinkContext } from '../stakeholders/service.js';

export const COMMENT_MAX = 2000;

const revision = z.coerce.number().int().positive().max(2_147_483_647).optional();

export const answerInput = z.discriminatedUnion(
  'verdict',
  [
    z.object({ verdict: z.literal('confirm'), revision, comment: paragraph(COMMENT_MAX).optional() }),
    z.object({ verdict: z.literal('not_mine'), revision, comment: paragraph(COMMENT_MAX).optional() }),
    z.object({
      verdict: z.literal('correct'),
      revision,
      kind: z.enum(['factual_error', 'requirement_gap', 'not_applicable'], { message: 'choose what kind of correction this is' }),
      values: z.record(z.string(), z.unknown()),
      comment: paragraph(COMMENT_MAX).optional(),
    }),
  ],
  { error: () => ({ message: 'choose confirm, correct or not mine' }) },
);
export type AnswerInput = z.infer<typeof answerInput>;

export async function recordAnswer(trx: Executor, clock: Clock, ctx: LinkContext, concernKey: string, input: AnswerInput, digestMinutes: number) {
  const concern = getConcern(concernKey);
  if (!concern) throw invalid(`"${concernKey}" is not a known concern.`, [{ field: 'concern', message: 'is not a known concern' }]);

  // Serialise answers of one stakeholder so the duplicate check below is reliable.
  await lockRespondent(trx, ctx);
  const claim = (await currentClaims(trx, ctx.vendorId, ctx.deal.id)).find((c) => c.concern === concern.key);
  if (!claim) throw new DomainError('no_claim', 'This deal has no claim for that concern.');
  if (input.revision !== undefined && input.revision !== claim.revision) {
    throw new DomainError('claim_changed', 'The vendor changed this claim while you were answering. Please read the new claim and answer again.');
  }

  let changes: FieldChange[] = [];
  let kind: CorrectionKind | null = null;
  if (input.verdict === 'correct') {
    // A field left out of the correction keeps its claimed value.
    const given = Object.fromEntries(Object.entries(input.values).filter(([, v]) => v !== undefined));
    const corrected = claimSchema(concern).safeParse({ ...claim.claim, ...given });
    if (!corrected.success) {
      const details = zodDetails(corrected.error, 'values');
      throw invalid(`Some corrected values are not valid: ${details.map((d) => `${d.field} (${d.message})`).join('; ')}`, details);
    }
    changes = diffClaim(concern, claim.claim, corrected.data as ClaimValues);
    kind = input.kind;
    if (changes.length === 0 && !input.comment) {
      throw invalid('A correction needs at least one changed value or a comment saying what is wrong.', [
        { field: 'values', message: 'change at least one value, or explain in a comment' },
      ]);
    }
  }
  const comment = input.comment ? input.comment : null;
  const verdict: Verdict = input.verdict;

  const last = await lastAnswerOn(trx, ctx.vendorId, ctx.deal.id, ctx.stakeholder.id, concern.key);
  if (
    last &&
    last.verdict === verdict &&
    last.kind === kind &&
    (last.comment ?? null) === comment &&
    last.claim_revision === claim.revision &&
    sameChanges(last.changes, changes)
  ) {
    return { id: last.id, duplicate: true };
  }

  const [id] = await recordSignals(trx, clock, { vendorId: ctx.vendorId, dealId: ctx.deal.id, startedOn: ctx.deal.startedOn }, [
    { type: 'answer', stakeholderId: ctx.stakeholder.id, concern: concern.key, claimRevision: claim.revision, verdict, kind, comment, changes },
  ]);
  // The owner's digest carries only corrections that count; someone awaiting confirmation is seen on the deal page.
  if (verdict === 'correct' && ctx.stakeholder.counts) await queueDigest(trx, clock, ctx.vendorId, ctx.deal.id, digestMinutes);
  return { id, duplicate: false };
}
