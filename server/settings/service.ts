// The workspace's own settings: its web domain, which every invitation names
// so the person invited can tell whose request it is.
import { z } from 'zod';
import type { Executor } from '../db/index.js';
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

export interface WorkspaceSettings {
  name: string;
  webDomain: string | null;
}

export async function getWorkspaceSettings(db: Executor, vendorId: string): Promise<WorkspaceSettings> {
  const row = await repo.workspaceSettings(db, vendorId);
  if (!row) throw notFound('That workspace');
  return { name: row.name, webDomain: row.web_domain };
}

/** Sets (or, with null, clears) the web domain every invitation names. */
export async function setWebDomain(db: Executor, vendorId: string, domain: string | null): Promise<void> {
  await repo.setWebDomain(db, vendorId, domain);
}
