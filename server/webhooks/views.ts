// What webhooks look like to people: a Slack message for each event, and the
// settings page's data. Pure functions of the data given; no I/O here.
import { getConcern, getField } from '../concerns/index.js';
import { formatFieldValue } from '../lib/concern-form.js';
import { CHECKPOINT_LABELS, KIND_LONG, ROLE_LABELS, STAGE_LABELS, type DealStage, type StakeholderRole } from '../rules.js';
import { EVENT_LABELS, EVENT_TYPES, KINDS, type Delivery, type Endpoint } from './service.js';

// ---------------------------------------------------------------------------
// Slack

interface Person {
  id: string;
  name: string;
  role: string;
}
interface DealJson {
  id: string;
  buyer_name: string;
  buyer_domain: string | null;
  stage: string;
}
interface Change {
  field: string;
  claimed: unknown;
  corrected: unknown;
}

/** Slack's mrkdwn treats &, < and > as markup: people's text is escaped. */
const esc = (s: unknown) =>
  String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');

const concernTitle = (key: string | null) => (key ? (getConcern(key)?.title ?? key) : 'a concern');
const personText = (p: Person | null | undefined) => (p ? `${esc(p.name)} (${esc(ROLE_LABELS[p.role as StakeholderRole] ?? p.role)})` : 'Someone');
const stage = (s: string) => STAGE_LABELS[s as DealStage] ?? s;

/** "Data residency — Storage regions: claimed US, EU; corrected to EU" */
export function changeLine(concernKey: string | null, c: Change): string {
  const concern = concernKey ? getConcern(concernKey) : undefined;
  const field = concern ? getField(concern, c.field) : undefined;
  const value = (v: unknown) => (concern ? formatFieldValue(concern.key, c.field, v) : Array.isArray(v) ? v.join(', ') : String(v ?? '—'));
  return `${concern?.title ?? concernKey ?? ''} — ${field?.label ?? c.field}: claimed ${value(c.claimed)}; corrected to ${value(c.corrected)}`;
}

function signalText(data: Record<string, unknown>): string {
  const s = data.signal as {
    type: string;
    concern: string | null;
    verdict: string | null;
    kind: string | null;
    comment: string | null;
    changes: Change[];
    stakeholder: Person | null;
    target_stakeholder: Person | null;
  };
  const deal = data.deal as DealJson;
  const buyer = esc(deal.buyer_name);
  const lines = (s.changes ?? []).map((c) => `• ${esc(changeLine(s.concern, c))}`);
  const comment = s.comment ? [`> ${esc(s.comment).replace(/\n/g, '\n> ')}`] : [];
  const title = esc(concernTitle(s.concern));
  let head: string;
  switch (s.type) {
    case 'answer':
      head =
        s.verdict === 'correct'
          ? `${personText(s.stakeholder)} at ${buyer} corrected *${title}*${s.kind ? ` (${esc(KIND_LONG[s.kind] ?? s.kind)})` : ''}:`
          : s.verdict === 'confirm'
            ? `${personText(s.stakeholder)} at ${buyer} confirmed *${title}*.`
            : `${personText(s.stakeholder)} at ${buyer} says *${title}* is not theirs to answer.`;
      break;
    case 'delegation':
      head = `${personText(s.stakeholder)} at ${buyer} handed *${title}* to ${personText(s.target_stakeholder)}.`;
      break;
    case 'claim_change':
      head = `The claim on *${title}* for ${buyer} changed:`;
      break;
    case 'stage_change':
      return `${buyer} moved from ${esc(stage(String(s.changes[0]?.claimed)))} to ${esc(stage(String(s.changes[0]?.corrected)))}.`;
    case 'checkpoint_override':
      head = `The alignment checkpoint for ${buyer} was overridden.`;
      break;
    case 'stakeholder_confirmed':
      head = `${personText(s.stakeholder)} at ${buyer} was confirmed: their answers now count.`;
      break;
    default:
      head = `New signal on ${buyer}: ${esc(s.type)}.`;
  }
  return [head, ...(s.type === 'stage_change' ? [] : lines), ...comment].join('\n');
}

