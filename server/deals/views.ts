// Template data for the vendor's deal pages, built from loaded data by pure
// functions (no I/O): the deal list, the new-deal form, and a deal's page.
import { CONCERNS, REGIONS, getConcern, getField, type ClaimValues } from '../concerns/index.js';
import { describeChanges, fieldViews } from '../lib/concern-form.js';
import { todayIso } from '../lib/validate.js';
import type { ProfileClaims } from '../db/schema.js';
import {
  CHECKPOINT_LABELS,
  DEAL_STAGES,
  INDUSTRIES,
  INDUSTRY_LABELS,
  KIND_SHORT,
  LINK_LABELS,
  ROLE_LABELS,
  STAGE_LABELS,
  STAKEHOLDER_ROLES,
  STATUS_LABELS,
  VERDICT_LABELS,
  answersCount,
  emailDomain,
  isChampion,
  isSecurityTeam,
  weekOfDeal,
  type DealStage,
  type Industry,
} from '../rules.js';
import type { DealDetail } from './detail.js';
import type { DealListParams, listDealPage } from './service.js';

const day = (d: Date | null | undefined) => (d ? new Date(d).toISOString().slice(0, 10) : undefined);

export const roleOptions = (selected?: unknown) => STAKEHOLDER_ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r], selected: r === selected }));

/** The buyer segment's choices, the given value selected. */
export const industryOptions = (selected?: unknown) => INDUSTRIES.map((i) => ({ value: i, label: INDUSTRY_LABELS[i], selected: i === selected }));
export const regionOptions = (selected?: unknown) => REGIONS.map((r) => ({ value: r.value, label: r.label, selected: r.value === selected }));

/** A deal's buyer segment in words ("Financial services · EU/EEA"); undefined when neither is set. */
export function segmentLabel(d: { industry: Industry | null; region: string | null }): string | undefined {
  const parts = [d.industry && INDUSTRY_LABELS[d.industry], d.region && (REGIONS.find((r) => r.value === d.region)?.label ?? d.region)].filter(Boolean);
  return parts.length ? parts.join(' · ') : undefined;
}

/** "concern" or "concern.field" in words ("Data residency › Inference regions"), for the list's active-filter note. */
function correctedLabel(key: string): string {
  const [concernKey, fieldKey] = key.split('.');
  const concern = getConcern(concernKey);
  if (!concern) return key;
  const field = fieldKey === undefined ? undefined : getField(concern, fieldKey);
  return field ? `${concern.title} › ${field.label}` : concern.title;
}

/** One row of the deal list, from its read-model row. */
export function dealRow(d: DealListRow, now: Date) {
  return {
    id: d.deal_id,
    buyer_name: d.buyer_name,
    buyer_domain: d.buyer_domain,
    week: weekOfDeal(d.started_on, now),
    stage: STAGE_LABELS[d.stage],
    concernsOpen: d.concerns_open,
    corrections: d.corrections,
    checkpoint: d.checkpoint,
    checkpointLabel: CHECKPOINT_LABELS[d.checkpoint],
    risk: d.no_security_stakeholder,
    lastActivity: day(d.last_activity_at),
    ownerName: d.owner_name,
  };
}

export type DealListRow = Awaited<ReturnType<typeof listDealPage>>['deals'][number];

const SORT_LABELS: Record<string, string> = {
  '-last_activity': 'Most recent activity',
  last_activity: 'Least recent activity',
  '-week': 'Oldest deals first',
  week: 'Newest deals first',
  '-concerns_open': 'Most concerns open',
  '-corrections': 'Most corrections',
  buyer_name: 'Buyer name',
};

