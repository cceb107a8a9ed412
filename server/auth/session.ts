// Vendor sessions: a signed JWT in an httpOnly cookie, checked against the
// database on every request so a removed user loses access at once.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../lib/errors.js';

export interface VendorSession {
  userId: string | null;
  vendorId: string;
  vendorName: string;
  userName: string;
  via: 'cookie' | 'api_key';
}

declare module 'fastify' {
  interface FastifyRequest {
    session?: VendorSession;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; vid: string; ep: number };
    user: { sub: string; vid: string; ep: number };
  }
}

export const SESSION_COOKIE = 'pp_session';

async function readCookieSession(req: FastifyRequest): Promise<VendorSession | undefined> {
  if (!req.cookies[SESSION_COOKIE]) return undefined;
  let claims: { sub: string; vid: string; ep: number };
  try {
    claims = await req.jwtVerify<{ sub: string; vid: string; ep: number }>({ onlyCookie: true });
  } catch {
    return undefined;
  }
  const row = await req.server.services.db
    .selectFrom('users')
    .innerJoin('vendors', 'vendors.id', 'users.vendor_id')
    .select(['users.id', 'users.name', 'users.vendor_id', 'vendors.name as vendor_name'])
    .where('users.id', '=', claims.sub)
    .where('users.vendor_id', '=', claims.vid)
    .where('users.session_epoch', '=', Number(claims.ep) || 0)
    .executeTakeFirst();
  if (!row) return undefined;
  return { userId: row.id, vendorId: row.vendor_id, vendorName: row.vendor_name, userName: row.name, via: 'cookie' };
}

/** preHandler for vendor pages: a valid session or a trip to the sign-in page. */
export async function requireSession(req: FastifyRequest, reply: FastifyReply) {
  const session = await readCookieSession(req);
  if (session) {
    req.session = session;
    return;
  }
  if (req.method === 'GET') {
    return reply.code(303).header('location', `/signin?next=${encodeURIComponent(req.url)}`).send();
  }
  throw new AppError(401, 'signed_out', 'Your session has ended. Sign in again, then repeat what you were doing.');
}

/** For pages anyone may see (home, errors): the session if there is one. */
export async function optionalSession(req: FastifyRequest) {
  req.session = await readCookieSession(req);
}

export async function startSession(reply: FastifyReply, userId: string, vendorId: string) {
  const user = await reply.server.services.db.selectFrom('users').select('session_epoch').where('id', '=', userId).executeTakeFirstOrThrow();
  const token = await reply.jwtSign({ sub: userId, vid: vendorId, ep: user.session_epoch });
  const secure = reply.server.services.config.secureCookies;
  reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 12 * 3600 });
}

/** Signs the user out everywhere: every session cookie issued so far stops working. */
export async function endSession(req: FastifyRequest, reply: FastifyReply) {
  if (req.session?.userId) {
    await req.server.services.db
      .updateTable('users')
      .set((eb) => ({ session_epoch: eb('session_epoch', '+', 1) }))
      .where('vendor_id', '=', req.session.vendorId)
      .where('id', '=', req.session.userId)
      .execute();
  }
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}
