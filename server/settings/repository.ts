// SQL of the workspace settings the settings page owns. Every statement is
// scoped by the workspace's id.
import type { Executor } from '../db/index.js';

/** The workspace's settings as its settings page shows them. */
export async function workspaceSettings(db: Executor, vendorId: string, opts: { lock?: boolean } = {}) {
  const q = db.selectFrom('vendors').select(['name', 'web_domain', 'suggestion_min_deals']).where('id', '=', vendorId);
  // Locked by a change, so what the audit trail records as before is what the change replaced.
  return (opts.lock ? q.forUpdate() : q).executeTakeFirst();
}

/** Sets the workspace's web domain (null clears it). */
export async function setWebDomain(db: Executor, vendorId: string, domain: string | null): Promise<void> {
  await db.updateTable('vendors').set({ web_domain: domain }).where('id', '=', vendorId).execute();
}

/** Sets how many deals must agree before the profile page suggests a change. */
export async function setSuggestionMinDeals(db: Executor, vendorId: string, deals: number): Promise<void> {
  await db.updateTable('vendors').set({ suggestion_min_deals: deals }).where('id', '=', vendorId).execute();
}
