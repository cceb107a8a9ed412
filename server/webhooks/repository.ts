// SQL of outbound webhooks: endpoints, the one statement that turns events
// into deliveries, the worker's claim with a lease, and how attempts end.
import { sql, type Insertable, type Selectable } from 'kysely';
import { preparedAs, type Executor } from '../db/index.js';
import type { WebhookDeliveriesTable, WebhookEndpointsTable } from '../db/schema.js';

export type EndpointRow = Selectable<WebhookEndpointsTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

// ---------------------------------------------------------------------------
// Events into deliveries

/** A person to look up and place in an event's data, as { id, name, role } (and email when asked). */
export interface PersonSlot {
  /** Where in `data`, as a PostgreSQL text[] literal: '{signal,stakeholder}'. */
  path: string;
  id: string | null;
  email?: boolean;
}

export interface EventRow {
  type: string;
  messageId: string;
  /** The deal the event is about: its { id, buyer_name, buyer_domain, stage } and the vendor's { id, name } join `data`. */
  dealId: string | null;
  data: Record<string, unknown>;
  people?: PersonSlot[];
  /** To this endpoint only, enabled and subscribed or not (endpoint.test). */
  endpointId?: string;
  /** Only when this signal is the person's first confirm or correct on the deal. */
  firstAnswer?: { stakeholderId: string; signalId: number };
}

const MAX_PEOPLE = 2;

/** A person's JSON, looked up in the statement (null when there is none). */
const person = (n: number) =>
  `coalesce((SELECT jsonb_build_object('id', s.id, 'name', s.name, 'role', s.role)
                    || CASE WHEN ev.p${n}_email THEN jsonb_build_object('email', s.email) ELSE '{}'::jsonb END
               FROM stakeholders s WHERE s.vendor_id = e.vendor_id AND s.id = ev.p${n}_id), 'null'::jsonb)`;

/** The event's data: what the caller gave, the deal and vendor joined, each person set at their path. */
const DATA = (() => {
  let data = `CASE WHEN ev.deal_id IS NULL THEN ev.data ELSE ev.data || jsonb_build_object(
      'deal', (SELECT jsonb_build_object('id', d.id, 'buyer_name', d.buyer_name, 'buyer_domain', d.buyer_domain, 'stage', d.stage)
                 FROM deals d WHERE d.vendor_id = e.vendor_id AND d.id = ev.deal_id),
      'vendor', (SELECT jsonb_build_object('id', v.id, 'name', v.name) FROM vendors v WHERE v.id = e.vendor_id)) END`;
  for (let n = 1; n <= MAX_PEOPLE; n++) data = `CASE WHEN ev.p${n}_path IS NULL THEN ${data} ELSE jsonb_set(${data}, ev.p${n}_path, ${person(n)}) END`;
  return data;
})();

/**
 * The event types some enabled endpoint of the workspace subscribes to. Every
 * signal asks (every answer a respondent saves among them), so it is one small
 * prepared statement on the endpoints' primary key; most workspaces have none.
 */
export async function subscribedTypes(db: Executor, vendorId: string): Promise<Set<string>> {
  const { rows } = await sql<{ type: string }>`${sql.raw(preparedAs('webhook-subscribed-types'))}
    SELECT DISTINCT t AS type FROM webhook_endpoints e, unnest(e.events) t WHERE e.vendor_id = ${vendorId}::uuid AND e.enabled`.execute(db);
  return new Set(rows.map((r) => r.type));
}

/**
 * Queues events of one workspace for every enabled endpoint subscribed to
 * them, in the caller's transaction: one INSERT … SELECT joining the events
 * with the workspace's endpoints, so a workspace without endpoints pays one
 * index lookup, and the lookups that complete the payload (deal, vendor,
 * people) run only for rows that are delivered. Resolves to the delivery ids.
 */