/** The deal list page: counts per stage, the filters as chosen, one page of rows and the link to the next. */
export function dealListView(input: {
  page: Awaited<ReturnType<typeof listDealPage>>;
  params: DealListParams;
  counts: { stage: DealStage; n: number }[];
  published: boolean;
  now: Date;
  /** The workspace's members, for the owner filter; `me` is the signed-in member. */
  members: { id: string; name: string }[];
  me: string | null;
}) {
  const { params } = input;
  const n = new Map(input.counts.map((c) => [c.stage, c.n]));
  const total = input.counts.reduce((sum, c) => sum + c.n, 0);
  // The query string of this list with some parameters changed (undefined drops one).
  const link = (changes: Partial<Record<keyof DealListParams, string | undefined>>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({
      ...params,
      limit: params.limit === 50 ? undefined : String(params.limit),
      sort: params.sort === '-last_activity' ? undefined : params.sort,
      ...changes,
    })) {
      if (v !== undefined && v !== '') q.set(k, String(v));
    }
    const qs = q.toString();
    return qs ? `/app?${qs}` : '/app';
  };
  const filtered = Boolean(
    params.stage ||
    params.checkpoint ||
    params.risk ||
    params.corrected ||
    params.q ||
    params.industry ||
    params.region ||
    params.owner ||
    params.corrected_concern ||
    params.corrected_field,
  );
  // Links from insight narrow the list to the deals behind a row: each is shown as a note with a link that drops it.
  const corrections = (['corrected_concern', 'corrected_field'] as const).flatMap((key) => {
    const value = params[key];
    return value ? [{ name: key, value, label: correctedLabel(value), clearHref: link({ [key]: undefined, cursor: undefined }) }] : [];
  });
  return {
    title: 'Deals',
    nav: 'deals',
    published: input.published,
    total,
    stages: DEAL_STAGES.map((stage) => ({ stage, label: STAGE_LABELS[stage], n: n.get(stage) ?? 0, current: params.stage === stage, href: link({ stage, cursor: undefined }) })),
    allHref: link({ stage: undefined, cursor: undefined }),
    filters: {
      q: params.q ?? '',
      stage: params.stage,
      checkpoints: (['open', 'ready', 'overridden'] as const).map((c) => ({ value: c, label: CHECKPOINT_LABELS[c], selected: params.checkpoint === c })),
      stageOptions: DEAL_STAGES.map((stage) => ({ value: stage, label: STAGE_LABELS[stage], selected: params.stage === stage })),
      sorts: Object.entries(SORT_LABELS).map(([value, label]) => ({ value, label, selected: params.sort === value })),
      risk: params.risk === 'no_security_stakeholder',
      corrected: params.corrected === 'true',
      industries: industryOptions(params.industry),
      regions: regionOptions(params.region),
      owners: [
        { value: 'me', label: 'My deals', selected: params.owner === 'me' || (params.owner !== undefined && params.owner === input.me) },
        ...input.members.filter((m) => m.id !== input.me).map((m) => ({ value: m.id, label: m.name, selected: params.owner === m.id })),
      ],
      corrections,
    },
    myDealsHref: link({ owner: 'me', cursor: undefined }),
    mine: params.owner === 'me',
    filtered,
    deals: input.page.deals.map((d) => dealRow(d, input.now)),
    nextHref: input.page.nextCursor ? link({ cursor: input.page.nextCursor }) : undefined,
    firstHref: params.cursor ? link({ cursor: undefined }) : undefined,
    pager: Boolean(input.page.nextCursor || params.cursor),
    // Every page of the list as it is filtered and sorted now (server/exports).
    exports: {
      csv: link({ cursor: undefined, limit: undefined }).replace(/^\/app/, '/app/deals/export.csv'),
      ndjson: link({ cursor: undefined, limit: undefined }).replace(/^\/app/, '/app/deals/export.ndjson'),
    },
  };
}

/** The new-deal form: the published versions and, for the chosen one, each concern's fields to tailor. */
export function newDealView(input: {
  versions: { version: number }[];
  chosen: { version: number; claims: ProfileClaims } | undefined;
  values: Record<string, unknown>;
  errors: Record<string, string>;
  tailorErrors: Record<string, Record<string, string>>;
  now: Date;
}) {
  const { chosen, tailorErrors } = input;
  const tailoring = (input.values.tailoring ?? {}) as Record<string, ClaimValues>;
  return {
    title: 'Open a deal',
    nav: 'deals',
    values: { started_on: todayIso(input.now), ...input.values },
    errors: input.errors,
    industries: industryOptions(input.values.industry),
    regions: regionOptions(input.values.region),
    versions: input.versions.map((v) => ({ version: v.version, selected: v.version === chosen?.version })),
    hasVersions: input.versions.length > 0,
    concerns: chosen
      ? CONCERNS.map((c) => {
          const fields = fieldViews(
            c,
            { ...chosen.claims[c.key].values, ...tailoring[c.key] },
            {
              prefix: `t.${c.key}`,
              errors: tailorErrors[c.key],
              baseline: chosen.claims[c.key].values,
              idPrefix: `t-${c.key}-`,
            },
          );
          // The form sends every field of every section back; only a value that differs from the
          // published claim (or a refused one) makes a section tailored.
          return { key: c.key, title: c.title, tailored: Boolean(tailorErrors[c.key]) || fields.some((f) => f.changed), fields };
        })
      : [],
  };
}

