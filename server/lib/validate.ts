// Validation at the edge: shared zod pieces and one way to turn a failure
// into a 400 that names each bad field.
import { z, type ZodError, type ZodType } from 'zod';
import { invalid, type FieldProblem } from './errors.js';
import { LINE_UNSAFE, LONE_SURROGATE, PARAGRAPH_UNSAFE, URL_LIKE } from './text.js';

export type { FieldProblem };

/** zod's own wording ("Invalid input: expected number, received string"), which no schema of ours should let through. */
const ZOD_DEFAULT = /^(Invalid input|Invalid option|Invalid element|Invalid key|Invalid value|Too big|Too small|Unrecognized key)/;

/** A person's wording for an issue still carrying zod's default message; our own messages pass unchanged. */
export function humanMessage(issue: ZodError['issues'][number]): string {
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  const i = issue as { code: string; expected?: string; maximum?: number | bigint; minimum?: number | bigint; origin?: string; values?: unknown[] };
  const unit = i.origin === 'string' ? ' characters' : i.origin === 'array' || i.origin === 'set' ? ' items' : '';
  switch (i.code) {
    case 'invalid_type':
      if (/received undefined$/.test(issue.message)) return 'is required';
      return i.expected === 'number' || i.expected === 'int'
        ? 'must be a number'
        : i.expected === 'boolean'
          ? 'must be yes or no'
          : `must be ${i.expected === 'array' ? 'a list' : `a ${i.expected ?? 'valid value'}`}`;
    case 'too_big':
      return `must be at most ${String(i.maximum)}${unit}`;
    case 'too_small':
      return i.origin === 'string' && Number(i.minimum) === 1 ? 'is required' : `must be at least ${String(i.minimum)}${unit}`;
    case 'invalid_value':
      return i.values?.length ? `must be one of ${i.values.map(String).join(', ')}` : 'is not an allowed value';
    case 'unrecognized_keys':
      return 'is not a known field';
    default:
      return 'is not valid';
  }
}

/** Each issue as the dotted path of its field, under `prefix` when given ("concerns.data_residency"). */
export function zodDetails(err: ZodError, prefix = ''): FieldProblem[] {
  return err.issues.map((i) => {
    // An unknown key is reported on the object that holds it; name the key itself.
    const path = i.path.length ? i.path.join('.') : ((i as { keys?: string[] }).keys ?? []).join(',');
    return { field: [prefix, path].filter(Boolean).join('.') || '(body)', message: humanMessage(i) };
  });
}

/** The 400 for a body with bad values: the message names each one, the details list them. */
export function invalidInput(what: string, details: FieldProblem[]) {
  return invalid(`The ${what} has invalid values: ${details.map((d) => `${d.field} (${d.message})`).join('; ')}`, details);
}

/** Parses or throws a 400 naming every bad field. */
export function parse<T extends ZodType>(schema: T, input: unknown, what = 'request'): z.output<T> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) throw invalidInput(what, zodDetails(r.error));
  return r.data;
}

/**
 * The first problem of each field, for a form to show next to it; `under` drops a leading path segment.
 * A problem with one item of a list ("storage_regions.0") is shown on the list's field.
 */
export function byField(details: FieldProblem[], under = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of details) {
    const field = (under && d.field.startsWith(`${under}.`) ? d.field.slice(under.length + 1) : d.field).replace(/(\.\d+)+$/, '');
    out[field] ??= d.message;
  }
  return out;
}

export const fieldErrors = (err: ZodError) => byField(zodDetails(err));

/** A single line of human text: trimmed, bounded, no control or bidi-override characters. */
export const line = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'is required')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !LINE_UNSAFE.test(s) && !LONE_SURROGATE.test(s), 'must be a single line without control characters');

/** The name of a person or an organisation (workspace, buyer): one line, and nothing that reads as a web address. */
export const name = (max: number) => line(max).refine((s) => !URL_LIKE.test(s), 'must be a name, not a web address (no “example.com”, “www.” or “://”)');

/** Free text that may span lines (comments, narratives), bounded; tabs and line breaks allowed. */
export const paragraph = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !PARAGRAPH_UNSAFE.test(s) && !LONE_SURROGATE.test(s), 'must not contain control characters');

export const email = z.string().trim().toLowerCase().max(254, 'must be at most 254 characters').pipe(z.email('must be a valid email address'));

export const domain = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as example.com');

/** A calendar date 'YYYY-MM-DD' that exists. */
export const isoDate = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { message: 'must be a date as YYYY-MM-DD', abort: true })
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
  }, 'must be a real calendar date')
  .refine((s) => s >= '2000-01-01' && s <= '2099-12-31', 'must be between 2000 and 2099');

export const uuid = z.uuid('must be a valid id');

/** How many rows a page of a list holds (?limit=): 1 to 200, 50 unless asked. */
export const pageLimit = z.coerce
  .number({ message: 'must be a whole number from 1 to 200' })
  .int('must be a whole number from 1 to 200')
  .min(1, 'must be at least 1')
  .max(200, 'must be at most 200')
  .default(50);

export function todayIso(now: Date): string {
  return now.toISOString().slice(0, 10);
}
