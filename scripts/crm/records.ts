// The CRM recipe's mapping: one Posture Portal webhook event (Standard Webhooks
// v1 body) in, the Salesforce and HubSpot records an integration would write
// out. Pure: no I/O, no clock, no state, so it can be tested line by line and
// copied into a Salesforce/HubSpot middleware as it is. docs/crm.md explains it.
//
// Only the concern catalogue is taken from the server, for readable concern,
// field and value names; everything else comes from the event itself.
import { CORRECTION_KINDS, formatValue, getConcern, getField } from '../../server/concerns/index.js';

// ---------------------------------------------------------------------------
// The webhook contract, as the receiver reads it

export interface EventStakeholder {
  id: string;
  name: string;
  role: string;
  email?: string;
}

export interface EventDeal {
  id: string;
  buyer_name: string;
  buyer_domain: string | null;
  stage: string;
}

export interface EventVendor {
  id: string;
  name: string;
}

export interface EventSignal {
  id: number;
  type: string;
  concern: string | null;
  claim_revision: number | null;
  verdict: string | null;
  kind: string | null;
  comment: string | null;
  changes: { field: string; claimed: unknown; corrected: unknown }[];
  stakeholder: EventStakeholder | null;
  target_stakeholder: EventStakeholder | null;
  week: number;
  created_at: string;
}

