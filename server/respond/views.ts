// Template data for the pages a link opens, built by pure functions from
// loaded data: the respondent's main page (six claims, each answered with
// Confirm, Correct or Not mine), the correction page (one concern), the
// hand-over page, and the champion's read-only status page.
import { capitalise } from '../lib/text.js';
import { CORRECTION_KINDS, diffClaim, getConcern, type ClaimValues, type ConcernDef, type FieldChange } from '../concerns/index.js';
import { describeChanges, fieldViews, type FieldView } from '../lib/concern-form.js';
import { CHECKPOINT_LABELS, KIND_LONG, MAX_DELEGATES, ROLE_LABELS, STATUS_LABELS, VERDICT_LABELS, answersCount, delegateRolesFor, isSecurityTeam, mayDelegate } from '../rules.js';
import type { DealDetail } from '../deals/detail.js';
import type { LinkContext } from '../stakeholders/service.js';
import type { RespondentAnswer, RespondentPage } from './service.js';
import { COMMENT_MAX } from './service.js';

/** The correction form sent back with problems: what was typed, and what was wrong. */
export interface CorrectFormState {
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

/** What the main page was asked to say after a redirect (its query string). */
export interface MainPageQuery {
  saved?: string;
  receipt?: string;
  delegated?: string;
}

type Status = 'open' | 'answered' | 'stale';

interface ConcernState {
  concern: ConcernDef;
  claim: RespondentPage['claims'][number];
  answer?: RespondentAnswer;
  status: Status;
  /** What changed in the claim since this person answered it (stale answers only). */
  changedSince: FieldChange[];
}

/** The concerns in page order (those handed to this person first), each with this person's standing on it. */
export function concernStates(page: RespondentPage): ConcernState[] {
  const toMe = page.handovers.toMe;
  const claims = [...page.claims].sort((a, b) => Number(toMe.has(b.concern)) - Number(toMe.has(a.concern)));
  return claims.map((claim) => {
    const concern = getConcern(claim.concern)!;
    const answer = page.answers.get(claim.concern);
    const stale = answer !== undefined && answer.claim_revision !== claim.revision;
    const changedSince = stale && answer.answeredClaim ? diffClaim(concern, answer.answeredClaim, claim.claim) : [];
    return { concern, claim, answer, status: answer === undefined ? 'open' : stale ? 'stale' : 'answered', changedSince };
  });
}

/**
 * Where to go after answering `saved`: the next concern after it that still
 * needs this person's answer (wrapping round), or "done" when none does.
 */
export function nextAfter(states: readonly { concern: { key: string }; status: Status }[], saved: string): string {
  const at = states.findIndex((s) => s.concern.key === saved);
  for (let i = 1; i <= states.length; i++) {
    const s = states[(at + i) % states.length];
    if (s.status !== 'answered') return s.concern.key;
  }
  return 'done';
}

function answerView(s: ConcernState) {
  const a = s.answer;
  if (!a) return undefined;
  return {
    label: VERDICT_LABELS[a.verdict],
    verdict: a.verdict,
    kind: a.kind ? KIND_LONG[a.kind] : undefined,
    when: a.created_at.toISOString().slice(0, 10),
    changes: describeChanges(s.concern.key, a.changes),
    comment: a.comment ?? undefined,
  };
}

function contactOf(ctx: LinkContext) {
  return ctx.contact ? { name: ctx.contact.name, email: ctx.contact.email, domain: ctx.vendorDomain } : undefined;
}

function common(ctx: LinkContext, token: string) {
  return {
    bare: true,
    token,
    vendorName: ctx.vendorName,
    buyerName: ctx.deal.buyerName,
    stakeholderName: ctx.stakeholder.name,
    role: ROLE_LABELS[ctx.stakeholder.role],
    contact: contactOf(ctx),
    vendorDomain: ctx.vendorDomain ?? undefined,
  };
}

/**
 * The main page. `refused`, when given, is a quick answer (Confirm, Not mine)
 * that was not saved: the summary at the top links to the concern, which says why.
 */
export function respondentPageView(ctx: LinkContext, token: string, page: RespondentPage, query: MainPageQuery, refused?: { concern: string; message: string }) {
  const states = concernStates(page);
  const answered = states.filter((s) => s.status === 'answered').length;
  const allAnswered = answered === states.length;
  const saved = query.saved ? states.find((s) => s.concern.key === query.saved) : undefined;
  // The note of what was saved sits where the respondent lands: the next concern needing them, or the completion panel.
  const landing = saved ? nextAfter(states, saved.concern.key) : undefined;
  const savedNote = saved?.answer && { title: saved.concern.title, label: VERDICT_LABELS[saved.answer.verdict] };
  const problem = refused;
  const concerns = states.map((s) => ({
    key: s.concern.key,
    title: s.concern.title,
    critical: s.concern.severity === 'critical',
    sentence: s.concern.sentence(s.claim.claim),
    narrative: s.claim.narrative,
    claimed: fieldViews(s.concern, s.claim.claim, { idPrefix: `${s.concern.key}-claim-` }),
    revision: s.claim.revision,
    open: s.status === 'open',
    answeredNow: s.status === 'answered',
    stale: s.status === 'stale',
    changedSince: describeChanges(s.concern.key, s.changedSince),
    answer: answerView(s),
    handedToMeBy: page.handovers.toMe.get(s.concern.key),
    handedAwayTo: page.handovers.fromMe.get(s.concern.key),
    next: landing === s.concern.key,
    savedNote: landing === s.concern.key ? savedNote : undefined,
    problem: problem?.concern === s.concern.key ? problem.message : undefined,
  }));
  return {
    ...common(ctx, token),
    title: `${ctx.vendorName}'s security posture for ${ctx.deal.buyerName}`,
    concerns,
    answered,
    total: states.length,
    allAnswered,
    done: allAnswered && {
      next: landing === 'done',
      savedNote: landing === 'done' ? savedNote : undefined,
      summary: states.map((s) => ({ title: s.concern.title, ...answerView(s)! })),
      receiptSent: query.receipt === '1',
      email: ctx.stakeholder.email,
    },
    message: problem && 'Your answer was not saved',
    errorSummary:
      problem && states.some((s) => s.concern.key === problem.concern)
        ? [{ href: `#${problem.concern}`, text: `${getConcern(problem.concern)!.title}: ${problem.message}` }]
        : undefined,
    delegated: query.delegated === '1',
    mayHandOver: mayDelegate(ctx.stakeholder.depth),
  };
}

/** The page for correcting one concern: the claim, its fields pre-filled, the kind of correction and a comment. */
export function correctPageView(ctx: LinkContext, token: string, page: RespondentPage, concernKey: string, form?: CorrectFormState) {
  const s = concernStates(page).find((c) => c.concern.key === concernKey)!;
  const answer = s.answer;
  // Pre-fill with what this person corrected last time, else the claim.
  const previous = answer?.verdict === 'correct' ? applyChanges(s.claim.claim, answer.changes) : s.claim.claim;
  const fields = fieldViews(s.concern, form && Object.keys(form.values).length ? form.values : previous, { prefix: 'v', errors: form?.errors, baseline: s.claim.claim });
  const errorSummary = form
    ? [
        ...fields.filter((f) => f.error).map((f) => ({ href: `#${focusId(f)}`, text: `${f.label}: ${f.error}` })),
        ...(form.errors.kind ? [{ href: `#k-${CORRECTION_KINDS[0].value}`, text: `Kind of correction: ${form.errors.kind}` }] : []),
        ...(form.errors.comment ? [{ href: '#comment', text: `Comment: ${form.errors.comment}` }] : []),
        ...(form.errors.values ? [{ href: `#${focusId(fields[0])}`, text: capitalise(form.errors.values) }] : []),
      ]
    : undefined;
  const kind = form?.kind ?? (answer?.verdict === 'correct' ? (answer.kind ?? undefined) : undefined);
  return {
    ...common(ctx, token),
    title: `Correct: ${s.concern.title}`,
    key: s.concern.key,
    concernTitle: s.concern.title,
    summary: s.concern.summary,
    sentence: s.concern.sentence(s.claim.claim),
    narrative: s.claim.narrative,
    revision: s.claim.revision,
    stale: s.status === 'stale',
    changedSince: describeChanges(s.concern.key, s.changedSince),
    fields,
    kinds: CORRECTION_KINDS.map((k) => ({ ...k, checked: kind === k.value })),
    comment: form ? (form.comment ?? '') : answer?.verdict === 'correct' ? (answer.comment ?? '') : '',
    commentMax: COMMENT_MAX,
    message: form?.message,
    errors: form?.errors ?? {},
    errorSummary: errorSummary?.length ? errorSummary : form ? [{ href: '#fields', text: form.message }] : undefined,
  };
}

/** The element a summary link moves focus to: the control itself, or a group's first choice. */
const focusId = (f: FieldView) => (f.isAnyOf || f.isBoolean ? f.options[0].id : f.id);

function applyChanges(claim: ClaimValues, changes: FieldChange[]): ClaimValues {
  const out = { ...claim };
  for (const c of changes) out[c.field] = c.corrected;
  return out;
}

/** The hand-over page: which concerns, to whom, in which role (no role is chosen for them). */
export function handoverPageView(ctx: LinkContext, token: string, page: RespondentPage, form?: HandoverFormState) {
  const values = form?.values ?? {};
  const errors = form?.errors ?? {};
  const anchor: Record<string, string> = { concerns: `#ho-${page.claims[0]?.concern}`, name: '#in-name', email: '#in-email', role: '#in-ho-role' };
  const labels: Record<string, string> = { concerns: 'Concerns to hand over', name: "Colleague's name", email: "Colleague's email", role: 'Their role' };
  const summary = form ? Object.entries(errors).map(([field, text]) => ({ href: anchor[field] ?? '#handover-form', text: `${labels[field] ?? field}: ${text}` })) : undefined;
  return {
    ...common(ctx, token),
    title: 'Hand concerns to a colleague',
    allowed: mayDelegate(ctx.stakeholder.depth),
    message: form?.message,
    errorSummary: summary?.length ? summary : form ? [{ href: '#handover-form', text: form.message }] : undefined,
    errors,
    values,
    concerns: concernStates(page).map((s) => ({
      key: s.concern.key,
      title: s.concern.title,
      checked: (values.concerns as string[] | undefined)?.includes(s.concern.key) ?? false,
      handedAwayTo: page.handovers.fromMe.get(s.concern.key),
    })),
    roles: delegateRolesFor(ctx.stakeholder.role).map((r) => ({ value: r, label: ROLE_LABELS[r], selected: values.role === r })),
    max: MAX_DELEGATES,
  };
}

/** The champion's page: who engaged, what is open, the checkpoint; corrections only if the vendor shares them. */
export function championPageView(ctx: LinkContext, d: DealDetail) {
  const share = d.deal.share_corrections;
  const t = d.tracking;
  // Only people whose answers count: a delegate awaiting the vendor's confirmation is not shown as the security team.
  const security = d.stakeholders.filter((s) => isSecurityTeam(s.role) && answersCount(s));
  const gaps = new Set(t.checkpoint.gaps.map((g) => g.concern));
  return {
    title: `Security review status for ${ctx.deal.buyerName}`,
    bare: true,
    vendorName: ctx.vendorName,
    buyerName: ctx.deal.buyerName,
    name: ctx.stakeholder.name,
    contact: contactOf(ctx),
    checkpoint: { state: t.checkpoint.state, label: CHECKPOINT_LABELS[t.checkpoint.state], gaps: t.checkpoint.gaps },
    people: security.map((s) => ({ name: s.name, role: ROLE_LABELS[s.role], engaged: t.engaged.has(s.id) })),
    engagedCount: security.filter((s) => t.engaged.has(s.id)).length,
    // A concern someone outside the security team confirmed still waits for the team: the page says both, in two columns.
    concerns: d.grid.map((row) => ({ title: row.title, status: row.status, label: STATUS_LABELS[row.status], awaitingSecurity: gaps.has(row.concern) })),
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
