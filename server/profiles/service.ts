// A vendor's posture profile: one editable draft, and immutable numbered
// versions made by publishing it. Deals are opened on a published version.
import type { Clock } from '../lib/clock.js';
import { AppError, badRequest } from '../lib/errors.js';
import { invalidInput, paragraph, zodDetails } from '../lib/validate.js';
import type { DB } from '../db/index.js';
import type { ProfileClaims } from '../db/schema.js';
import { CATALOG_VERSION, CONCERNS, claimSchema, crossFieldWarnings, getConcern, partialClaimSchema } from '../concerns/index.js';
import type { ClaimValues, CrossFieldWarning } from '../concerns/types.js';
import { defaultDraft } from './draft.js';

export const NARRATIVE_MAX = 2000;
const narrativeSchema = paragraph(NARRATIVE_MAX);

export type ProfileErrors = Record<string, Record<string, string>>;

export async function getDraft(db: DB, vendorId: string): Promise<ProfileClaims> {
  const row = await db.selectFrom('profiles').select('draft').where('vendor_id', '=', vendorId).executeTakeFirst();
  // Concerns added to the catalogue after the draft was saved start from their defaults.
  return { ...defaultDraft(), ...(row?.draft ?? {}) };
}

/**
 * Validates complete concerns (from the editor form). Returns the clean claims
 * or, per concern and field, what is wrong.
 */
export function validateClaims(input: Record<string, { values: Record<string, unknown>; narrative: unknown }>) {
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
 * draft, as the JSON API's PUT does. Throws a 400 naming every bad path.
 */
export function mergeIntoDraft(draft: ProfileClaims, update: unknown): ProfileClaims {
  if (typeof update !== 'object' || update === null || Array.isArray(update)) {
    throw badRequest('"concerns" must be an object keyed by concern', [{ field: 'concerns', message: 'expected an object' }]);
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
    merged[key] = { values: { ...draft[key].values, ...(parsed.data as ClaimValues) }, narrative: text };
  }
  if (problems.length) throw invalidInput('profile', problems);
  return merged;
}

export async function saveDraft(db: DB, clock: Clock, vendorId: string, userId: string | null, claims: ProfileClaims) {
  await db
    .updateTable('profiles')
    .set({ draft: JSON.stringify(claims), updated_at: clock.now(), updated_by: userId })
    .where('vendor_id', '=', vendorId)
    .execute();
}

/** Freezes the draft as the next version number. The profile row is locked so two publishes cannot collide. */
export async function publishProfile(db: DB, clock: Clock, vendorId: string, userId: string | null): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const profile = await trx
      .selectFrom('profiles')
      .select('draft')
      .where('vendor_id', '=', vendorId)
      .forUpdate()
      .executeTakeFirst();
    if (!profile) throw new AppError(404, 'not_found', 'This workspace has no profile.');
    const draft = { ...defaultDraft(), ...profile.draft };
    const { claims, errors } = validateClaims(draft);
    if (Object.keys(errors).length) {
      throw badRequest('The draft has invalid values; fix them before publishing.', errors);
    }
    const last = await trx
      .selectFrom('profile_versions')
      .select((eb) => eb.fn.max('version').as('v'))
      .where('vendor_id', '=', vendorId)
      .executeTakeFirst();
    const version = Number(last?.v ?? 0) + 1;
    await trx
      .insertInto('profile_versions')
      .values({
        vendor_id: vendorId,
        version,
        catalog_version: CATALOG_VERSION,
        claims: JSON.stringify(claims),
        published_at: clock.now(),
        published_by: userId,
      })
      .execute();
    return version;
  });
}

export async function listVersions(db: DB, vendorId: string) {
  return db
    .selectFrom('profile_versions')
    .select(['version', 'catalog_version', 'published_at'])
    .where('vendor_id', '=', vendorId)
    .orderBy('version', 'desc')
    .execute();
}

export async function getVersion(db: DB, vendorId: string, version: number) {
  return db
    .selectFrom('profile_versions')
    .select(['version', 'claims', 'catalog_version', 'published_at'])
    .where('vendor_id', '=', vendorId)
    .where('version', '=', version)
    .executeTakeFirst();
}

export function warningsFor(claims: ProfileClaims): CrossFieldWarning[] {
  return crossFieldWarnings(Object.fromEntries(Object.entries(claims).map(([k, c]) => [k, c.values])));
}

/** Whether the draft differs from the latest published version. */
export function hasUnpublishedChanges(draft: ProfileClaims, latest: ProfileClaims | undefined): boolean {
  return !latest || JSON.stringify(normalise(draft)) !== JSON.stringify(normalise(latest));
}

function normalise(claims: ProfileClaims) {
  // jsonb does not keep key order, so compare field by field in catalogue order.
  return CONCERNS.map((c) => [c.key, c.fields.map((f) => claims[c.key]?.values[f.key]), claims[c.key]?.narrative ?? '']);
}
