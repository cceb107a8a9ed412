// Pipeline insight: the vendor's page (/app/insights), its tables as CSV,
// and the JSON API (/api/v1/insights/…). HTTP only: parse, call, respond.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requireSession, sessionOf } from '../auth/session.js';
import { csvAttachment, toCsv } from '../lib/csv.js';
import { csvText } from '../lib/api-schema.js';
import { sendPage } from '../lib/render.js';
import { INSIGHTS, corrections, csvRows, engagement, freshen, insight, insightQuery, outcomes, pageFilters, timing, type InsightName } from './service.js';
import { insightsPageView } from './views.js';
import { INSIGHT_RESPONSES } from './schemas.js';

function sendCsv(reply: FastifyReply, name: InsightName, data: Awaited<ReturnType<typeof insight>>) {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', csvAttachment(`insight-${name}`))
    .header('cache-control', 'no-store')
    .send(toCsv(csvRows(name, data)));
}

/** The page and its CSV downloads, for a signed-in vendor. */
export async function insightPages(app: FastifyInstance) {
  const { db, clock } = app.services;

  app.get('/app/insights', { preHandler: requireSession }, async (req, reply) => {
    const { vendorId } = sessionOf(req);
    const { filters, cleared } = pageFilters(req.query as Record<string, unknown>);
    await freshen(db, vendorId);
    const [c, t, o, e] = await Promise.all([corrections(db, vendorId, filters), timing(db, vendorId, filters), outcomes(db, vendorId, filters), engagement(db, vendorId, filters)]);
    return sendPage(req, reply, 'insights', insightsPageView({ filters, cleared, corrections: c, timing: t, outcomes: o, engagement: e, now: clock.now() }));
  });

  // Each table as CSV, with the page's filters (a bad one is dropped, as on the page).
  for (const name of INSIGHTS) {
    app.get(`/app/insights/${name}.csv`, { preHandler: requireSession }, async (req, reply) => {
      const { filters } = pageFilters(req.query as Record<string, unknown>);
      return sendCsv(reply, name, await insight(db, sessionOf(req).vendorId, name, filters));
    });
  }
}

/** GET /api/v1/insights/{corrections,timing,outcomes,engagement}, JSON or ?format=csv; registered under the API's key check. */
export async function insightApi(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { db } = app.services;
  for (const name of INSIGHTS) {
    const { schema, summary } = INSIGHT_RESPONSES[name];
    app.get(
      `/insights/${name}`,
      {
        schema: {
          tags: ['insights'],
          summary,
          description: 'Filtered by the deals’ segment, stage, outcome and start dates; ?format=csv answers the same as CSV.',
          querystring: insightQuery,
          response: {
            200: {
              description: `The ${name} insight, as JSON or (?format=csv) CSV`,
              content: { 'application/json': { schema }, 'text/csv': { schema: csvText } },
            },
          },
        },
      },
      async (req, reply) => {
        const { format, ...filters } = req.query;
        const data = await insight(db, sessionOf(req).vendorId, name, filters);
        return format === 'csv' ? sendCsv(reply, name, data) : data;
      },
    );
  }
}
