// The vendor's pages for adding many stakeholders at once: CSV pasted on the
// deal page is previewed (nothing written), then confirmed (all or none,
// through the same service as the API's batch). HTTP only.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { transaction } from '../db/index.js';
import { isInvalidInput } from '../lib/errors.js';
import { seeOther, sendPage } from '../lib/render.js';
import { requireSession, sessionOf } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { getDeal } from '../deals/service.js';
import { MAX_CSV_BYTES } from './csv.js';
import { importStakeholderCsv, previewStakeholderCsv, refusedCsvPreview, type CsvPreview } from './service.js';
import { csvPreviewView } from './views.js';

type DealParams = { Params: { id: string } };

/**
 * The CSV travels url-encoded (the form is posted as text, and again from the
 * preview's hidden field), up to three bytes for each of its own: room for
 * MAX_CSV_BYTES of CSV and the CSRF token. The CSV's own limit is checked on
 * the decoded text, so going over it shows the page, not a bare 413.
 */
const CSV_FORM_LIMIT = 3 * MAX_CSV_BYTES + 16 * 1024;

const csvOf = (req: FastifyRequest) => {
  const value = (req.body as Record<string, unknown> | undefined)?.csv;
  return typeof value === 'string' ? value : '';
};

export default async function stakeholderRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;
  const form = { preHandler: [requireSession, app.csrfProtection], bodyLimit: CSV_FORM_LIMIT, config: { role: 'member' as const, ownDeal: true } };

  const show = (req: FastifyRequest, reply: FastifyReply, deal: { id: string; buyer_name: string }, csv: string, preview: CsvPreview) =>
    sendPage(req, reply, 'stakeholders-csv', csvPreviewView(deal, csv, preview), preview.valid ? 200 : 400);

  // The preview: every row read and checked, nothing written.
  app.post<DealParams>('/app/deals/:id/stakeholders/csv/preview', form, async (req, reply) => {
    const { vendorId } = sessionOf(req);
    const deal = await getDeal(db, vendorId, req.params.id);
    const csv = csvOf(req);
    return show(req, reply, deal, csv, await previewStakeholderCsv(db, vendorId, deal.id, csv));
  });

  // The confirm: the same CSV again, from the preview's hidden field.
  app.post<DealParams>('/app/deals/:id/stakeholders/csv', form, async (req, reply) => {
    const { vendorId } = sessionOf(req);
    const deal = await getDeal(db, vendorId, req.params.id);
    const csv = csvOf(req);
    const preview = await previewStakeholderCsv(db, vendorId, deal.id, csv);
    if (!preview.valid) return show(req, reply, deal, csv, preview);
    try {
      await transaction(db, (trx) => importStakeholderCsv(trx, clock, config.LINK_TTL_DAYS, actorOf(req), deal.id, csv));
    } catch (err) {
      if (!isInvalidInput(err)) throw err;
      return show(req, reply, deal, csv, refusedCsvPreview(csv, err));
    }
    app.services.worker.nudge();
    return seeOther(reply, `/app/deals/${deal.id}?added=1#stakeholders`);
  });
}