export interface WebhookEvent {
  type: string;
  /** When the event happened (ISO 8601); the order to apply state changes in. */
  timestamp: string;
  data: Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// What comes out

type FieldValue = string | number | boolean | null;

export interface CrmRecord {
  system: 'salesforce' | 'hubspot';
  object: string;
  action: 'create' | 'update';
  /** For an update: the record to update, by an external-id field. */
  match?: Record<string, string>;
  /** For a create: the record it hangs on (Task.WhatId, Opportunity__c, a note's association), by an external-id field. */
  parent?: { object: string; match: Record<string, string> };
  fields: Record<string, FieldValue>;
}

/** The Salesforce Opportunity field and the HubSpot deal property that hold the portal's deal id. */
export const SALESFORCE_DEAL_KEY = 'Portal_Deal_Id__c';
export const HUBSPOT_DEAL_KEY = 'portal_deal_id';

/** What a state change on the opportunity is about: events of the same deal and topic are applied in `timestamp` order. */
export function stateTopic(event: WebhookEvent): string | null {
  const deal = event.data.deal as EventDeal | undefined;
  if (!deal) return null;
  if (event.type === 'deal.checkpoint_changed') return `${deal.id}:checkpoint`;
  if (event.type === 'deal.stage_changed') return `${deal.id}:stage`;
  return null;
}

/** The CRM records for one event; none for an event the recipe does not map (endpoint.test, a type added later). */
export function crmRecords(event: WebhookEvent): CrmRecord[] {
  const data = event.data;
  switch (event.type) {
    case 'signal.created':
      return signalRecords(data.signal as EventSignal, data.deal as EventDeal);
    case 'stakeholder.invited':
      return invitedRecords(event, data.stakeholder as EventStakeholder, data.deal as EventDeal);
    case 'stakeholder.engaged':
      return engagedRecords(event, data.stakeholder as EventStakeholder, data.deal as EventDeal, data.signal_id as number);
    case 'link.renewal_requested':
      return renewalRecords(event, data.stakeholder as EventStakeholder, data.deal as EventDeal);
    case 'deal.checkpoint_changed':
      return checkpointRecords(event, data.deal as EventDeal, data.checkpoint as Checkpoint);
    case 'deal.stage_changed':
      return stageRecords(event, data.deal as EventDeal, data.stage as StageChange);
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------
// Words

/** "closed_won" → "Closed won", "ciso" → "CISO". */
export function humanize(key: string): string {
  if (key === 'ciso') return 'CISO';
  const words = key.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const person = (s: EventStakeholder | null): string => (s ? `${s.name} (${humanize(s.role)})` : 'The vendor team');

const concernTitle = (key: string | null): string => (key === null ? 'the deal' : (getConcern(key)?.title ?? humanize(key)));

function fieldLabel(concernKey: string | null, fieldKey: string): string {
  const concern = concernKey === null ? undefined : getConcern(concernKey);
  const field = concern && getField(concern, fieldKey);
  return field?.label ?? humanize(fieldKey);
}

/** A field value as the portal shows it ("United States, EU/EEA", "30 days", "—" for none); a value the catalogue does not know, as it came. */
function valueText(concernKey: string | null, fieldKey: string, value: unknown): string {
  if (value === null || value === undefined) return '—';
  const concern = concernKey === null ? undefined : getConcern(concernKey);
  const field = concern && getField(concern, fieldKey);
  if (field && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || Array.isArray(value))) {
    return formatValue(field, value as string | string[] | number | boolean);
  }
  if (fieldKey === 'stage' && typeof value === 'string') return humanize(value);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** "Requirement gap" (the catalogue's label up to its explanation). */
const kindLabel = (kind: string): string => (CORRECTION_KINDS.find((k) => k.value === kind)?.label ?? humanize(kind)).split(' — ')[0];

const day = (iso: string): string => new Date(iso).toISOString().slice(0, 10);

const dealLine = (deal: EventDeal): string => `Portal deal ${deal.id}: ${deal.buyer_name}${deal.buyer_domain ? ` (${deal.buyer_domain})` : ''}, stage ${humanize(deal.stage)}.`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A HubSpot note body: each line escaped (a comment is text a buyer typed), lines joined with <br>. */
const noteBody = (subject: string, description: string): string => [subject, ...description.split('\n')].map(escapeHtml).join('<br>');

// ---------------------------------------------------------------------------
// Records

const sfParent = (deal: EventDeal) => ({ object: 'Opportunity', match: { [SALESFORCE_DEAL_KEY]: deal.id } });
const hsParent = (deal: EventDeal) => ({ object: 'deal', match: { [HUBSPOT_DEAL_KEY]: deal.id } });

interface Activity {
  subject: string;
  description: string;
  at: string;
  /** A completed activity is a record of what happened; an open one asks the account team to act. */
  open?: boolean;
  important?: boolean;
  signalId?: number;
}

/** A Salesforce Task on the opportunity and a HubSpot note (or task, for an open activity) on the deal. */
function activity(deal: EventDeal, a: Activity): CrmRecord[] {
  const task: CrmRecord = {
    system: 'salesforce',
    object: 'Task',
    action: 'create',
    parent: sfParent(deal),
    fields: {
      Subject: a.subject.slice(0, 255),
      Description: a.description,
      ActivityDate: day(a.at),
      Status: a.open ? 'Not Started' : 'Completed',
      Priority: a.important ? 'High' : 'Normal',
      Portal_Signal_Id__c: a.signalId ?? null,
    },
  };
  const hubspot: CrmRecord = a.open
    ? {
        system: 'hubspot',
        object: 'task',
        action: 'create',
        parent: hsParent(deal),
        fields: {
          hs_task_subject: a.subject,
          hs_task_body: noteBody(a.subject, a.description),
          hs_task_status: 'NOT_STARTED',
          hs_task_priority: a.important ? 'HIGH' : 'MEDIUM',
          hs_timestamp: a.at,
        },
      }
    : { system: 'hubspot', object: 'note', action: 'create', parent: hsParent(deal), fields: { hs_note_body: noteBody(a.subject, a.description), hs_timestamp: a.at } };
  return [task, hubspot];
}

function signalSubject(s: EventSignal): string {
  const concern = concernTitle(s.concern);
  const who = person(s.stakeholder);
  switch (s.type) {
    case 'answer':
      if (s.verdict === 'confirm') return `Security confirmed: ${concern} by ${who}`;
      if (s.verdict === 'correct') return `Security corrected: ${concern} by ${who}`;
      if (s.verdict === 'not_mine') return `Not mine: ${concern} by ${who}`;
      return `Security answer (${s.verdict ?? 'none'}): ${concern} by ${who}`;
    case 'delegation':
      return `Security handover: ${concern} from ${who} to ${person(s.target_stakeholder)}`;
    case 'claim_change':
      return `Claim changed: ${concern}${s.claim_revision !== null ? ` (revision ${s.claim_revision})` : ''}`;
    case 'checkpoint_override':
      return 'Security checkpoint overridden';
    case 'stage_change': {
      const change = s.changes.find((c) => c.field === 'stage');
      return change ? `Deal stage: ${valueText(null, 'stage', change.claimed)} → ${valueText(null, 'stage', change.corrected)}` : 'Deal stage changed';
    }
    case 'stakeholder_confirmed':
      return `Stakeholder confirmed: ${person(s.target_stakeholder)}`;
    default:
      return `Security signal (${s.type}): ${concern}`;
  }
}

function signalDescription(s: EventSignal, deal: EventDeal): string {
  const lines = [`${signalSubject(s)}, week ${s.week} of the deal${s.claim_revision !== null ? `, claim revision ${s.claim_revision}` : ''}.`];
  if (s.kind) lines.push(`Kind: ${kindLabel(s.kind)}`);
  for (const c of s.changes) {
    lines.push(`- ${fieldLabel(s.concern, c.field)}: ${valueText(s.concern, c.field, c.claimed)} → ${valueText(s.concern, c.field, c.corrected)}`);
  }
  if (s.comment) lines.push(`Comment: ${s.comment}`);
  lines.push(`${dealLine(deal)} Signal ${s.id}.`);
  return lines.join('\n');
}

function signalRecords(s: EventSignal, deal: EventDeal): CrmRecord[] {
  const corrected = s.type === 'answer' && s.verdict === 'correct';
  const records = activity(deal, { subject: signalSubject(s), description: signalDescription(s, deal), at: s.created_at, important: corrected, signalId: s.id });
  if (!corrected) return records;
  // One record per corrected field, so a report can count corrections by concern, field and kind across deals.
  const corrections: CrmRecord[] = s.changes.map((c) => ({
    system: 'salesforce',
    object: 'Security_Correction__c',
    action: 'create',
    parent: sfParent(deal),
    fields: {
      Name: `${concernTitle(s.concern)}: ${fieldLabel(s.concern, c.field)}`.slice(0, 80),
      Portal_Correction_Key__c: `${s.id}:${c.field}`,
      Concern__c: s.concern,
      Field__c: c.field,
      Claimed__c: valueText(s.concern, c.field, c.claimed),
      Corrected__c: valueText(s.concern, c.field, c.corrected),
      Kind__c: s.kind,
      Comment__c: s.comment,
      Stakeholder__c: s.stakeholder ? person(s.stakeholder) : null,
      Portal_Deal_Id__c: deal.id,
      Portal_Signal_Id__c: s.id,
      Corrected_At__c: s.created_at,
    },
  }));
  return [records[0], ...corrections, records[1]];
}

function invitedRecords(event: WebhookEvent, s: EventStakeholder, deal: EventDeal): CrmRecord[] {
  const subject = `Security stakeholder invited: ${person(s)}`;
  const description = `${person(s)}${s.email ? ` <${s.email}>` : ''} was sent a personal link to review the security posture.\n${dealLine(deal)}`;
  return activity(deal, { subject, description, at: event.timestamp });
}

function engagedRecords(event: WebhookEvent, s: EventStakeholder, deal: EventDeal, signalId: number): CrmRecord[] {
  const subject = `Security engaged: ${person(s)}`;
  const description = `${person(s)} gave a first substantive answer (signal ${signalId}).\n${dealLine(deal)}`;
  return activity(deal, { subject, description, at: event.timestamp, signalId });
}

function renewalRecords(event: WebhookEvent, s: EventStakeholder, deal: EventDeal): CrmRecord[] {
  const subject = `Link renewal requested: ${person(s)}`;
  const description = `${person(s)} opened an expired link and asked for a new one. Send it from the deal page in Posture Portal.\n${dealLine(deal)}`;
  return activity(deal, { subject, description, at: event.timestamp, open: true, important: true });
}

interface Checkpoint {
  state: string;
  previous_state: string | null;
  gaps: { concern: string; title: string }[];
}

function checkpointRecords(event: WebhookEvent, deal: EventDeal, c: Checkpoint): CrmRecord[] {
  const gaps = c.gaps.length > 0 ? c.gaps.map((g) => g.title).join('; ') : null;
  return [
    {
      system: 'salesforce',
      object: 'Opportunity',
      action: 'update',
      match: { [SALESFORCE_DEAL_KEY]: deal.id },
      fields: { Security_Checkpoint__c: c.state, Security_Gaps__c: gaps, Security_Checkpoint_At__c: event.timestamp },
    },
    {
      system: 'hubspot',
      object: 'deal',
      action: 'update',
      match: { [HUBSPOT_DEAL_KEY]: deal.id },
      fields: { portal_security_checkpoint: c.state, portal_security_gaps: gaps, portal_security_checkpoint_at: event.timestamp },
    },
  ];
}

interface StageChange {
  from: string;
  to: string;
  overridden: boolean;
  override_reason: string | null;
}

function stageRecords(event: WebhookEvent, deal: EventDeal, s: StageChange): CrmRecord[] {
  const reason = s.overridden ? s.override_reason : null;
  return [
    {
      system: 'salesforce',
      object: 'Opportunity',
      action: 'update',
      match: { [SALESFORCE_DEAL_KEY]: deal.id },
      fields: { Portal_Stage__c: s.to, Security_Override_Reason__c: reason, Portal_Stage_At__c: event.timestamp },
    },
    {
      system: 'hubspot',
      object: 'deal',
      action: 'update',
      match: { [HUBSPOT_DEAL_KEY]: deal.id },
      fields: { portal_stage: s.to, portal_security_override_reason: reason, portal_stage_at: event.timestamp },
    },
  ];
}
