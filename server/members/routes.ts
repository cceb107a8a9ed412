// The team over HTTP: the Team page (/app/members), the account page
// (/app/account: your workspaces and sessions), the invitation link
// (/invite/:token), and the JSON API under /api/v1/members and
// /api/v1/invitations. HTTP only: parse, open the transaction, call the
// service, respond.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { actingUserId, optionalSession, requireSession, sessionOf, SESSION_COOKIE, startSession } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { idParam, timestamp } from '../lib/api-schema.js';
import { MINUTE } from '../lib/clock.js';
import { DomainError, type ErrorCode } from '../lib/errors.js';
import { FailureLimit } from '../lib/failure-limit.js';
import { fieldErrors, parse } from '../lib/validate.js';
import { seeOther, sendPage } from '../lib/render.js';
import { TOKEN_PATTERN } from '../lib/tokens.js';
import { browserNonce } from '../lib/browser-nonce.js';
import { mustUseSso, ssoStartPath } from '../sso/service.js';
import { MEMBER_ROLES } from '../rules.js';
import {
  acceptInvitation,
  changeRole,
  endMemberSessions,
  endOwnSession,
  inviteInput,
  inviteMember,
  leaveWorkspace,
  listTeam,
  liveSessions,
  peekInvitation,
  removeInput,
  removeMember,
  retireSession,
  revokeInvitation,
  roleInput,
  switchWorkspace,
  workspacesOf,
  type Manager,
} from './service.js';
import { accountPage, invitePage, membersPage, type MembersNotices } from './views.js';

/** Who asks: the session's role, and the member behind it (an API key's creator). */
function managerOf(req: FastifyRequest): Manager {
  const s = sessionOf(req);
  return { role: s.role, userId: actingUserId(s) };
}

// --- The contract -------------------------------------------------------------------------------

const Role = z.enum(MEMBER_ROLES).describe("The member's role: viewer, member, admin or owner (each may do everything the roles before it may)");
const MemberJson = z
  .object({
    id: z.string().describe("The member's id"),
    name: z.string(),
    email: z.string(),
    role: Role,
    last_sign_in_at: timestamp.nullable().describe('Their last sign-in to this workspace; null if never'),
  })
  .meta({ id: 'Member' });
const InvitationJson = z
  .object({
    id: z.string().describe("The invitation's id"),
    email: z.string(),
    name: z.string(),
    role: Role,
    created_at: timestamp,
    expires_at: timestamp.describe('The emailed link works once, until then'),
  })
  .meta({ id: 'MemberInvitation' });
const Team = z
  .object({ members: z.array(MemberJson), invitations: z.array(InvitationJson).describe('Pending invitations (not accepted, revoked or expired), newest first') })
  .meta({ id: 'Team' });
const Removed = z
  .object({
    id: z.string().describe('The removed member'),
    new_owner_id: z.string().describe('Who now owns their deals'),
    deals_reassigned: z.number().int().min(0),
    keys_revoked: z.number().int().min(0).describe('API keys they had created, now revoked'),
  })
  .meta({ id: 'MemberRemoved' });

const memberParams = z.object({ id: idParam('member') });
const invitationParams = z.object({ id: idParam('invitation') });

const memberJson = (m: { id: string; name: string; email: string; role: (typeof MEMBER_ROLES)[number]; last_sign_in_at: Date | null }) => ({
  id: m.id,
  name: m.name,
  email: m.email,
  role: m.role,
  last_sign_in_at: m.last_sign_in_at,
});
const invitationJson = (i: { id: string; email: string; name: string; role: (typeof MEMBER_ROLES)[number]; created_at: Date; expires_at: Date }) => ({
  id: i.id,
  email: i.email,
  name: i.name,
  role: i.role,
  created_at: i.created_at,
  expires_at: i.expires_at,
});

/** Invitations a minute: on top of the per-workspace daily cap the service counts in the database. */
const INVITES_PER_MINUTE = 30;
/** The Team page's form: per client address (the route's rate limit). */
const inviteLimit = { rateLimit: { max: INVITES_PER_MINUTE, timeWindow: '1 minute' } };

