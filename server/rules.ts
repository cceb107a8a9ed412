// The rule book: who is who on a deal, what each stage allows, when a silent
// person is reminded, and how states read to people. Every feature, page and
// mail takes these rules and their wording from here, never from a copy.
import { CONCERNS, CORRECTION_KINDS } from './concerns/index.js';

// ---------------------------------------------------------------------------
// Roles on the buyer's side

export const STAKEHOLDER_ROLES = ['ciso', 'security', 'compliance', 'privacy', 'legal', 'champion', 'other'] as const;
export type StakeholderRole = (typeof STAKEHOLDER_ROLES)[number];

/**
 * The buyer's security team: CISO, security, compliance and privacy. Their
 * presence clears the stakeholder-map risk, their confirm or correct on the
 * current claim closes that concern for the alignment checkpoint, the
 * champion's page lists their engagement, and their first answers date a
 * deal's first security signals. Pages, mails and the README word it from
 * SECURITY_TEAM_WORDING below.
 */
export const SECURITY_TEAM: readonly StakeholderRole[] = ['ciso', 'security', 'compliance', 'privacy'];

export const isSecurityTeam = (role: StakeholderRole | null | undefined): boolean => role != null && SECURITY_TEAM.includes(role);

/** The champion follows the review on a read-only page: never answers, is never reminded, takes no hand-over. */
export const CHAMPION: StakeholderRole = 'champion';
export const isChampion = (role: StakeholderRole | null | undefined): boolean => role === CHAMPION;

/** Whom a respondent may hand a concern to: anyone but a champion. */
export const DELEGATE_ROLES = STAKEHOLDER_ROLES.filter((r) => r !== CHAMPION) as Exclude<StakeholderRole, 'champion'>[];

// ---------------------------------------------------------------------------
// Roles on the vendor's side: what each member of a workspace may do

/** Lowest to highest; each role may do everything the roles before it may. */
export const MEMBER_ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const MEMBER_ROLE_LABELS: Record<MemberRole, string> = {
  viewer: 'Viewer: reads everything, changes nothing',
  member: 'Member: opens deals and runs the deals they own',
  admin: 'Admin: also members, API keys, webhooks, SSO and settings, and every deal',
  owner: 'Owner: everything, including admins and the workspace itself',
};

/** Whether `role` reaches `needed` (an owner reaches every role; a viewer only its own). */
export const atLeast = (role: MemberRole, needed: MemberRole): boolean => MEMBER_ROLES.indexOf(role) >= MEMBER_ROLES.indexOf(needed);

/** The lower of two roles: what an API key may do when its creator's role has since dropped. */
export const lowerRole = (a: MemberRole, b: MemberRole): MemberRole => (atLeast(a, b) ? b : a);

/**
 * Whether someone with role `actor` may give, change or take away role `target`:
 * admins manage members and viewers; only owners manage admins and owners.
 */
export const mayManageRole = (actor: MemberRole, target: MemberRole): boolean => atLeast(actor, 'admin') && (actor === 'owner' || !atLeast(target, 'admin'));

/** Whether a member with `role` may change a deal owned by `ownerId` (members their own deals; admins and owners every deal). */
export const mayChangeDeal = (role: MemberRole, userId: string | null, ownerId: string): boolean =>
  atLeast(role, 'admin') || (role === 'member' && userId !== null && userId === ownerId);

// ---------------------------------------------------------------------------
// Delegation: how far hand-overs reach, and whose answers count

/** How many colleagues one respondent may add to a deal. */
export const MAX_DELEGATES = 5;
/** How many delegated people a deal may have in all, whoever added them. */
export const MAX_DELEGATES_PER_DEAL = 10;
/**
 * How deep a chain of hand-overs may go: someone the vendor added is depth 0,
 * their delegate depth 1, that delegate's delegate depth 2. A person at this
 * depth cannot hand concerns on.
 */
export const MAX_DELEGATION_DEPTH = 2;

/** Whether a person at this depth of the delegation chain may hand concerns to a colleague. */
export const mayDelegate = (depth: number): boolean => depth < MAX_DELEGATION_DEPTH;

/**
 * Seniority of roles for hand-overs: a delegate never gets a higher rank than
 * the person who delegated. The champion ranks lowest and is never a delegate.
 */