/** One signal as a line of the timeline. */
export function signalView(s: DealDetail['signals'][number]) {
  const concern = s.concern ? (getConcern(s.concern)?.title ?? s.concern) : undefined;
  const base = { id: s.id, week: s.week, when: s.created_at.toISOString().replace('T', ' ').slice(0, 16) + ' UTC', concern, comment: s.comment };
  switch (s.type) {
    case 'answer':
      return {
        ...base,
        pill: s.verdict!,
        label: VERDICT_LABELS[s.verdict!],
        who: s.stakeholder_name,
        role: s.stakeholder_role ? ROLE_LABELS[s.stakeholder_role] : undefined,
        uncounted: !answersCount({ confirmed_at: s.stakeholder_confirmed_at }),
        kind: s.kind ? KIND_SHORT[s.kind] : undefined,
        changes: describeChanges(s.concern!, s.changes),
      };
    case 'delegation':
      return {
        ...base,
        pill: 'event',
        label: 'Handed over',
        who: s.stakeholder_name,
        detail: `to ${s.target_name}${s.target_role ? ` (${ROLE_LABELS[s.target_role]})` : ''}`,
        changes: [],
      };
    case 'claim_change':
      return {
        ...base,
        pill: 'event',
        label: 'Claim changed',
        who: s.actor_name ?? 'API',
        detail: `now revision ${s.claim_revision}; earlier answers need re-confirmation`,
        changes: describeChanges(s.concern!, s.changes),
      };
    case 'checkpoint_override':
      return { ...base, pill: 'correct', label: 'Checkpoint overridden', who: s.actor_name ?? 'API', changes: [] };
    case 'stakeholder_confirmed':
      return {
        ...base,
        pill: 'event',
        label: 'Delegate confirmed',
        who: s.actor_name ?? 'API',
        detail: `${s.target_name}${s.target_role ? ` (${ROLE_LABELS[s.target_role]})` : ''} now counts`,
        changes: [],
      };
    case 'stage_change': {
      const [c] = s.changes;
      return {
        ...base,
        pill: 'event',
        label: 'Stage changed',
        who: s.actor_name ?? 'API',
        detail: `${STAGE_LABELS[c.claimed as DealStage]} → ${STAGE_LABELS[c.corrected as DealStage]}`,
        changes: [],
      };
    }
  }
}

const NOTICES: Record<string, string> = {
  created: 'Deal opened. Next, add the buyer’s security stakeholders and invite them.',
  added: 'Stakeholder added.',
  invited: 'A new personal link is on its way. Earlier links for this person no longer work.',
  revoked: 'Every link of this person now stops working, and their reminders stop.',
  extended: 'Their link works for longer now.',
  reminders: 'Reminder settings saved.',
  settings: 'Deal settings saved.',
  segment: 'Buyer segment saved.',
  stage: 'Stage changed.',
  claim: 'Claim changed. Earlier answers on it now ask for re-confirmation.',
  confirmed: 'Confirmed. Their answers now count on this deal.',
};

/**
 * Why a delegate's answers wait for the vendor: outside the buyer domains
 * (those of the people the vendor added), or in the security team.
 */
