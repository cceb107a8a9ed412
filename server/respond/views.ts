// Template data for the pages a link opens, built by pure functions from
// loaded data: the respondent's page (one form per concern, and the
// hand-over form) and the champion's read-only status page.
import { CORRECTION_KINDS, getConcern, type ClaimValues, type FieldChange } from '../concerns/index.js';
import { describeChanges, fieldViews } from '../lib/concern-form.js';
import { CHECKPOINT_LABELS, KIND_LONG, MAX_DELEGATES, ROLE_LABELS, STATUS_LABELS, VERDICT_LABELS, answersCount, delegateRolesFor, isSecurityTeam, mayDelegate } from '../rules.js';
import type { CurrentClaim } from '../deals/service.js';
import type { DealDetail } from '../deals/detail.js';
import type { StakeholderAnswer } from '../signals/service.js';
import type { LinkContext } from '../stakeholders/service.js';
import { COMMENT_MAX } from './service.js';

/** An answer form sent back with problems: what was typed, and what was wrong. */
export interface AnswerFormState {
  concern: string;
  verdict?: string;
  kind?: string;
  comment?: string;
  values: Record<string, unknown>;
  errors: Record<string, string>;
  message: string;
  status?: number;
}

/** The hand-over form sent back with problems. */
export interface HandoverFormState {
  message: string;
  errors: Record<string, string>;
  values: Record<string, unknown>;
}

export interface RespondentPageInput {
  ctx: LinkContext;
  token: string;
  claims: CurrentClaim[];
  answers: Map<string, StakeholderAnswer>;
  handovers: { toMe: Map<string, string>; fromMe: Map<string, string> };
  query: { saved?: string; delegated?: string };
  form?: AnswerFormState;
  handover?: HandoverFormState;
}

function applyChanges(claim: ClaimValues, changes: FieldChange[]): ClaimValues {
  const out = { ...claim };
  for (const c of changes) out[c.field] = c.corrected;
  return out;
}

export function respondentPageView({ ctx, token, claims: unsorted, answers, handovers, query, form, handover }: RespondentPageInput) {
  // Concerns handed to this person come first.
  const claims = [...unsorted].sort((a, b) => Number(handovers.toMe.has(b.concern)) - Number(handovers.toMe.has(a.concern)));
  const concerns = claims.map((claim) => {
    const concern = getConcern(claim.concern)!;
    const answer = answers.get(claim.concern);
    const editing = form?.concern === claim.concern ? form : undefined;
    // Pre-fill the correction with what this person said last time, else the claim.
    const previous = answer?.verdict === 'correct' ? applyChanges(claim.claim, answer.changes) : claim.claim;
    const verdict = editing?.verdict ?? answer?.verdict ?? undefined;
    return {
      key: concern.key,
      title: concern.title,
      summary: concern.summary,
      critical: concern.severity === 'critical',
      sentence: concern.sentence(claim.claim),
      narrative: claim.narrative,
      claimed: fieldViews(concern, claim.claim, { idPrefix: `${concern.key}-claim-` }),
      revision: claim.revision,
      fields: fieldViews(concern, editing && Object.keys(editing.values).length ? editing.values : previous, { prefix: 'v', errors: editing?.errors, baseline: claim.claim }),
      verdictConfirm: verdict === 'confirm',
      verdictCorrect: verdict === 'correct',
      verdictNotMine: verdict === 'not_mine',
      kinds: CORRECTION_KINDS.map((k) => ({ ...k, checked: (editing?.kind ?? answer?.kind) === k.value })),
      comment: editing ? (editing.comment ?? '') : (answer?.comment ?? ''),
      error: editing?.message,
      errors: editing?.errors ?? {},
      justSaved: query.saved === concern.key,
      handedToMeBy: handovers.toMe.get(claim.concern),
      handedAwayTo: handovers.fromMe.get(claim.concern),
      answer: answer && {
        label: VERDICT_LABELS[answer.verdict!],
        verdict: answer.verdict,
        kind: answer.kind ? KIND_LONG[answer.kind] : undefined,
        when: answer.created_at.toISOString().slice(0, 10),
        stale: answer.claim_revision !== claim.revision,
        changes: describeChanges(concern.key, answer.changes),
      },
    };
  });
  const answered = concerns.filter((c) => c.answer).length;
  return {
    title: `${ctx.vendorName}'s security posture for ${ctx.deal.buyerName}`,
    bare: true,
    token,
    vendorName: ctx.vendorName,
    buyerName: ctx.deal.buyerName,
    stakeholderName: ctx.stakeholder.name,
    role: ROLE_LABELS[ctx.stakeholder.role],
    concerns,
    answered,
    total: concerns.length,
    allAnswered: answered === concerns.length,
    commentMax: COMMENT_MAX,
    formError: Boolean(form),
    delegated: query.delegated === '1',
    handover: {
      // At the end of the delegation chain the page explains instead of offering the form.
      allowed: mayDelegate(ctx.stakeholder.depth),
      open: Boolean(handover),
      error: handover?.message,
      errors: handover?.errors ?? {},
      values: handover?.values ?? {},
      concerns: claims.map((c) => ({
        key: c.concern,
        title: getConcern(c.concern)!.title,
        checked: (handover?.values.concerns as string[] | undefined)?.includes(c.concern) ?? false,
      })),
      roles: delegateRolesFor(ctx.stakeholder.role).map((r) => ({ value: r, label: ROLE_LABELS[r], selected: handover?.values.role === r })),
      max: MAX_DELEGATES,
    },
  };
}

/** The champion's page: who engaged, what is open, the checkpoint; corrections only if the vendor shares them. */
export function championPageView(ctx: LinkContext, d: DealDetail) {
  const share = d.deal.share_corrections;
  const t = d.tracking;
  // Only people whose answers count: a delegate awaiting the vendor's confirmation is not shown as the security team.
  const security = d.stakeholders.filter((s) => isSecurityTeam(s.role) && answersCount(s));
  return {
    title: `Security review status for ${ctx.deal.buyerName}`,
    bare: true,
    vendorName: ctx.vendorName,
    buyerName: ctx.deal.buyerName,
    name: ctx.stakeholder.name,
    checkpoint: { state: t.checkpoint.state, label: CHECKPOINT_LABELS[t.checkpoint.state], gaps: t.checkpoint.gaps },
    people: security.map((s) => ({ name: s.name, role: ROLE_LABELS[s.role], engaged: t.engaged.has(s.id) })),
    engagedCount: security.filter((s) => t.engaged.has(s.id)).length,
    concerns: d.grid.map((row) => ({ title: row.title, status: row.status, label: STATUS_LABELS[row.status] })),
    share,
    corrections: share
      ? d.corrections
          .filter((s) => answersCount({ confirmed_at: s.stakeholder_confirmed_at }))
          .map((s) => ({
            concern: getConcern(s.concern!)?.title,
            who: s.stakeholder_name,
            kind: s.kind ? KIND_LONG[s.kind] : undefined,
            comment: s.comment,
            changes: describeChanges(s.concern!, s.changes),
          }))
      : [],
  };
}
