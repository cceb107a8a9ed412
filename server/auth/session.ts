// Vendor sessions: a signed JWT in an httpOnly cookie naming a row of
// user_sessions, checked against the database on every request, so a removed
// member, an ended session or a sign-out everywhere takes effect at once.
// Roles are enforced here too: every vendor route declares the least role it
// needs (config.role), and a route that changes a deal may ask that a member
// own it (config.ownDeal); a route that changes anything without declaring a
// role stops the app from starting (assertRouteRoles).
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { SessionMethod } from '../db/schema.js';
import { DomainError, signedOut } from '../lib/errors.js';
import { atLeast, mayChangeDeal, MEMBER_ROLES, type MemberRole } from '../rules.js';
import { dealOwnerId, endAllSessions, findSessionUser, openSession, touchSession } from './service.js';

export interface VendorSession {
  /** The signed-in member; with an API key, null (keyOwnerId names the key's creator). */
  userId: string | null;
  vendorId: string;
  vendorName: string;
  userName: string;
  /** What this session may do: the member's role, or for a key the lower of its role and its creator's. */
  role: MemberRole;
  via: 'cookie' | 'api_key';
  /** With a cookie: the user_sessions row, and how its holder proved who they are. */
  sessionId?: string;
  method?: SessionMethod;
  email?: string;
  /** With an API key: the user who created the key, who owns the deals opened through it (null if they were removed). */
  keyOwnerId?: string | null;
  /** With an API key: the key's id (idempotency keys are kept per API key). */
  apiKeyId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    session?: VendorSession;
  }
  interface FastifyContextConfig {
    /** The least role the route needs ('public' for routes outside any workspace). GET routes default to viewer. */
    role?: MemberRole | 'public';
    /** The route changes the deal named by its :id: a member must own it (admins and owners may change any). */
    ownDeal?: boolean;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; vid: string; ep: number; sid: string; kid: string };
    user: { sub: string; vid: string; ep: number; sid: string; kid: string };
  }
}

export const SESSION_COOKIE = 'pp_session';
/** Matches the JWT's lifetime. */
export const SESSION_HOURS = 12;

/** The member who acts: the signed-in user, or the creator of the API key. */
export const actingUserId = (s: VendorSession): string | null => s.userId ?? s.keyOwnerId ?? null;

async function readCookieSession(req: FastifyRequest): Promise<VendorSession | undefined> {
  if (!req.cookies[SESSION_COOKIE]) return undefined;
  let claims: { sub: string; vid: string; ep: number; sid?: string };
  try {
    claims = await req.jwtVerify<{ sub: string; vid: string; ep: number; sid?: string }>({ onlyCookie: true });
  } catch {
    return undefined;
  }
  if (typeof claims.sid !== 'string') return undefined;
  const { db, clock } = req.server.services;
  const row = await findSessionUser(db, { userId: claims.sub, vendorId: claims.vid, epoch: Number(claims.ep) || 0, sessionId: claims.sid });
  if (!row) return undefined;
  await touchSession(db, clock, row.vendor_id, claims.sid, row.last_seen_at);
  return {
    userId: row.id,
    vendorId: row.vendor_id,
    vendorName: row.vendor_name,
    userName: row.name,
    email: row.email,
    role: row.role,
    via: 'cookie',
    sessionId: claims.sid,
    method: row.method,
  };
}

export const forbidden = (role: MemberRole) =>
  new DomainError('forbidden', `Your role in this workspace (${role}) does not allow this. Ask an admin of the workspace if you need it.`);

/**
 * The session of a request that passed requireSession (pages) or the API key
 * check (/api/v1). Use it instead of `req.session!`: a route that forgot its
 * preHandler fails closed with a 401 rather than reading undefined.
 */
export function sessionOf(req: FastifyRequest): VendorSession {
  if (!req.session) throw signedOut();
  return req.session;
}

/** The workspace's own routes: its pages and its API. */
const isVendorRoute = (url: string): boolean => url.startsWith('/app') || url.startsWith('/api/v1/');