function confirmationNote(s: { email: string; role: DealDetail['stakeholders'][number]['role']; delegated_by_name: string | null }, domains: string[]): string {
  const by = s.delegated_by_name ?? 'a colleague';
  if (!domains.includes(emailDomain(s.email))) {
    const known = domains.length ? ` (${domains.join(', ')})` : '';
    return `Added by ${by}, outside the buyer domain${known} — confirm to count their answers.`;
  }
  if (isSecurityTeam(s.role)) return `Added by ${by} as ${ROLE_LABELS[s.role]}: a delegate in a security role counts toward the checkpoint only once you confirm them.`;
  return `Added by ${by} — confirm to count their answers.`;
}

/** What a form on the deal page sends back when it failed: its values and problems, shown in place. */
export interface DealPageForm {
  /** The owner form's problem. */
  ownerError?: string;
  values?: Record<string, unknown>;
  errors?: Record<string, string>;
  settingsError?: string;
  stageError?: string;
  askedStage?: string;
  /** The segment form as sent, when it was refused. */
  segment?: { values: Record<string, unknown>; errors: Record<string, string> };
}

/** The deal page: checkpoint, grid, stakeholders, timeline, claims, and the forms that act on them. */
/** How many people the deal page shows at once, in its grid and its list of people. */
export const PEOPLE_PAGE = 25;

export function dealPageView(
  d: DealDetail,
  now: Date,
  query: Record<string, string | undefined>,
  form: DealPageForm = {},
  /** Who may own the deal (the workspace's members who are not viewers). */
  owners: { id: string; name: string }[] = [],
) {
  const names = new Map(d.stakeholders.map((s) => [s.id, s.name]));
  // A deal with many people shows them a page at a time (?people=<offset>, loaded so); counts and the checkpoint cover everyone.
  const from = d.people.offset;
  const peopleLink = (offset: number) => `/app/deals/${d.deal.id}${offset ? `?people=${offset}` : ''}#stakeholders`;
  const peopleCount = d.people.total;
  const answered = new Map<string, number>();
  for (const row of d.grid) for (const a of row.answers) if (a.verdict !== 'none') answered.set(a.stakeholder_id, (answered.get(a.stakeholder_id) ?? 0) + 1);
  const timeline = new Map<number, ReturnType<typeof signalView>[]>();
  for (const s of d.signals) timeline.set(s.week, [...(timeline.get(s.week) ?? []), signalView(s)]);
  const t = d.tracking;
  const domains = d.domains;
  const awaiting = t.awaitingConfirmation.map((s) => `${s.name} (${ROLE_LABELS[s.role]})`);
  return {
    title: d.deal.buyer_name,
    nav: 'deals',
    deal: {
      ...d.deal,
      stageLabel: STAGE_LABELS[d.deal.stage],
      week: weekOfDeal(d.deal.started_on, now),
      reminderDays: d.deal.reminder_days.join(', '),
      segment: segmentLabel(d.deal),
      ownerName: owners.find((o) => o.id === d.deal.owner_id)?.name ?? 'a former member',
    },
    owners: owners.map((o) => ({ value: o.id, label: o.name, selected: o.id === d.deal.owner_id })),
    ownerSaved: query.owner === '1',
    ownerError: form.ownerError,
    segment: {
      industries: industryOptions(form.segment ? form.segment.values.industry : d.deal.industry),
      regions: regionOptions(form.segment ? form.segment.values.region : d.deal.region),
      errors: form.segment?.errors ?? {},
    },
    notice: NOTICES[Object.keys(query).find((k) => query[k] === '1') ?? ''],
    checkpoint: {
      ...t.checkpoint,
      label: CHECKPOINT_LABELS[t.checkpoint.state],
      ready: t.checkpoint.state === 'ready',
      open: t.checkpoint.state === 'open',
      awaiting: awaiting.length ? awaiting.join(', ') : undefined,
    },
    risk: t.risk.noSecurityStakeholder,
    firstSignal: t.firstSecuritySignalWeek,
    firstCorrection: t.firstSecurityCorrectionWeek,
    stages: DEAL_STAGES.map((s) => ({ value: s, label: STAGE_LABELS[s], selected: s === (form.askedStage ?? d.deal.stage) })),
    respondents: d.respondents.map((s) => ({ ...s, roleLabel: ROLE_LABELS[s.role], awaiting: !answersCount(s) })),
    grid: d.grid.map((row) => ({
      ...row,
      statusLabel: STATUS_LABELS[row.status],
      cells: row.answers.map((a) => ({
        verdict: a.verdict,
        label: VERDICT_LABELS[a.verdict],
        detail: a.kind ? KIND_SHORT[a.kind] : undefined,
        stale: a.stale,
        handedTo: a.handed_to,
        who: names.get(a.stakeholder_id),
      })),
    })),
    people: {
      total: peopleCount,
      paged: peopleCount > PEOPLE_PAGE,
      first: from + 1,
      last: from + d.stakeholders.length,
      previousHref: from > 0 ? peopleLink(from - PEOPLE_PAGE) : undefined,
      nextHref: from + PEOPLE_PAGE < peopleCount ? peopleLink(from + PEOPLE_PAGE) : undefined,
    },
    stakeholders: d.stakeholders.map((s) => {
      const mail = d.pendingMail.get(s.id);
      return {
        ...s,
        roleLabel: ROLE_LABELS[s.role],
        champion: isChampion(s.role),
        foundBy: s.source === 'delegated' ? `Delegated by ${s.delegated_by_name}` : 'Added by vendor',
        awaiting: !answersCount(s),
        confirmNote: answersCount(s) ? undefined : confirmationNote(s, domains),
        answered: answered.get(s.id) ?? 0,
        invited: day(s.invited_at),
        linkLabel: LINK_LABELS[s.link_state],
        linkActive: s.link_state === 'active',
        linkUntil: s.link_state === 'active' ? day(s.link_expires_at) : undefined,
        canExtend: s.link_state === 'active' || s.link_state === 'expired',
        mailFailed: mail === 'failed',
        mailPending: mail === 'pending',
      };
    }),
    hasStakeholders: d.stakeholders.length > 0,
    delegations: [...d.handovers]
      .reverse()
      .map((s) => ({ from: s.stakeholder_name, to: s.target_name, concern: getConcern(s.concern!)?.title, week: s.week, when: day(s.created_at) })),
    weeks: [...timeline.entries()].map(([week, signals]) => ({ week, signals })),
    olderHref: d.olderSignals ? `/app/deals/${d.deal.id}?before=${d.olderSignals}#tl-h` : undefined,
    newerHref: query.before ? `/app/deals/${d.deal.id}#tl-h` : undefined,
    claims: d.claims.map((c) => {
      const concern = getConcern(c.concern)!;
      return {
        key: c.concern,
        title: concern.title,
        sentence: concern.sentence(c.claim),
        tailored: c.tailored,
        revision: c.revision,
        editHref: `/app/deals/${d.deal.id}/claims/${c.concern}`,
      };
    }),
    roles: roleOptions(form.values?.role),
    values: form.values ?? {},
    errors: form.errors ?? {},
    settingsError: form.settingsError,
    stageError: form.stageError,
  };
}

