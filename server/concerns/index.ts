// Everything derived from the concern catalogue: lookup, validation (zod),
// form parsing, diffs between a claim and its correction, display values and
// cross-field warnings for a vendor's profile.

import { LINE_UNSAFE, LONE_SURROGATE } from '../lib/text.js';
import { z } from 'zod';
import { CERTIFICATIONS, CONCERNS, REGIONS } from './catalog.js';
import type { ClaimValues, ConcernDef, CrossFieldWarning, FieldDef, FieldValue, Option } from './types.js';

export * from './types.js';
export { CATALOG_VERSION, CERTIFICATIONS, CONCERNS, CORRECTION_KINDS, REGIONS } from './catalog.js';

export const CONCERN_KEYS: readonly string[] = CONCERNS.map((c) => c.key);

/**
 * One bit per concern, by its place in the catalogue, for read-model columns
 * that hold a fact about every concern of a deal in one number. Reordering the
 * catalogue changes them: rebuild the read model (npm run rebuild-read-model).
 */
export const CONCERN_BIT: Readonly<Record<string, number>> = Object.fromEntries(CONCERNS.map((c, i) => [c.key, 1 << i]));

/** The bits of the concerns for which `test` holds. */
export const concernBits = (concerns: readonly string[]): number => concerns.reduce((bits, key) => bits | (CONCERN_BIT[key] ?? 0), 0);

export function getConcern(key: string): ConcernDef | undefined {
  return CONCERNS.find((c) => c.key === key);
}

export function getField(concern: ConcernDef, key: string): FieldDef | undefined {
  return concern.fields.find((f) => f.key === key);
}

// ---------------------------------------------------------------------------
// Validation

const FORBIDDEN_TEXT_MESSAGE = 'Must be a single line of plain text: line breaks, tabs, control characters and text-direction overrides are not allowed.';

const NONE_ALONE_MESSAGE = '"None" cannot be combined with other choices.';

function optionValues(options: readonly Option[]): [string, ...string[]] {
  const values = options.map((o) => o.value);
  if (values.length === 0) throw new Error('A field needs at least one option.');
  return values as [string, ...string[]];
}

/**
 * What a person is told when a field's value is refused: one plain sentence per
 * field type, built from the field's own unit and bounds ("Enter a whole number
 * of days from 0 to 3650"). Forms show it next to the field; the API returns it
 * as the detail's message.
 */
export function fieldMessages(field: FieldDef) {
  switch (field.type) {
    case 'one_of':
      return { invalid: 'Choose one of the options.' };
    case 'any_of':
      return { invalid: 'Choose only from the listed options.', duplicate: 'Choose each option at most once.' };
    case 'integer':
      return { invalid: `Enter a whole number${field.unit ? ` of ${field.unit}` : ''} from ${field.min} to ${field.max}.` };
    case 'boolean':
      return { invalid: 'Choose yes or no.' };
    case 'text':
      return { invalid: 'Enter text.', tooLong: `Enter at most ${field.maxLength} characters.` };
  }
}

/** The zod schema for one field's value. any_of values come out unique and in catalogue order. */
export function fieldSchema(field: FieldDef): z.ZodType<FieldValue> {
  switch (field.type) {
    case 'one_of':
      return z.enum(optionValues(field.options), { error: fieldMessages(field).invalid });
    case 'any_of': {
      const values = optionValues(field.options);
      const hasNone = values.includes('none');
      const messages = fieldMessages(field);
      return z
        .array(z.enum(values, { error: messages.invalid }), { error: messages.invalid })
        .max(values.length, { error: messages.duplicate })
        .refine((chosen) => !hasNone || !chosen.includes('none') || chosen.every((v) => v === 'none'), {
          error: NONE_ALONE_MESSAGE,
        })
        .transform((chosen) => values.filter((v) => chosen.includes(v)));
    }
    case 'integer': {
      const message = fieldMessages(field).invalid;
      return z.number({ error: message }).int({ error: message }).min(field.min, { error: message }).max(field.max, { error: message });
    }
    case 'boolean':
      return z.boolean({ error: fieldMessages(field).invalid });
    case 'text': {
      const messages = fieldMessages(field);
      // The character check runs before trim, so leading or trailing line breaks are refused too.
      return z
        .string({ error: messages.invalid })
        .refine((s) => !LINE_UNSAFE.test(s) && !LONE_SURROGATE.test(s), { error: FORBIDDEN_TEXT_MESSAGE })
        .trim()
        .max(field.maxLength, { error: messages.tooLong });
    }
  }
}

/** An unknown key names itself in the details' field; a value that is not an object is said so. */
const objectError = (issue: { code?: string }) => (issue.code === 'unrecognized_keys' ? 'Not a field of this concern.' : 'Expected an object of field values.');

/** The concern's cross-field checks that apply to `values` (all, or only those whose fields are all given). */
function applyChecks(concern: ConcernDef, values: Partial<ClaimValues>, ctx: z.RefinementCtx, partial: boolean) {
  for (const check of concern.checks ?? []) {
    if (partial && check.needs.some((k) => values[k] === undefined)) continue;
    const problem = check.problem(values as ClaimValues);
    if (problem) ctx.addIssue({ code: 'custom', path: [check.field], message: problem });
  }
}

