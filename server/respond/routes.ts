// The page a member of the buyer's security team opens from their email. It
// needs no account and no JavaScript. GET only reads: mail scanners that open
// the link change nothing. Each concern's form POSTs one answer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CORRECTION_KINDS, getConcern } from '../concerns/index.js';
import type { ClaimValues } from '../concerns/types.js';
import { describeChanges, fieldViews, readConcernForm } from '../lib/concern-form.js';
import { hashToken } from '../lib/tokens.js';
import { WindowCounter } from '../lib/window-counter.js';
import { seeOther, sendPage } from '../lib/render.js';
import { AppError } from '../lib/errors.js';
import { currentClaims } from '../deals/service.js';
import { CHECKPOINT_LABELS, KIND_LONG, ROLE_LABELS, STATUS_LABELS, VERDICT_LABELS } from '../deals/labels.js';
import { SECURITY_ROLES } from '../deals/tracking.js';
import type { FieldChange, StakeholderRole } from '../db/schema.js';
import { answerInput, COMMENT_MAX, myAnswers, recordAnswer, requestNewLink, resolveLink, type LinkContext } from './service.js';
import { delegate, delegationInput, delegationsOf, DELEGATE_ROLES, MAX_DELEGATES } from './delegation.js';
import { loadDealDetail } from '../deals/detail.js';
import { byField, email, fieldErrors, type FieldProblem } from '../lib/validate.js';
import { z } from 'zod';


type Params = { token: string };
type AnswerParams = { token: string; concern: string };

