// A vendor's posture profile: one editable draft, and immutable numbered
// versions made by publishing it. Deals are opened on a published version.
import type { Clock } from '../lib/clock.js';
import { DomainError, invalid, isInvalidInput } from '../lib/errors.js';
import { invalidInput, paragraph, zodDetails } from '../lib/validate.js';
import type { DB, Executor } from '../db/index.js';
import type { ProfileClaims } from '../db/schema.js';
import { CATALOG_VERSION, CONCERNS, claimProblems, claimSchema, crossFieldWarnings, defaultClaims, getConcern, partialClaimSchema, sameValue } from '../concerns/index.js';
import type { ClaimValues, CrossFieldWarning } from '../concerns/types.js';
import { findSuggestion, profileSuggestions, type Suggestion } from '../insights/service.js';
import { freshenDeals } from '../readmodel/service.js';
import { memberOf, recordAudit, type Actor } from '../audit/service.js';
import * as repo from './repository.js';

export const NARRATIVE_MAX = 2000;
const narrativeSchema = paragraph(NARRATIVE_MAX);

export type ProfileErrors = Record<string, Record<string, string>>;

/** What the editor form submits: per concern, raw field values and a narrative, not yet validated. */
export type SubmittedClaims = Record<string, { values: Record<string, unknown>; narrative: unknown }>;

/** A new workspace's draft: the catalogue's standard hypothesis for every concern. */
export function defaultDraft(): ProfileClaims {
  const claims = defaultClaims();
  return Object.fromEntries(Object.entries(claims).map(([k, values]) => [k, { values, narrative: '' }]));
}

/** Gives a new workspace its draft, pre-filled with the standard hypotheses. */
export async function startProfile(trx: Executor, clock: Clock, vendorId: string, userId: string | null): Promise<void> {
  await repo.insertProfile(trx, { vendorId, draft: defaultDraft(), updatedAt: clock.now(), updatedBy: userId });
}

export async function getDraft(db: Executor, vendorId: string): Promise<ProfileClaims> {
  // Concerns added to the catalogue after the draft was saved start from their defaults.
  return { ...defaultDraft(), ...((await repo.findDraft(db, vendorId)) ?? {}) };
}

/**
 * Validates complete concerns (from the editor form). Returns the clean claims
 * or, per concern and field, what is wrong.
 */
export function validateClaims(input: SubmittedClaims) {
  const claims: ProfileClaims = {};
  const errors: ProfileErrors = {};
  for (const concern of CONCERNS) {
    const given = input[concern.key];
    if (!given) continue;
    const values = claimSchema(concern).safeParse(given.values);
    const narrative = narrativeSchema.safeParse(given.narrative ?? '');
    if (values.success && narrative.success) {
      claims[concern.key] = { values: values.data, narrative: narrative.data };
      continue;
    }
    const e: Record<string, string> = {};
    for (const issue of values.error?.issues ?? []) e[String(issue.path[0] ?? '(concern)')] ??= issue.message;
    if (!narrative.success) e.narrative = narrative.error.issues[0].message;
    errors[concern.key] = e;
  }
  return { claims, errors };
}

/**
 * Merges a partial update ({ concern: { field: value, narrative? } }) onto the
 * draft, as the JSON API's PUT does. Throws invalid_input naming every bad path.
 */
