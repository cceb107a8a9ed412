// The vendor's pages for deals: the list, opening a deal (with tailoring),
// and a deal's grid, stakeholders and signals.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONCERNS } from '../concerns/index.js';
import type { ClaimValues } from '../concerns/types.js';
import { describeChanges, fieldViews, readConcernForm } from '../lib/concern-form.js';
import { AppError } from '../lib/errors.js';
import { seeOther, sendPage } from '../lib/render.js';
import { todayIso } from '../lib/validate.js';
import { requireSession } from '../auth/session.js';
import { fieldErrors } from '../auth/routes.js';
import { getVersion, listVersions } from '../profiles/service.js';
import { STAKEHOLDER_ROLES } from '../db/schema.js';
import { loadDealDetail } from './detail.js';
import {
  addStakeholder,
  createDeal,
  dealInput,
  getDeal,
  inviteStakeholder,
  listDeals,
  ROLE_LABELS,
  stakeholderInput,
  weekOfDeal,
} from './service.js';

const VERDICT_LABELS = { confirm: 'Confirmed', correct: 'Corrected', not_mine: 'Not mine', none: 'No answer' } as const;
const KIND_LABELS = { factual_error: 'factual error', requirement_gap: 'requirement gap', not_applicable: 'not applicable' } as const;
const roles = (selected?: unknown) => STAKEHOLDER_ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r], selected: r === selected }));