/** /api/v1/members… and /api/v1/invitations…: registered inside the API's scope, after its key check. */
export async function memberApi(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { db, clock } = app.services;
  const tags = ['members'];
  const admin = { role: 'admin' as const };
  // The API's per-key limit is the one rate limit a request gets (the plugin runs one per request), so the
  // invitation route counts its own burst: per workspace and client address, in memory, by the injected clock.
  const inviteBurst = new FailureLimit(clock, INVITES_PER_MINUTE, MINUTE);

  app.get('/members', { schema: { tags, summary: "The workspace's members and pending invitations", response: { 200: Team } } }, async (req) => {
    const team = await listTeam(db, clock, sessionOf(req).vendorId);
    return { members: team.members.map(memberJson), invitations: team.invitations.map(invitationJson) };
  });

  app.post(
    '/members',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Invite someone by email (admins invite members and viewers; owners anyone); replaces a pending invitation to the same address',
        body: inviteInput,
        response: { 201: InvitationJson },
      },
    },
    async (req, reply) => {
      const burst = `invite:${sessionOf(req).vendorId}`;
      inviteBurst.check(burst, req, reply);
      inviteBurst.fail(burst, req);
      const invitation = await transaction(db, (trx) => inviteMember(trx, clock, actorOf(req), managerOf(req), req.body));
      app.services.worker.nudge();
      return reply.code(201).send(invitationJson(invitation));
    },
  );

  app.patch(
    '/members/:id',
    { config: admin, schema: { tags, summary: "Change a member's role", params: memberParams, body: roleInput, response: { 200: MemberJson } } },
    async (req) => memberJson(await transaction(db, (trx) => changeRole(trx, clock, actorOf(req), managerOf(req), req.params.id, req.body.role))),
  );

  app.delete(
    '/members/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Remove a member: their deals go to new_owner_id, their API keys are revoked, their sessions end',
        params: memberParams,
        body: removeInput,
        response: { 200: Removed },
      },
    },
    async (req) => {
      const removed = await transaction(db, (trx) => removeMember(trx, clock, actorOf(req), managerOf(req), req.params.id, req.body.new_owner_id));
      return { id: req.params.id, new_owner_id: req.body.new_owner_id, ...removed };
    },
  );

  app.delete(
    '/members/:id/sessions',
    { config: admin, schema: { tags, summary: 'End every session of a member: they must sign in again', params: memberParams, response: { 204: z.null().describe('Ended') } } },
    async (req, reply) => {
      await transaction(db, (trx) => endMemberSessions(trx, clock, actorOf(req), managerOf(req), req.params.id));
      return reply.code(204).send(undefined as never);
    },
  );

  app.delete(
    '/invitations/:id',
    { config: admin, schema: { tags, summary: 'Revoke a pending invitation: its link stops working', params: invitationParams, response: { 204: z.null().describe('Revoked') } } },
    async (req, reply) => {
      await transaction(db, (trx) => revokeInvitation(trx, clock, actorOf(req), managerOf(req), req.params.id));
      return reply.code(204).send(undefined as never);
    },
  );
}

// --- The pages ----------------------------------------------------------------------------------

/** Refusals shown on the Team page itself, next to the form they are about (other errors get the error page). */
const SHOWN_ON_PAGE: readonly ErrorCode[] = ['invalid_input', 'already_member', 'last_owner', 'forbidden', 'too_many_members'];

/**
 * The invitation's POST is bound to the browser that opened the link, as the
 * sign-in link's is (lib/browser-nonce.ts), so a form planted elsewhere cannot make a victim join.
 */
const inviteNonce = browserNonce({ cookie: 'pp_invite_nonce', path: '/invite', maxAgeSeconds: 30 * 60 });

/** An unknown, used, revoked or expired invitation: the "This link no longer works" page. */
const deadLink = () => new DomainError('link_invalid', 'This invitation link is unknown, used, revoked or expired.');

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

