// The rules of a deal: opening one from a published profile (with tailoring),
// its current claims, changing a claim, its settings, and moving it through
// the stages behind the alignment checkpoint. Callers pass the transaction.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DB, Executor } from '../db/index.js';
import type { ProfileClaims, Verdict } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { MINUTE } from '../lib/clock.js';
import { DomainError, invalid, notFound } from '../lib/errors.js';
import { domain, email, invalidInput, isoDate, name, pageLimit, paragraph, todayIso, uuid, zodDetails } from '../lib/validate.js';
import {
  CONCERNS,
  CONCERN_KEYS,
  REGIONS,
  claimSchema,
  diffClaim,
  getConcern,
  getField,
  partialClaimSchema,
  sameValue,
  type ClaimValues,
  type FieldChange,
} from '../concerns/index.js';
import { atLeast, DEAL_STAGES, INDUSTRIES, STAKEHOLDER_ROLES, isChampion, isClosed, isGated } from '../rules.js';
import { getVersion, listVersions } from '../profiles/service.js';
import { enqueueDigest } from '../mail/outbox.js';
import { recordSignals } from '../signals/service.js';
import { enqueueWebhooks } from '../webhooks/service.js';
import { computeDealState, DEAL_SORTS, freshenDeals, pageDeals, stageCounts, touchDeal, type DealFilter, type DealSort } from '../readmodel/service.js';
import { beforeAfter, memberOf, recordAudit, type Actor } from '../audit/service.js';
import * as repo from './repository.js';

// A deal's buyer segment: the buyer's industry (rules.INDUSTRIES) and region (the catalogue's REGIONS).
const REGION_VALUES = REGIONS.map((r) => r.value) as [string, ...string[]];
const industry = z.enum(INDUSTRIES, { message: `must be one of ${INDUSTRIES.join(', ')}` });
const region = z.enum(REGION_VALUES, { message: `must be one of ${REGION_VALUES.join(', ')}` });

export const dealInput = z.object({
  buyer_name: name(120),
  buyer_domain: domain.optional(),
  started_on: isoDate.optional(),
  profile_version: z.coerce.number().int().positive().max(2_147_483_647).optional(),
  overrides: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  industry: industry.optional(),
  region: region.optional(),
});
export type DealInput = z.infer<typeof dealInput>;

export const stakeholderInput = z.object({
  name: name(120),
  email,
  role: z.enum(STAKEHOLDER_ROLES, { message: `must be one of ${STAKEHOLDER_ROLES.join(', ')}` }),
  invite: z.boolean().default(true),
});
export type StakeholderInput = z.infer<typeof stakeholderInput>;

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

/** A change of the buyer segment: a value sets it, null clears it, an absent key leaves it. */
export const dealSegmentInput = z.object({
  industry: industry.nullable().optional(),
  region: region.nullable().optional(),
});
export type DealSegment = z.infer<typeof dealSegmentInput>;

/** Hands a deal to another member: its digests, renewal requests and invitation replies go to them. */
export const dealOwnerInput = z.object({ owner_id: z.uuid({ message: 'must be the id of a member of the workspace' }) });

/** What PATCH /api/v1/deals/{id} takes: the settings, the segment and the owner. */
export const dealPatchInput = dealSettingsInput.extend(dealSegmentInput.shape).extend({ owner_id: dealOwnerInput.shape.owner_id.optional() }).strict();

export const stageInput = z.object({
  stage: z.enum(DEAL_STAGES, { message: `must be one of ${DEAL_STAGES.join(', ')}` }),
  override_reason: paragraph(1000).optional(),
});

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
    const changed = Object.fromEntries(Object.entries(parsed.data as ClaimValues).filter(([f, v]) => v !== undefined && !sameValue(v, base[key].values[f])));
    if (Object.keys(changed).length) clean[key] = changed;
  }
  if (problems.length) throw invalidInput('tailoring', problems);
  return clean;
}

