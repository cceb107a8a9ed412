// Outbound webhooks, the rules: which events exist and what each carries,
// queueing them in the transaction of the change that causes them, and a
// workspace's endpoints (checked against server-side request forgery when
// saved, secrets sealed at rest, at most MAX_ENDPOINTS). The worker that
// sends them is in worker.ts. Standard Webhooks v1: https://www.standardwebhooks.com
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Executor } from '../db/index.js';
import type { Signal, WebhookDeliveryStatus, WebhookKind } from '../db/schema.js';
import type { FieldChange } from '../concerns/index.js';
import type { Clock } from '../lib/clock.js';
import { DAY } from '../lib/clock.js';
import type { Sealer } from '../lib/crypto.js';
import { DomainError, invalid, notFound } from '../lib/errors.js';
import { paragraph, uuid } from '../lib/validate.js';
import { beforeAfter, recordAudit, type Actor } from '../audit/service.js';
import { checkWebhookUrl, RefusedUrl } from './ssrf.js';
import * as repo from './repository.js';

/** The events an endpoint can subscribe to. */
export const EVENT_TYPES = ['signal.created', 'stakeholder.invited', 'stakeholder.engaged', 'deal.checkpoint_changed', 'deal.stage_changed', 'link.renewal_requested'] as const;
export type EventType = (typeof EVENT_TYPES)[number] | 'endpoint.test';

/** What each event means, for the settings page and the OpenAPI document. */
export const EVENT_LABELS: Record<(typeof EVENT_TYPES)[number], string> = {
  'signal.created': 'Every signal: answers (confirm, correct, not mine), hand-overs, claim and stage changes',
  'stakeholder.invited': 'An invitation is on its way to someone',
  'stakeholder.engaged': 'Someone confirms or corrects a concern for the first time',
  'deal.checkpoint_changed': 'A deal’s alignment checkpoint opens, becomes ready or is overridden',
  'deal.stage_changed': 'A deal moves to another stage',
  'link.renewal_requested': 'Someone whose link stopped working asks for a new one',
};

export const KINDS = ['standard', 'slack'] as const satisfies readonly WebhookKind[];

/** A workspace has at most this many endpoints. */
export const MAX_ENDPOINTS = 20;
/** After a rotation, deliveries carry the old secret's signature too, for this long. */
export const ROTATION_OVERLAP_MS = DAY;

// ---------------------------------------------------------------------------
// Events

/** A stored signal as signal.created carries it: its row's own columns (changes parsed) and its id. */
export type SignalEventInput = Pick<
  Signal,
  'id' | 'type' | 'concern' | 'claim_revision' | 'verdict' | 'kind' | 'comment' | 'stakeholder_id' | 'target_stakeholder_id' | 'week' | 'created_at'
> & { changes: FieldChange[] };

export type WebhookEvent =
  | { type: 'signal.created'; dealId: string; signal: SignalEventInput }
  | { type: 'stakeholder.engaged'; dealId: string; stakeholderId: string; signalId: number }
  | { type: 'stakeholder.invited'; dealId: string; stakeholderId: string }
  | { type: 'link.renewal_requested'; dealId: string; stakeholderId: string }
  | { type: 'deal.stage_changed'; dealId: string; stage: { from: string; to: string; overridden: boolean; override_reason: string | null } }
  | { type: 'deal.checkpoint_changed'; dealId: string; checkpoint: { state: string; previous_state: string | null; gaps: { concern: string; title: string }[] } };

/** A `webhook-id`: msg_ and 128 random bits, the same on every attempt and resend of one event. */
export const newMessageId = () => `msg_${randomBytes(16).toString('base64url')}`;