/** The text of a Slack message for one event's payload. */
export function slackText(payload: { type: string; data: Record<string, unknown> }): string {
  const d = payload.data;
  const deal = d.deal as DealJson | undefined;
  const buyer = esc(deal?.buyer_name ?? '');
  switch (payload.type) {
    case 'signal.created':
      return signalText(d);
    case 'stakeholder.invited':
      return `${personText(d.stakeholder as Person)} at ${buyer} was invited to review ${esc((d.vendor as { name: string }).name)}’s security posture.`;
    case 'stakeholder.engaged':
      return `${personText(d.stakeholder as Person)} at ${buyer} answered for the first time.`;
    case 'deal.checkpoint_changed': {
      const c = d.checkpoint as { state: keyof typeof CHECKPOINT_LABELS; previous_state: keyof typeof CHECKPOINT_LABELS | null; gaps: { title: string }[] };
      const was = c.previous_state ? ` (was: ${CHECKPOINT_LABELS[c.previous_state] ?? c.previous_state})` : '';
      const gaps = c.state === 'open' && c.gaps.length ? `\nStill waiting on: ${c.gaps.map((g) => esc(g.title)).join(', ')}` : '';
      return `${buyer}: alignment checkpoint is now *${CHECKPOINT_LABELS[c.state] ?? c.state}*${was}.${gaps}`;
    }
    case 'deal.stage_changed': {
      const s = d.stage as { from: string; to: string; overridden: boolean; override_reason: string | null };
      const why = s.overridden ? `\nThe checkpoint was overridden: > ${esc(s.override_reason)}` : '';
      return `${buyer} moved from ${esc(stage(s.from))} to *${esc(stage(s.to))}*.${why}`;
    }
    case 'link.renewal_requested':
      return `${personText(d.stakeholder as Person)} at ${buyer} asked for a new link: theirs no longer works.`;
    case 'endpoint.test':
      return `Posture Portal test message: ${esc(d.message)}`;
    default:
      return `Posture Portal: ${esc(payload.type)}`;
  }
}

/** The body a Slack incoming webhook takes: the text, and the same as one mrkdwn section. */
export function slackMessage(payload: { type: string; data: Record<string, unknown> }) {
  const text = slackText(payload);
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }] };
}

// ---------------------------------------------------------------------------
// The settings page

export interface WebhookFormValues {
  url: string;
  description: string;
  kind: string;
  events: string[];
}

export interface WebhooksNotices {
  /** A secret just created or rotated: shown on this response only. */
  secret?: { endpointId: string; value: string; rotated: boolean; previousUntil?: Date };
  /** What the add form sent, with its problems, when refused. */
  errors?: Record<string, string>;
  values?: WebhookFormValues;
  /** What just happened (?done=…). */
  done?: string;
}

const DONE: Record<string, string> = {
  deleted: 'The webhook was deleted.',
  tested: 'A test event is on its way. Its delivery is listed below within a few seconds.',
  enabled: 'The webhook is switched on.',
  disabled: 'The webhook is switched off: no events are sent to it.',
  resent: 'The delivery is queued again, with the same webhook-id.',
};

const fmt = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—');

export function webhooksPage(endpoints: { endpoint: Endpoint; deliveries: Delivery[] }[], notices: WebhooksNotices = {}, max: number) {
  const values = notices.values ?? { url: '', description: '', kind: 'standard', events: [...EVENT_TYPES] };
  return {
    title: 'Webhooks',
    nav: 'settings',
    done: notices.done ? DONE[notices.done] : undefined,
    errors: notices.errors ?? {},
    errorSummary: notices.errors
      ? Object.entries(notices.errors).map(([field, message]) => ({
          href: `#in-${field === 'events' ? 'events' : field}`,
          text: `${field === 'url' ? 'URL' : field[0].toUpperCase() + field.slice(1)}: ${message}`,
        }))
      : undefined,
    values,
    eventChoices: EVENT_TYPES.map((e, i) => ({ value: e, label: EVENT_LABELS[e], id: `ev-${i}`, checked: values.events.includes(e) })),
    kindChoices: KINDS.map((k) => ({
      value: k,
      label: k === 'slack' ? 'Slack incoming webhook (a readable message)' : 'Standard Webhooks (signed JSON)',
      selected: values.kind === k,
    })),
    full: endpoints.length >= max,
    max,
    endpoints: endpoints.map(({ endpoint: e, deliveries }) => ({
      ...e,
      isSlack: e.kind === 'slack',
      eventList: e.events.join(', '),
      created: fmt(e.created_at),
      secret: notices.secret?.endpointId === e.id ? { ...notices.secret, previousUntil: fmt(notices.secret.previousUntil ?? null) } : undefined,
      rotating: e.previous_secret_until ? fmt(e.previous_secret_until) : undefined,
      deliveries: deliveries.map((d) => ({
        ...d,
        failed: d.status === 'failed',
        statusLabel: d.status === 'sent' ? 'Sent' : d.status === 'failed' ? 'Failed' : d.attempts > 0 ? 'Retrying' : 'Queued',
        created: fmt(d.created_at),
        next: fmt(d.next_attempt_at),
        sent: fmt(d.sent_at),
        code: d.last_status_code ?? '—',
      })),
    })),
  };
}