/** The trail's name for a deal: its buyer, as named at the time. */
const dealTarget = (deal: { id: string; buyer_name: string }) => ({ type: 'deal', id: deal.id, name: deal.buyer_name });

/**
 * Opens a deal for the actor's workspace, created and owned by `userId` (the member who acts; through an API
 * key, the key's creator); the audit trail records it with what it was opened with.
 */
export async function createDeal(trx: Executor, clock: Clock, actor: Actor, userId: string | null, input: DealInput) {
  const { vendorId } = actor;
  const versions = await listVersions(trx, vendorId);
  if (versions.length === 0) {
    throw new DomainError('no_published_profile', 'Publish your posture profile before opening a deal: a deal puts a published version in front of the buyer.');
  }
  const versionNumber = input.profile_version ?? versions[0].version;
  const version = await getVersion(trx, vendorId, versionNumber);
  if (!version) {
    throw new DomainError('invalid_input', `Profile version ${versionNumber} does not exist.`, [{ field: 'profile_version', message: 'is not a published version' }]);
  }
  const overrides = validateOverrides(version.claims, input.overrides);
  // Every claim put in front of a buyer is complete and valid, whatever was tailored.
  const claims = Object.fromEntries(CONCERNS.map((c) => [c.key, claimSchema(c).parse({ ...version.claims[c.key].values, ...overrides[c.key] })]));
  const now = clock.now();
  const id = randomUUID();
  // What the deal is opened with, as stored and as audited.
  const opened = {
    buyer_name: input.buyer_name,
    buyer_domain: input.buyer_domain ?? null,
    started_on: input.started_on ?? todayIso(now),
    profile_version: versionNumber,
    industry: input.industry ?? null,
    region: input.region ?? null,
  };
  await repo.insertDeal(trx, {
    id,
    vendor_id: vendorId,
    ...opened,
    created_by: userId,
    // Its creator owns it; a deal opened through a key whose creator is gone goes to the workspace's first owner.
    owner_id: userId ?? (await repo.firstOwnerId(trx, vendorId)),
    created_at: now,
  });
  await repo.insertClaims(
    trx,
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
  );
  await touchDeal(trx, vendorId, id);
  await recordAudit(trx, clock, actor, {
    action: 'deal.created',
    target: dealTarget({ id, buyer_name: input.buyer_name }),
    changes: { ...opened, tailored: Object.keys(overrides) },
  });
  return id;
}

export async function getDeal(db: Executor, vendorId: string, dealId: string) {
  const deal = uuid.safeParse(dealId).success ? await repo.findDeal(db, vendorId, dealId) : undefined;
  if (!deal) throw notFound('That deal');
  return deal;
}
export type Deal = Awaited<ReturnType<typeof getDeal>>;

export interface CurrentClaim {
  concern: string;
  revision: number;
  claim: ClaimValues;
  narrative: string;
  tailored: boolean;
}

/** The newest revision of each concern's claim for a deal, in catalogue order. */
export async function currentClaims(db: Executor, vendorId: string, dealId: string): Promise<CurrentClaim[]> {
  const byKey = new Map((await repo.latestClaims(db, vendorId, dealId)).map((r) => [r.concern, r]));
  return CONCERNS.filter((c) => byKey.has(c.key)).map((c) => byKey.get(c.key)!);
}

export const listDeals = repo.listDeals;
export const dealOwner = repo.dealOwner;

/**
 * Changes a deal's settings, buyer segment or owner (keys left out stay as
 * they are). The read model keeps a copy of the segment, so a segment change
 * refreshes the deal; the audit trail records each value before and after
 * (deal.updated; a new owner, deal.reassigned): pass the transaction.
 */
