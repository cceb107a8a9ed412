// Webhooks over HTTP: the JSON API under /api/v1/webhooks (registered in the
// API's scope, behind its key check) and the settings page
// /app/settings/webhooks. HTTP only: parse, call the service, respond.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { requireSession, sessionOf } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { idParam, timestamp } from '../lib/api-schema.js';
import { isInvalidInput } from '../lib/errors.js';
import { byField, fieldErrors } from '../lib/validate.js';
import { seeOther, sendPage } from '../lib/render.js';
import {
  EVENT_TYPES,
  KINDS,
  MAX_ENDPOINTS,
  checkWebhookInput,
  checkWebhookPatch,
  createEndpoint,
  deleteEndpoint,
  deliveryListQuery,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  resendDelivery,
  rotateSecret,
  sendTest,
  updateEndpoint,
  webhookInput,
  webhookPatch,
  type Endpoint,
} from './service.js';
import { webhooksPage, type WebhookFormValues, type WebhooksNotices } from './views.js';

// --- The contract -------------------------------------------------------------------------------

const endpointFields = {
  id: z.string().describe("The webhook's id (UUID)"),
  url: z.string().describe('Where events are POSTed'),
  events: z.array(z.string()).describe(`The events it receives: ${EVENT_TYPES.join(', ')}`),
  kind: z.enum(KINDS).describe('standard: Standard Webhooks JSON; slack: a Slack message'),
  description: z.string().nullable(),
  enabled: z.boolean().describe('false when switched off (by a person, or after the endpoint answered 410 Gone)'),
};
const Webhook = z
  .object({ ...endpointFields, disabled_reason: z.string().nullable().describe('Why it is switched off, when it is'), created_at: timestamp })
  .meta({ id: 'Webhook' });
const WebhookCreated = z
  .object({ ...endpointFields, secret: z.string().describe('The signing secret (whsec_…), shown only here: keep it to verify deliveries') })
  .meta({ id: 'WebhookCreated' });
const WebhookList = z.object({ webhooks: z.array(Webhook) }).meta({ id: 'WebhookList' });
const SecretRotated = z
  .object({
    id: z.string(),
    secret: z.string().describe('The new signing secret (whsec_…), shown only here'),
    previous_secret_expires_at: timestamp.describe('Until then deliveries carry signatures by both the new and the previous secret'),
  })
  .meta({ id: 'WebhookSecretRotated' });
const TestQueued = z.object({ delivery_id: z.string().describe('The queued endpoint.test delivery') }).meta({ id: 'WebhookTestQueued' });
const Delivery = z
  .object({
    id: z.string(),
    event_type: z.string(),
    webhook_id_header: z.string().describe('The webhook-id header (msg_…): the same on every retry and resend of one event'),
    status: z.enum(['pending', 'sent', 'failed']),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable().describe("The endpoint's last HTTP status, null when it did not answer"),
    last_error: z.string().nullable().describe('Why the last attempt failed, briefly'),
    created_at: timestamp,
    next_attempt_at: timestamp.nullable().describe('When pending: the next attempt'),
    sent_at: timestamp.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });
