// The catalogue drives every form: the profile editor, a deal's tailoring and
// the respondent's correction all render fields through fieldViews() and read
// them back through readConcernForm().
import type { ClaimValues, ConcernDef, FieldDef, FieldValue } from '../concerns/types.js';
import { formatValue, getConcern, parseFormValue, sameValue } from '../concerns/index.js';
import type { FieldChange } from '../db/schema.js';

export interface FieldView {
  name: string;
  id: string;
  label: string;
  help?: string;
  critical: boolean;
  error?: string;
  isOneOf: boolean;
  isAnyOf: boolean;
  isInteger: boolean;
  isBoolean: boolean;
  isText: boolean;
  /** `changed`: this option's checked state differs from the baseline's (any_of only; a single choice marks the field). */
  options: { value: string; label: string; checked: boolean; id: string; changed: boolean }[];
  value: string;
  display: string;
  min?: number;
  max?: number;
  unit?: string;
  maxLength?: number;
  changed: boolean;
}

/**
 * View models for a concern's fields. `prefix` namespaces the form names when
 * several concerns share one form ("data_residency.storage_regions").
 * `baseline`, when given, marks the fields whose value differs from it (lists
 * compare as sets, by the catalogue's one test of equality) and, in a
 * multiple choice, the options ticked or unticked against it.
 */
export function fieldViews(
  concern: ConcernDef,
  values: Record<string, unknown>,
  opts: { prefix?: string; errors?: Record<string, string>; baseline?: ClaimValues; idPrefix?: string } = {},
): FieldView[] {
  const prefix = opts.prefix ? `${opts.prefix}.` : '';
  const idPrefix = opts.idPrefix ?? `${concern.key}-`;
  return concern.fields.map((f) => {
    const v = values[f.key];
    const id = `${idPrefix}${f.key}`;
    const selected = new Set(Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
    const baseline = opts.baseline?.[f.key];
    const before = new Set(Array.isArray(baseline) ? baseline.map(String) : []);
    const options =
      f.type === 'one_of' || f.type === 'any_of'
        ? f.options.map((o) => ({
            value: o.value,
            label: o.label,
            checked: selected.has(o.value),
            id: `${id}-${o.value}`,
            changed: f.type === 'any_of' && baseline !== undefined && selected.has(o.value) !== before.has(o.value),
          }))
        : f.type === 'boolean'
          ? [
              { value: 'yes', label: 'Yes', checked: v === true, id: `${id}-yes`, changed: false },
              { value: 'no', label: 'No', checked: v === false, id: `${id}-no`, changed: false },
            ]
          : [];
    return {
      name: `${prefix}${f.key}`,
      id,
      label: f.label,
      help: f.help,
      critical: Boolean(f.critical),
      error: opts.errors?.[f.key],
      isOneOf: f.type === 'one_of',
      isAnyOf: f.type === 'any_of',
      isInteger: f.type === 'integer',
      isBoolean: f.type === 'boolean',
      isText: f.type === 'text',
      options,
      value: v === undefined || Array.isArray(v) ? '' : String(v),
      display: safeFormat(f, v),
      min: f.type === 'integer' ? f.min : undefined,
      max: f.type === 'integer' ? f.max : undefined,
      unit: f.type === 'integer' ? f.unit : undefined,
      maxLength: f.type === 'text' ? f.maxLength : undefined,
      changed: baseline !== undefined && !sameValue(baseline, v as FieldValue | undefined),
    };
  });
}

function safeFormat(f: FieldDef, v: unknown): string {
  try {
    return v === undefined ? '—' : formatValue(f, v as never);
  } catch {
    return String(v);
  }
}

/** Reads one concern's fields from a url-encoded form body into JSON values (still unvalidated). */
export function readConcernForm(concern: ConcernDef, body: Record<string, unknown>, prefix?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of concern.fields) {
    const raw = body[prefix ? `${prefix}.${f.key}` : f.key];
    out[f.key] = parseFormValue(f, raw as string | string[] | undefined);
  }
  return out;
}

/** Field changes as readable rows: label, claimed value, corrected value. */
export function describeChanges(concernKey: string, changes: FieldChange[]) {
  const concern = getConcern(concernKey);
  return changes.map((c) => ({
    field: concern?.fields.find((f) => f.key === c.field)?.label ?? c.field,
    claimed: formatFieldValue(concernKey, c.field, c.claimed),
    corrected: formatFieldValue(concernKey, c.field, c.corrected),
  }));
}

/** A stored value of one concern's field as a person reads it (option labels and so on); as text when the field is unknown. */
export function formatFieldValue(concernKey: string, fieldKey: string, value: unknown): string {
  const field = getConcern(concernKey)?.fields.find((f) => f.key === fieldKey);
  return field ? safeFormat(field, value ?? undefined) : String(value);
}