function eventRow(e: WebhookEvent): repo.EventRow {
  const base = { type: e.type, messageId: newMessageId(), dealId: e.dealId };
  switch (e.type) {
    case 'signal.created': {
      const s = e.signal;
      const signal = {
        id: s.id,
        type: s.type,
        concern: s.concern,
        claim_revision: s.claim_revision,
        verdict: s.verdict,
        kind: s.kind,
        comment: s.comment,
        changes: s.changes.map((c) => ({ field: c.field, claimed: c.claimed ?? null, corrected: c.corrected ?? null })),
        // Set from the people's rows by the statement that queues the event.
        stakeholder: null,
        target_stakeholder: null,
        week: s.week,
        created_at: s.created_at.toISOString(),
      };
      return {
        ...base,
        data: { signal },
        people: [
          { path: '{signal,stakeholder}', id: s.stakeholder_id },
          { path: '{signal,target_stakeholder}', id: s.target_stakeholder_id },
        ].filter((p) => p.id !== null),
      };
    }
    case 'stakeholder.engaged':
      return {
        ...base,
        data: { stakeholder: null, signal_id: e.signalId },
        people: [{ path: '{stakeholder}', id: e.stakeholderId }],
        firstAnswer: { stakeholderId: e.stakeholderId, signalId: e.signalId },
      };
    case 'stakeholder.invited':
      return { ...base, data: { stakeholder: null }, people: [{ path: '{stakeholder}', id: e.stakeholderId, email: true }] };
    case 'link.renewal_requested':
      return { ...base, data: { stakeholder: null }, people: [{ path: '{stakeholder}', id: e.stakeholderId }] };
    case 'deal.stage_changed':
      return { ...base, data: { stage: e.stage } };
    case 'deal.checkpoint_changed':
      return { ...base, data: { checkpoint: e.checkpoint } };
  }
}

/**
 * Queues events of one workspace for its endpoints, in the caller's
 * transaction: they are sent once it commits, and not at all if it rolls
 * back. A workspace without endpoints costs one cheap statement. Resolves to
 * the delivery ids (none without endpoints).
 */
export async function enqueueWebhooks(db: Executor, clock: Clock, vendorId: string, events: WebhookEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  // Only events some endpoint wants: asking first keeps the statement that builds payloads off the path of a
  // workspace without endpoints (every answer a respondent saves comes through here).
  const subscribed = await repo.subscribedTypes(db, vendorId);
  const due = events.filter((e) => subscribed.has(e.type));
  if (due.length === 0) return [];
  return repo.insertEvents(db, vendorId, clock.now(), due.map(eventRow));
}

/** signal.created for each of these signals of one deal (and stakeholder.engaged where one is a person's first confirm or correct). */
export function signalEvents(dealId: string, signals: SignalEventInput[]): WebhookEvent[] {
  return signals.flatMap((signal): WebhookEvent[] => [
    { type: 'signal.created', dealId, signal },
    ...(signal.type === 'answer' && signal.stakeholder_id && (signal.verdict === 'confirm' || signal.verdict === 'correct')
      ? [{ type: 'stakeholder.engaged' as const, dealId, stakeholderId: signal.stakeholder_id, signalId: signal.id }]
      : []),
  ]);
}

// ---------------------------------------------------------------------------
// Endpoints

const eventList = z
  .array(z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }), { message: 'must be a list of event types' })
  .min(1, 'choose at least one event')
  .max(EVENT_TYPES.length, `must list at most ${EVENT_TYPES.length} events`)
  .transform((events) => EVENT_TYPES.filter((e) => events.includes(e)))
  .describe(`The events to receive: ${EVENT_TYPES.join(', ')}`);
const MAX_URL = 2000;
const url = z.string({ message: 'is required' }).trim().min(1, 'is required').max(MAX_URL, `must be at most ${MAX_URL} characters`).describe('Where to POST: https://…');
const description = paragraph(200)
  .nullish()
  .transform((s) => s || null)
  .describe('What the endpoint is for, for people (at most 200 characters)');

export const webhookInput = z
  .object({
    url,
    events: eventList,
    description,
    kind: z.enum(KINDS, { message: 'must be standard or slack' }).default('standard').describe('standard: Standard Webhooks JSON; slack: a Slack incoming webhook message'),
  })
  .strict();
export type WebhookInput = z.infer<typeof webhookInput>;