/** The page that changes one of a deal's claims: the claim as it stands, and its fields to edit. */
export function claimEditView(
  deal: { id: string; buyer_name: string },
  claim: { concern: string; claim: ClaimValues; revision: number; tailored: boolean },
  form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {},
) {
  const concern = getConcern(claim.concern)!;
  return {
    title: `${concern.title} · ${deal.buyer_name}`,
    nav: 'deals',
    deal,
    concern: { key: concern.key, title: concern.title, sentence: concern.sentence(claim.claim), revision: claim.revision, tailored: claim.tailored },
    errors: form.errors,
    fields: fieldViews(concern, form.values ?? claim.claim, { prefix: 'c', errors: form.errors, baseline: claim.claim, idPrefix: `c-${concern.key}-` }),
  };
}

/** The step before revoking a person's links: who, what stops, and the one button that does it. */
export function revokeConfirmView(deal: { id: string; buyer_name: string }, person: { id: string; name: string; email: string; role: keyof typeof ROLE_LABELS }) {
  return {
    title: `Revoke ${person.name}’s link · ${deal.buyer_name}`,
    nav: 'deals',
    deal: { id: deal.id, buyer_name: deal.buyer_name },
    person: { id: person.id, name: person.name, email: person.email, roleLabel: ROLE_LABELS[person.role] },
    backHref: `/app/deals/${deal.id}#stakeholders`,
  };
}
