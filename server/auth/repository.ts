// SQL for workspaces, users, sign-in links and API keys.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { MINUTE } from '../lib/clock.js';
import { hashToken, newToken } from '../lib/tokens.js';
import type { Executor } from '../mail/outbox.js';
import { enqueueMail } from '../mail/outbox.js';
import type { DB } from '../db/index.js';
import type { SignupPayload } from '../db/schema.js';
import { defaultDraft } from '../profiles/draft.js';

export const LOGIN_TTL_MS = 15 * MINUTE;


/** A vendor workspace, its first admin and a draft profile pre-filled with the standard hypotheses. */
export async function createWorkspace(
  trx: Executor,
  clock: Clock,
  input: { workspace: string; name: string; email: string },
): Promise<{ vendorId: string; userId: string }> {
  const now = clock.now();
  const vendorId = randomUUID();
  const userId = randomUUID();
  await trx.insertInto('vendors').values({ id: vendorId, name: input.workspace, created_at: now }).execute();
  await trx
    .insertInto('users')
    .values({ id: userId, vendor_id: vendorId, email: input.email, name: input.name, role: 'admin', created_at: now })
    .execute();
  await trx
    .insertInto('profiles')
    .values({ vendor_id: vendorId, draft: JSON.stringify(defaultDraft()), updated_at: now, updated_by: userId })
    .execute();
  return { vendorId, userId };
}

export async function requestSignup(db: DB, clock: Clock, input: SignupPayload & { email: string }) {
  await db.transaction().execute(async (trx) => {
    const id = randomUUID();
    const now = clock.now();
    await trx
      .insertInto('login_tokens')
      .values({
        id,
        purpose: 'signup',
        email: input.email,
        user_id: null,
        payload: JSON.stringify({ workspace: input.workspace, name: input.name }),
        token_hash: null,
        created_at: now,
        expires_at: new Date(now.getTime() + LOGIN_TTL_MS),
      })
      .execute();
    await enqueueMail(trx, clock, { template: 'signup', recipient: input.email, vendorId: null, params: { loginId: id } });
  });
}

/**
 * Queues one sign-in mail for the address, known or not: the request does the
 * same work either way, so its timing does not tell whether an account exists.
 * The composer finds the workspaces and mints a link for each.
 */
export async function requestSignin(db: DB, clock: Clock, email: string): Promise<void> {
  await enqueueMail(db, clock, { template: 'signin', recipient: email, vendorId: null, params: {} });
}

/** Fresh sign-in links, one per workspace the address belongs to (none for an unknown address). */
export async function mintSigninLinks(db: DB, clock: Clock, email: string) {
  return db.transaction().execute(async (trx) => {
    const users = await trx
      .selectFrom('users')
      .innerJoin('vendors', 'vendors.id', 'users.vendor_id')
      .select(['users.id', 'vendors.name as workspace'])
      .where('users.email', '=', email)
      .orderBy('vendors.name')
      .execute();
    const now = clock.now();
    const links: { workspace: string; token: string }[] = [];
    for (const user of users) {
      const token = newToken();
      await trx
        .insertInto('login_tokens')
        .values({
          id: randomUUID(),
          purpose: 'signin',
          email,
          user_id: user.id,
          payload: JSON.stringify(null),
          token_hash: hashToken(token),
          created_at: now,
          expires_at: new Date(now.getTime() + LOGIN_TTL_MS),
        })
        .execute();
      links.push({ workspace: user.workspace, token });
    }
    return links;
  });
}

/**
 * Gives a pending login link its secret, at the moment its mail is composed.
 * The 15 minutes start now. Returns undefined when the link was spent meanwhile.
 */
export async function mintLoginToken(db: DB, clock: Clock, loginId: string) {
  const token = newToken();
  const now = clock.now();
  const row = await db
    .updateTable('login_tokens')
    .set({ token_hash: hashToken(token), expires_at: new Date(now.getTime() + LOGIN_TTL_MS) })
    .where('id', '=', loginId)
    .where('used_at', 'is', null)
    .returning(['purpose', 'user_id', 'payload', 'email'])
    .executeTakeFirst();
  return row ? { token, ...row } : undefined;
}

/** Whether a login link would work now, without spending it (for the GET page). */
export async function peekLoginToken(db: DB, clock: Clock, token: string) {
  return db
    .selectFrom('login_tokens')
    .select(['purpose', 'email'])
    .where('token_hash', '=', hashToken(token))
    .where('used_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .executeTakeFirst();
}

/**
 * Spends a login link in one atomic statement: of two simultaneous POSTs only
 * one gets the row. A sign-up link creates its workspace in the same transaction.
 */
export async function spendLoginToken(db: DB, clock: Clock, token: string) {
  return db.transaction().execute(async (trx) => {
    const now = clock.now();
    const row = await trx
      .updateTable('login_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hashToken(token))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['purpose', 'user_id', 'email', 'payload'])
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.purpose === 'signup') {
      const payload = row.payload as SignupPayload;
      return createWorkspace(trx, clock, { workspace: payload.workspace, name: payload.name, email: row.email });
    }
    const user = await trx.selectFrom('users').select(['id', 'vendor_id']).where('id', '=', row.user_id!).executeTakeFirst();
    return user ? { vendorId: user.vendor_id, userId: user.id } : undefined;
  });
}

export const API_KEY_PREFIX = 'pp_';

/** Creates an API key and returns it: the only time the raw key exists outside the caller's hands. */
export async function createApiKey(db: Executor, clock: Clock, vendorId: string, userId: string | null, name: string) {
  const key = `${API_KEY_PREFIX}${newToken()}`;
  await db
    .insertInto('api_keys')
    .values({
      id: randomUUID(),
      vendor_id: vendorId,
      name,
      prefix: key.slice(0, 9),
      key_hash: hashToken(key),
      created_by: userId,
      created_at: clock.now(),
    })
    .execute();
  return key;
}

export async function findApiKey(db: DB, key: string) {
  return db
    .selectFrom('api_keys')
    .innerJoin('vendors', 'vendors.id', 'api_keys.vendor_id')
    .select(['api_keys.id', 'api_keys.vendor_id', 'api_keys.name', 'vendors.name as vendor_name'])
    .where('api_keys.key_hash', '=', hashToken(key))
    .where('api_keys.revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function listApiKeys(db: DB, vendorId: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'prefix', 'created_at', 'last_used_at', 'revoked_at'])
    .where('vendor_id', '=', vendorId)
    .orderBy('created_at', 'desc')
    .execute();
}

export async function revokeApiKey(db: DB, clock: Clock, vendorId: string, id: string) {
  const r = await db
    .updateTable('api_keys')
    .set({ revoked_at: clock.now() })
    .where('vendor_id', '=', vendorId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
