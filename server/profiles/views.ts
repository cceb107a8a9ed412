// Template data for the profile editor, built from the draft (saved, or as
// submitted with its errors) and the published history. No I/O here.
import { CONCERNS } from '../concerns/index.js';
import type { ProfileClaims } from '../db/schema.js';
import { fieldViews } from '../lib/concern-form.js';
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
}

export function editorPage({ draft, errors = {}, versions, latestClaims, saved = false, published, publishing = false }: EditorInput) {
  const valid = Object.keys(errors).length === 0;
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
      narrative: String(draft[c.key]?.narrative ?? ''),
      narrativeError: errors[c.key]?.narrative,
      sentence: errors[c.key] ? undefined : c.sentence(draft[c.key].values as never),
      fields: fieldViews(c, draft[c.key]?.values ?? {}, { prefix: c.key, errors: errors[c.key] }),
    })),
  };
}