interface FormState {
  concern: string;
  verdict?: string;
  kind?: string;
  comment?: string;
  values: Record<string, unknown>;
  errors: Record<string, string>;
  message: string;
  status?: number;
}

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
  // And failed lookups per address, so guessing tokens is bounded whatever the token.
  const guesses = new WindowCounter(60_000);
  const MAX_GUESSES = 120;

  async function render(
    req: FastifyRequest,
    reply: FastifyReply,
    ctx: LinkContext,
    token: string,
    form?: FormState,
    handover?: { message: string; errors: Record<string, string>; values: Record<string, unknown> },
  ) {
    const [claims, answers, handovers] = await Promise.all([
      currentClaims(db, ctx.vendorId, ctx.deal.id),
      myAnswers(db, ctx),
      delegationsOf(db, ctx),
    ]);
    const q = req.query as { saved?: string; delegated?: string };
    const saved = q.saved;
    // Concerns handed to this person come first.
    claims.sort((a, b) => Number(handovers.toMe.has(b.concern)) - Number(handovers.toMe.has(a.concern)));
    const concerns = claims.map((claim) => {
      const concern = getConcern(claim.concern)!;
      const answer = answers.get(claim.concern);
      const editing = form?.concern === claim.concern ? form : undefined;
      // Pre-fill the correction with what this person said last time, else the claim.
      const previous = answer?.verdict === 'correct' ? applyChanges(claim.claim, answer.changes) : claim.claim;
      const verdict = editing?.verdict ?? answer?.verdict ?? undefined;
      return {
        key: concern.key,
        title: concern.title,
        summary: concern.summary,
        critical: concern.severity === 'critical',
        sentence: concern.sentence(claim.claim),
        narrative: claim.narrative,
        claimed: fieldViews(concern, claim.claim, { idPrefix: `${concern.key}-claim-` }),
        revision: claim.revision,
        fields: fieldViews(concern, editing && Object.keys(editing.values).length ? editing.values : previous, { prefix: 'v', errors: editing?.errors, baseline: claim.claim }),
        verdictConfirm: verdict === 'confirm',
        verdictCorrect: verdict === 'correct',
        verdictNotMine: verdict === 'not_mine',
        kinds: CORRECTION_KINDS.map((k) => ({ ...k, checked: (editing?.kind ?? answer?.kind) === k.value })),
        comment: editing ? editing.comment ?? '' : answer?.comment ?? '',
        error: editing?.message,
        errors: editing?.errors ?? {},
        justSaved: saved === concern.key,
        handedToMeBy: handovers.toMe.get(claim.concern),
        handedAwayTo: handovers.fromMe.get(claim.concern),
        answer: answer && {
          label: VERDICT_LABELS[answer.verdict!],
          verdict: answer.verdict,
          kind: answer.kind ? KIND_LONG[answer.kind] : undefined,
          when: answer.created_at.toISOString().slice(0, 10),
          stale: answer.claim_revision !== claim.revision,
          changes: describeChanges(concern.key, answer.changes),
        },
      };
    });
    const answered = concerns.filter((c) => c.answer).length;
    return sendPage(
      req,
      reply,
      'respond',
      {
        title: `${ctx.vendorName}'s security posture for ${ctx.deal.buyerName}`,
        bare: true,
        token,
        vendorName: ctx.vendorName,
        buyerName: ctx.deal.buyerName,
        stakeholderName: ctx.stakeholder.name,
        role: ROLE_LABELS[ctx.stakeholder.role as StakeholderRole],
        concerns,
        answered,
        total: concerns.length,
        allAnswered: answered === concerns.length,
        commentMax: COMMENT_MAX,
        formError: Boolean(form),
        delegated: q.delegated === '1',
        handover: {
          open: Boolean(handover),
          error: handover?.message,
          errors: handover?.errors ?? {},
          values: handover?.values ?? {},
          concerns: claims.map((c) => ({
            key: c.concern,
            title: getConcern(c.concern)!.title,
            checked: (handover?.values.concerns as string[] | undefined)?.includes(c.concern) ?? false,
          })),
          roles: DELEGATE_ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r], selected: handover?.values.role === r })),
          max: MAX_DELEGATES,
        },
      },
      form?.status ?? (form || handover ? 400 : 200),
    );
  }

  /** The champion's read-only page: who engaged, what is open, the checkpoint; corrections only if the vendor shares them. */
  async function renderChampion(req: FastifyRequest, reply: FastifyReply, ctx: LinkContext) {
    const d = await loadDealDetail(db, clock, ctx.vendorId, ctx.deal.id);
    const share = d.deal.share_corrections;
    const t = d.tracking;
    const security = d.stakeholders.filter((s) => SECURITY_ROLES.includes(s.role));
    return sendPage(req, reply, 'champion', {
      title: `Security review status for ${ctx.deal.buyerName}`,
      bare: true,
      vendorName: ctx.vendorName,
      buyerName: ctx.deal.buyerName,
      name: ctx.stakeholder.name,
      checkpoint: { state: t.checkpoint.state, label: CHECKPOINT_LABELS[t.checkpoint.state], gaps: t.checkpoint.gaps },
      people: security.map((s) => ({ name: s.name, role: ROLE_LABELS[s.role], engaged: t.engaged.has(s.id) })),
      engagedCount: security.filter((s) => t.engaged.has(s.id)).length,
      concerns: d.grid.map((row) => ({ title: row.title, status: row.status, label: STATUS_LABELS[row.status] })),
      share,
      corrections: share
        ? d.signals
            .filter((s) => s.type === 'answer' && s.verdict === 'correct')
            .map((s) => ({
              concern: getConcern(s.concern!)?.title,
              who: s.stakeholder_name,
              kind: s.kind ? KIND_LONG[s.kind] : undefined,
              comment: s.comment,
              changes: describeChanges(s.concern!, s.changes),
            }))
        : [],
    });
  }

  app.get<{ Params: Params }>('/r/:token', { config: perLink(60) }, async (req, reply) => {
    const ctx = await resolveLink(db, clock, req.params.token);
    if (!ctx) return invalid(req, reply);
    if (ctx.stakeholder.role === 'champion') return renderChampion(req, reply, ctx);
    return render(req, reply, ctx, req.params.token);
  });

  const invalid = (req: FastifyRequest, reply: FastifyReply) => {
    if (guesses.hit(req.ip) > MAX_GUESSES) {
      throw new AppError(429, 'rate_limited', 'Too many requests. Please wait a minute and try again.');
    }
    return sendPage(req, reply, 'link-invalid', { title: 'This link no longer works', respondent: true, bare: true, token: (req.params as Params).token }, 404);
  };

  // Asking for a new link answers the same whatever was asked: it never tells whether the address is known.
  app.post<{ Params: Params }>('/r/:token/renew', { config: perLink(5) }, async (req, reply) => {
    const parsed = z.object({ email }).safeParse(req.body ?? {});
    if (parsed.success) {
      await requestNewLink(db, clock, req.params.token, parsed.data.email);
      app.services.worker.nudge();
    }
    return sendPage(req, reply, 'link-requested', { title: 'Request sent', bare: true });
  });

  app.post<{ Params: Params }>('/r/:token/delegate', { config: perLink(10) }, async (req, reply) => {
    const ctx = await resolveLink(db, clock, req.params.token);
    if (!ctx) return invalid(req, reply);
    if (ctx.stakeholder.role === 'champion') throw new AppError(403, 'champion', 'The champion’s page is read-only.');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = { ...body, concerns: body.concerns === undefined ? [] : ([] as unknown[]).concat(body.concerns) };
    const parsed = delegationInput.safeParse(values);
    const fail = (message: string, errors: Record<string, string>) => render(req, reply, ctx, req.params.token, undefined, { message, errors, values });
    if (!parsed.success) return fail('Please check the highlighted fields.', fieldErrors(parsed.error));
    try {
      await delegate(db, clock, config.LINK_TTL_DAYS, ctx, parsed.data);
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 400) {
        return fail(err.message, byField((err.details as FieldProblem[]) ?? []));
      }
      throw err;
    }
    app.services.worker.nudge();
    return seeOther(reply, `/r/${req.params.token}?delegated=1#handover`);
  });

  app.post<{ Params: AnswerParams }>('/r/:token/answer/:concern', { config: perLink(30) }, async (req, reply) => {
    const ctx = await resolveLink(db, clock, req.params.token);
    if (!ctx) return invalid(req, reply);
    if (ctx.stakeholder.role === 'champion') throw new AppError(403, 'champion', 'The champion’s page is read-only.');
    const concern = getConcern(req.params.concern);
    if (!concern) throw new AppError(404, 'not_found', 'That concern does not exist.');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = readConcernForm(concern, body, 'v');
    const input = {
      verdict: body.verdict,
      kind: body.verdict === 'correct' ? body.kind : undefined,
      comment: typeof body.comment === 'string' && body.comment.trim() !== '' ? body.comment : undefined,
      revision: body.revision === undefined || body.revision === '' ? undefined : body.revision,
      values,
    };
    const state = (message: string, errors: Record<string, string> = {}): FormState => ({
      concern: concern.key,
      verdict: typeof body.verdict === 'string' ? body.verdict : undefined,
      kind: typeof body.kind === 'string' ? body.kind : undefined,
      comment: typeof body.comment === 'string' ? body.comment : '',
      values,
      errors,
      message,
    });
    const parsed = answerInput.safeParse(input);
    if (!parsed.success) {
      const errors: Record<string, string> = {};
      for (const i of parsed.error.issues) errors[String(i.path[0] ?? 'verdict')] ??= i.message;
      return render(req, reply, ctx, req.params.token, state('Please check the highlighted answers.', errors));
    }
    try {
      await recordAnswer(db, clock, ctx, concern.key, parsed.data, config.DIGEST_MINUTES);
      app.services.worker.nudge();
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 400) {
        return render(req, reply, ctx, req.params.token, state(err.message, byField((err.details as FieldProblem[]) ?? [], 'values')));
      }
      if (err instanceof AppError && err.code === 'claim_changed') {
        // Show the new claim; keep what they typed in the comment.
        return render(req, reply, ctx, req.params.token, { ...state(err.message), values: {}, status: 409 });
      }
      throw err;
    }
    return seeOther(reply, `/r/${req.params.token}?saved=${concern.key}#${concern.key}`);
  });
}

function applyChanges(claim: ClaimValues, changes: FieldChange[]): ClaimValues {
  const out = { ...claim };
  for (const c of changes) out[c.field] = c.corrected;
  return out;
}
