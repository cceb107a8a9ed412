// Single sign-on (OpenID Connect) per workspace.
import type { Executor } from '../db/index.js';
import type { MemberRole } from '../rules.js';
import * as repo from './repository.js';

/**
 * Whether a member with this role must sign in to the workspace through its
 * identity provider. Owners keep the emailed link, so a broken identity
 * provider can never lock a workspace out.
 */
export async function mustUseSso(db: Executor, vendorId: string, role: MemberRole): Promise<boolean> {
  return role !== 'owner' && (await repo.requiresSso(db, vendorId));
}
