// What the audit trail page shows: each entry as who did what, to what, what
// changed in words, from where and when. Pure functions of the data given.
import { getConcern, getField, REGIONS } from '../concerns/index.js';
import { formatFieldValue } from '../lib/concern-form.js';
import { INDUSTRY_LABELS, MEMBER_ROLE_LABELS, ROLE_LABELS, STAGE_LABELS, type DealStage, type Industry, type MemberRole, type StakeholderRole } from '../rules.js';
import type { AuditRecord } from './service.js';

/** Each action in words, as "<who> <words> <target>" reads. Actions not listed read from their name. */
export const ACTION_WORDS: Record<string, string> = {
  'api_key.created': 'created the API key',
  'api_key.revoked': 'revoked the API key',
  'workspace.updated': 'changed the workspace settings',
  'webhook.created': 'added the webhook',
  'webhook.updated': 'changed the webhook',
  'webhook.deleted': 'deleted the webhook',
  'webhook.secret_rotated': 'rotated the signing secret of the webhook',
  'webhook.test_sent': 'sent a test event to the webhook',
  'webhook.delivery_resent': 'resent a delivery of the webhook',
  'profile.draft_saved': 'saved the posture profile draft',
  'profile.published': 'published the posture profile',
  'profile.suggestion_applied': 'put a buyers’ suggestion into the profile draft',
  'profile.suggestion_dismissed': 'dismissed a buyers’ suggestion',
  'deal.created': 'opened the deal',
  'deal.updated': 'changed the settings of the deal',
  'deal.stage_changed': 'moved the deal to another stage',
  'claim.changed': 'changed a claim of the deal',
  'stakeholder.added': 'added the person',
  'stakeholder.imported': 'added people in one go to the deal',
  'stakeholder.invited': 'invited the person',
  'stakeholder.role_changed': 'changed the role of the person',
  'stakeholder.reminders_paused': 'paused reminders to the person',
  'stakeholder.reminders_resumed': 'resumed reminders to the person',
  'stakeholder.confirmed': 'confirmed the answers of the delegate',
  'link.resent': 'sent a new link to the person',
  'link.revoked': 'revoked the links of the person',
  'link.extended': 'extended the links of the person',
  'export.downloaded': 'exported',
  'deal.reassigned': 'handed the deal to another owner',
  'member.invited': 'invited someone to the workspace',
  'invitation.revoked': 'revoked an invitation',
  'member.joined': 'joined the workspace',
  'member.role_changed': 'changed the role of the member',
  'member.removed': 'removed the member',
  'member.left': 'left the workspace',
  'session.ended': 'ended sessions of the member',
  'sso.created': 'set up single sign-on',
  'sso.updated': 'changed the single sign-on settings',
  'sso.removed': 'removed single sign-on',
};

const humanise = (key: string) => {
  const s = key.replace(/[._]/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
};

/** An action in words: the catalogue's, or its name read out ("member.invited" → "member invited"). */
export const actionWords = (action: string) => ACTION_WORDS[action] ?? action.replace(/[._]/g, ' ');

const LABELS: Record<string, string> = {
  web_domain: 'Web domain',
  suggestion_min_deals: 'Deals that must agree before a suggestion',
  reminders_paused: 'Reminders paused',
  share_corrections: 'Corrections shared',
  reminder_days: 'Reminder days',
  stage: 'Stage',
  overridden: 'Checkpoint overridden',
  override_reason: 'Override reason',
  url: 'Address',
  prefix: 'Key prefix',
  owner_id: 'Owner',
  buyer_name: 'Buyer',
  buyer_domain: 'Buyer domain',
  started_on: 'Started on',
  profile_version: 'Profile version',
  tailored: 'Tailored concerns',
  delivery_id: 'Delivery',
  new_delivery_id: 'New delivery',
  previous_secret_expires_at: 'Previous secret signs until',
  expires_at: 'Links work until',
  deal_id: 'Deal',
};

const label = (key: string) => LABELS[key] ?? getConcern(key)?.title ?? humanise(key);

const ISO_MOMENT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z$/;

/** A moment as the portal's pages show it: "2026-03-02 09:00 UTC". */
export const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

const REGION_LABELS: Record<string, string> = Object.fromEntries(REGIONS.map((r) => [r.value, r.label]));

/** A value in words: lists joined, yes/no, stages, roles and regions by their labels, moments in UTC. */
function valueText(key: string, v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length === 0 ? 'none' : v.map((x) => valueText(key, x)).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  const s = String(v);
  if (key === 'stage' || key === 'from' || key === 'to') return STAGE_LABELS[s as DealStage] ?? s;
  if (key === 'role') return ROLE_LABELS[s as StakeholderRole] ?? MEMBER_ROLE_LABELS[s as MemberRole]?.split(':')[0] ?? s;
  if (key === 'industry') return INDUSTRY_LABELS[s as Industry] ?? s;
  if (key === 'region') return REGION_LABELS[s] ?? s;
  if (ISO_MOMENT.test(s)) return when(new Date(s));
  return s;
}

const isBeforeAfter = (v: unknown): v is { before: unknown; after: unknown } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && 'before' in v && 'after' in v && Object.keys(v).length === 2;

/** The most items of a list written out before "and n more". */
const LIST_SHOWN = 10;

/** Any change record in lines: "Field: before → after", "Field: value", nested objects as "Outer › Inner: …". */
function genericLines(changes: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, v] of Object.entries(changes)) {
    // Ids are for programs (the API and the CSV carry them); the page names things instead.
    if (key === 'id' || key.endsWith('_id')) continue;
    const name = `${prefix}${label(key)}`;
    if (isBeforeAfter(v)) out.push(`${name}: ${valueText(key, v.before)} → ${valueText(key, v.after)}`);
    else if (Array.isArray(v) && v.some((x) => typeof x === 'object' && x !== null)) {
      const items = v.map((x) => (typeof x === 'object' && x !== null ? personText(x as Record<string, unknown>) : valueText(key, x)));
      const more = items.length > LIST_SHOWN ? ` and ${items.length - LIST_SHOWN} more` : '';
      out.push(`${name}: ${items.slice(0, LIST_SHOWN).join('; ')}${more}`);
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(...genericLines(v as Record<string, unknown>, `${name} › `));
    else out.push(`${name}: ${valueText(key, v)}`);
  }
  return out;
}

