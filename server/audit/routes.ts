// The audit trail over HTTP: GET /api/v1/audit (in the API's scope, behind
// its key check) and the page /app/audit with its CSV, /app/audit.csv. Owners
// and admins only. HTTP only: parse, call, respond.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireSession, sessionOf } from '../auth/session.js';
import { csvText, timestamp } from '../lib/api-schema.js';
import { parse } from '../lib/validate.js';
import { sendPage } from '../lib/render.js';
import { actorOf, auditCsv, auditCsvQuery, auditListQuery, auditPageQuery, listAudit, recordAudit, type AuditFilter, type AuditRecord } from './service.js';
import { auditPage } from './views.js';

// --- The contract -------------------------------------------------------------------------------

const AuditEntry = z
  .object({
    id: z.string().describe("The entry's id: a whole number, higher for later entries"),
    actor: z
      .object({
        id: z.string().nullable().describe("The member's id, or the API key's; null for the portal itself"),
        name: z.string().describe('The member’s name, or the key’s (API key “…”), as it was at the time'),
        kind: z.enum(['user', 'api_key', 'system']),
      })
      .describe('Who made the change'),
    action: z
      .string()
      .describe('What was done, as thing.verb: deal.created, deal.stage_changed, claim.changed, link.revoked, api_key.created, webhook.updated, export.downloaded, …'),
    target: z
      .object({ type: z.string().describe('deal, stakeholder, webhook, api_key, profile, workspace, …'), id: z.string().nullable(), name: z.string().nullable() })
      .describe('What it was done to, with its name at the time'),
    changes: z.record(z.string(), z.unknown()).describe('What changed: { field: { before, after } } for a change of values, or the values set'),
    ip: z.string().nullable().describe('The address the request came from'),
    created_at: timestamp,
  })
  .meta({ id: 'AuditEntry' });

const AuditList = z
  .object({ entries: z.array(AuditEntry), next_cursor: z.string().nullable().describe('Pass as ?cursor= for the next (older) page; null on the last') })
  .meta({ id: 'AuditList' });

const entryJson = (e: AuditRecord) => ({ ...e, id: String(e.id) });

// Who may read the trail: owners and admins, on the page and through the API (a key with a lower role is refused).
const adminOnly = { role: 'admin' as const };

/** The trail as CSV, recorded first (an export like any other), then streamed. */
async function sendCsv(app: FastifyInstance, reply: FastifyReply, actor: ReturnType<typeof actorOf>, filter: AuditFilter) {
  const { db, clock } = app.services;
  const file = await auditCsv(db, clock, actor.vendorId, filter);
  await recordAudit(db, clock, actor, { action: 'export.downloaded', target: { type: 'workspace' }, changes: { export: 'audit', format: 'csv', filters: filter } });
  return reply.header('content-disposition', file.disposition).header('cache-control', 'no-store').type(file.contentType).send(file.body);
}

/** GET /api/v1/audit: registered inside the API's scope, after its key check. */
export async function auditApi(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { db } = app.services;
  app.get(
    '/audit',
    {
      config: adminOnly,
      // A HEAD of the CSV would read the whole trail only to drop it.
      exposeHeadRoute: false,
      schema: {
        tags: ['audit'],
        summary: "The workspace's audit trail, newest first (owners and admins)",
        description:
          'A page of entries (keyset: pass next_cursor as ?cursor=), optionally of one action; with format=csv every matching entry as one ' +
          'streamed CSV attachment (columns id, created_at, actor_kind, actor_id, actor_name, action, target_type, target_id, target_name, changes as JSON, ip).',
        querystring: auditListQuery,
        response: {
          200: {
            description: 'A page of entries (JSON), or with format=csv every matching entry (CSV, an attachment, cache-control: no-store)',
            content: { 'application/json': { schema: AuditList }, 'text/csv': { schema: csvText } },
          },
        },
      },
    },
    async (req, reply) => {
      const { format, ...q } = req.query;
      if (format === 'csv') return sendCsv(app, reply, actorOf(req), { action: q.action });
      const page = await listAudit(db, sessionOf(req).vendorId, q);
      return reply.type('application/json; charset=utf-8').send({ entries: page.entries.map(entryJson), next_cursor: page.nextCursor });
    },
  );
}

/** The filter form sends "every action" as an empty value: on the pages it means no filter. */
const withoutEmpty = (raw: unknown) => Object.fromEntries(Object.entries((raw ?? {}) as Record<string, unknown>).filter(([, v]) => v !== ''));

/** The page /app/audit and its CSV. */
export async function auditPages(app: FastifyInstance) {
  const { db } = app.services;
  const page = { preHandler: requireSession, config: adminOnly };

  app.get('/app/audit', page, async (req, reply) => {
    const q = parse(auditPageQuery, withoutEmpty(req.query), 'query');
    const list = await listAudit(db, sessionOf(req).vendorId, q);
    return sendPage(req, reply, 'audit', auditPage({ entries: list.entries, nextCursor: list.nextCursor, action: q.action, limit: q.limit }));
  });

  // A HEAD would read the whole trail only to drop it: the CSV answers GET alone.
  app.get('/app/audit.csv', { ...page, exposeHeadRoute: false }, async (req, reply) => {
    const q = parse(auditCsvQuery, withoutEmpty(req.query), 'query');
    return sendCsv(app, reply, actorOf(req), { action: q.action });
  });
}