/** The problems of the concern's cross-field checks on a complete claim (none when the values agree). */
export function claimProblems(concern: ConcernDef, values: ClaimValues): { field: string; message: string }[] {
  return (concern.checks ?? []).flatMap((check) => {
    const problem = check.problem(values);
    return problem ? [{ field: check.field, message: problem }] : [];
  });
}

/** A complete claim: every field required, unknown fields rejected, the concern's cross-field checks applied. */
export function claimSchema(concern: ConcernDef): z.ZodType<ClaimValues> {
  const shape: Record<string, z.ZodType<FieldValue>> = {};
  for (const field of concern.fields) {
    shape[field.key] = fieldSchema(field);
  }
  return z.strictObject(shape, { error: objectError }).superRefine((values, ctx) => applyChecks(concern, values, ctx, false));
}

/**
 * A partial update (to merge onto defaults or a stored claim): every field optional, unknown fields rejected.
 * A cross-field check runs when the update gives all the fields it reads; the caller validates the merged
 * claim with claimSchema for the rest.
 */
export function partialClaimSchema(concern: ConcernDef): z.ZodType<Partial<ClaimValues>> {
  const shape: Record<string, z.ZodOptional<z.ZodType<FieldValue>>> = {};
  for (const field of concern.fields) {
    shape[field.key] = fieldSchema(field).optional();
  }
  return z.strictObject(shape, { error: objectError }).superRefine((values, ctx) => applyChecks(concern, values as Partial<ClaimValues>, ctx, true));
}

// ---------------------------------------------------------------------------
// HTML forms

/**
 * Turns one application/x-www-form-urlencoded value into the JSON value to validate.
 * - any_of: a single ticked box gives a string, several give string[], none gives undefined → [].
 * - integer: digits (optionally with a decimal part) become a number; anything else, including
 *   an empty string, is returned unchanged so the schema refuses it (with the field's own message).
 * - boolean: "yes" or "true" (in any submitted value, to support the hidden-input-plus-checkbox
 *   pattern) is true; anything else, including undefined, is false.
 * - one_of and text: the string as submitted (undefined stays undefined: the field is missing).
 */
export function parseFormValue(field: FieldDef, raw: string | string[] | undefined): unknown {
  switch (field.type) {
    case 'any_of':
      if (raw === undefined) return [];
      return Array.isArray(raw) ? raw : [raw];
    case 'integer': {
      if (typeof raw !== 'string') return raw;
      const trimmed = raw.trim();
      return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : raw;
    }
    case 'boolean': {
      const submitted = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
      return submitted.some((v) => v === 'yes' || v === 'true');
    }
    case 'one_of':
    case 'text':
      return raw;
  }
}

// ---------------------------------------------------------------------------
// Diffs and display

/** Whether two field values say the same thing (arrays compare as sets): the one test of claim equality. */
export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const setA = new Set(a);
    const setB = new Set(b);
    return setA.size === setB.size && [...setA].every((v) => setB.has(v));
  }
  return a === b;
}

export interface FieldChange {
  field: string;
  claimed: FieldValue;
  corrected: FieldValue;
}

/** Whether two lists of field changes record the same changes. */
export function sameChanges(a: readonly FieldChange[], b: readonly FieldChange[]): boolean {
  return a.length === b.length && a.every((c, i) => c.field === b[i].field && sameValue(c.claimed, b[i].claimed) && sameValue(c.corrected, b[i].corrected));
}

/** The fields whose value differs between the claim and the correction, in catalogue order. Arrays compare as sets. */
export function diffClaim(concern: ConcernDef, claimed: ClaimValues, corrected: ClaimValues): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of concern.fields) {
    const before = claimed[field.key];
    const after = corrected[field.key];
    if (!sameValue(before, after)) {
      changes.push({ field: field.key, claimed: before, corrected: after });
    }
  }
  return changes;
}

function labelOf(options: readonly Option[], value: string): string {
  return options.find((o) => o.value === value)?.label ?? value;
}

/** A value as a person reads it: option labels, "None", "30 days", "Yes"/"No", "—" for empty text. Plain text. */
export function formatValue(field: FieldDef, value: FieldValue | undefined): string {
  if (value === undefined) return '—';
  switch (field.type) {
    case 'one_of':
      return typeof value === 'string' ? labelOf(field.options, value) : String(value);
    case 'any_of': {
      if (!Array.isArray(value)) return String(value);
      if (value.length === 0) return 'None';
      // Show in catalogue order, whatever order the value came in.
      const ordered = field.options.filter((o) => value.includes(o.value)).map((o) => o.label);
      const unknown = value.filter((v) => !field.options.some((o) => o.value === v));
      return [...ordered, ...unknown].join(', ');
    }
    case 'integer': {
      if (typeof value !== 'number') return String(value);
      const unit = value === 1 ? field.unit.replace(/s$/, '') : field.unit;
      return unit ? `${value} ${unit}` : String(value);
    }
    case 'boolean':
      return value === true ? 'Yes' : value === false ? 'No' : String(value);
    case 'text':
      return typeof value === 'string' && value.trim() !== '' ? value : '—';
  }
}