export const ROLE_RANK: Record<StakeholderRole, number> = { ciso: 4, security: 3, compliance: 2, privacy: 2, legal: 1, other: 1, champion: 0 };

/** Whether someone with role `from` may hand a concern to a new colleague with role `to`. */
export const mayDelegateRole = (from: StakeholderRole, to: StakeholderRole): boolean => !isChampion(from) && !isChampion(to) && ROLE_RANK[to] <= ROLE_RANK[from];

/** The roles someone with this role may give a colleague they hand concerns to, in the usual order. */
export const delegateRolesFor = (from: StakeholderRole) => DELEGATE_ROLES.filter((r) => mayDelegateRole(from, r));

/** The domain of an email address (the part after its last "@"), lower case. */
export const emailDomain = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/**
 * A deal's buyer domains: the email domains of the people the vendor itself
 * added to the deal (delegates do not widen them).
 */
export function buyerDomains(people: readonly { email: string; source: 'vendor' | 'delegated' }[]): string[] {
  return [...new Set(people.filter((p) => p.source === 'vendor').map((p) => emailDomain(p.email)))];
}

/**
 * Whether a new delegate's answers wait for the vendor's confirmation before
 * they count: anyone outside the deal's buyer domains, and anyone in the
 * security team (whose answers open the checkpoint). A delegate inside the
 * buyer domains in another role counts at once.
 */
export function needsVendorConfirmation(delegate: { email: string; role: StakeholderRole }, domains: readonly string[]): boolean {
  return isSecurityTeam(delegate.role) || !domains.includes(emailDomain(delegate.email));
}

/**
 * Whether a person's answers count on the deal: in its tallies, the
 * checkpoint, the first-signal weeks, the champion's page and the digests.
 * People the vendor added are confirmed when added; a delegate who needs
 * confirmation counts once the vendor confirms them. SQL states the same
 * condition as `confirmed_at IS NOT NULL` on the speaker's stakeholder row.
 */
export const answersCount = (person: { confirmed_at: Date | null }): boolean => person.confirmed_at != null;

// ---------------------------------------------------------------------------
// Stages

export const DEAL_STAGES = ['discovery', 'evaluation', 'business_case', 'negotiation', 'closed_won', 'closed_lost'] as const;
export type DealStage = (typeof DEAL_STAGES)[number];

/** Stages a deal enters only with the checkpoint ready, or with a written override. */
export const GATED_STAGES: readonly DealStage[] = ['negotiation', 'closed_won'];
/** Stages where the deal is over: no reminders go out. */
export const CLOSED_STAGES: readonly DealStage[] = ['closed_won', 'closed_lost'];
/** Stages in which a recorded override explains an open checkpoint. */
export const PAST_CHECKPOINT: readonly DealStage[] = ['negotiation', ...CLOSED_STAGES];

export const isGated = (stage: DealStage): boolean => GATED_STAGES.includes(stage);
export const isClosed = (stage: DealStage): boolean => CLOSED_STAGES.includes(stage);

// ---------------------------------------------------------------------------
// Segments and outcomes, for insight

/** The buyer's industry, an optional segment of a deal. */
export const INDUSTRIES = ['financial_services', 'insurance', 'healthcare', 'public_sector', 'technology', 'retail', 'manufacturing', 'energy', 'other'] as const;
export type Industry = (typeof INDUSTRIES)[number];
export const INDUSTRY_LABELS: Record<Industry, string> = {
  financial_services: 'Financial services',
  insurance: 'Insurance',
  healthcare: 'Healthcare',
  public_sector: 'Public sector',
  technology: 'Technology',
  retail: 'Retail',
  manufacturing: 'Manufacturing',
  energy: 'Energy',
  other: 'Other',
};

