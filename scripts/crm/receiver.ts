// The CRM recipe's receiving end, without the HTTP server: verify a delivery's
// Standard Webhooks signature over the exact bytes received, parse it, drop a
// replayed webhook-id and a state change older than one already applied, and
// map what is left to CRM records. scripts/crm-receiver.ts serves it over HTTP.
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { crmRecords, stateTopic, type CrmRecord, type WebhookEvent } from './records.js';

export interface Outcome {
  /** The HTTP status to answer with. */
  status: 204 | 400 | 401;
  /** The records to write to the CRM: empty for a refusal, a replay, a stale state change or an unmapped event. */
  records: CrmRecord[];
  /** Why it was refused or skipped, for the log; null when records were produced or nothing needed saying. */
  note: string | null;
}

/** How many webhook-ids to remember. The sender retries for about a day; a real integration keeps them in its database. */
const REMEMBERED_IDS = 100_000;

/** Refuses a secret the Standard Webhooks library cannot use, with a sentence saying why. */
export function secretProblem(secret: string): string | null {
  if (!secret.startsWith('whsec_')) return 'must start with whsec_';
  try {
    new Webhook(secret);
    return null;
  } catch {
    return 'must be whsec_ followed by the base64 of the signing key';
  }
}

function shapeProblem(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body is not a JSON object';
  const event = body as Partial<WebhookEvent>;
  if (typeof event.type !== 'string') return 'type is missing';
  if (typeof event.timestamp !== 'string' || Number.isNaN(Date.parse(event.timestamp))) return 'timestamp is not an ISO 8601 time';
  if (typeof event.data !== 'object' || event.data === null) return 'data is missing';
  const data = event.data as Record<string, unknown>;
  const isObject = (key: string) => typeof data[key] === 'object' && data[key] !== null;
  const needs: Record<string, string[]> = {
    'signal.created': ['signal', 'deal'],
    'stakeholder.invited': ['stakeholder', 'deal'],
    'stakeholder.engaged': ['stakeholder', 'deal'],
    'link.renewal_requested': ['stakeholder', 'deal'],
    'deal.checkpoint_changed': ['checkpoint', 'deal'],
    'deal.stage_changed': ['stage', 'deal'],
  };
  const missing = (needs[event.type] ?? []).find((key) => !isObject(key));
  if (missing) return `data.${missing} is missing`;
  if (isObject('deal') && typeof (data.deal as { id?: unknown }).id !== 'string') return 'data.deal.id is missing';
  if (event.type === 'signal.created' && !Array.isArray((data.signal as { changes?: unknown }).changes)) return 'data.signal.changes is not a list';
  if (event.type === 'deal.checkpoint_changed' && !Array.isArray((data.checkpoint as { gaps?: unknown }).gaps)) return 'data.checkpoint.gaps is not a list';
  return null;
}

export function createReceiver(secret: string) {
  const webhook = new Webhook(secret);
  /** webhook-ids already accepted, oldest first (a Map keeps insertion order). */
  const seen = new Map<string, true>();
  /** Per deal and topic (checkpoint, stage): the timestamp of the newest state change applied. */
  const applied = new Map<string, number>();

  return function receive(rawBody: string, headers: Record<string, string | string[] | undefined>): Outcome {
    const flat: Record<string, string> = {};
    for (const [key, value] of Object.entries(headers)) {
      if (typeof value === 'string') flat[key.toLowerCase()] = value;
    }
    try {
      // jsonParse: false, so a signed body that is not JSON is told apart from a bad signature.
      webhook.verify(rawBody, flat, { jsonParse: false });
    } catch (error) {
      const reason = error instanceof WebhookVerificationError ? error.message : String(error);
      return { status: 401, records: [], note: `refused a delivery: ${reason}` };
    }
    const id = flat['webhook-id'];
    if (seen.has(id)) return { status: 204, records: [], note: null };

    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      return { status: 400, records: [], note: `delivery ${id}: the body is not JSON` };
    }
    const problem = shapeProblem(body);
    if (problem) return { status: 400, records: [], note: `delivery ${id}: ${problem}` };

    seen.set(id, true);
    if (seen.size > REMEMBERED_IDS) seen.delete(seen.keys().next().value!);

    const event = body as WebhookEvent;
    const topic = stateTopic(event);
    if (topic) {
      const at = Date.parse(event.timestamp);
      const newest = applied.get(topic);
      if (newest !== undefined && at < newest) {
        return { status: 204, records: [], note: `delivery ${id}: ${event.type} of ${event.timestamp} is older than one already applied; skipped` };
      }
      applied.set(topic, at);
    }
    const records = crmRecords(event);
    return { status: 204, records, note: records.length === 0 ? `delivery ${id}: ${event.type} has no CRM records` : null };
  };
}