export async function updateDealSettings(trx: Executor, clock: Clock, actor: Actor, dealId: string, settings: DealSettings & DealSegment & { owner_id?: string }) {
  const { vendorId } = actor;
  await getDeal(trx, vendorId, dealId);
  // Locked, so what the trail records as before is what this change replaced.
  await repo.lockDeal(trx, vendorId, dealId);
  const deal = await getDeal(trx, vendorId, dealId);
  const changes = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as DealSettings & DealSegment & { owner_id?: string };
  if (Object.keys(changes).length === 0) return;
  if (changes.owner_id !== undefined) await checkDealOwner(trx, vendorId, changes.owner_id);
  await repo.updateDeal(trx, vendorId, dealId, changes);
  if ('industry' in changes || 'region' in changes) await touchDeal(trx, vendorId, dealId);
  const { owner_id: owner, ...rest } = beforeAfter(deal, changes);
  if (Object.keys(rest).length > 0) await recordAudit(trx, clock, actor, { action: 'deal.updated', target: dealTarget(deal), changes: rest });
  if (owner) {
    const names = new Map((await repo.workspaceMembers(trx, vendorId)).map((m) => [m.id, m.name]));
    await recordAudit(trx, clock, actor, {
      action: 'deal.reassigned',
      target: dealTarget(deal),
      changes: { owner: { before: names.get(deal.owner_id) ?? null, after: names.get(changes.owner_id!) ?? null }, owner_id: owner },
    });
  }
}

/** A deal's owner must be a member of its workspace who may change deals (not a viewer). */
async function checkDealOwner(db: Executor, vendorId: string, userId: string): Promise<void> {
  const role = await repo.memberRole(db, vendorId, userId);
  if (!role || !atLeast(role, 'member')) {
    throw invalid('A deal’s owner must be a member of this workspace who can run deals (a viewer cannot own one).', [
      { field: 'owner_id', message: 'must be a member of the workspace who is not a viewer' },
    ]);
  }
}

/** Every member of the workspace (for the owner filter: a viewer may once have owned deals). */
export async function workspaceMembers(db: Executor, vendorId: string) {
  return repo.workspaceMembers(db, vendorId);
}

/**
 * Moves a deal to another stage. Into a gated stage only when security has
 * substantively answered every concern, or with a written override, which is
 * recorded as a signal.
 */
export async function changeStage(trx: Executor, clock: Clock, actor: Actor, dealId: string, input: z.infer<typeof stageInput>) {
  const { vendorId } = actor;
  const userId = memberOf(actor);
  const deal = await getDeal(trx, vendorId, dealId);
  if (deal.stage === input.stage) return { stage: deal.stage, overridden: false };
  // Computed afresh from the source tables inside this transaction: the gate must not trust a read of the read model.
  const { tracking } = (await computeDealState(trx, vendorId, dealId))!;
  const reason = input.override_reason?.trim() || undefined;
  const needsOverride = isGated(input.stage) && tracking.checkpoint.state === 'open';
  if (needsOverride && !reason) {
    throw new DomainError(
      'checkpoint_open',
      `Security has not yet confirmed or corrected every concern: ${tracking.checkpoint.gaps.map((g) => g.title).join(', ')}. Wait for their answers, or override with a written reason.`,
      tracking.checkpoint.gaps,
    );
  }
  // The first move through the gate records how the checkpoint stood: insight sets outcomes against it.
  const gate = isGated(input.stage) && !deal.gate_checkpoint ? (needsOverride ? 'overridden' : 'ready') : undefined;
  if (!(await repo.moveStage(trx, vendorId, dealId, deal.stage, input.stage, gate))) {
    throw new DomainError('stage_changed', 'Someone else changed the stage just now. Reload and try again.');
  }
  const at = { vendorId, dealId, startedOn: deal.started_on };
  await recordSignals(trx, clock, at, [
    ...(needsOverride ? [{ type: 'checkpoint_override' as const, actorUserId: userId, comment: reason! }] : []),
    { type: 'stage_change', actorUserId: userId, changes: [{ field: 'stage', claimed: deal.stage, corrected: input.stage }] },
  ]);
  await enqueueWebhooks(trx, clock, vendorId, [
    { type: 'deal.stage_changed', dealId, stage: { from: deal.stage, to: input.stage, overridden: needsOverride, override_reason: needsOverride ? reason! : null } },
  ]);
  await recordAudit(trx, clock, actor, {
    action: 'deal.stage_changed',
    target: dealTarget(deal),
    changes: { stage: { before: deal.stage, after: input.stage }, overridden: needsOverride, ...(needsOverride ? { override_reason: reason! } : {}) },
  });
  return { stage: input.stage, overridden: needsOverride };
}