export const webhookPatch = z
  .object({
    url: url.optional(),
    events: eventList.optional(),
    // Left out: unchanged; null or empty: cleared.
    description: paragraph(200)
      .nullish()
      .transform((s) => (s === undefined ? undefined : s || null))
      .describe('What the endpoint is for (null or empty clears it)'),
    enabled: z.boolean({ message: 'must be true or false' }).optional().describe('false switches it off; true switches it on again and clears disabled_reason'),
  })
  .strict();
export type WebhookPatch = Partial<z.infer<typeof webhookPatch>>;

/** A new signing secret: whsec_ and 32 random bytes in base64, as Standard Webhooks libraries read it. */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

type UrlConfig = Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOW_PRIVATE'>;

/** The URL if it may be called; otherwise the 400 naming `url` with the reason. */
async function allowedUrl(raw: string, config: UrlConfig): Promise<string> {
  try {
    const { href } = await checkWebhookUrl(raw, config);
    // Percent-encoding and punycode can make the normalised address longer than what was typed.
    if (href.length > MAX_URL)
      throw invalid(`The webhook URL is too long once normalised (${href.length} characters; at most ${MAX_URL}).`, [
        { field: 'url', message: `must be at most ${MAX_URL} characters once encoded` },
      ]);
    return href;
  } catch (err) {
    if (!(err instanceof RefusedUrl)) throw err;
    throw invalid(`The webhook URL is refused: it ${err.reason.startsWith('must') ? err.reason : `cannot be used (${err.reason})`}.`, [{ field: 'url', message: err.reason }]);
  }
}

export interface Endpoint {
  id: string;
  url: string;
  events: string[];
  kind: WebhookKind;
  description: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: Date;
  previous_secret_until: Date | null;
}

const endpointOf = (r: repo.EndpointRow): Endpoint => ({
  id: r.id,
  url: r.url,
  events: r.events,
  kind: r.kind,
  description: r.description,
  enabled: r.enabled,
  disabled_reason: r.disabled_reason,
  created_at: r.created_at,
  previous_secret_until: r.previous_secret_until,
});

export async function listEndpoints(db: Executor, vendorId: string): Promise<Endpoint[]> {
  return (await repo.listEndpoints(db, vendorId)).map(endpointOf);
}

/** This workspace's endpoint, or a 404 (a malformed id too). */
export async function getEndpoint(db: Executor, vendorId: string, id: string): Promise<Endpoint> {
  const row = uuid.safeParse(id).success ? await repo.findEndpoint(db, vendorId, id) : undefined;
  if (!row) throw notFound('That webhook');
  return endpointOf(row);
}

declare const checkedUrl: unique symbol;
/** A new endpoint whose URL passed the address check (done before any transaction opens: it resolves names). */
export type CheckedWebhookInput = WebhookInput & { [checkedUrl]: true };

export async function checkWebhookInput(config: UrlConfig, input: WebhookInput): Promise<CheckedWebhookInput> {
  return { ...input, url: await allowedUrl(input.url, config) } as CheckedWebhookInput;
}

/**
 * The address as the audit trail keeps it: no query, fragment or user info (where a token would be), and of a
 * Slack incoming webhook (whose path is itself the credential) only the host. The trail is kept for good, so
 * no secret goes in it.
 */
