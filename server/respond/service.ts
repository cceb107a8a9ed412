// The respondent's answers. Each answer is checked against the catalogue,
// diffed against the claim the respondent saw, and recorded as an
// append-only signal; a correction queues the owner's digest. Sending the
// same answer again (a double click, a retry) adds nothing.
import { z } from 'zod';
import { transaction, type DB, type Executor } from '../db/index.js';
import type { CorrectionKind, Verdict } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { DomainError, invalid, type FieldProblem } from '../lib/errors.js';
import { paragraph, zodDetails } from '../lib/validate.js';
import { claimSchema, diffClaim, getConcern, sameChanges, type ClaimValues, type ConcernDef, type FieldChange } from '../concerns/index.js';
import { queueDigest } from '../deals/service.js';
import { recordAnswer as recordAnswerSignal } from '../signals/service.js';
import { resolveLinkWith, type LinkContext } from '../stakeholders/service.js';
import { isChampion } from '../rules.js';
import { enqueueMail } from '../mail/outbox.js';
import { CONCERNS } from '../concerns/index.js';
import * as repo from './repository.js';

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

/** A claim with a respondent's corrected values laid over it (a field left out keeps its claimed value), or what is wrong with them. */
export function correctedClaim(
  concern: ConcernDef,
  claim: ClaimValues,
  values: Record<string, unknown>,
): { ok: true; claim: ClaimValues } | { ok: false; problems: FieldProblem[] } {
  const given = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  const corrected = claimSchema(concern).safeParse({ ...claim, ...given });
  return corrected.success ? { ok: true, claim: corrected.data as ClaimValues } : { ok: false, problems: zodDetails(corrected.error, 'values') };
}

/**
 * Saves an answer given through a link, in one transaction of three
 * statements: the link (which locks the respondent's row and reads the
 * concern's claim and their last answer), the answer, the commit. Resolves
 * to the link's context, or undefined when the link does not work.
 */
export async function saveAnswer(db: DB, clock: Clock, token: string, concernKey: string, input: AnswerInput, digestMinutes: number) {
  const concern = getConcern(concernKey);
  if (!concern) throw invalid(`"${concernKey}" is not a known concern.`, [{ field: 'concern', message: 'is not a known concern' }]);
  return transaction(db, async (trx) => {
    const found = await resolveLinkWith(trx, clock, token, { ...repo.ANSWER_BASIS_OF_LINK, params: [concern.key] });
    if (!found) return undefined;
    if (isChampion(found.ctx.stakeholder.role)) throw new DomainError('champion_read_only', 'The champion’s page is read-only.');
    await recordAnswer(trx, clock, found.ctx, concern, found.extra, input, digestMinutes);
    return found.ctx;
  });
}

async function recordAnswer(trx: Executor, clock: Clock, ctx: LinkContext, concern: ConcernDef, basis: repo.AnswerBasis, input: AnswerInput, digestMinutes: number) {
  const claim = basis.claim;
  if (!claim) throw new DomainError('no_claim', 'This deal has no claim for that concern.');
  if (input.revision !== undefined && input.revision !== claim.revision) {
    throw new DomainError('claim_changed', 'The vendor changed this claim while you were answering. Please read the new claim and answer again.');
  }

  let changes: FieldChange[] = [];
  let kind: CorrectionKind | null = null;
  if (input.verdict === 'correct') {
    const corrected = correctedClaim(concern, claim.claim, input.values);
    if (!corrected.ok) throw invalid(`Some corrected values are not valid: ${corrected.problems.map((d) => `${d.field} (${d.message})`).join('; ')}`, corrected.problems);
    changes = diffClaim(concern, claim.claim, corrected.claim);
    kind = input.kind;
    if (changes.length === 0 && !input.comment) {
      throw invalid('A correction needs at least one changed value or a comment saying what is wrong.', [
        { field: 'values', message: 'change at least one value, or explain in a comment' },
      ]);
    }
  }
  const comment = input.comment ? input.comment : null;
  const verdict: Verdict = input.verdict;

  const last = basis.last;
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

  const id = await recordAnswerSignal(
    trx,
    clock,
    { vendorId: ctx.vendorId, dealId: ctx.deal.id, startedOn: ctx.deal.startedOn },
    { stakeholderId: ctx.stakeholder.id, concern: concern.key, claimRevision: claim.revision, verdict, kind, comment, changes },
  );
  // An identical answer committed while this one waited for the person's lock: nothing new to say.
  if (id === undefined) return { id: last?.id, duplicate: true };
  // The owner's digest carries only corrections that count; someone awaiting confirmation is seen on the deal page.
  if (verdict === 'correct' && ctx.stakeholder.counts) await queueDigest(trx, clock, ctx.vendorId, ctx.deal.id, digestMinutes);
  return { id, duplicate: false };
}

