// The pages a member of the buyer's security team (or the champion) opens from
// their email. They need no account and no JavaScript. GET only reads: mail
// scanners that open the link change nothing. Each concern's form POSTs one
// answer. HTTP only: parse, open the transaction, call, respond.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { getConcern } from '../concerns/index.js';
import { readConcernForm } from '../lib/concern-form.js';
import { DomainError, isInvalidInput, notFound } from '../lib/errors.js';
import { seeOther, sendPage } from '../lib/render.js';
import { TOKEN_PATTERN, hashToken } from '../lib/tokens.js';
import { byField, email, fieldErrors } from '../lib/validate.js';
import { isChampion } from '../rules.js';
import { currentClaims } from '../deals/service.js';
import { loadDealDetail } from '../deals/detail.js';
import { answersOf, delegationsOf } from '../signals/service.js';
import { delegate, delegationInput, requestNewLink, resolveLink, type LinkContext } from '../stakeholders/service.js';
import { answerInput, recordAnswer } from './service.js';
import { championPageView, respondentPageView, type AnswerFormState, type HandoverFormState } from './views.js';

type Params = { token: string };
type AnswerParams = { token: string; concern: string };

export default async function respondRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;
  // Per link and address, so one noisy scanner cannot lock a colleague out.
  const perLink = (max: number) => ({
    rateLimit: {
      max,
      timeWindow: '1 minute',
      keyGenerator: (req: FastifyRequest) => `${req.ip}:${hashToken((req.params as Params).token ?? '').slice(0, 16)}`,
    },
  });
  const { failures } = app.services;

  /** The link resolved, or the dead-link page (counted as a failed lookup). Past the cap, nothing is looked up. */
  async function linkOf(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<LinkContext> {
    failures.check('link', req, reply);
    const ctx = await resolveLink(db, clock, req.params.token);
    if (ctx) return ctx;
    failures.fail('link', req);
    throw new DomainError('link_invalid', 'This link no longer works.');
  }

  /** A respondent's link; the champion's page is read-only. */
  async function respondentOf(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<LinkContext> {
    const ctx = await linkOf(req, reply);
    if (isChampion(ctx.stakeholder.role)) throw new DomainError('champion_read_only', 'The champion’s page is read-only.');
    return ctx;
  }

  async function render(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply, ctx: LinkContext, form?: AnswerFormState, handover?: HandoverFormState) {
    const [claims, answers, handovers] = await Promise.all([
      currentClaims(db, ctx.vendorId, ctx.deal.id),
      answersOf(db, ctx.vendorId, ctx.deal.id, ctx.stakeholder.id),
      delegationsOf(db, ctx.vendorId, ctx.deal.id, ctx.stakeholder.id),
    ]);
    const data = respondentPageView({ ctx, token: req.params.token, claims, answers, handovers, query: req.query as { saved?: string; delegated?: string }, form, handover });
    return sendPage(req, reply, 'respond', data, form?.status ?? (form || handover ? 400 : 200));
  }

  app.get<{ Params: Params }>('/r/:token', { config: perLink(60) }, async (req, reply) => {
    const ctx = await linkOf(req, reply);
    if (isChampion(ctx.stakeholder.role)) {
      return sendPage(req, reply, 'champion', championPageView(ctx, await loadDealDetail(db, clock, ctx.vendorId, ctx.deal.id, { corrections: true })));
    }
    return render(req, reply, ctx);
  });

  // Asking for a new link answers the same whatever was asked: it never tells whether the address is known.
  // A fixed address with the old token in a hidden field: a token from a URL never becomes part of a form's action.
  const renewLimit = {
    rateLimit: {
      max: 5,
      timeWindow: '1 minute',
      hook: 'preHandler' as const,
      keyGenerator: (req: FastifyRequest) => `${req.ip}:${hashToken(String((req.body as { token?: unknown } | undefined)?.token ?? '')).slice(0, 16)}`,
    },
  };
  app.post('/r/renew', { config: renewLimit }, async (req, reply) => {
    const parsed = z.object({ token: z.string().regex(TOKEN_PATTERN), email }).safeParse(req.body ?? {});
    if (parsed.success) {
      await transaction(db, (trx) => requestNewLink(trx, clock, parsed.data.token, parsed.data.email));
      app.services.worker.nudge();
    }
    return sendPage(req, reply, 'link-requested', { title: 'Request sent', bare: true });
  });

  app.post<{ Params: Params }>('/r/:token/delegate', { config: perLink(10) }, async (req, reply) => {
    const ctx = await respondentOf(req, reply);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = { ...body, concerns: body.concerns === undefined ? [] : ([] as unknown[]).concat(body.concerns) };
    const parsed = delegationInput.safeParse(values);
    if (!parsed.success) return render(req, reply, ctx, undefined, { message: 'Please check the highlighted fields.', errors: fieldErrors(parsed.error), values });
    try {
      await transaction(db, (trx) => delegate(trx, clock, config.LINK_TTL_DAYS, ctx, parsed.data));
    } catch (err) {
      if (!isInvalidInput(err)) throw err;
      return render(req, reply, ctx, undefined, { message: err.message, errors: byField(err.fieldProblems), values });
    }
    app.services.worker.nudge();
    return seeOther(reply, `/r/${req.params.token}?delegated=1#handover`);
  });

  app.post<{ Params: AnswerParams }>('/r/:token/answer/:concern', { config: perLink(30) }, async (req, reply) => {
    const ctx = await respondentOf(req, reply);
    const concern = getConcern(req.params.concern);
    if (!concern) throw notFound('That concern');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = readConcernForm(concern, body, 'v');
    const state = (message: string, errors: Record<string, string> = {}): AnswerFormState => ({
      concern: concern.key,
      verdict: typeof body.verdict === 'string' ? body.verdict : undefined,
      kind: typeof body.kind === 'string' ? body.kind : undefined,
      comment: typeof body.comment === 'string' ? body.comment : '',
      values,
      errors,
      message,
    });
    const parsed = answerInput.safeParse({
      verdict: body.verdict,
      kind: body.verdict === 'correct' ? body.kind : undefined,
      comment: typeof body.comment === 'string' && body.comment.trim() !== '' ? body.comment : undefined,
      revision: body.revision === undefined || body.revision === '' ? undefined : body.revision,
      values,
    });
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const i of parsed.error.issues) errors[String(i.path[0] ?? 'verdict')] ??= i.message;
      return render(req, reply, ctx, state('Please check the highlighted answers.', errors));
    }
    try {
      await transaction(db, (trx) => recordAnswer(trx, clock, ctx, concern.key, parsed.data, config.DIGEST_MINUTES));
      app.services.worker.nudge();
    } catch (err) {
      if (isInvalidInput(err)) return render(req, reply, ctx, state(err.message, byField(err.fieldProblems, 'values')));
      if (err instanceof DomainError && err.code === 'claim_changed') {
        // Show the new claim; keep what they typed in the comment.
        return render(req, reply, ctx, { ...state(err.message), values: {}, status: err.statusCode });
      }
      throw err;
    }
    return seeOther(reply, `/r/${req.params.token}?saved=${concern.key}#${concern.key}`);
  });
}
