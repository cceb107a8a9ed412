// The pages a member of the buyer's security team (or the champion) opens from
// their email. They need no account and no JavaScript. GET only reads: mail
// scanners that open the link change nothing.
//
//   GET  /r/:token                    the six claims, each with Confirm, Correct and Not mine
//   POST /r/:token/answer/:concern    one answer; then on to the next concern still needing one
//   GET  /r/:token/correct/:concern   correcting one concern, on a page of its own
//   GET  /r/:token/handover           handing concerns to a colleague (POST …/delegate)
//   POST /r/:token/receipt            a copy of their own answers, by mail
//
// A GET on a POST address (a reload after an error) leads back to its page.
// HTTP only: parse, open the transaction, call, respond.
import { capitalise } from '../lib/text.js';
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
import { loadDealDetail } from '../deals/detail.js';
import { delegate, delegationInput, requestNewLink, resolveLink, type LinkContext } from '../stakeholders/service.js';
import { answerInput, correctedClaim, loadRespondentPage, resolveLinkAndPage, queueReceipt, saveAnswer, type RespondentPage } from './service.js';
import { championPageView, correctPageView, handoverPageView, respondentPageView, type CorrectFormState, type HandoverFormState, type MainPageQuery } from './views.js';

type Params = { token: string };
type ConcernParams = { token: string; concern: string };