/** A deal's outcome: won and lost are the closed stages; every other stage is open. */
export const OUTCOMES = ['won', 'lost', 'open'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export const OUTCOME_STAGES: Record<Outcome, readonly DealStage[]> = {
  won: ['closed_won'],
  lost: ['closed_lost'],
  open: DEAL_STAGES.filter((s) => !CLOSED_STAGES.includes(s)),
};

/** Below this many deals (or people) behind it, the insights page shows a rate, share or median as "not enough deals yet". */
export const MIN_SAMPLE = 5;
/** Below this many closed deals in a group, a won rate is null ("not enough closed deals yet"), in the API too. */
export const MIN_CLOSED_FOR_RATE = MIN_SAMPLE;
/** Profile suggestions: how many deals must call a profile field a factual error, with the same value, before one shows (a workspace setting). */
export const SUGGESTION_MIN_DEALS = { min: 1, max: 1000, default: 3 } as const;

/** The seed's baseline: without the portal, security concerns surface around week 12, after about 60 silent days. */
export const BASELINE_SECURITY_WEEK = 12;

// ---------------------------------------------------------------------------
// Reminders

/**
 * Whether a person may be reminded at all: not the champion, not paused (for
 * them or for the deal), and the deal still open. Silence (no answer yet) and a
 * live link are the other conditions, checked where the data is.
 */
export function remindable(s: { role: StakeholderRole; reminders_paused: boolean }, d: { stage: DealStage; reminders_paused: boolean }): boolean {
  return !isChampion(s.role) && !s.reminders_paused && !d.reminders_paused && !isClosed(d.stage);
}

// ---------------------------------------------------------------------------
// The concerns, as pages and mails name them

const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

/** What every page and mail says about the catalogue: "six", and the concerns by name. */
export const CATALOG_WORDING = Object.freeze({
  count: CONCERNS.length,
  countWord: NUMBER_WORDS[CONCERNS.length] ?? String(CONCERNS.length),
  /** "data residency, model access controls, …, and audit and compliance" */
  names: listInWords(CONCERNS.map((c) => inSentence(c.title))),
  /** The same list opening a sentence: "Data residency, model access controls, …" */
  sentenceNames: CONCERNS.map((c, i) => (i === 0 ? c.title : inSentence(c.title))).join(', '),
});

/** A title as it reads mid-sentence: "Data residency" → "data residency", but "AI governance" stays. */
function inSentence(title: string): string {
  return /^[A-Z][a-z]/.test(title) ? title.charAt(0).toLowerCase() + title.slice(1) : title;
}

function listInWords(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')}, and ${items.at(-1)}`;
}

// ---------------------------------------------------------------------------
// How states read to people

export const ROLE_LABELS: Record<StakeholderRole, string> = {
  ciso: 'CISO',
  security: 'Security',
  compliance: 'Compliance',
  privacy: 'Privacy',
  legal: 'Legal',
  champion: 'Champion',
  other: 'Other',
};

/** The security team in words: "CISO, security, compliance and privacy". */
export const SECURITY_TEAM_WORDING = listWithAnd(SECURITY_TEAM.map((r, i) => (i === 0 ? ROLE_LABELS[r] : r === 'ciso' ? 'CISO' : ROLE_LABELS[r].toLowerCase())));

function listWithAnd(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

export const VERDICT_LABELS = { confirm: 'Confirmed', correct: 'Corrected', not_mine: 'Not mine', none: 'No answer' } as const;
export const STATUS_LABELS = { confirmed: 'Confirmed', corrected: 'Corrected', not_mine: 'Not mine', stale: 'Needs re-confirmation', silent: 'Silent' } as const;
export const STAGE_LABELS: Record<DealStage, string> = {
  discovery: 'Discovery',
  evaluation: 'Evaluation',
  business_case: 'Business case',
  negotiation: 'Negotiation',
  closed_won: 'Closed won',
  closed_lost: 'Closed lost',
};
export const CHECKPOINT_LABELS = { ready: 'Ready for negotiation', open: 'Security not yet aligned', overridden: 'Overridden' } as const;
export const LINK_LABELS = { active: 'Link active', expired: 'Link expired', revoked: 'Link revoked', none: 'No link sent' } as const;
/** Short kind names for tables ("requirement gap"). */
export const KIND_SHORT = { factual_error: 'factual error', requirement_gap: 'requirement gap', not_applicable: 'not applicable' } as const;
/** The kind as the respondent chose it, in full. */
export const KIND_LONG: Record<string, string> = Object.fromEntries(CORRECTION_KINDS.map((k) => [k.value, k.label]));

// ---------------------------------------------------------------------------
// Time on a deal

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** Week 1 is the first seven days from the deal's start date. */
export function weekOfDeal(startedOn: string, at: Date): number {
  const start = new Date(`${startedOn}T00:00:00Z`).getTime();
  return Math.max(1, Math.floor((at.getTime() - start) / WEEK_MS) + 1);
}
