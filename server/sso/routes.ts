// Single sign-on over HTTP: the JSON API under /api/v1/sso (registered in the
// API's scope, behind its key check), the settings page /app/settings/sso,
// and the public sign-in routes /auth/sso (start) and /auth/sso/callback.
// HTTP only: parse, call the service, respond.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { requireSession, sessionOf, startSession } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { timestamp } from '../lib/api-schema.js';
import { isInvalidInput } from '../lib/errors.js';
import { byField, fieldErrors } from '../lib/validate.js';
import { seeOther, sendPage } from '../lib/render.js';
import { oidcReason, RelyingParties } from './oidc.js';
import {
  callbackState,
  checkSsoInput,
  findSso,
  finishSignIn,
  getSso,
  memberFor,
  redirectUri,
  removeSso,
  saveSso,
  ssoStartInfo,
  splitDomains,
  ssoInput,
  ssoStartPath,
  startSignIn,
  STATE_TTL_MS,
  type CheckedSsoInput,
  type SsoSettings,
} from './service.js';
import { ssoSettingsPage, type SsoFormValues, type SsoNotices } from './views.js';

// --- The contract -------------------------------------------------------------------------------

const SsoConfig = z
  .object({
    issuer: z.string().describe('The identity provider’s issuer identifier'),
    client_id: z.string(),
    allowed_domains: z.array(z.string()).describe('Email domains whose people may sign in, and join as members, through the provider'),
    require_sso: z.boolean().describe('Members, admins and viewers must sign in through SSO; owners keep the emailed link'),
    redirect_uri: z.string().describe('Register this redirect URI with the identity provider'),
    signin_url: z.string().describe('Where people start signing in to this workspace through its provider'),
    updated_at: timestamp,
  })
  .meta({ id: 'SsoConfig' });

const ssoJson = (s: SsoSettings) => ({ ...s });

/** Saves checked settings, in one transaction with their audit entry. */
function save(app: FastifyInstance, req: FastifyRequest, input: CheckedSsoInput): Promise<SsoSettings> {
  const { db, clock, config } = app.services;
  return transaction(db, (trx) => saveSso(trx, clock, actorOf(req), sessionOf(req).role, config.PUBLIC_URL, input));
}

function remove(app: FastifyInstance, req: FastifyRequest): Promise<void> {
  const { db, clock } = app.services;
  return transaction(db, (trx) => removeSso(trx, clock, actorOf(req)));
}

/** /api/v1/sso: registered inside the API's scope, after its key check. */
export async function ssoApi(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { db, config, sealer } = app.services;
  const tags = ['sso'];
  // Single sign-on is an admin's, reads included.
  const adminOnly = { role: 'admin' as const };

  app.get('/sso', { config: adminOnly, schema: { tags, summary: "The workspace's single sign-on settings (404 when it has none)", response: { 200: SsoConfig } } }, async (req) =>
    ssoJson(await getSso(db, config.PUBLIC_URL, sessionOf(req).vendorId)),
  );

  app.put(
    '/sso',
    {
      config: adminOnly,
      schema: {
        tags,
        summary: 'Set up or change single sign-on (OpenID Connect); the issuer must answer discovery, or nothing is saved',
        body: ssoInput,
        response: { 200: SsoConfig },
      },
    },
    async (req) => {
      const checked = await checkSsoInput(db, sealer, config, sessionOf(req).vendorId, req.body);
      return ssoJson(await save(app, req, checked));
    },
  );

  app.delete(
    '/sso',
    { config: adminOnly, schema: { tags, summary: 'Remove single sign-on: members sign in by emailed link again', response: { 204: z.null().describe('Removed') } } },
    async (req, reply) => {
      await remove(app, req);
      return reply.code(204).send(undefined as never);
    },
  );
}

// --- The settings page and the sign-in routes ---------------------------------------------------

const PAGE = '/app/settings/sso';
/** Binds a sign-in under way to the browser that started it; sent back by the provider's top-level redirect (Lax). */
const STATE_COOKIE = 'pp_sso_state';
const COOKIE_PATH = '/auth/sso';

/** What the form sent, as text. */
function formValues(body: Record<string, unknown>): SsoFormValues & { client_secret: string } {
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    issuer: text(body.issuer),
    client_id: text(body.client_id),
    client_secret: text(body.client_secret),
    allowed_domains: text(body.allowed_domains),
    require_sso: body.require_sso === 'yes',
  };
}