const DeliveryList = z
  .object({ deliveries: z.array(Delivery), next_cursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last') })
  .meta({ id: 'WebhookDeliveryList' });
const Resent = z
  .object({ id: z.string().describe('The new delivery'), webhook_id_header: z.string().describe('The same webhook-id as the original') })
  .meta({ id: 'WebhookResent' });

const webhookParams = z.object({ id: idParam('webhook') });
const deliveryParams = z.object({ id: idParam('webhook'), delivery_id: idParam('delivery') });

const webhookJson = (e: Endpoint) => ({
  id: e.id,
  url: e.url,
  events: e.events,
  kind: e.kind,
  description: e.description,
  enabled: e.enabled,
  disabled_reason: e.disabled_reason,
  created_at: e.created_at,
});

/** /api/v1/webhooks…: registered inside the API's scope, after its key check. */
export async function webhookApi(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { db, clock, config, sealer } = app.services;
  const tags = ['webhooks'];
  // Every webhook route is an admin's, reads included (a Slack address is itself a credential).
  const adminOnly = { role: 'admin' as const };

  app.post('/webhooks', { config: adminOnly, schema: { tags, summary: 'Add a webhook endpoint', body: webhookInput, response: { 201: WebhookCreated } } }, async (req, reply) => {
    const input = await checkWebhookInput(config, req.body);
    const { endpoint, secret } = await transaction(db, (trx) => createEndpoint(trx, clock, sealer, actorOf(req), input));
    return reply.code(201).send({ ...webhookJson(endpoint), secret });
  });

  app.get('/webhooks', { config: adminOnly, schema: { tags, summary: "The workspace's webhook endpoints", response: { 200: WebhookList } } }, async (req) => {
    return { webhooks: (await listEndpoints(db, sessionOf(req).vendorId)).map(webhookJson) };
  });

  app.get('/webhooks/:id', { config: adminOnly, schema: { tags, summary: 'One webhook endpoint', params: webhookParams, response: { 200: Webhook } } }, async (req) => {
    return webhookJson(await getEndpoint(db, sessionOf(req).vendorId, req.params.id));
  });

  app.patch(
    '/webhooks/:id',
    {
      config: adminOnly,
      schema: {
        tags,
        summary: 'Change an endpoint, or switch it off or on (on again clears disabled_reason)',
        params: webhookParams,
        body: webhookPatch,
        response: { 200: Webhook },
      },
    },
    async (req) => {
      const patch = await checkWebhookPatch(config, req.body);
      return webhookJson(await transaction(db, (trx) => updateEndpoint(trx, clock, actorOf(req), req.params.id, patch)));
    },
  );

  app.delete(
    '/webhooks/:id',
    { config: adminOnly, schema: { tags, summary: 'Delete an endpoint and its deliveries', params: webhookParams, response: { 204: z.null().describe('Deleted') } } },
    async (req, reply) => {
      await transaction(db, (trx) => deleteEndpoint(trx, clock, actorOf(req), req.params.id));
      // No body: a 204 carries none (undefined is not serialised).
      return reply.code(204).send(undefined as never);
    },
  );

  app.post(
    '/webhooks/:id/rotate',
    {
      config: adminOnly,
      schema: { tags, summary: 'A new signing secret; the previous one keeps signing too for 24 hours', params: webhookParams, response: { 200: SecretRotated } },
    },
    async (req) => transaction(db, (trx) => rotateSecret(trx, clock, sealer, actorOf(req), req.params.id)),
  );

  app.post(
    '/webhooks/:id/test',
    { config: adminOnly, schema: { tags, summary: 'Send an endpoint.test event to this endpoint only', params: webhookParams, response: { 202: TestQueued } } },
    async (req, reply) => {
      const deliveryId = await transaction(db, (trx) => sendTest(trx, clock, actorOf(req), req.params.id));
      app.services.webhooks.nudge();
      return reply.code(202).send({ delivery_id: deliveryId });
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: adminOnly,
      schema: { tags, summary: "An endpoint's deliveries, newest first", params: webhookParams, querystring: deliveryListQuery, response: { 200: DeliveryList } },
    },
    async (req) => {
      const page = await listDeliveries(db, sessionOf(req).vendorId, req.params.id, req.query);
      return { deliveries: page.deliveries.map(({ message_id, ...d }) => ({ ...d, webhook_id_header: message_id })), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/webhooks/:id/deliveries/:delivery_id/resend',
    { config: adminOnly, schema: { tags, summary: 'Queue a delivery again now, with the same webhook-id', params: deliveryParams, response: { 202: Resent } } },
    async (req, reply) => {
      const copy = await transaction(db, (trx) => resendDelivery(trx, clock, actorOf(req), req.params.id, req.params.delivery_id));
      app.services.webhooks.nudge();
      return reply.code(202).send({ id: copy.id, webhook_id_header: copy.message_id });
    },
  );
}

// --- The settings page --------------------------------------------------------------------------

/** How many recent deliveries the page shows per endpoint. */
const PAGE_DELIVERIES = 10;
const PAGE = '/app/settings/webhooks';

/** What the add form sent, as text, to show back when it is refused. */
function formValues(body: Record<string, unknown>): WebhookFormValues {
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const events = ([] as unknown[]).concat(body.events ?? []).filter((e): e is string => typeof e === 'string');
  return { url: text(body.url), description: text(body.description), kind: text(body.kind) || 'standard', events };
}

export async function webhookPages(app: FastifyInstance) {
  const { db, clock, config, sealer } = app.services;
  // Webhooks are an admin's: their addresses (a Slack one is itself a credential) and deliveries included.
  const admin = { role: 'admin' as const };
  const form = { preHandler: [requireSession, app.csrfProtection], config: admin };

  async function render(req: FastifyRequest, reply: FastifyReply, notices: WebhooksNotices, status = 200) {
    const { vendorId } = sessionOf(req);
    const endpoints = await listEndpoints(db, vendorId);
    const withDeliveries = await Promise.all(
      endpoints.map(async (endpoint) => ({ endpoint, deliveries: (await listDeliveries(db, vendorId, endpoint.id, { limit: PAGE_DELIVERIES })).deliveries })),
    );
    return sendPage(req, reply, 'settings-webhooks', webhooksPage(withDeliveries, notices, MAX_ENDPOINTS), status);
  }

  app.get(PAGE, { preHandler: requireSession, config: admin }, async (req, reply) => {
    const done = (req.query as { done?: unknown }).done;
    return render(req, reply, { done: typeof done === 'string' ? done : undefined });
  });

  app.post(PAGE, form, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = formValues(body);
    const r = webhookInput.safeParse({ url: values.url, description: values.description, kind: values.kind, events: values.events });
    if (!r.success) return render(req, reply, { errors: fieldErrors(r.error), values }, 400);
    try {
      const input = await checkWebhookInput(config, r.data);
      const { endpoint, secret } = await transaction(db, (trx) => createEndpoint(trx, clock, sealer, actorOf(req), input));
      // Shown once, on this response only; never stored in plain or logged.
      return await render(req, reply, { secret: { endpointId: endpoint.id, value: secret, rotated: false } });
    } catch (err) {
      if (isInvalidInput(err)) return render(req, reply, { errors: byField(err.fieldProblems), values }, 400);
      throw err;
    }
  });

  app.post<{ Params: { id: string } }>(`${PAGE}/:id/rotate`, form, async (req, reply) => {
    const r = await transaction(db, (trx) => rotateSecret(trx, clock, sealer, actorOf(req), req.params.id));
    return render(req, reply, { secret: { endpointId: r.id, value: r.secret, rotated: true, previousUntil: r.previous_secret_expires_at } });
  });

  app.post<{ Params: { id: string } }>(`${PAGE}/:id/test`, form, async (req, reply) => {
    await transaction(db, (trx) => sendTest(trx, clock, actorOf(req), req.params.id));
    app.services.webhooks.nudge();
    return seeOther(reply, `${PAGE}?done=tested#wh-${req.params.id}`);
  });

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post<{ Params: { id: string } }>(`${PAGE}/:id/${action}`, form, async (req, reply) => {
      const patch = await checkWebhookPatch(config, { enabled });
      await transaction(db, (trx) => updateEndpoint(trx, clock, actorOf(req), req.params.id, patch));
      return seeOther(reply, `${PAGE}?done=${enabled ? 'enabled' : 'disabled'}#wh-${req.params.id}`);
    });
  }

  app.post<{ Params: { id: string } }>(`${PAGE}/:id/delete`, form, async (req, reply) => {
    await transaction(db, (trx) => deleteEndpoint(trx, clock, actorOf(req), req.params.id));
    return seeOther(reply, `${PAGE}?done=deleted`);
  });

  app.post<{ Params: { id: string; delivery: string } }>(`${PAGE}/:id/deliveries/:delivery/resend`, form, async (req, reply) => {
    await transaction(db, (trx) => resendDelivery(trx, clock, actorOf(req), req.params.id, req.params.delivery));
    app.services.webhooks.nudge();
    return seeOther(reply, `${PAGE}?done=resent#wh-${req.params.id}`);
  });
}