export async function insertEvents(db: Executor, vendorId: string, at: Date, events: EventRow[]): Promise<string[]> {
  if (events.length === 0) return [];
  const ts = at.toISOString();
  const rows = events.map((ev) => {
    const people = ev.people ?? [];
    if (people.length > MAX_PEOPLE) throw new Error(`a webhook event names at most ${MAX_PEOPLE} people`);
    const slot = (n: number) => {
      const p = people[n];
      return sql`${p?.path ?? null}::text[], ${p?.id ?? null}::uuid, ${p?.email ?? false}::boolean`;
    };
    return sql`(${ev.type}::text, ${ev.messageId}::text, ${ev.dealId}::uuid, ${JSON.stringify(ev.data)}::jsonb, ${slot(0)}, ${slot(1)},
                ${ev.endpointId ?? null}::uuid, ${ev.firstAnswer?.stakeholderId ?? null}::uuid, ${ev.firstAnswer?.signalId ?? null}::bigint)`;
  });
  const { rows: inserted } = await sql<{ id: string }>`
    INSERT INTO webhook_deliveries (id, vendor_id, endpoint_id, event_type, message_id, payload, created_at, next_attempt_at)
    SELECT gen_random_uuid(), e.vendor_id, e.id, ev.type, ev.msg,
           jsonb_build_object('type', ev.type, 'timestamp', ${ts}::text, 'data', ${sql.raw(DATA)}), ${at}::timestamptz, ${at}::timestamptz
      FROM (VALUES ${sql.join(rows)}) AS ev (type, msg, deal_id, data, p1_path, p1_id, p1_email, p2_path, p2_id, p2_email, endpoint_id, first_sid, first_signal)
      JOIN webhook_endpoints e
        ON e.vendor_id = ${vendorId}::uuid
       AND CASE WHEN ev.endpoint_id IS NULL THEN e.enabled AND ev.type = ANY (e.events) ELSE e.id = ev.endpoint_id END
     WHERE ev.first_sid IS NULL OR NOT EXISTS (
             SELECT 1 FROM signals s
              WHERE s.vendor_id = e.vendor_id AND s.deal_id = ev.deal_id AND s.stakeholder_id = ev.first_sid
                AND s.type = 'answer' AND s.verdict <> 'not_mine' AND s.id < ev.first_signal)
    RETURNING id`.execute(db);
  return inserted.map((r) => r.id);
}

// ---------------------------------------------------------------------------
// Endpoints

