// SQL for a workspace's single sign-on settings and the sign-ins under way.
import type { Executor } from '../db/index.js';

/** Whether the workspace requires its members to sign in through SSO. */
export async function requiresSso(db: Executor, vendorId: string): Promise<boolean> {
  const row = await db.selectFrom('sso_configs').select('require_sso').where('vendor_id', '=', vendorId).executeTakeFirst();
  return row?.require_sso ?? false;
}