/**
 * Changes this deal's claim on one concern. Answers given to the old claim
 * become stale (respondents are asked to look again), and the change is
 * recorded as a signal with the old and new values.
 */
export async function changeClaim(
  trx: Executor,
  clock: Clock,
  actor: Actor,
  dealId: string,
  concernKey: string,
  fields: unknown,
): Promise<{ revision: number; changes: FieldChange[] }> {
  const { vendorId } = actor;
  const userId = memberOf(actor);
  const concern = getConcern(concernKey);
  if (!concern) throw notFound('That concern');
  const deal = await getDeal(trx, vendorId, dealId);
  const partial = partialClaimSchema(concern).safeParse(fields ?? {});
  if (!partial.success) throw invalidInput('claim', zodDetails(partial.error));
  // Lock the deal so two edits cannot both become revision n + 1.
  await repo.lockDeal(trx, vendorId, dealId);
  const current = (await currentClaims(trx, vendorId, dealId)).find((c) => c.concern === concern.key)!;
  const given = Object.fromEntries(Object.entries(partial.data).filter(([, v]) => v !== undefined));
  const next = claimSchema(concern).parse({ ...current.claim, ...given }) as ClaimValues;
  const changes = diffClaim(concern, current.claim, next);
  if (changes.length === 0) return { revision: current.revision, changes };
  const revision = current.revision + 1;
  await repo.insertClaims(trx, [
    { vendor_id: vendorId, deal_id: dealId, concern: concern.key, revision, claim: JSON.stringify(next), narrative: current.narrative, tailored: true, created_at: clock.now() },
  ]);
  await recordSignals(trx, clock, { vendorId, dealId, startedOn: deal.started_on }, [
    { type: 'claim_change', actorUserId: userId, concern: concern.key, claimRevision: revision, changes },
  ]);
  await askAgain(trx, clock, deal, concern.key, revision);
  await recordAudit(trx, clock, actor, {
    action: 'claim.changed',
    target: dealTarget(deal),
    changes: { concern: concern.key, revision, fields: Object.fromEntries(changes.map((c) => [c.field, { before: c.claimed, after: c.corrected }])) },
  });
  return { revision, changes };
}

/** Answers given to an older claim that are asked again when it changes; "not mine" is not. */
export const ASKED_AGAIN: readonly Verdict[] = ['confirm', 'correct'];

/** How long a claim-changed mail waits to gather a burst of claim changes (the vendor editing concern after concern). */
export const CLAIM_CHANGE_GATHER_MINUTES = 5;

/**
 * Asks again the people who confirmed or corrected an older revision of this
 * concern's claim: each gets one claim-changed mail, due a few minutes later,
 * unless one is already waiting for them (a burst of changes joins it). The
 * mail's composer (deals/mails.claimChangedMail) works out, when it is sent,
 * what is still stale. Called by changeClaim, which holds the deal's row lock,
 * so the check for a waiting mail and the insert cannot race another change.
 */
async function askAgain(trx: Executor, clock: Clock, deal: Deal, concern: string, revision: number) {
  if (isClosed(deal.stage)) return;
  const now = clock.now();
  const people = (await repo.peopleToAskAgain(trx, deal.vendor_id, deal.id, concern, revision, ASKED_AGAIN, now)).filter((p) => !isChampion(p.role));
  await repo.insertClaimChangedMails(trx, deal.vendor_id, people, now, new Date(now.getTime() + CLAIM_CHANGE_GATHER_MINUTES * MINUTE));
}

