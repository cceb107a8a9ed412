// The shape of the concern catalogue. The catalogue (catalog.ts) is plain data
// of these types; forms, validation, claim sentences and signal diffs are all
// derived from it, so a vendor-specific extension is a data change only.

export type Region = string;

interface FieldBase {
  /** snake_case key, stable forever: it is stored in claims and signals. */
  key: string;
  /** Short human label, e.g. "Inference scope". */
  label: string;
  /** One line of help shown under the form control. */
  help?: string;
  /** ★ in concerns.md: most often the deal-blocking mismatch. */
  critical?: boolean;
}

/** Exactly one value from a fixed list. */
export interface OneOfField extends FieldBase {
  type: 'one_of';
  options: readonly Option[];
}

/** Any subset of a fixed list (stored sorted in catalogue order, no duplicates). */
export interface AnyOfField extends FieldBase {
  type: 'any_of';
  options: readonly Option[];
}

/** A whole number within bounds (days, hours). */
export interface IntegerField extends FieldBase {
  type: 'integer';
  min: number;
  max: number;
  /** Unit shown after the number, e.g. "days". */
  unit: string;
}

/** Yes or no. */
export interface BooleanField extends FieldBase {
  type: 'boolean';
}

/** A short single line of text (no line breaks), e.g. an upstream model's name. */
export interface TextField extends FieldBase {
  type: 'text';
  maxLength: number;
}

export type FieldDef = OneOfField | AnyOfField | IntegerField | BooleanField | TextField;

export interface Option {
  value: string;
  label: string;
}

export type FieldValue = string | string[] | number | boolean;
export type ClaimValues = Record<string, FieldValue>;

export interface ConcernDef {
  /** snake_case key, stable forever. */
  key: string;
  title: string;
  severity: 'critical' | 'high';
  /** One sentence on what the concern is about, shown above the claim. */
  summary: string;
  /** Public frameworks this concern draws on, with their version, e.g. "ISO/IEC 42001:2023 Annex A". */
  frameworks: readonly string[];
  fields: readonly FieldDef[];
  /** The vendor's typical standard hypothesis: a complete, valid value for every field. */
  defaults: ClaimValues;
  /**
   * The claim as plain sentences a CISO reads in five seconds, built from the values
   * ("We store your prompts, files and vector stores in the United States. ...").
   * Returns plain text; the caller escapes it.
   */
  sentence: (values: ClaimValues) => string;
  /** Rules across this concern's own fields that a claim must satisfy (a contradiction is refused, not saved). */
  checks?: readonly ClaimCheck[];
}

/**
 * A rule across fields of one concern. It runs on a complete claim, and on a
 * partial update only when every field in `needs` is given.
 */
export interface ClaimCheck {
  /** The fields the rule reads. */
  needs: readonly string[];
  /** The field the problem is shown on. */
  field: string;
  /** The problem, for a person, or undefined when the values agree. */
  problem: (values: ClaimValues) => string | undefined;
}

export interface CrossFieldWarning {
  /** Stable code, e.g. "zdr_with_prompt_logging". */
  code: string;
  message: string;
  /** The concern/field pairs involved, so the form can mark them. */
  fields: readonly { concern: string; field: string }[];
}