/** A person of a batch: "Carla Ciso <carla@bank.example> (CISO)". */
function personText(p: Record<string, unknown>): string {
  const role = p.role ? ` (${valueText('role', p.role)})` : '';
  const address = p.email ? ` <${String(p.email)}>` : '';
  return `${String(p.name ?? p.id ?? '?')}${address}${role}`;
}

const fieldLabel = (concernKey: string, fieldKey: string) => {
  if (fieldKey === 'narrative') return 'Narrative';
  const concern = getConcern(concernKey);
  return (concern && getField(concern, fieldKey)?.label) ?? fieldKey;
};

const fieldValue = (concernKey: string, fieldKey: string, v: unknown) =>
  v === null || v === undefined ? '—' : Array.isArray(v) && v.length === 0 ? 'none' : formatFieldValue(concernKey, fieldKey, v);

/** What changed, in lines a person reads: the claim and profile entries by the catalogue's wording, the rest generically. */
export function changeLines(e: Pick<AuditRecord, 'action' | 'changes'>): string[] {
  const c = e.changes;
  switch (e.action) {
    case 'claim.changed': {
      const concern = String(c.concern ?? '');
      const fields = (c.fields ?? {}) as Record<string, { before: unknown; after: unknown }>;
      return [
        `${getConcern(concern)?.title ?? concern}, revision ${String(c.revision ?? '?')}`,
        ...Object.entries(fields).map(([f, v]) => `${fieldLabel(concern, f)}: ${fieldValue(concern, f, v?.before)} → ${fieldValue(concern, f, v?.after)}`),
      ];
    }
    case 'profile.draft_saved':
      return Object.entries((c.concerns ?? {}) as Record<string, string[]>).map(
        ([concern, fields]) => `${getConcern(concern)?.title ?? concern}: ${fields.map((f) => fieldLabel(concern, f)).join(', ')}`,
      );
    case 'profile.suggestion_applied':
    case 'profile.suggestion_dismissed': {
      const concern = String(c.concern ?? '');
      const field = String(c.field ?? '');
      const deals = typeof c.deals === 'number' ? ` (${c.deals} deal${c.deals === 1 ? '' : 's'} agree)` : '';
      return [`${getConcern(concern)?.title ?? concern} › ${fieldLabel(concern, field)}: ${fieldValue(concern, field, c.before)} → ${fieldValue(concern, field, c.after)}${deals}`];
    }
    default:
      return genericLines(c);
  }
}

const KIND_WORDS: Record<string, string> = { user: 'Person', api_key: 'API key', system: 'System' };

export interface AuditPageInput {
  entries: AuditRecord[];
  nextCursor: string | null;
  /** The action filter, when one is set. */
  action?: string;
  /** The page size asked for, kept by the page's links. */
  limit?: number;
}

const query = (params: Record<string, string | undefined>) => {
  const q = new URLSearchParams(Object.entries(params).filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '')).toString();
  return q ? `?${q}` : '';
};

/** The page's data: the table's rows, the filter, the next page's and the CSV's addresses. */
export function auditPage(input: AuditPageInput) {
  const rows = input.entries.map((e) => ({
    id: e.id,
    when: when(e.created_at),
    iso: e.created_at.toISOString(),
    who: e.actor.name,
    whoKind: KIND_WORDS[e.actor.kind] ?? e.actor.kind,
    what: actionWords(e.action),
    action: e.action,
    target: e.target.name ?? (e.target.type === 'workspace' || e.target.type === 'profile' ? '' : e.target.id),
    targetType: humanise(e.target.type),
    changes: changeLines(e),
    ip: e.ip ?? '—',
  }));
  const actions = Object.entries(ACTION_WORDS).map(([value, words]) => ({ value, label: `${value} (${words})`, selected: value === input.action }));
  if (input.action && !ACTION_WORDS[input.action]) actions.push({ value: input.action, label: input.action, selected: true });
  return {
    title: 'Audit trail',
    nav: 'audit',
    rows,
    actions,
    action: input.action,
    filtered: Boolean(input.action),
    actionWords: input.action ? actionWords(input.action) : undefined,
    firstUrl: `/app/audit${query({ action: input.action, limit: input.limit?.toString() })}`,
    nextUrl: input.nextCursor ? `/app/audit${query({ action: input.action, limit: input.limit?.toString(), cursor: input.nextCursor })}` : undefined,
    csvUrl: `/app/audit.csv${query({ action: input.action })}`,
  };
}
