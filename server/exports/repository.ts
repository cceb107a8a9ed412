// SQL of the exports: a workspace's signals a batch at a time, by keyset on
// the signal id (WHERE id > the last one sent, ORDER BY id LIMIT n), so each
// query is one index range, whatever the workspace's size, and no query holds
// a connection (or PGlite's one) between batches.
//
// Served by signals_vendor_id_idx (vendor_id, id), or with a deal by
// signals_deal_idx (vendor_id, deal_id, id DESC) read backwards.
import type { Executor } from '../db/index.js';
import { dealsMatching, type DealFilter } from '../readmodel/service.js';
import { signalsWithPeople } from '../signals/service.js';

export interface SignalExportFilter {
  dealId?: string;
  /** Signals at or after this moment. */
  since?: Date;
  /** Signals before this moment. */
  before?: Date;
  /** Only the deals the deal list shows with this filter. */
  deals?: DealFilter;
}

/**
 * The next `limit` signals of the workspace after signal `afterId`, oldest
 * first, with the people involved (the columns of listDealSignals, so the
 * API's signalJson applies) and the deal's buyer.
 */
export async function signalBatch(db: Executor, vendorId: string, filter: SignalExportFilter, afterId: number, limit: number) {
  let q = signalsWithPeople(db, vendorId)
    .innerJoin('deals', (j) => j.onRef('deals.id', '=', 'signals.deal_id').onRef('deals.vendor_id', '=', 'signals.vendor_id'))
    .select(['signals.deal_id', 'deals.buyer_name'])
    .where('signals.id', '>', afterId);
  if (filter.dealId !== undefined) q = q.where('signals.deal_id', '=', filter.dealId);
  if (filter.since) q = q.where('signals.created_at', '>=', filter.since);
  if (filter.before) q = q.where('signals.created_at', '<', filter.before);
  if (filter.deals) q = q.where('signals.deal_id', 'in', dealsMatching(db, vendorId, filter.deals).select('ds.deal_id'));
  return q.orderBy('signals.id').limit(limit).execute();
}

export type ExportSignalRow = Awaited<ReturnType<typeof signalBatch>>[number];
