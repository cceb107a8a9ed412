// Sign-up and sign-in by emailed link. The link's page is a GET that only
// shows a button; the POST behind the button spends the link. Mail scanners
// that open every link therefore never use one up.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { email, fieldErrors, line } from '../lib/validate.js';
import { TOKEN_PATTERN } from '../lib/tokens.js';
import { seeOther, sendPage } from '../lib/render.js';
import { endSession, optionalSession, requireSession, startSession } from './session.js';
import { peekLoginToken, requestSignin, requestSignup, spendLoginToken } from './repository.js';

const signupBody = z.object({ workspace: line(120), name: line(120), email });
const signinBody = z.object({ email });

/** Only same-site paths may be a post-sign-in destination. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/app(\/[A-Za-z0-9/_-]*)?$/.test(next) ? next : '/app';
}

const publicFormLimit = { rateLimit: { max: 10, timeWindow: '10 minutes' } };

export default async function authRoutes(app: FastifyInstance) {
  const { db, clock } = app.services;

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
    if (await recentLinks(r.data.email) < 5) await requestSignup(db, clock, r.data);
    app.services.worker.nudge();
    return sendPage(req, reply, 'check-email', { title: 'Check your email', email: r.data.email, purpose: 'signup' });
  });

  app.get('/signin', (req, reply) =>
    sendPage(req, reply, 'signin', { title: 'Sign in', values: {}, next: safeNext((req.query as { next?: string }).next) }),
  );

  app.post('/signin', { config: publicFormLimit }, async (req, reply) => {
    const r = signinBody.safeParse(req.body ?? {});
    if (!r.success) {
      return sendPage(req, reply, 'signin', { title: 'Sign in', values: req.body, errors: fieldErrors(r.error) }, 400);
    }
    // The same answer whether or not the address is known.
    if (await recentLinks(r.data.email) < 5) await requestSignin(db, clock, r.data.email);
    app.services.worker.nudge();
    return sendPage(req, reply, 'check-email', { title: 'Check your email', email: r.data.email, purpose: 'signin' });
  });

  const linkLimit = { rateLimit: { max: 30, timeWindow: '1 minute' } };

  app.get<{ Params: { token: string } }>('/auth/link/:token', { config: linkLimit }, async (req, reply) => {
    const link = TOKEN_PATTERN.test(req.params.token) ? await peekLoginToken(db, clock, req.params.token) : undefined;
    if (!link) return sendPage(req, reply, 'link-invalid', { title: 'This link no longer works' }, 404);
    return sendPage(req, reply, 'link-confirm', { title: link.purpose === 'signup' ? 'Create your workspace' : 'Sign in', purpose: link.purpose });
  });

  app.post<{ Params: { token: string } }>('/auth/link/:token', { config: linkLimit }, async (req, reply) => {
    const spent = TOKEN_PATTERN.test(req.params.token) ? await spendLoginToken(db, clock, req.params.token) : undefined;
    if (!spent) return sendPage(req, reply, 'link-invalid', { title: 'This link no longer works' }, 404);
    await startSession(reply, spent.userId, spent.vendorId);
    return seeOther(reply, '/app');
  });

  app.post('/signout', { preHandler: [requireSession, app.csrfProtection] }, async (req, reply) => {
    await endSession(req, reply);
    return seeOther(reply, '/');
  });

  /** Per-address cap on link mails, counted in the database so it holds across instances. */
  async function recentLinks(address: string): Promise<number> {
    const since = new Date(clock.now().getTime() - 15 * 60_000);
    const row = await db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('recipient', '=', address)
      .where('template', 'in', ['signin', 'signup'])
      .where('created_at', '>', since)
      .executeTakeFirstOrThrow();
    return row.n;
  }
}