export async function countEndpoints(db: Executor, vendorId: string): Promise<number> {
  const r = await db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('vendor_id', '=', vendorId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Serialises endpoint creation within a workspace until the transaction ends, so the cap holds. */
export async function lockEndpoints(trx: Executor, vendorId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${`webhook_endpoints:${vendorId}`})::bigint)`.execute(trx);
}

/** Whether the workspace already has an endpoint for this address and kind. */
export async function hasEndpointFor(db: Executor, vendorId: string, url: string, kind: EndpointRow['kind']): Promise<boolean> {
  const row = await db.selectFrom('webhook_endpoints').select('id').where('vendor_id', '=', vendorId).where('url', '=', url).where('kind', '=', kind).executeTakeFirst();
  return row !== undefined;
}

export async function insertEndpoint(db: Executor, row: Insertable<WebhookEndpointsTable>): Promise<void> {
  await db.insertInto('webhook_endpoints').values(row).execute();
}

export async function listEndpoints(db: Executor, vendorId: string): Promise<EndpointRow[]> {
  return db.selectFrom('webhook_endpoints').selectAll().where('vendor_id', '=', vendorId).orderBy('created_at').orderBy('id').execute();
}

export async function findEndpoint(db: Executor, vendorId: string, id: string): Promise<EndpointRow | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('vendor_id', '=', vendorId).where('id', '=', id).executeTakeFirst();
}

export async function updateEndpoint(
  db: Executor,
  vendorId: string,
  id: string,
  changes: Partial<Pick<EndpointRow, 'url' | 'events' | 'description' | 'enabled' | 'disabled_reason'>> & { updated_at: Date },
): Promise<EndpointRow | undefined> {
  return db.updateTable('webhook_endpoints').set(changes).where('vendor_id', '=', vendorId).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteEndpoint(db: Executor, vendorId: string, id: string): Promise<boolean> {
  const r = await db.deleteFrom('webhook_endpoints').where('vendor_id', '=', vendorId).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** The current secret becomes the previous one (still signing until `until`), and `secret` the current. */
export async function rotateSecret(db: Executor, vendorId: string, id: string, secret: string, until: Date, now: Date): Promise<boolean> {
  const r = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({ previous_secret: eb.ref('secret'), previous_secret_until: until, secret, updated_at: now }))
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

// ---------------------------------------------------------------------------
// Deliveries as the API and the page list them

/** An endpoint's deliveries, newest first, `limit` at a time; `beforeSeq` continues after the previous page. */
export async function listDeliveries(db: Executor, vendorId: string, endpointId: string, limit: number, beforeSeq?: number): Promise<DeliveryRow[]> {
  let q = db.selectFrom('webhook_deliveries').selectAll().where('vendor_id', '=', vendorId).where('endpoint_id', '=', endpointId);
  if (beforeSeq !== undefined) q = q.where('seq', '<', beforeSeq);
  return q.orderBy('seq', 'desc').limit(limit).execute();
}

export async function findDelivery(db: Executor, vendorId: string, endpointId: string, id: string): Promise<DeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('vendor_id', '=', vendorId).where('endpoint_id', '=', endpointId).where('id', '=', id).executeTakeFirst();
}

/** The same message (id and payload) queued again as a new delivery, due now. */
export async function copyDelivery(db: Executor, vendorId: string, endpointId: string, id: string, newId: string, now: Date) {
  return db
    .insertInto('webhook_deliveries')
    .columns(['id', 'vendor_id', 'endpoint_id', 'event_type', 'message_id', 'payload', 'created_at', 'next_attempt_at'])
    .expression((eb) =>
      eb
        .selectFrom('webhook_deliveries')
        .select([
          sql<string>`${newId}::uuid`.as('id'),
          'vendor_id',
          'endpoint_id',
          'event_type',
          'message_id',
          'payload',
          sql<Date>`${now}::timestamptz`.as('created_at'),
          sql<Date>`${now}::timestamptz`.as('next_attempt_at'),
        ])
        .where('vendor_id', '=', vendorId)
        .where('endpoint_id', '=', endpointId)
        .where('id', '=', id),
    )
    .returning(['id', 'message_id', 'event_type'])
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------
// The worker

export interface ClaimedDelivery {
  id: string;
  vendor_id: string;
  endpoint_id: string;
  event_type: string;
  message_id: string;
  payload: Record<string, unknown>;
  attempts: number;
  url: string;
  kind: 'standard' | 'slack';
  enabled: boolean;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: Date | null;
}

/**
 * Claims up to `limit` due deliveries in one statement: rows another worker
 * holds are skipped, the claimed ones leased until `leaseUntil` (no one else
 * takes them meanwhile; a worker that dies leaves them to be retried then)
 * and their attempt counted. With each, its endpoint's address and secrets.
 */
export async function claimDue(db: Executor, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimedDelivery>`
    WITH due AS MATERIALIZED (
      SELECT vendor_id, id FROM webhook_deliveries
       WHERE status = 'pending' AND next_attempt_at <= ${now}::timestamptz
       ORDER BY next_attempt_at, seq
       LIMIT ${limit}
       FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_deliveries d SET next_attempt_at = ${leaseUntil}::timestamptz, attempts = d.attempts + 1
      FROM due, webhook_endpoints e
     WHERE d.vendor_id = due.vendor_id AND d.id = due.id AND e.vendor_id = d.vendor_id AND e.id = d.endpoint_id
    RETURNING d.id, d.vendor_id, d.endpoint_id, d.event_type, d.message_id, d.payload, d.attempts,
              e.url, e.kind, e.enabled, e.secret, e.previous_secret, e.previous_secret_until`.execute(db);
  return rows.map((r) => ({ ...r, attempts: Number(r.attempts), previous_secret_until: r.previous_secret_until === null ? null : new Date(r.previous_secret_until) }));
}

export interface AttemptOutcome {
  status: 'sent' | 'pending' | 'failed';
  code: number | null;
  error: string | null;
  /** When pending: the next attempt. */
  nextAt?: Date;
}

/**
 * Records the outcome of the attempt this worker claimed: only while the delivery is still pending on that
 * attempt, so a worker whose lease ran out (and whose delivery another worker took) overwrites nothing.
 */
export async function recordAttempt(db: Executor, claimed: { vendor_id: string; id: string; attempts: number }, now: Date, outcome: AttemptOutcome): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: outcome.status,
      last_status_code: outcome.code,
      last_error: outcome.error,
      ...(outcome.status === 'sent' ? { sent_at: now } : {}),
      ...(outcome.status === 'pending' ? { next_attempt_at: outcome.nextAt! } : {}),
    })
    .where('vendor_id', '=', claimed.vendor_id)
    .where('id', '=', claimed.id)
    .where('attempts', '=', claimed.attempts)
    .where('status', '=', 'pending')
    .execute();
}

export async function disableEndpoint(db: Executor, vendorId: string, id: string, reason: string, now: Date): Promise<void> {
  await db.updateTable('webhook_endpoints').set({ enabled: false, disabled_reason: reason, updated_at: now }).where('vendor_id', '=', vendorId).where('id', '=', id).execute();
}