export function mergeIntoDraft(draft: ProfileClaims, update: unknown): ProfileClaims {
  if (typeof update !== 'object' || update === null || Array.isArray(update)) {
    throw invalid('"concerns" must be an object keyed by concern', [{ field: 'concerns', message: 'expected an object' }]);
  }
  const problems: { field: string; message: string }[] = [];
  const merged: ProfileClaims = { ...draft };
  for (const [key, raw] of Object.entries(update)) {
    const concern = getConcern(key);
    if (!concern) {
      problems.push({ field: `concerns.${key}`, message: 'is not a known concern' });
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push({ field: `concerns.${key}`, message: 'expected an object of field values' });
      continue;
    }
    const { narrative, ...fields } = raw as Record<string, unknown>;
    const parsed = partialClaimSchema(concern).safeParse(fields);
    if (!parsed.success) {
      problems.push(...zodDetails(parsed.error, `concerns.${key}`));
      continue;
    }
    let text = draft[key]?.narrative ?? '';
    if (narrative !== undefined) {
      const n = narrativeSchema.safeParse(narrative);
      if (!n.success) {
        problems.push({ field: `concerns.${key}.narrative`, message: n.error.issues[0].message });
        continue;
      }
      text = n.data;
    }
    const values = { ...draft[key].values, ...(Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as ClaimValues) };
    // The merged claim must hold together too (e.g. zero data retention with a retention period).
    const contradictions = claimProblems(concern, values);
    if (contradictions.length) {
      problems.push(...contradictions.map((p) => ({ field: `concerns.${key}.${p.field}`, message: p.message })));
      continue;
    }
    merged[key] = { values, narrative: text };
  }
  if (problems.length) throw invalidInput('profile', problems);
  return merged;
}

/**
 * Saves the draft; the audit trail records which concerns and fields changed (a save that changes nothing
 * records nothing). Run it in the caller's transaction: the draft row is locked.
 */
export async function saveDraft(trx: Executor, clock: Clock, actor: Actor, claims: ProfileClaims) {
  const before = { ...defaultDraft(), ...((await repo.findDraft(trx, actor.vendorId, { lock: true })) ?? {}) };
  await writeDraft(trx, clock, actor, claims);
  const changed = Object.fromEntries(
    CONCERNS.map((c): [string, string[]] => [
      c.key,
      [
        ...c.fields.filter((f) => !sameValue(before[c.key]?.values[f.key], claims[c.key]?.values[f.key])).map((f) => f.key),
        ...((before[c.key]?.narrative ?? '') !== (claims[c.key]?.narrative ?? '') ? ['narrative'] : []),
      ],
    ]).filter(([, fields]) => fields.length > 0),
  );
  if (Object.keys(changed).length === 0) return;
  await recordAudit(trx, clock, actor, { action: 'profile.draft_saved', target: { type: 'profile' }, changes: { concerns: changed } });
}

async function writeDraft(db: Executor, clock: Clock, actor: Actor, claims: ProfileClaims) {
  await repo.updateDraft(db, actor.vendorId, { draft: claims, updatedAt: clock.now(), updatedBy: memberOf(actor) });
}

/**
 * Freezes the draft as the next version number. The profile row is locked so
 * two publishes cannot collide: run it inside the caller's transaction.
 */
export async function publishProfile(trx: Executor, clock: Clock, actor: Actor): Promise<number> {
  const { vendorId } = actor;
  const stored = await repo.findDraft(trx, vendorId, { lock: true });
  if (!stored) throw new DomainError('not_found', 'This workspace has no profile.');
  const { claims, errors } = validateClaims({ ...defaultDraft(), ...stored });
  if (Object.keys(errors).length) {
    throw new DomainError('invalid_input', 'The draft has invalid values; fix them before publishing.', errors);
  }
  const version = (await repo.lastVersionNumber(trx, vendorId)) + 1;
  await repo.insertVersion(trx, {
    vendorId,
    version,
    catalogVersion: CATALOG_VERSION,
    claims,
    publishedAt: clock.now(),
    publishedBy: memberOf(actor),
  });
  await recordAudit(trx, clock, actor, { action: 'profile.published', target: { type: 'profile', name: `Version ${version}` }, changes: { version } });
  return version;
}

/** Published versions, newest first. */
export async function listVersions(db: Executor, vendorId: string) {
  return repo.listVersions(db, vendorId);
}

export async function getVersion(db: Executor, vendorId: string, version: number) {
  return repo.findVersion(db, vendorId, version);
}