/**
 * For each given concern answered at a revision older than its current claim,
 * the field changes from the claim as answered to the current one, in
 * catalogue order (one query for the old revisions). Concerns answered at the
 * current revision, unknown concerns and unknown revisions are left out; an
 * empty list means the claim changed and came back to what was answered.
 */
export async function staleChangesOf(
  db: Executor,
  vendorId: string,
  dealId: string,
  answered: readonly { concern: string; revision: number }[],
): Promise<Map<string, FieldChange[]>> {
  const stale = new Map<string, number>();
  const current = await currentClaims(db, vendorId, dealId);
  for (const claim of current) {
    const a = answered.find((x) => x.concern === claim.concern);
    if (a && Number.isInteger(a.revision) && a.revision < claim.revision) stale.set(claim.concern, a.revision);
  }
  if (stale.size === 0) return new Map();
  const old = await repo.claimsAt(
    db,
    vendorId,
    dealId,
    [...stale].map(([concern, revision]) => ({ concern, revision })),
  );
  const changes = new Map<string, FieldChange[]>();
  for (const claim of current) {
    const before = old.find((o) => o.concern === claim.concern && o.revision === stale.get(claim.concern));
    const concern = getConcern(claim.concern);
    if (before && concern) changes.set(claim.concern, diffClaim(concern, before.claim, claim.claim));
  }
  return changes;
}

/** How long a digest waits to gather a burst of corrections. */
const GATHER_MINUTES = 5;

/**
 * The deal owner hears about corrections as they arrive, batched: a burst of
 * answers joins the one digest already waiting for the deal, and a deal gets
 * at most one digest per interval. Called in the transaction that records a correction.
 */
export async function queueDigest(trx: Executor, clock: Clock, vendorId: string, dealId: string, intervalMinutes: number) {
  const owner = await repo.dealOwner(trx, vendorId, dealId);
  if (!owner) return;
  const deal = await getDeal(trx, vendorId, dealId);
  const now = clock.now();
  // Wait a little to gather a burst (someone answering concern after concern),
  // and never sooner than one interval after the last digest.
  const gather = new Date(now.getTime() + Math.min(GATHER_MINUTES, intervalMinutes) * MINUTE);
  const spaced = deal.digest_sent_at ? new Date(deal.digest_sent_at.getTime() + intervalMinutes * MINUTE) : gather;
  await enqueueDigest(trx, clock, spaced > gather ? spaced : gather, { vendorId, dealId, recipient: owner.email });
}

// ---------------------------------------------------------------------------
// The deal list: keyset pages over the read model, sorted and filtered in SQL.

const SORT_KEYS = Object.keys(DEAL_SORTS) as DealSort[];

/** The list's query string. Unknown parameters are refused, so a typo is never silently ignored. */
export const dealListParams = z
  .object({
    limit: pageLimit,
    sort: z
      .string()
      .regex(new RegExp(`^-?(${SORT_KEYS.join('|')})$`), `must be one of ${SORT_KEYS.join(', ')}, with a leading - for descending`)
      .default('-last_activity'),
    cursor: z.string().max(400, 'is not a cursor from this list').optional(),
    stage: z.enum(DEAL_STAGES, { message: `must be one of ${DEAL_STAGES.join(', ')}` }).optional(),
    checkpoint: z.enum(['ready', 'open', 'overridden'], { message: 'must be ready, open or overridden' }).optional(),
    risk: z.enum(['no_security_stakeholder'], { message: 'must be no_security_stakeholder' }).optional(),
    corrected: z.enum(['true', 'false'], { message: 'must be true or false' }).optional(),
    q: z.string().trim().max(120, 'must be at most 120 characters').optional(),
    owner: z.union([z.literal('me'), z.uuid()], { message: 'must be me or the id of a member' }).optional(),
    industry: industry.optional(),
    region: region.optional(),
    // Deals whose buyer's security team corrects this concern's current claim, or this field of it: what insight links to.
    corrected_concern: z.enum(CONCERN_KEYS as [string, ...string[]], { message: `must be one of ${CONCERN_KEYS.join(', ')}` }).optional(),
    corrected_field: z
      .string()
      .max(200, 'must be a concern and one of its fields, as concern.field')
      .refine((v) => parseConcernField(v) !== undefined, 'must be a concern and one of its fields, as concern.field (for example data_residency.inference_regions)')
      .optional(),
  })
  .strict();