/** The role a route needs, as it declared it (GET and HEAD default to viewer). */
function neededRole(req: FastifyRequest): MemberRole | 'public' | undefined {
  const declared = req.routeOptions.config.role;
  if (declared) return declared;
  if (req.method === 'GET' || req.method === 'HEAD') return 'viewer';
  // Outside the workspace's own routes (signing out): nothing of the workspace's changes.
  return isVendorRoute(req.routeOptions.url ?? '') ? undefined : 'public';
}

/**
 * Refuses a request its session's role does not allow, with a 403 that names
 * only the role. For a route that changes a deal, a member must own the deal;
 * a deal that does not exist (or is another workspace's) is left to the route,
 * which answers 404 exactly as it would to anyone.
 */
export async function enforceRole(req: FastifyRequest): Promise<void> {
  const session = sessionOf(req);
  const needed = neededRole(req);
  if (needed === 'public') return;
  // Fails closed: a changing route with no declared role is refused (assertRouteRoles stops such a route at start-up).
  if (!needed || !atLeast(session.role, needed)) throw forbidden(session.role);
  if (req.routeOptions.config.ownDeal && !atLeast(session.role, 'admin')) {
    const dealId = (req.params as { id?: string }).id;
    const ownerId = dealId ? await dealOwnerId(req.server.services.db, session.vendorId, dealId) : undefined;
    if (ownerId !== undefined && !mayChangeDeal(session.role, actingUserId(session), ownerId)) throw forbidden(session.role);
  }
}

/**
 * Startup check, from an onRoute hook: every vendor route that can change
 * something names the role it needs, so no route is left open to viewers by
 * someone forgetting.
 */
export function assertRouteRoles(route: RouteOptions): void {
  const url = route.url;
  const methods = ([] as string[]).concat(route.method);
  if (!isVendorRoute(url) || methods.every((m) => m === 'GET' || m === 'HEAD')) return;
  const role = route.config?.role;
  if (!role || (role !== 'public' && !MEMBER_ROLES.includes(role))) {
    throw new Error(`${methods.join(',')} ${url} declares no role (config.role): every vendor route that changes something must`);
  }
}

/** preHandler for vendor pages: a valid session (or a trip to the sign-in page) with the role the route needs. */
export async function requireSession(req: FastifyRequest, reply: FastifyReply) {
  const session = await readCookieSession(req);
  if (!session) {
    if (req.method === 'GET') {
      return reply
        .code(303)
        .header('location', `/signin?next=${encodeURIComponent(req.url)}`)
        .send();
    }
    throw signedOut();
  }
  req.session = session;
  await enforceRole(req);
}

/** For pages anyone may see (home, errors): the session if there is one. */
export async function optionalSession(req: FastifyRequest) {
  req.session = await readCookieSession(req);
}

/** Signs a member in on this browser: a new user_sessions row, named by the cookie. */
export async function startSession(req: FastifyRequest, reply: FastifyReply, userId: string, vendorId: string, method: SessionMethod) {
  const { db, clock } = reply.server.services;
  const opened = await openSession(db, clock, { vendorId, userId, method, ip: req.ip, userAgent: String(req.headers['user-agent'] ?? '') });
  const token = await reply.jwtSign({ sub: userId, vid: vendorId, ep: opened.epoch, sid: opened.sessionId, kid: reply.server.services.sessionKeyId });
  const secure = reply.server.services.config.secureCookies;
  reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: SESSION_HOURS * 3600 });
}

/** Signs the user out everywhere: every session cookie issued so far stops working. */
export async function endSession(req: FastifyRequest, reply: FastifyReply) {
  if (req.session?.userId) {
    await endAllSessions(req.server.services.db, req.server.services.clock, req.session.vendorId, req.session.userId);
  }
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/** Registers the start-up check on every route added after it. */
export function checkRouteRoles(app: FastifyInstance) {
  app.addHook('onRoute', assertRouteRoles);
}