export default async function respondRoutes(app: FastifyInstance) {
  const { db, clock, config, failures } = app.services;
  // Per link and address, so one noisy scanner cannot lock a colleague out.
  const perLink = (max: number) => ({
    rateLimit: {
      max,
      timeWindow: '1 minute',
      keyGenerator: (req: FastifyRequest) => `${req.ip}:${hashToken((req.params as Params).token ?? '').slice(0, 16)}`,
    },
  });

  /** The link resolved, or the dead-link page (counted as a failed lookup). Past the cap, nothing is looked up. */
  async function linkOf(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<LinkContext> {
    return found(req, await resolveLink(db, clock, checked(req, reply)));
  }

  function checked(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply): string {
    failures.check('link', req, reply);
    return req.params.token;
  }
  function found<T>(req: FastifyRequest<{ Params: Params }>, result: T | undefined): T {
    if (result) return result;
    failures.fail('link', req);
    throw new DomainError('link_invalid', 'This link no longer works.');
  }

  /** A respondent's link; the champion's page is read-only. */
  async function respondentOf(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<LinkContext> {
    const ctx = await linkOf(req, reply);
    if (isChampion(ctx.stakeholder.role)) throw new DomainError('champion_read_only', 'The champion’s page is read-only.');
    return ctx;
  }

  const concernOf = (key: string) => {
    const concern = getConcern(key);
    if (!concern) throw notFound('That concern');
    return concern;
  };
  const mainPage = (token: string, query = '', hash = '') => `/r/${token}${query}${hash}`;

  app.get<{ Params: Params; Querystring: MainPageQuery }>('/r/:token', { config: perLink(60) }, async (req, reply) => {
    // The link and the page's data in one query: the page a respondent opens most often costs one statement.
    const { ctx, page } = found(req, await resolveLinkAndPage(db, clock, checked(req, reply)));
    if (isChampion(ctx.stakeholder.role)) {
      return sendPage(req, reply, 'champion', championPageView(ctx, await loadDealDetail(db, clock, ctx.vendorId, ctx.deal.id, { corrections: true })));
    }
    const query = typeof req.query === 'object' && req.query ? req.query : {};
    return sendPage(req, reply, 'respond', respondentPageView(ctx, req.params.token, page, query));
  });

  async function renderCorrect(req: FastifyRequest<{ Params: ConcernParams }>, reply: FastifyReply, ctx: LinkContext, page: RespondentPage, form?: CorrectFormState) {
    const concern = concernOf(req.params.concern);
    if (!page.claims.some((c) => c.concern === concern.key)) throw notFound('That concern');
    return sendPage(req, reply, 'respond-correct', correctPageView(ctx, req.params.token, page, concern.key, form), form?.status ?? (form ? 400 : 200));
  }

  app.get<{ Params: ConcernParams }>('/r/:token/correct/:concern', { config: perLink(60) }, async (req, reply) => {
    const ctx = await respondentOf(req, reply);
    return renderCorrect(req, reply, ctx, await loadRespondentPage(db, ctx));
  });

  // A reload of an address the browser showed after a POST: back to the page it belongs to (only ever for a
  // token of the token's form, so nothing a client sends ends up in the Location header).
  const tokenOf = (req: FastifyRequest<{ Params: Params }>) => {
    if (!TOKEN_PATTERN.test(req.params.token)) throw new DomainError('link_invalid', 'This link no longer works.');
    return req.params.token;
  };
  app.get<{ Params: ConcernParams }>('/r/:token/answer/:concern', { config: perLink(60) }, async (req, reply) => {
    const token = tokenOf(req);
    return seeOther(reply, mainPage(token, '', `#${concernOf(req.params.concern).key}`));
  });
  app.get<{ Params: Params }>('/r/:token/delegate', { config: perLink(60) }, async (req, reply) => seeOther(reply, `/r/${tokenOf(req)}/handover`));
  app.get<{ Params: Params }>('/r/:token/receipt', { config: perLink(60) }, async (req, reply) => seeOther(reply, mainPage(tokenOf(req), '', '#done')));

  app.post<{ Params: ConcernParams }>('/r/:token/answer/:concern', { config: perLink(30) }, async (req, reply) => {
    const concern = concernOf(req.params.concern);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const correcting = body.verdict === 'correct';
    const values = correcting ? readConcernForm(concern, body, 'v') : {};
    // A quick answer's problem is explained on the main page, at the concern and in the summary at the top.
    const refuseQuick = async (message: string, status: number) => {
      const ctx = await respondentOf(req, reply);
      return sendPage(req, reply, 'respond', respondentPageView(ctx, req.params.token, await loadRespondentPage(db, ctx), {}, { concern: concern.key, message }), status);
    };
    const refuseCorrection = async (message: string, errors: (page: RespondentPage) => Record<string, string>, status?: number, keepValues = true) => {
      const ctx = await respondentOf(req, reply);
      const page = await loadRespondentPage(db, ctx);
      return renderCorrect(req, reply, ctx, page, { ...correctForm(message, errors(page), status), ...(keepValues ? {} : { values: {} }) });
    };
    const correctForm = (message: string, errors: Record<string, string> = {}, status?: number): CorrectFormState => ({
      kind: typeof body.kind === 'string' ? body.kind : undefined,
      comment: typeof body.comment === 'string' ? body.comment : '',
      values,
      errors,
      message,
      status,
    });
    const parsed = answerInput.safeParse({
      verdict: body.verdict,
      kind: correcting ? body.kind : undefined,
      comment: typeof body.comment === 'string' && body.comment.trim() !== '' ? body.comment : undefined,
      revision: body.revision === undefined || body.revision === '' ? undefined : body.revision,
      values,
    });
    const notSaved = 'Your correction was not saved. Please check the answers marked below.';
    if (!parsed.success) {
      if (!correcting) return refuseQuick(capitalise(parsed.error.issues.map((i) => (i.path[0] === 'comment' ? `Comment: ${i.message}` : i.message)).join('; ')), 400);
      // Name every problem at once: the kind or comment, and any value that is not valid.
      return refuseCorrection(notSaved, (page) => {
        const claim = page.claims.find((c) => c.concern === concern.key);
        const corrected = claim ? correctedClaim(concern, claim.claim, values) : undefined;
        const errors: Record<string, string> = corrected && !corrected.ok ? byField(corrected.problems, 'values') : {};
        for (const i of parsed.error.issues) errors[String(i.path[0] ?? 'verdict')] ??= i.message;
        return errors;
      });
    }
    try {
      // The link is resolved inside the answer's own transaction: one statement finds it, locks the person and reads the claim.
      // (No mail to nudge for: a correction's digest is due minutes from now, and the worker polls.)
      found(req, await saveAnswer(db, clock, checked(req, reply), concern.key, parsed.data, config.DIGEST_MINUTES));
    } catch (err) {
      if (isInvalidInput(err)) return refuseCorrection(notSaved, () => byField(err.fieldProblems, 'values'));
      if (err instanceof DomainError && err.code === 'claim_changed') {
        if (!correcting) return refuseQuick(err.message, err.statusCode);
        // Show the new claim; keep what they typed in the comment.
        return refuseCorrection(err.message, () => ({}), err.statusCode, false);
      }
      throw err;
    }
    // On to the next concern that still needs this person (the page marks it #next), with a note of what was saved.
    return seeOther(reply, mainPage(req.params.token, `?saved=${concern.key}`, '#next'));
  });

  app.get<{ Params: Params }>('/r/:token/handover', { config: perLink(60) }, async (req, reply) => {
    const ctx = await respondentOf(req, reply);
    return sendPage(req, reply, 'respond-handover', handoverPageView(ctx, req.params.token, await loadRespondentPage(db, ctx)));
  });

  app.post<{ Params: Params }>('/r/:token/delegate', { config: perLink(10) }, async (req, reply) => {
    const ctx = await respondentOf(req, reply);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = { ...body, concerns: body.concerns === undefined ? [] : ([] as unknown[]).concat(body.concerns) };
    const refuse = async (form: HandoverFormState) =>
      sendPage(req, reply, 'respond-handover', handoverPageView(ctx, req.params.token, await loadRespondentPage(db, ctx), form), 400);
    const parsed = delegationInput.safeParse(values);
    if (!parsed.success) return refuse({ message: 'Nothing was handed over. Please check the answers marked below.', errors: fieldErrors(parsed.error), values });
    try {
      await transaction(db, (trx) => delegate(trx, clock, config.LINK_TTL_DAYS, ctx, parsed.data));
    } catch (err) {
      if (!isInvalidInput(err)) throw err;
      return refuse({ message: err.message, errors: byField(err.fieldProblems), values });
    }
    app.services.worker.nudge();
    return seeOther(reply, mainPage(req.params.token, '?delegated=1'));
  });

  app.post<{ Params: Params }>('/r/:token/receipt', { config: perLink(5) }, async (req, reply) => {
    const ctx = await respondentOf(req, reply);
    await queueReceipt(db, clock, ctx);
    app.services.worker.nudge();
    return seeOther(reply, mainPage(req.params.token, '?receipt=1', '#done'));
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
}