/** What the editor shows beside the draft: every published version, and the latest one's claims. */
export async function publishedHistory(db: Executor, vendorId: string) {
  const versions = await repo.listVersions(db, vendorId);
  const latest = versions[0] ? await repo.findVersion(db, vendorId, versions[0].version) : undefined;
  return { versions, latestClaims: latest?.claims };
}

export function warningsFor(claims: ProfileClaims): CrossFieldWarning[] {
  return crossFieldWarnings(Object.fromEntries(Object.entries(claims).map(([k, c]) => [k, c.values])));
}

/** Whether the draft differs from the latest published version (field by field, by the catalogue's one test of equality). */
export function hasUnpublishedChanges(draft: ProfileClaims, latest: ProfileClaims | undefined): boolean {
  if (!latest) return true;
  return CONCERNS.some(
    (c) => (draft[c.key]?.narrative ?? '') !== (latest[c.key]?.narrative ?? '') || c.fields.some((f) => !sameValue(draft[c.key]?.values[f.key], latest[c.key]?.values[f.key])),
  );
}

// ---------------------------------------------------------------------------
// Suggestions from buyers' security teams (counted by insight, server/insights)

/**
 * The changes to the published profile that enough buyers' security teams ask
 * for (see insights' profileSuggestions), against `latestClaims`, the latest
 * published version. Deals marked by recent answers are refreshed first, as
 * the deal list does, so a correction just made counts.
 */
export async function suggestionsFor(db: DB, vendorId: string, latestClaims: ProfileClaims | undefined): Promise<Suggestion[]> {
  if (!latestClaims) return [];
  await freshenDeals(db, vendorId);
  return profileSuggestions(db, vendorId, (concern, field) => latestClaims[concern]?.values[field]);
}

/** The suggestion the form names, among those shown now; otherwise a 400 saying so (nothing is changed). */
export function suggestionByKey(suggestions: Suggestion[], key: unknown): Suggestion {
  try {
    return findSuggestion(suggestions, key);
  } catch (err) {
    if (!isInvalidInput(err)) throw err;
    throw invalid(
      'That suggestion is no longer shown: its evidence changed, it was dismissed, or the published profile changed. Nothing was changed; the current suggestions are below.',
      err.fieldProblems,
    );
  }
}

/**
 * Puts a suggestion's value into the draft, through the same merge and checks
 * as any other edit of the draft: a value the claim cannot hold (one that
 * contradicts another field of the concern, say) is refused with what is wrong,
 * and nothing is saved. Run it inside the caller's transaction: the draft row is locked.
 */
export async function applySuggestion(trx: Executor, clock: Clock, actor: Actor, suggestion: Suggestion): Promise<ProfileClaims> {
  const draft = { ...defaultDraft(), ...((await repo.findDraft(trx, actor.vendorId, { lock: true })) ?? {}) };
  let next: ProfileClaims;
  try {
    next = mergeIntoDraft(draft, { [suggestion.concern]: { [suggestion.field]: suggestion.corrected } });
  } catch (err) {
    if (!isInvalidInput(err)) throw err;
    const concern = getConcern(suggestion.concern);
    const problems = err.fieldProblems.map((p) => {
      const key = p.field.split('.').pop() ?? '';
      const label = concern?.fields.find((f) => f.key === key)?.label;
      return label ? `${label}: ${p.message}` : `${p.field} ${p.message}`;
    });
    throw invalid(`Not put into your draft, and nothing was changed. ${problems.join(' ')}`.trim(), err.fieldProblems);
  }
  await writeDraft(trx, clock, actor, next);
  await recordAudit(trx, clock, actor, {
    action: 'profile.suggestion_applied',
    target: { type: 'profile' },
    changes: {
      concern: suggestion.concern,
      field: suggestion.field,
      before: draft[suggestion.concern]?.values[suggestion.field] ?? null,
      after: suggestion.corrected,
      deals: suggestion.deals,
    },
  });
  return next;
}