export async function ssoPages(app: FastifyInstance) {
  const { db, clock, config, sealer } = app.services;
  const relyingParties = new RelyingParties(clock, config);
  const deps = { db, clock, sealer, relyingParties, publicUrl: config.PUBLIC_URL };
  const admin = { role: 'admin' as const };
  const form = { preHandler: [requireSession, app.csrfProtection], config: admin };

  async function render(req: FastifyRequest, reply: FastifyReply, notices: SsoNotices, status = 200) {
    const { vendorId } = sessionOf(req);
    const settings = await findSso(db, config.PUBLIC_URL, vendorId);
    const urls = { redirectUri: redirectUri(config.PUBLIC_URL), signinUrl: `${config.PUBLIC_URL}${ssoStartPath(vendorId)}` };
    return sendPage(req, reply, 'settings-sso', ssoSettingsPage(settings, urls, notices), status);
  }

  app.get(PAGE, { preHandler: requireSession, config: admin }, async (req, reply) => {
    const done = (req.query as { done?: unknown }).done;
    return render(req, reply, { done: typeof done === 'string' ? done : undefined });
  });

  app.post(PAGE, form, async (req, reply) => {
    const values = formValues((req.body ?? {}) as Record<string, unknown>);
    const r = ssoInput.safeParse({ ...values, allowed_domains: splitDomains(values.allowed_domains) });
    const shown = { issuer: values.issuer, client_id: values.client_id, allowed_domains: values.allowed_domains, require_sso: values.require_sso };
    if (!r.success) return render(req, reply, { errors: fieldErrors(r.error), values: shown }, 400);
    try {
      const checked = await checkSsoInput(db, sealer, config, sessionOf(req).vendorId, r.data);
      await save(app, req, checked);
    } catch (err) {
      if (isInvalidInput(err)) return render(req, reply, { errors: byField(err.fieldProblems), values: shown, message: err.message }, 400);
      throw err;
    }
    return seeOther(reply, `${PAGE}?done=saved`);
  });

  app.post(`${PAGE}/remove`, form, async (req, reply) => {
    await remove(app, req);
    return seeOther(reply, `${PAGE}?done=removed`);
  });

  // Public: a person signing in. Each start writes a row, so it is rate-limited like the other sign-in forms.
  const signInLimit = { rateLimit: { max: 30, timeWindow: '1 minute' } };

  // Opening the address only asks; the button's POST (same-origin only, as every form) starts the sign-in,
  // so a link planted on another site cannot sign someone in to a workspace of the planter's choosing.
  app.get('/auth/sso', { config: signInLimit }, async (req, reply) => {
    const start = await ssoStartInfo(db, (req.query as { workspace?: unknown }).workspace);
    return sendPage(req, reply, 'sso-start', { title: `Sign in to ${start.vendorName}`, ...start });
  });

  app.post('/auth/sso', { config: signInLimit }, async (req, reply) => {
    const started = await startSignIn(deps, (req.body as { workspace?: unknown } | undefined)?.workspace);
    reply.setCookie(STATE_COOKIE, started.state, { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure: config.secureCookies, maxAge: STATE_TTL_MS / 1000 });
    return reply.code(303).header('cache-control', 'no-store').header('location', started.url).send();
  });

  app.get('/auth/sso/callback', { config: signInLimit }, async (req, reply) => {
    const search = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    // A callback this browser did not start leaves its own sign-in (and cookie) alone.
    const state = callbackState(search, req.cookies[STATE_COOKIE]);
    // From here the sign-in is used up, whatever the outcome.
    reply.clearCookie(STATE_COOKIE, { path: COOKIE_PATH });
    const identity = await finishSignIn(deps, state, search).catch((err: unknown) => {
      // Why the provider's answer did not check out helps an admin; the person sees only that it did not.
      if (err instanceof Error && err.cause) req.log.warn({ reason: oidcReason(err.cause) }, 'single sign-on refused');
      throw err;
    });
    const member = await transaction(db, (trx) => memberFor(trx, clock, identity, req.ip));
    await startSession(req, reply, member.userId, identity.vendorId, 'sso');
    return seeOther(reply, '/app');
  });
}
