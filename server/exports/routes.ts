// Exports as files: GET /api/v1/signals/export, /api/v1/deals/export and
// /api/v1/deals/{id}/grid/export (an API key), and the same files for the
// signed-in vendor's pages under /app. HTTP only: parse, call, stream.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { csvText, idParam, ndjsonText } from '../lib/api-schema.js';
import { isoDate, parse } from '../lib/validate.js';
import { actingUserId, requireSession, sessionOf } from '../auth/session.js';
import { actorOf, recordAudit } from '../audit/service.js';
import { dealListParams } from '../deals/service.js';
import { EXPORT_FORMATS, exportDeals, exportGrid, exportSignals, type ExportFile, type ExportFormat } from './service.js';

const format = z
  .enum(EXPORT_FORMATS, { message: 'must be csv or ndjson' })
  .default('csv')
  .describe('csv (the default): RFC 4180 with a header row, nested objects flattened to columns; ndjson: one JSON object per line');

/** The deal list's filters and order, without its page (limit, cursor): an export is every page. */
const dealExportFields = dealListParams.omit({ limit: true, cursor: true });
const dealFilterFields = dealExportFields.omit({ sort: true });

const signalFields = {
  deal_id: z.string().max(100, 'is not a deal id').optional().describe("Only this deal's signals (another workspace's deal is a 404)"),
  from: isoDate.optional().describe('Signals recorded on or after this day (UTC)'),
  to: isoDate.optional().describe('Signals recorded on or before this day (UTC)'),
};
const fromBeforeTo = (q: { from?: string; to?: string }) => !q.from || !q.to || q.from <= q.to;
const fromBeforeToIssue = { message: 'must not be before from', path: ['to'] };

export const SignalExportQuery = dealFilterFields
  .extend({ format, ...signalFields })
  .strict()
  .refine(fromBeforeTo, fromBeforeToIssue);
export const DealExportQuery = dealExportFields.extend({ format }).strict();
export const GridExportQuery = z.object({ format }).strict();

const fileResponse = (what: string) => ({
  200: {
    description: `${what}, streamed as an attachment (cache-control: no-store)`,
    content: { 'text/csv': { schema: csvText }, 'application/x-ndjson': { schema: ndjsonText } },
  },
});

/**
 * Records the export on the audit trail as it starts (who exported what, with which filters: the file's first
 * batch has been read, so a refused export records nothing), then streams it.
 */
async function sendFile(req: FastifyRequest, reply: FastifyReply, file: ExportFile, what: { export: 'signals' | 'deals' | 'grid'; format: ExportFormat; filters?: object }) {
  const { db, clock } = req.server.services;
  const filters = Object.fromEntries(Object.entries(what.filters ?? {}).filter(([, v]) => v !== undefined));
  try {
    await recordAudit(db, clock, actorOf(req), {
      action: 'export.downloaded',
      target: file.deal ? { type: 'deal', id: file.deal.id, name: file.deal.buyer_name } : { type: 'workspace' },
      changes: { export: what.export, format: what.format, filters },
    });
  } catch (err) {
    // Nothing is sent: the export's reads stop here.
    file.body.destroy();
    throw err;
  }
  return reply.header('content-disposition', file.disposition).header('cache-control', 'no-store').type(file.contentType).send(file.body);
}

