// Sign-up and sign-in by emailed link. The link's page is a GET that only
// shows a button; the POST behind the button spends the link. Mail scanners
// that open every link therefore never use one up.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import type { SignupPayload } from '../db/schema.js';
import { DomainError } from '../lib/errors.js';
import { email, fieldErrors, name } from '../lib/validate.js';
import { TOKEN_PATTERN } from '../lib/tokens.js';
import { browserNonce } from '../lib/browser-nonce.js';
import { seeOther, sendPage } from '../lib/render.js';
import { endSession, optionalSession, requireSession, startSession } from './session.js';
import { peekLoginToken, requestSignin, requestSignup, spendLoginToken } from './service.js';
import { ssoChoices } from '../sso/service.js';
import { ssoChoicePage } from '../sso/views.js';

const signupBody = z.object({ workspace: name(120), name: name(120), email });
const signinBody = z.object({ email });

/** Only same-site paths may be a post-sign-in destination. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/app(\/[A-Za-z0-9/_-]*)?$/.test(next) ? next : '/app';
}

/** An unknown, spent or expired link: the error handler shows the "This link no longer works" page. */
const deadLink = () => new DomainError('link_invalid', 'This sign-in link is unknown, spent or expired.');

/**
 * The sign-in POST is bound to the browser that opened the link (lib/browser-nonce.ts), so a form planted
 * elsewhere cannot sign a victim into someone else's workspace (login CSRF).
 */
const linkNonce = browserNonce({ cookie: 'pp_link_nonce', path: '/auth/link', maxAgeSeconds: 15 * 60 });

const publicFormLimit = { rateLimit: { max: 10, timeWindow: '10 minutes' } };

export default async function authRoutes(app: FastifyInstance) {
  const { db, clock, failures } = app.services;

  app.get('/', { preHandler: optionalSession }, (req, reply) => {
    if (req.session) return seeOther(reply, '/app');
    return sendPage(req, reply, 'home', { title: 'Posture Portal' });
  });

  app.get('/signup', (req, reply) => sendPage(req, reply, 'signup', { title: 'Create a workspace', values: {} }));

  app.post('/signup', { config: publicFormLimit }, async (req, reply) => {
    const r = signupBody.safeParse(req.body ?? {});
    if (!r.success) {
      return sendPage(req, reply, 'signup', { title: 'Create a workspace', values: req.body, errors: fieldErrors(r.error) }, 400);
    }
    await transaction(db, (trx) => requestSignup(trx, clock, r.data));
    app.services.worker.nudge();
    return sendPage(req, reply, 'check-email', { title: 'Check your email', email: r.data.email, purpose: 'signup' });
  });

  app.get('/signin', (req, reply) => sendPage(req, reply, 'signin', { title: 'Sign in', values: {}, next: safeNext((req.query as { next?: string }).next) }));

  app.post('/signin', { config: publicFormLimit }, async (req, reply) => {
    const r = signinBody.safeParse(req.body ?? {});
    if (!r.success) {
      return sendPage(req, reply, 'signin', { title: 'Sign in', values: req.body, errors: fieldErrors(r.error) }, 400);
    }
    // The same answer whether or not the address is known.
    await transaction(db, (trx) => requestSignin(trx, clock, r.data.email));
    app.services.worker.nudge();
    // Workspaces that sign in the address's domain through SSO are offered too (by domain: it tells nothing of the address).
    const choices = await ssoChoices(db, r.data.email);
    if (choices.length > 0) return sendPage(req, reply, 'sso-choose', ssoChoicePage(r.data.email, choices));
    return sendPage(req, reply, 'check-email', { title: 'Check your email', email: r.data.email, purpose: 'signin' });
  });

  const linkLimit = { rateLimit: { max: 30, timeWindow: '1 minute' } };

  app.get<{ Params: { token: string } }>('/auth/link/:token', { config: linkLimit }, async (req, reply) => {
    failures.check('link', req, reply);
    const link = TOKEN_PATTERN.test(req.params.token) ? await peekLoginToken(db, clock, req.params.token) : undefined;
    if (!link) {
      failures.fail('link', req);
      throw deadLink();
    }
    const nonce = linkNonce.issue(req, reply);
    // The workspace name a stranger chose is shown here, where the person who asked for it expects it, never in the mail.
    const workspace = link.purpose === 'signup' ? (link.payload as SignupPayload | null)?.workspace : undefined;
    return sendPage(req, reply, 'link-confirm', { title: link.purpose === 'signup' ? 'Create your workspace' : 'Sign in', purpose: link.purpose, workspace, nonce });
  });

  app.post<{ Params: { token: string } }>('/auth/link/:token', { config: linkLimit }, async (req, reply) => {
    const { token } = req.params;
    if (!linkNonce.matches(req)) {
      throw new DomainError('cross_site', 'Open the link from your email again and press the button on the page it shows.');
    }
    failures.check('link', req, reply);
    const spent = TOKEN_PATTERN.test(token) ? await transaction(db, (trx) => spendLoginToken(trx, clock, token)) : undefined;
    if (!spent) {
      failures.fail('link', req);
      throw deadLink();
    }
    linkNonce.clear(reply);
    await startSession(req, reply, spent.userId, spent.vendorId, 'link');
    return seeOther(reply, '/app');
  });

  app.post('/signout', { preHandler: [requireSession, app.csrfProtection] }, async (req, reply) => {
    await endSession(req, reply);
    return seeOther(reply, '/');
  });
}
