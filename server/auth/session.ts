// Vendor sessions: a signed JWT in an httpOnly cookie, checked against the
// database on every request so a removed user loses access at once.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../lib/errors.js';
import { currentSessionEpoch, endAllSessions, findSessionUser } from './service.js';

export interface VendorSession {
  userId: string | null;
  vendorId: string;
  vendorName: string;
  userName: string;
  via: 'cookie' | 'api_key';
  /** With an API key: the user who created the key, who owns the deals opened through it (null if they were removed). */
  keyOwnerId?: string | null;
  /** With an API key: the key's id (idempotency keys are kept per API key). */
  apiKeyId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    session?: VendorSession;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; vid: string; ep: number; kid: string };
    user: { sub: string; vid: string; ep: number; kid: string };
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
  const row = await findSessionUser(req.server.services.db, { userId: claims.sub, vendorId: claims.vid, epoch: Number(claims.ep) || 0 });
  if (!row) return undefined;
  return { userId: row.id, vendorId: row.vendor_id, vendorName: row.vendor_name, userName: row.name, via: 'cookie' };
}

const signedOut = () => new DomainError('signed_out', 'Your session has ended. Sign in again, then repeat what you were doing.');

/**
 * The session of a request that passed requireSession (pages) or the API key
 * check (/api/v1). Use it instead of `req.session!`: a route that forgot its
 * preHandler fails closed with a 401 rather than reading undefined.
 */
export function sessionOf(req: FastifyRequest): VendorSession {
  if (!req.session) throw signedOut();
  return req.session;
}

/** preHandler for vendor pages: a valid session or a trip to the sign-in page. */
export async function requireSession(req: FastifyRequest, reply: FastifyReply) {
  const session = await readCookieSession(req);
  if (session) {
    req.session = session;
    return;
  }
  if (req.method === 'GET') {
    return reply
      .code(303)
      .header('location', `/signin?next=${encodeURIComponent(req.url)}`)
      .send();
  }
  throw signedOut();
}

/** For pages anyone may see (home, errors): the session if there is one. */
export async function optionalSession(req: FastifyRequest) {
  req.session = await readCookieSession(req);
}

export async function startSession(reply: FastifyReply, userId: string, vendorId: string) {
  const epoch = await currentSessionEpoch(reply.server.services.db, vendorId, userId);
  const token = await reply.jwtSign({ sub: userId, vid: vendorId, ep: epoch, kid: reply.server.services.sessionKeyId });
  const secure = reply.server.services.config.secureCookies;
  reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 12 * 3600 });
}

/** Signs the user out everywhere: every session cookie issued so far stops working. */
export async function endSession(req: FastifyRequest, reply: FastifyReply) {
  if (req.session?.userId) {
    await endAllSessions(req.server.services.db, req.session.vendorId, req.session.userId);
  }
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}