/** The API's exports; registered under the API's key check. */
export async function exportApi(app: FastifyInstance) {
  const { db, clock } = app.services;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/signals/export',
    {
      // A HEAD would run the whole export only to drop it: exports answer GET alone.
      exposeHeadRoute: false,
      schema: {
        tags: ['exports'],
        summary: "The workspace's signals as CSV or NDJSON",
        description:
          'Every signal (oldest first) of the deals that pass the deal-list filters, optionally of one deal and between two days. ' +
          'NDJSON lines are the signals API objects plus deal_id and buyer_name; CSV has one row per changed field ' +
          '(change_field, change_claimed, change_corrected; empty for a signal without changes).',
        querystring: SignalExportQuery,
        response: fileResponse('The signals'),
      },
    },
    async (req, reply) => {
      const { format: as, ...params } = req.query;
      const file = await exportSignals(db, clock, sessionOf(req).vendorId, params, as, { me: actingUserId(sessionOf(req)) });
      return sendFile(req, reply, file, { export: 'signals', format: as, filters: params });
    },
  );

  api.get(
    '/deals/export',
    {
      // A HEAD would run the whole export only to drop it: exports answer GET alone.
      exposeHeadRoute: false,
      schema: {
        tags: ['exports'],
        summary: 'The deal list as CSV or NDJSON',
        description: 'Every deal the list shows with these filters, in its order: the deal-list items (GET /deals), flattened to columns in CSV.',
        querystring: DealExportQuery,
        response: fileResponse('The deals'),
      },
    },
    async (req, reply) => {
      const { format: as, ...params } = req.query;
      const file = await exportDeals(db, clock, sessionOf(req).vendorId, params, as, { me: actingUserId(sessionOf(req)) });
      return sendFile(req, reply, file, { export: 'deals', format: as, filters: params });
    },
  );

  api.get(
    '/deals/:id/grid/export',
    {
      // A HEAD would run the whole export only to drop it: exports answer GET alone.
      exposeHeadRoute: false,
      schema: {
        tags: ['exports'],
        summary: "A deal's answers by concern as CSV or NDJSON",
        description: "One row per respondent and concern with the latest answer's state (confirm, correct, not_mine or none).",
        params: z.object({ id: idParam('deal') }),
        querystring: GridExportQuery,
        response: fileResponse('The grid'),
      },
    },
    async (req, reply) => sendFile(req, reply, await exportGrid(db, clock, sessionOf(req).vendorId, req.params.id, req.query.format), { export: 'grid', format: req.query.format }),
  );
}

/** The filter form sends its "Any …" choices as empty values: on the pages they mean no filter. */
const withoutEmpty = (query: unknown) => Object.fromEntries(Object.entries((query ?? {}) as Record<string, unknown>).filter(([, v]) => v !== ''));

const PageDealQuery = dealExportFields.strict();
const PageSignalQuery = z.object({ from: signalFields.from, to: signalFields.to }).strict().refine(fromBeforeTo, fromBeforeToIssue);
const PageGridQuery = z.object({}).strict();

/** The same files for the signed-in vendor's pages: the deal list (with its filters), a deal's signals and its grid. */
export async function exportPages(app: FastifyInstance) {
  const { db, clock } = app.services;
  type DealParams = { Params: { id: string } };
  for (const as of EXPORT_FORMATS as readonly ExportFormat[]) {
    app.get(`/app/deals/export.${as}`, { preHandler: requireSession, exposeHeadRoute: false }, async (req, reply) => {
      const params = parse(PageDealQuery, withoutEmpty(req.query), 'query');
      const file = await exportDeals(db, clock, sessionOf(req).vendorId, params, as, { me: actingUserId(sessionOf(req)) });
      return sendFile(req, reply, file, { export: 'deals', format: as, filters: params });
    });
    app.get<DealParams>(`/app/deals/:id/signals.${as}`, { preHandler: requireSession, exposeHeadRoute: false }, async (req, reply) => {
      const params = parse(PageSignalQuery, withoutEmpty(req.query), 'query');
      const filters = { ...params, deal_id: req.params.id };
      const file = await exportSignals(db, clock, sessionOf(req).vendorId, filters, as, { me: actingUserId(sessionOf(req)) });
      return sendFile(req, reply, file, { export: 'signals', format: as, filters });
    });
    app.get<DealParams>(`/app/deals/:id/grid.${as}`, { preHandler: requireSession, exposeHeadRoute: false }, async (req, reply) => {
      parse(PageGridQuery, req.query, 'query');
      const file = await exportGrid(db, clock, sessionOf(req).vendorId, req.params.id, as);
      return sendFile(req, reply, file, { export: 'grid', format: as });
    });
  }
}
