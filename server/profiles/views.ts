// Template data for the profile editor, built from the draft (saved, or as
// submitted with its errors) and the published history. No I/O here.
import { CONCERNS, getConcern, sameValue, type FieldValue } from '../concerns/index.js';
import type { ProfileClaims } from '../db/schema.js';
import { fieldViews } from '../lib/concern-form.js';
import type { Suggestion } from '../insights/service.js';
import { formatFieldValue } from '../lib/concern-form.js';
import { hasUnpublishedChanges, NARRATIVE_MAX, warningsFor, type ProfileErrors, type SubmittedClaims } from './service.js';

export interface EditorInput {
  /** The draft to show: the stored one, or what the form sent (possibly invalid, then with `errors`). */
  draft: SubmittedClaims;
  errors?: ProfileErrors;
  /** Published versions, newest first. */
  versions: { version: number }[];
  /** The claims of the latest published version, if any. */
  latestClaims: ProfileClaims | undefined;
  /** The notices the page was redirected with: draft saved, or version N published. */
  saved?: boolean;
  published?: string;
  /** The form was sent by Publish (and refused): nothing was saved or published. */
  publishing?: boolean;
  /** Changes to the published profile that buyers' security teams ask for (already past the threshold and dismissals). */
  suggestions?: Suggestion[];
  /** The notices of a suggestion just put into the draft, or dismissed. */
  suggested?: boolean;
  dismissed?: boolean;
  /** Why a suggestion's form was refused (a stale one, or a value the draft cannot hold). */
  suggestionError?: string;
}

/** A field's label inside a sentence: lower case, unless it starts with an abbreviation ("IP indemnity", "MFA enforced"). */
export function midSentence(label: string): string {
  return /^.[A-Z]/.test(label) ? label : label.charAt(0).toLowerCase() + label.slice(1);
}

function suggestionView(s: Suggestion, draft: SubmittedClaims | undefined) {
  const concern = getConcern(s.concern);
  const field = concern?.fields.find((f) => f.key === s.field);
  const label = field?.label ?? s.field;
  const current = draft?.[s.concern]?.values[s.field];
  return {
    key: s.key,
    concern: s.concern,
    concernTitle: concern?.title ?? s.concern,
    fieldLabel: label,
    fieldPhrase: midSentence(label),
    // "the inference regions are …" for a list of choices, "the indemnity cap is …" for one value.
    verb: field?.type === 'any_of' ? 'are' : 'is',
    deals: s.deals,
    one: s.deals === 1,
    suggested: formatFieldValue(s.concern, s.field, s.corrected),
    claimed: formatFieldValue(s.concern, s.field, s.claimed),
    evidence: s.evidence.map((e) => ({ href: `/app/deals/${e.deal_id}`, buyerName: e.buyer_name })),
    /** Deals beyond those named. */
    more: Math.max(0, s.deals - s.evidence.length),
    inDraft: draft !== undefined && current !== undefined && sameValue(current as FieldValue, s.corrected as FieldValue),
  };
}

export function editorPage({
  draft,
  errors = {},
  versions,
  latestClaims,
  saved = false,
  published,
  publishing = false,
  suggestions = [],
  suggested = false,
  dismissed = false,
  suggestionError,
}: EditorInput) {
  const valid = Object.keys(errors).length === 0;
  // Whether a suggestion is already in the draft is only known for a draft that validates.
  const suggestionViews = suggestions.map((s) => suggestionView(s, valid ? draft : undefined));
  // After "Put into draft": each concern names the suggested values its draft now holds, not yet published.
  const putInto = (concern: string) =>
    suggested
      ? suggestionViews
          .filter((s) => s.concern === concern && s.inDraft)
          .map((s) => `${s.fieldLabel}: “${s.suggested}”`)
          .join('; ')
      : '';
  // Warnings and the unpublished mark only make sense for a draft that validates.
  const warnings = valid ? warningsFor(draft as ProfileClaims) : [];
  const warned = new Set(warnings.flatMap((w) => w.fields.map((f) => f.concern)));
  return {
    title: 'Posture profile',
    nav: 'profile',
    saved,
    published,
    invalid: !valid,
    publishing,
    warnings,
    suggestions: suggestionViews,
    suggested,
    /** A note at the top when no concern card could name what was put into the draft. */
    suggestedElsewhere: suggested && !suggestionViews.some((s) => s.inDraft),
    dismissed,
    suggestionError,
    versions,
    nextVersion: (versions[0]?.version ?? 0) + 1,
    unpublished: valid && hasUnpublishedChanges(draft as ProfileClaims, latestClaims),
    // Publish saves the form as it stands, so it is offered whenever there is something to publish,
    // including edits that still need fixing.
    canPublish: !valid || hasUnpublishedChanges(draft as ProfileClaims, latestClaims),
    narrativeMax: NARRATIVE_MAX,
    concerns: CONCERNS.map((c) => ({
      key: c.key,
      title: c.title,
      severity: c.severity,
      critical: c.severity === 'critical',
      summary: c.summary,
      frameworks: c.frameworks,
      hasWarning: warned.has(c.key),
      hasError: Boolean(errors[c.key]),
      suggestedNote: putInto(c.key),
      narrative: String(draft[c.key]?.narrative ?? ''),
      narrativeError: errors[c.key]?.narrative,
      sentence: errors[c.key] ? undefined : c.sentence(draft[c.key].values as never),
      fields: fieldViews(c, draft[c.key]?.values ?? {}, { prefix: c.key, errors: errors[c.key] }),
    })),
  };
}
