// The workspace's own settings: its web domain, which every invitation names
// so the person invited can tell whose request it is; and how many deals'
// security teams must agree before the profile page suggests a change.
import { z } from 'zod';
import { SUGGESTION_MIN_DEALS } from '../rules.js';
export { SUGGESTION_MIN_DEALS };
import type { Executor } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { beforeAfter, recordAudit, type Actor } from '../audit/service.js';
import { notFound } from '../lib/errors.js';
import * as repo from './repository.js';

/** A DNS host name: dot-separated labels of letters, digits and inner hyphens, ending in a name (not a number). */
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** What people paste in place of a bare domain: a scheme, a path, a port, an address or spaces. */
const NOT_BARE = /:\/\/|[/?#:@\s]/;

/**
 * The web domain as the form sends it: blank clears it; otherwise a bare host
 * name ("acme.example", lower-cased, a trailing dot dropped), never a web
 * address with a scheme or a path.
 */
export const webDomainInput = z.object({
  web_domain: z
    .string({ message: 'must be text' })
    .trim()
    .toLowerCase()
    .transform((s) => s.replace(/\.$/, ''))
    .superRefine((s, ctx) => {
      if (s === '') return;
      if (NOT_BARE.test(s)) {
        ctx.addIssue({ code: 'custom', message: 'must be the domain alone, such as acme.example: no https://, path, port or spaces' });
      } else if (!HOST_NAME.test(s)) {
        ctx.addIssue({ code: 'custom', message: 'must be a domain name such as acme.example (letters, digits, hyphens and dots; in its xn-- form if it has other letters)' });
      }
    })
    .transform((s) => s || null),
});

/** Bounds of the suggestion threshold (the column's CHECK says the same), and its default. */
const THRESHOLD_MESSAGE = `must be a whole number from ${SUGGESTION_MIN_DEALS.min} to ${SUGGESTION_MIN_DEALS.max}`;

/** The threshold as the form sends it: a whole number of deals, digits only. */
export const suggestionThresholdInput = z.object({
  suggestion_min_deals: z
    .string({ message: THRESHOLD_MESSAGE })
    .trim()
    .regex(/^\d{1,4}$/, { message: THRESHOLD_MESSAGE })
    .transform(Number)
    .refine((n) => n >= SUGGESTION_MIN_DEALS.min && n <= SUGGESTION_MIN_DEALS.max, { message: THRESHOLD_MESSAGE }),
});

export interface WorkspaceSettings {
  name: string;
  webDomain: string | null;
  /** Deals whose security teams must agree before the profile page suggests a change. */
  suggestionMinDeals: number;
}

export async function getWorkspaceSettings(db: Executor, vendorId: string): Promise<WorkspaceSettings> {
  const row = await repo.workspaceSettings(db, vendorId);
  if (!row) throw notFound('That workspace');
  return { name: row.name, webDomain: row.web_domain, suggestionMinDeals: row.suggestion_min_deals };
}

/** Sets (or, with null, clears) the web domain every invitation names. Run it in the caller's transaction (it is audited). */
export async function setWebDomain(trx: Executor, clock: Clock, actor: Actor, domain: string | null): Promise<void> {
  await changeWorkspace(trx, clock, actor, { web_domain: domain }, () => repo.setWebDomain(trx, actor.vendorId, domain));
}

/** Sets how many deals' security teams must agree before the profile page suggests a change (audited: pass the transaction). */
export async function setSuggestionMinDeals(trx: Executor, clock: Clock, actor: Actor, deals: number): Promise<void> {
  await changeWorkspace(trx, clock, actor, { suggestion_min_deals: deals }, () => repo.setSuggestionMinDeals(trx, actor.vendorId, deals));
}

/** Writes a change of the workspace's settings and records what it replaced (nothing when the value is the same). */
async function changeWorkspace(trx: Executor, clock: Clock, actor: Actor, after: { web_domain?: string | null; suggestion_min_deals?: number }, write: () => Promise<void>) {
  const row = await repo.workspaceSettings(trx, actor.vendorId, { lock: true });
  if (!row) throw notFound('That workspace');
  const changes = beforeAfter(row, after);
  if (Object.keys(changes).length === 0) return;
  await write();
  await recordAudit(trx, clock, actor, { action: 'workspace.updated', target: { type: 'workspace', id: actor.vendorId, name: row.name }, changes });
}