export function auditedUrl(raw: string, kind: WebhookKind): string {
  try {
    const u = new URL(raw);
    return kind === 'slack' ? `${u.protocol}//${u.host}/…` : `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

const webhookTarget = (e: { id: string; url: string; kind: WebhookKind }) => ({ type: 'webhook', id: e.id, name: auditedUrl(e.url, e.kind) });

/** Adds an endpoint; resolves to it and its secret (shown this once). Call in a transaction (it is audited, without the secret). */
export async function createEndpoint(trx: Executor, clock: Clock, sealer: Sealer, actor: Actor, input: CheckedWebhookInput) {
  const { vendorId } = actor;
  const checked = input.url;
  await repo.lockEndpoints(trx, vendorId);
  // A second endpoint for one address would get every event twice (a reloaded form, a retried request).
  if (await repo.hasEndpointFor(trx, vendorId, checked, input.kind)) {
    throw invalid('This workspace already has an endpoint for that address. Change or rotate the one you have instead.', [
      { field: 'url', message: 'already has an endpoint in this workspace' },
    ]);
  }
  if ((await repo.countEndpoints(trx, vendorId)) >= MAX_ENDPOINTS) {
    throw new DomainError('too_many_webhooks', `A workspace can have at most ${MAX_ENDPOINTS} webhook endpoints. Delete one you no longer use first.`);
  }
  const id = randomUUID();
  const secret = newSecret();
  const now = clock.now();
  await repo.insertEndpoint(trx, {
    id,
    vendor_id: vendorId,
    url: checked,
    description: input.description,
    kind: input.kind,
    events: input.events,
    secret: sealer.seal(secret),
    created_at: now,
    updated_at: now,
  });
  const endpoint = await getEndpoint(trx, vendorId, id);
  await recordAudit(trx, clock, actor, {
    action: 'webhook.created',
    target: webhookTarget(endpoint),
    changes: { url: auditedUrl(endpoint.url, endpoint.kind), kind: endpoint.kind, events: endpoint.events, description: endpoint.description },
  });
  return { endpoint, secret };
}

declare const checkedPatch: unique symbol;
/** A change of an endpoint whose new URL, if any, passed the address check (done before any transaction opens: it resolves names). */
export type CheckedWebhookPatch = WebhookPatch & { [checkedPatch]: true };

export async function checkWebhookPatch(config: UrlConfig, patch: WebhookPatch): Promise<CheckedWebhookPatch> {
  return { ...patch, ...(patch.url !== undefined ? { url: await allowedUrl(patch.url, config) } : {}) } as CheckedWebhookPatch;
}

/** Changes an endpoint, or switches it off or on; the trail records each value before and after. Call in a transaction. */
export async function updateEndpoint(trx: Executor, clock: Clock, actor: Actor, id: string, patch: CheckedWebhookPatch): Promise<Endpoint> {
  const { vendorId } = actor;
  const before = await getEndpoint(trx, vendorId, id);
  const changes: Parameters<typeof repo.updateEndpoint>[3] = { updated_at: clock.now() };
  if (patch.url !== undefined) changes.url = patch.url;
  if (patch.events !== undefined) changes.events = patch.events;
  if (patch.description !== undefined) changes.description = patch.description;
  if (patch.enabled !== undefined) {
    changes.enabled = patch.enabled;
    // Switched on again: whatever switched it off is over. Switched off by a person: say so.
    changes.disabled_reason = patch.enabled ? null : 'Switched off in the portal';
  }
  const row = await repo.updateEndpoint(trx, vendorId, id, changes);
  if (!row) throw notFound('That webhook');
  const after = endpointOf(row);
  const view = (e: Endpoint) => ({ url: auditedUrl(e.url, e.kind), events: e.events, description: e.description, enabled: e.enabled });
  const changed = beforeAfter(view(before), view(after));
  if (Object.keys(changed).length > 0) await recordAudit(trx, clock, actor, { action: 'webhook.updated', target: webhookTarget(after), changes: changed });
  return after;
}

/** Deletes an endpoint and its deliveries (audited: call in a transaction). */
export async function deleteEndpoint(trx: Executor, clock: Clock, actor: Actor, id: string): Promise<void> {
  const endpoint = await getEndpoint(trx, actor.vendorId, id);
  if (!(await repo.deleteEndpoint(trx, actor.vendorId, id))) throw notFound('That webhook');
  await recordAudit(trx, clock, actor, {
    action: 'webhook.deleted',
    target: webhookTarget(endpoint),
    changes: { url: auditedUrl(endpoint.url, endpoint.kind), kind: endpoint.kind, events: endpoint.events },
  });
}

/**
 * A new secret; the old one still signs (next to it) for ROTATION_OVERLAP_MS. Resolves to the new secret, shown
 * this once (the trail records that it was rotated, never a secret). Call in a transaction.
 */
export async function rotateSecret(trx: Executor, clock: Clock, sealer: Sealer, actor: Actor, id: string) {
  const endpoint = await getEndpoint(trx, actor.vendorId, id);
  const secret = newSecret();
  const until = new Date(clock.now().getTime() + ROTATION_OVERLAP_MS);
  if (!(await repo.rotateSecret(trx, actor.vendorId, id, sealer.seal(secret), until, clock.now()))) throw notFound('That webhook');
  await recordAudit(trx, clock, actor, { action: 'webhook.secret_rotated', target: webhookTarget(endpoint), changes: { previous_secret_expires_at: until.toISOString() } });
  return { id, secret, previous_secret_expires_at: until };
}

/** Queues an endpoint.test to this endpoint only; resolves to the delivery's id. Call in a transaction (it is audited). */
export async function sendTest(trx: Executor, clock: Clock, actor: Actor, id: string): Promise<string> {
  const endpoint = await getEndpoint(trx, actor.vendorId, id);
  const [deliveryId] = await repo.insertEvents(trx, actor.vendorId, clock.now(), [
    {
      type: 'endpoint.test',
      messageId: newMessageId(),
      dealId: null,
      endpointId: id,
      data: { webhook_id: id, message: 'A test from Posture Portal: this endpoint is set up to receive webhooks.' },
    },
  ]);
  await recordAudit(trx, clock, actor, { action: 'webhook.test_sent', target: webhookTarget(endpoint), changes: { delivery_id: deliveryId } });
  return deliveryId;
}

// ---------------------------------------------------------------------------
// Deliveries

export interface Delivery {
  id: string;
  event_type: string;
  message_id: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  next_attempt_at: Date | null;
  sent_at: Date | null;
}

const deliveryOf = (d: repo.DeliveryRow): Delivery => ({
  id: d.id,
  event_type: d.event_type,
  message_id: d.message_id,
  status: d.status,
  attempts: d.attempts,
  last_status_code: d.last_status_code,
  last_error: d.last_error,
  created_at: d.created_at,
  next_attempt_at: d.status === 'pending' ? d.next_attempt_at : null,
  sent_at: d.sent_at,
});

export const deliveryListQuery = z
  .object({
    limit: z.coerce
      .number({ message: 'must be a whole number from 1 to 200' })
      .int('must be a whole number from 1 to 200')
      .min(1, 'must be at least 1')
      .max(200, 'must be at most 200')
      .default(50)
      .describe('How many deliveries (1–200, default 50)'),
    cursor: z
      .string()
      .regex(/^[1-9][0-9]{0,17}$/, 'must be a next_cursor this list gave')
      .optional()
      .describe('The next_cursor of the previous page'),
  })
  .strict();

/** An endpoint's deliveries, newest first, a page at a time. */
export async function listDeliveries(db: Executor, vendorId: string, endpointId: string, query: z.infer<typeof deliveryListQuery>) {
  await getEndpoint(db, vendorId, endpointId);
  const rows = await repo.listDeliveries(db, vendorId, endpointId, query.limit + 1, query.cursor === undefined ? undefined : Number(query.cursor));
  const page = rows.slice(0, query.limit);
  return { deliveries: page.map(deliveryOf), nextCursor: rows.length > query.limit ? String(page.at(-1)!.seq) : null };
}

/** The same message (its webhook-id and payload) queued again, due now, as a new delivery with its own attempts. Call in a transaction (it is audited). */
export async function resendDelivery(trx: Executor, clock: Clock, actor: Actor, endpointId: string, deliveryId: string) {
  const endpoint = await getEndpoint(trx, actor.vendorId, endpointId);
  const copy = uuid.safeParse(deliveryId).success ? await repo.copyDelivery(trx, actor.vendorId, endpointId, deliveryId, randomUUID(), clock.now()) : undefined;
  if (!copy) throw notFound('That delivery');
  await recordAudit(trx, clock, actor, {
    action: 'webhook.delivery_resent',
    target: webhookTarget(endpoint),
    changes: { delivery_id: deliveryId, new_delivery_id: copy.id, event_type: copy.event_type },
  });
  return { id: copy.id, message_id: copy.message_id };
}