export async function memberPages(app: FastifyInstance) {
  const { db, clock, failures } = app.services;
  const admin = { role: 'admin' as const };
  const anyone = { role: 'viewer' as const };
  const adminForm = { preHandler: [requireSession, app.csrfProtection], config: admin };
  const ownForm = { preHandler: [requireSession, app.csrfProtection], config: anyone };

  async function renderTeam(req: FastifyRequest, reply: FastifyReply, notices: MembersNotices, status = 200) {
    const s = sessionOf(req);
    const team = await listTeam(db, clock, s.vendorId);
    return sendPage(req, reply, 'members', membersPage({ userId: s.userId, role: s.role }, team, notices), status);
  }

  /** Runs a Team page action; a refusal the page can explain is shown there, next to what it was about. */
  async function act(req: FastifyRequest, reply: FastifyReply, about: string, done: string, work: () => Promise<unknown>, notices: MembersNotices = {}) {
    try {
      await work();
    } catch (err) {
      if (err instanceof DomainError && SHOWN_ON_PAGE.includes(err.code)) {
        return renderTeam(req, reply, { ...notices, problem: { about, message: err.message } }, err.statusCode);
      }
      throw err;
    }
    return seeOther(reply, `/app/members?done=${done}${about === 'invite' ? '' : `#member-${about}`}`);
  }

  app.get('/app/members', { preHandler: requireSession }, async (req, reply) => {
    const done = text((req.query as { done?: unknown }).done);
    return renderTeam(req, reply, { done: done || undefined });
  });

  app.post('/app/members/invite', { ...adminForm, config: { ...admin, ...inviteLimit } }, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = { email: text(body.email), name: text(body.name), role: text(body.role) };
    const r = inviteInput.safeParse(values);
    if (!r.success) return renderTeam(req, reply, { inviteErrors: fieldErrors(r.error), inviteValues: values }, 400);
    return act(
      req,
      reply,
      'invite',
      'invited',
      async () => {
        await transaction(db, (trx) => inviteMember(trx, clock, actorOf(req), managerOf(req), r.data));
        app.services.worker.nudge();
      },
      { inviteValues: values },
    );
  });

  app.post<{ Params: { id: string } }>('/app/members/invitations/:id/revoke', adminForm, async (req, reply) => {
    await transaction(db, (trx) => revokeInvitation(trx, clock, actorOf(req), managerOf(req), req.params.id));
    return seeOther(reply, '/app/members?done=revoked');
  });

  app.post<{ Params: { id: string } }>('/app/members/:id/role', adminForm, async (req, reply) => {
    const { id } = req.params;
    return act(req, reply, id, 'role', async () => {
      const { role } = parse(roleInput, req.body, 'form');
      await transaction(db, (trx) => changeRole(trx, clock, actorOf(req), managerOf(req), id, role));
    });
  });

  app.post<{ Params: { id: string } }>('/app/members/:id/remove', adminForm, async (req, reply) => {
    const { id } = req.params;
    return act(req, reply, id, 'removed', async () => {
      const newOwner = text((req.body as { new_owner_id?: unknown } | undefined)?.new_owner_id);
      await transaction(db, (trx) => removeMember(trx, clock, actorOf(req), managerOf(req), id, newOwner));
    });
  });

  app.post<{ Params: { id: string } }>('/app/members/:id/sessions/end', adminForm, async (req, reply) => {
    const { id } = req.params;
    return act(req, reply, id, 'sessions', () => transaction(db, (trx) => endMemberSessions(trx, clock, actorOf(req), managerOf(req), id)));
  });

  // --- Your account: workspaces and sessions ---

  app.get('/app/account', { preHandler: requireSession }, async (req, reply) => {
    const s = sessionOf(req);
    // Other workspaces of the address only to a session that proved the address (an emailed link): a workspace's own
    // identity provider can assert any address, and must not learn where else it belongs.
    const proved = s.method === 'link' || s.method === 'invite' || s.method === 'switch';
    const [workspaces, sessions] = await Promise.all([
      proved ? workspacesOf(db, s.email ?? '') : workspacesOf(db, s.email ?? '').then((all) => all.filter((w) => w.vendor_id === s.vendorId)),
      liveSessions(db, clock, s.vendorId, s.userId ?? ''),
    ]);
    const done = text((req.query as { done?: unknown }).done);
    const viewer = { name: s.userName, email: s.email ?? '', role: s.role, vendorId: s.vendorId, vendorName: s.vendorName, sessionId: s.sessionId };
    return sendPage(req, reply, 'account', accountPage(viewer, workspaces, sessions, { done: done || undefined }));
  });

  app.post<{ Params: { session: string } }>('/app/account/sessions/:session/end', ownForm, async (req, reply) => {
    const s = sessionOf(req);
    const sessionId = req.params.session;
    await transaction(db, (trx) => endOwnSession(trx, clock, actorOf(req), s.userId ?? '', sessionId));
    if (sessionId !== s.sessionId) return seeOther(reply, '/app/account?done=ended');
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return seeOther(reply, '/');
  });

  app.post('/app/account/switch', ownForm, async (req, reply) => {
    const s = sessionOf(req);
    const target = text((req.body as { vendor_id?: unknown } | undefined)?.vendor_id);
    const outcome = await switchWorkspace(db, { email: s.email, method: s.method }, target);
    if (outcome.to === 'sso') return seeOther(reply, ssoStartPath(outcome.vendorId));
    if (outcome.to === 'signin') return seeOther(reply, '/signin');
    if (outcome.vendorId === s.vendorId) return seeOther(reply, '/app');
    if (s.userId && s.sessionId) await retireSession(db, clock, s.vendorId, s.userId, s.sessionId);
    await startSession(req, reply, outcome.userId, outcome.vendorId, 'switch');
    return seeOther(reply, '/app');
  });

  app.post('/app/account/leave', ownForm, async (req, reply) => {
    const s = sessionOf(req);
    await transaction(db, (trx) => leaveWorkspace(trx, clock, actorOf(req), s.userId ?? ''));
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return seeOther(reply, '/');
  });

  // --- The invitation link: the GET only shows a button; the POST behind it joins ---

  const linkLimit = { rateLimit: { max: 30, timeWindow: '1 minute' } };

  app.get<{ Params: { token: string } }>('/invite/:token', { config: linkLimit }, async (req, reply) => {
    failures.check('invite', req, reply);
    const invitation = TOKEN_PATTERN.test(req.params.token) ? await peekInvitation(db, clock, req.params.token) : undefined;
    if (!invitation) {
      failures.fail('invite', req);
      throw deadLink();
    }
    // Someone already signed in on this browser is told that joining signs them in as the invited person instead.
    await optionalSession(req);
    const signedIn = req.session && req.session.email !== invitation.email ? { name: req.session.userName, email: req.session.email ?? '' } : undefined;
    return sendPage(req, reply, 'invite-accept', { ...invitePage(invitation, inviteNonce.issue(req, reply)), signedIn });
  });

  app.post<{ Params: { token: string } }>('/invite/:token', { config: linkLimit }, async (req, reply) => {
    const { token } = req.params;
    if (!inviteNonce.matches(req)) throw new DomainError('cross_site', 'Open the link from your invitation email again and press the button on the page it shows.');
    failures.check('invite', req, reply);
    const joined = TOKEN_PATTERN.test(token) ? await transaction(db, (trx) => acceptInvitation(trx, clock, token, req.ip)) : undefined;
    if (!joined) {
      failures.fail('invite', req);
      throw deadLink();
    }
    inviteNonce.clear(reply);
    // A workspace that requires its identity provider of this member: the invitation made them a member, SSO signs them in.
    if (await mustUseSso(db, joined.vendorId, joined.role)) return seeOther(reply, ssoStartPath(joined.vendorId));
    await startSession(req, reply, joined.userId, joined.vendorId, 'invite');
    return seeOther(reply, '/app');
  });
}