export type DealListParams = z.infer<typeof dealListParams>;

/** "concern.field" as a known concern and one of its fields; undefined when either is unknown. */
export function parseConcernField(value: string): { concern: string; field: string } | undefined {
  const [concernKey, fieldKey, ...rest] = value.split('.');
  const concern = getConcern(concernKey);
  if (!concern || fieldKey === undefined || rest.length || !getField(concern, fieldKey)) return undefined;
  return { concern: concern.key, field: fieldKey };
}

type Cursor = { s: string; v: string | number; id: string };

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(raw: string, sort: string): Cursor {
  const bad = () => invalid('The cursor is not one this list gave out for this sort. Start again without it.', [{ field: 'cursor', message: 'is not a cursor from this list' }]);
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const ok = z.object({ s: z.literal(sort), v: z.union([z.string().max(200), z.number().int()]), id: z.uuid() }).safeParse(c);
  if (!ok.success) throw bad();
  return ok.data;
}

/** The list's filter parameters (everything but the page and its order). */
export type DealFilterParams = Omit<DealListParams, 'limit' | 'sort' | 'cursor'>;

/** No member has this id: "my deals" for a caller who is no member (a key whose creator is gone) matches nothing. */
const NOBODY = '00000000-0000-0000-0000-000000000000';

/**
 * The list's filter parameters as the read model's filter (shared by the list and the exports). `me` is the
 * member asking (the signed-in member, or the API key's creator), for `owner=me`.
 */
export function dealFilterOf(params: DealFilterParams, me: string | null): DealFilter {
  return {
    ownerId: params.owner === 'me' ? (me ?? NOBODY) : params.owner,
    stage: params.stage,
    checkpoint: params.checkpoint,
    noSecurityStakeholder: params.risk === 'no_security_stakeholder' ? true : undefined,
    corrected: params.corrected === undefined ? undefined : params.corrected === 'true',
    q: params.q || undefined,
    industry: params.industry,
    region: params.region,
    correctedConcern: params.corrected_concern,
    correctedField: params.corrected_field ? parseConcernField(params.corrected_field) : undefined,
  };
}

/** Whether any filter is set (an empty filter is every deal). */
export const isFiltered = (f: DealFilter) => Object.values(f).some((v) => v !== undefined);

/** One page of the vendor's deals and the cursor of the next page (null on the last). */
export async function listDealPage(db: DB, vendorId: string, params: DealListParams, me: string | null) {
  // Deals that answers have changed since their last refresh are brought up to date first.
  await freshenDeals(db, vendorId);
  const descending = params.sort.startsWith('-');
  const sort = params.sort.replace(/^-/, '') as DealSort;
  const after = params.cursor ? decodeCursor(params.cursor, params.sort) : undefined;
  const rows = await pageDeals(db, vendorId, { limit: params.limit, sort, descending, after: after && { value: after.v, id: after.id }, ...dealFilterOf(params, me) });
  const page = rows.slice(0, params.limit);
  const last = page.at(-1);
  const value = (r: (typeof rows)[number]) => {
    const v = r[DEAL_SORTS[sort]];
    return v instanceof Date ? v.toISOString() : v;
  };
  return { deals: page, nextCursor: rows.length > params.limit && last ? encodeCursor({ s: params.sort, v: value(last), id: last.deal_id }) : null };
}

export { stageCounts };