// ---------------------------------------------------------------------------
// Cross-field warnings

function listAt(claims: Record<string, ClaimValues>, concern: string, field: string): string[] {
  const value = claims[concern]?.[field];
  return Array.isArray(value) ? value : [];
}

function valueAt(claims: Record<string, ClaimValues>, concern: string, field: string): FieldValue | undefined {
  return claims[concern]?.[field];
}

function labels(options: readonly Option[], values: string[]): string {
  return values.map((v) => labelOf(options, v)).join(', ');
}

/**
 * Combinations in a vendor's profile that contradict each other or that a buyer's
 * security team will almost certainly question. Claims may be partial or missing
 * concerns; a check only fires when all the values it needs are present.
 */
export function crossFieldWarnings(claims: Record<string, ClaimValues>): CrossFieldWarning[] {
  const warnings: CrossFieldWarning[] = [];

  // (a) Zero data retention, yet prompts are logged.
  if (valueAt(claims, 'data_residency', 'prompt_retention') === 'zero_data_retention' && listAt(claims, 'audit_compliance', 'ai_event_logging').includes('prompts')) {
    warnings.push({
      code: 'zdr_with_prompt_logging',
      message: 'Prompt retention says zero data retention, but AI event logging records prompts.',
      fields: [
        { concern: 'data_residency', field: 'prompt_retention' },
        { concern: 'audit_compliance', field: 'ai_event_logging' },
      ],
    });
  }

  // (b) The customer may switch guardrails off, yet the indemnity requires safety filters on.
  if (
    valueAt(claims, 'adversarial_risk', 'guardrail_configurability') === 'customer_can_disable' &&
    listAt(claims, 'training_data_provenance', 'indemnity_conditions').includes('safety_filters_on')
  ) {
    warnings.push({
      code: 'disableable_guardrails_void_indemnity',
      message: 'Customers can switch the guardrails off, but the IP indemnity only applies while safety filters stay on.',
      fields: [
        { concern: 'adversarial_risk', field: 'guardrail_configurability' },
        { concern: 'training_data_provenance', field: 'indemnity_conditions' },
      ],
    });
  }

  // (c) Data stored only in the EU/EEA, yet inference may be routed anywhere.
  const storage = listAt(claims, 'data_residency', 'storage_regions');
  if (storage.length > 0 && storage.every((r) => r === 'EU_EEA') && valueAt(claims, 'data_residency', 'inference_scope') === 'global_routing') {
    warnings.push({
      code: 'eu_storage_global_inference',
      message: 'Data is stored only in the EU/EEA, but inference may be routed globally, so prompts can leave the EU/EEA.',
      fields: [
        { concern: 'data_residency', field: 'storage_regions' },
        { concern: 'data_residency', field: 'inference_scope' },
      ],
    });
  }

  // (d) Data stored in the EU/EEA and reachable from elsewhere, yet no transfer mechanism is claimed to be needed.
  const outside = listAt(claims, 'data_residency', 'remote_access_jurisdictions').filter((r) => r !== 'EU_EEA');
  if (storage.includes('EU_EEA') && outside.length > 0 && listAt(claims, 'data_residency', 'transfer_mechanisms').includes('none_needed')) {
    warnings.push({
      code: 'foreign_access_without_transfer_mechanism',
      message: `EU/EEA data can be reached from outside the EU/EEA (${labels(REGIONS, outside)}), but the transfer mechanisms say none is needed.`,
      fields: [
        { concern: 'data_residency', field: 'storage_regions' },
        { concern: 'data_residency', field: 'remote_access_jurisdictions' },
        { concern: 'data_residency', field: 'transfer_mechanisms' },
      ],
    });
  }

  // (e) A certification said to cover the AI service that is not held at all.
  const held = listAt(claims, 'audit_compliance', 'certifications');
  const notHeld = listAt(claims, 'audit_compliance', 'certifications_covering_ai').filter((c) => !held.includes(c));
  if (notHeld.length > 0) {
    warnings.push({
      code: 'ai_certification_not_held',
      message: `Listed as covering the AI service but not among the certifications held: ${labels(CERTIFICATIONS, notHeld)}.`,
      fields: [
        { concern: 'audit_compliance', field: 'certifications' },
        { concern: 'audit_compliance', field: 'certifications_covering_ai' },
      ],
    });
  }

  return warnings;
}

// ---------------------------------------------------------------------------
// Defaults

/** Every concern's default claim, keyed by concern; a fresh deep copy on each call. */
export function defaultClaims(): Record<string, ClaimValues> {
  const result: Record<string, ClaimValues> = {};
  for (const concern of CONCERNS) {
    const copy: ClaimValues = {};
    for (const [key, value] of Object.entries(concern.defaults)) {
      copy[key] = Array.isArray(value) ? [...value] : value;
    }
    result[concern.key] = copy;
  }
  return result;
}