/** What a respondent's pages show: the current claims (catalogue order), their latest answers, and hand-overs. */
export interface RespondentPage {
  claims: { concern: string; revision: number; claim: ClaimValues; narrative: string }[];
  answers: Map<string, RespondentAnswer>;
  handovers: { toMe: Map<string, string>; fromMe: Map<string, string> };
}

export interface RespondentAnswer {
  id: number;
  verdict: Verdict;
  kind: CorrectionKind | null;
  comment: string | null;
  changes: FieldChange[];
  claim_revision: number;
  created_at: Date;
  /** The claim as it stood when they answered. */
  answeredClaim: ClaimValues | null;
}

/** Everything a respondent's pages show, in one database round trip. */
export async function loadRespondentPage(db: Executor, ctx: LinkContext): Promise<RespondentPage> {
  return loadPageOf(db, ctx.vendorId, ctx.deal.id, ctx.stakeholder.id);
}

/** The same, for a person known by id (the receipt mail). */
export async function loadPageOf(db: Executor, vendorId: string, dealId: string, stakeholderId: string): Promise<RespondentPage> {
  return respondentPage(stakeholderId, await repo.respondentPageRows(db, vendorId, dealId, stakeholderId));
}

/** A link and its page's data, in one query; undefined when the link does not work. */
export async function resolveLinkAndPage(db: Executor, clock: Clock, token: string): Promise<{ ctx: LinkContext; page: RespondentPage } | undefined> {
  const found = await resolveLinkWith(db, clock, token, repo.PAGE_DATA_OF_LINK);
  return found && { ctx: found.ctx, page: respondentPage(found.ctx.stakeholder.id, found.extra) };
}

function respondentPage(stakeholderId: string, rows: repo.PageRows): RespondentPage {
  const byKey = new Map(rows.claims.map((c) => [c.concern, c]));
  const answers = new Map<string, RespondentAnswer>();
  for (const a of rows.answers) {
    answers.set(a.concern, { ...a, id: Number(a.id), created_at: new Date(a.created_at), answeredClaim: a.answered_claim });
  }
  const toMe = new Map<string, string>();
  const fromMe = new Map<string, string>();
  for (const h of rows.handovers) {
    if (h.target_stakeholder_id === stakeholderId) toMe.set(h.concern, h.from_name);
    else fromMe.set(h.concern, h.to_name);
  }
  return { claims: CONCERNS.filter((c) => byKey.has(c.key)).map((c) => byKey.get(c.key)!), answers, handovers: { toMe, fromMe } };
}

/** Queues a receipt of this person's own answers, sent to their own address. */
export async function queueReceipt(db: Executor, clock: Clock, ctx: LinkContext): Promise<void> {
  await enqueueMail(db, clock, {
    vendorId: ctx.vendorId,
    template: 'receipt',
    recipient: ctx.stakeholder.email,
    params: { stakeholderId: ctx.stakeholder.id, dealId: ctx.deal.id },
  });
}