export default async function dealRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;
  const form = { preHandler: [requireSession, app.csrfProtection] };

  app.get('/app', { preHandler: requireSession }, async (req, reply) => {
    const vendorId = req.session!.vendorId;
    const [deals, versions] = await Promise.all([listDeals(db, vendorId), listVersions(db, vendorId)]);
    const now = clock.now();
    return sendPage(req, reply, 'dashboard', {
      title: 'Deals',
      nav: 'deals',
      published: versions.length > 0,
      deals: deals.map((d) => ({ ...d, week: weekOfDeal(d.started_on, now), stage: d.stage.replace('_', ' ') })),
    });
  });

  async function renderNew(req: FastifyRequest, reply: FastifyReply, values: Record<string, unknown>, errors: Record<string, string> = {}, tailorErrors: Record<string, Record<string, string>> = {}, status = 200) {
    const vendorId = req.session!.vendorId;
    const versions = await listVersions(db, vendorId);
    const asked = Number(values.profile_version);
    const chosen = versions.some((v) => v.version === asked) ? asked : versions[0]?.version;
    const version = chosen ? await getVersion(db, vendorId, chosen) : undefined;
    const tailoring = (values.tailoring ?? {}) as Record<string, ClaimValues>;
    return sendPage(
      req,
      reply,
      'deal-new',
      {
        title: 'Open a deal',
        nav: 'deals',
        values: { started_on: todayIso(clock.now()), ...values },
        errors,
        versions: versions.map((v) => ({ version: v.version, selected: v.version === chosen })),
        hasVersions: versions.length > 0,
        concerns: version
          ? CONCERNS.map((c) => ({
              key: c.key,
              title: c.title,
              tailored: Boolean(tailorErrors[c.key]) || JSON.stringify(tailoring[c.key] ?? {}) !== '{}',
              fields: fieldViews(c, { ...version.claims[c.key].values, ...tailoring[c.key] }, {
                prefix: `t.${c.key}`,
                errors: tailorErrors[c.key],
                baseline: version.claims[c.key].values,
                idPrefix: `t-${c.key}-`,
              }),
            }))
          : [],
      },
      status,
    );
  }

  app.get('/app/deals/new', { preHandler: requireSession }, (req, reply) => renderNew(req, reply, {}));

  app.post('/app/deals', form, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    // Only concerns whose tailoring fields were on the form (marked by a hidden input) count:
    // an absent checkbox group must not read as "none of these".
    const overrides = Object.fromEntries(
      CONCERNS.filter((c) => body[`t.${c.key}._present`] === '1').map((c) => [c.key, readConcernForm(c, body, `t.${c.key}`)]),
    );
    const input = {
      buyer_name: body.buyer_name,
      buyer_domain: typeof body.buyer_domain === 'string' && body.buyer_domain.trim() !== '' ? body.buyer_domain : undefined,
      started_on: body.started_on || undefined,
      profile_version: body.profile_version || undefined,
      overrides,
    };
    const parsed = dealInput.safeParse(input);
    if (!parsed.success) return renderNew(req, reply, { ...body, tailoring: overrides }, fieldErrors(parsed.error), {}, 400);
    try {
      const id = await createDeal(db, clock, req.session!.vendorId, req.session!.userId, parsed.data);
      return seeOther(reply, `/app/deals/${id}?created=1`);
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 400) {
        const tailorErrors: Record<string, Record<string, string>> = {};
        const errors: Record<string, string> = {};
        for (const d of (err.details as { field: string; message: string }[]) ?? []) {
          const m = /^overrides\.([a-z_]+)\.([a-z_]+)/.exec(d.field);
          if (m) (tailorErrors[m[1]] ??= {})[m[2]] ??= d.message;
          else errors[d.field] ??= d.message;
        }
        return renderNew(req, reply, { ...body, tailoring: overrides }, errors, tailorErrors, 400);
      }
      throw err;
    }
  });

  async function renderDeal(req: FastifyRequest, reply: FastifyReply, dealId: string, extra: Record<string, unknown> = {}, status = 200) {
    const vendorId = req.session!.vendorId;
    const d = await loadDealDetail(db, vendorId, dealId);
    const now = clock.now();
    const q = req.query as { created?: string; added?: string; invited?: string };
    const names = new Map(d.stakeholders.map((s) => [s.id, s.name]));
    return sendPage(
      req,
      reply,
      'deal',
      {
        title: d.deal.buyer_name,
        nav: 'deals',
        deal: { ...d.deal, stage: d.deal.stage.replace('_', ' '), week: weekOfDeal(d.deal.started_on, now) },
        created: q.created === '1',
        added: q.added === '1',
        invited: q.invited === '1',
        claims: d.claims.map((c) => {
          const concern = CONCERNS.find((x) => x.key === c.concern)!;
          return { title: concern.title, sentence: concern.sentence(c.claim), tailored: c.tailored, revision: c.revision };
        }),
        stakeholders: d.stakeholders.map((s) => {
          const mail = d.pendingMail.get(s.id);
          return {
            ...s,
            roleLabel: ROLE_LABELS[s.role],
            invited: s.invited_at ? s.invited_at.toISOString().slice(0, 10) : undefined,
            mailFailed: mail === 'failed',
            mailPending: mail === 'pending',
          };
        }),
        hasStakeholders: d.stakeholders.length > 0,
        grid: d.grid.map((row) => ({
          ...row,
          cells: row.answers.map((a) => ({
            verdict: a.verdict,
            label: VERDICT_LABELS[a.verdict],
            detail: a.kind ? KIND_LABELS[a.kind] : undefined,
            stale: a.stale,
            who: names.get(a.stakeholder_id),
          })),
        })),
        signals: d.signals.map((s) => ({
          id: s.id,
          concern: CONCERNS.find((c) => c.key === s.concern)?.title ?? s.concern,
          verdict: s.verdict,
          label: s.verdict ? VERDICT_LABELS[s.verdict] : s.type,
          kind: s.kind ? KIND_LABELS[s.kind] : undefined,
          comment: s.comment,
          who: s.stakeholder_name,
          role: s.stakeholder_role ? ROLE_LABELS[s.stakeholder_role] : undefined,
          week: s.week,
          when: s.created_at.toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
          changes: s.concern ? describeChanges(s.concern, s.changes) : [],
        })),
        roles: roles((extra.values as Record<string, unknown> | undefined)?.role),
        values: {},
        errors: {},
        ...extra,
      },
      status,
    );
  }

  app.get<{ Params: { id: string } }>('/app/deals/:id', { preHandler: requireSession }, (req, reply) => renderDeal(req, reply, req.params.id));

  app.post<{ Params: { id: string } }>('/app/deals/:id/stakeholders', form, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const parsed = stakeholderInput.safeParse({ name: body.name, email: body.email, role: body.role, invite: body.invite === 'yes' });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { values: body, errors: fieldErrors(parsed.error) }, 400);
    try {
      await addStakeholder(db, clock, config.LINK_TTL_DAYS, req.session!.vendorId, req.params.id, parsed.data);
    } catch (err) {
      if (err instanceof AppError && err.code === 'duplicate_stakeholder') {
        return renderDeal(req, reply, req.params.id, { values: body, errors: { email: err.message } }, 409);
      }
      throw err;
    }
    app.services.worker.nudge();
    return seeOther(reply, `/app/deals/${req.params.id}?added=1#stakeholders`);
  });

  app.post<{ Params: { id: string; sid: string } }>('/app/deals/:id/stakeholders/:sid/invite', form, async (req, reply) => {
    await getDeal(db, req.session!.vendorId, req.params.id);
    await inviteStakeholder(db, clock, config.LINK_TTL_DAYS, req.session!.vendorId, req.params.id, req.params.sid);
    app.services.worker.nudge();
    return seeOther(reply, `/app/deals/${req.params.id}?invited=1#stakeholders`);
  });
}
