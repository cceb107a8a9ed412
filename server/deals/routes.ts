// The vendor's pages for deals: the list, opening a deal (with tailoring), and
// a deal's checkpoint, grid, stakeholders, timeline and claims, with the
// actions on each.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONCERNS, getConcern } from '../concerns/index.js';
import type { ClaimValues } from '../concerns/types.js';
import { describeChanges, fieldViews, readConcernForm } from '../lib/concern-form.js';
import { AppError } from '../lib/errors.js';
import { seeOther, sendPage } from '../lib/render.js';
import { requireSession } from '../auth/session.js';
import { byField, fieldErrors, todayIso, type FieldProblem } from '../lib/validate.js';
import { getVersion, listVersions } from '../profiles/service.js';
import { DEAL_STAGES, STAKEHOLDER_ROLES, type DealStage } from '../db/schema.js';
import { loadDealDetail, type DealDetail } from './detail.js';
import { addStakeholder, createDeal, dealInput, listDeals, stakeholderInput, weekOfDeal } from './service.js';
import { CHECKPOINT_LABELS, KIND_SHORT, LINK_LABELS, ROLE_LABELS, STAGE_LABELS, STATUS_LABELS, VERDICT_LABELS } from './labels.js';
import {
  changeClaim,
  changeStage,
  dealSettingsInput,
  extendLinks,
  resendLink,
  revokeLinks,
  setStakeholderReminders,
  stageInput,
  updateDealSettings,
} from './lifecycle.js';
import { computeTracking, loadTracking } from './tracking.js';

const roles = (selected?: unknown) => STAKEHOLDER_ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r], selected: r === selected }));
const day = (d: Date | null | undefined) => (d ? new Date(d).toISOString().slice(0, 10) : undefined);

/** One signal as a line of the timeline. */
function signalView(s: DealDetail['signals'][number]) {
  const concern = s.concern ? (getConcern(s.concern)?.title ?? s.concern) : undefined;
  const base = { id: s.id, week: s.week, when: s.created_at.toISOString().replace('T', ' ').slice(0, 16) + ' UTC', concern, comment: s.comment };
  switch (s.type) {
    case 'answer':
      return {
        ...base,
        pill: s.verdict!,
        label: VERDICT_LABELS[s.verdict!],
        who: s.stakeholder_name,
        role: s.stakeholder_role ? ROLE_LABELS[s.stakeholder_role] : undefined,
        kind: s.kind ? KIND_SHORT[s.kind] : undefined,
        changes: describeChanges(s.concern!, s.changes),
      };
    case 'delegation':
      return { ...base, pill: 'event', label: 'Handed over', who: s.stakeholder_name, detail: `to ${s.target_name}${s.target_role ? ` (${ROLE_LABELS[s.target_role]})` : ''}`, changes: [] };
    case 'claim_change':
      return { ...base, pill: 'event', label: 'Claim changed', who: s.actor_name ?? 'API', detail: `now revision ${s.claim_revision}; earlier answers need re-confirmation`, changes: describeChanges(s.concern!, s.changes) };
    case 'checkpoint_override':
      return { ...base, pill: 'correct', label: 'Checkpoint overridden', who: s.actor_name ?? 'API', changes: [] };
    case 'stage_change': {
      const [c] = s.changes;
      return { ...base, pill: 'event', label: 'Stage changed', who: s.actor_name ?? 'API', detail: `${STAGE_LABELS[c.claimed as DealStage]} → ${STAGE_LABELS[c.corrected as DealStage]}`, changes: [] };
    }
  }
}

export default async function dealRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;
  const form = { preHandler: [requireSession, app.csrfProtection] };

  app.get('/app', { preHandler: requireSession }, async (req, reply) => {
    const vendorId = req.session!.vendorId;
    const [deals, versions] = await Promise.all([listDeals(db, vendorId), listVersions(db, vendorId)]);
    const tracking = await loadTracking(db, vendorId, deals);
    const now = clock.now();
    return sendPage(req, reply, 'dashboard', {
      title: 'Deals',
      nav: 'deals',
      published: versions.length > 0,
      deals: deals.map((d) => {
        const t = computeTracking(tracking.get(d.id)!);
        return {
          ...d,
          week: weekOfDeal(d.started_on, now),
          stage: STAGE_LABELS[d.stage],
          concernsOpen: t.concernsOpen,
          corrections: t.corrections,
          checkpoint: t.checkpoint.state,
          checkpointLabel: CHECKPOINT_LABELS[t.checkpoint.state],
          risk: t.risk.noSecurityStakeholder,
        };
      }),
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
    const d = await loadDealDetail(db, clock, req.session!.vendorId, dealId);
    const now = clock.now();
    const q = req.query as Record<string, string | undefined>;
    const names = new Map(d.stakeholders.map((s) => [s.id, s.name]));
    const answered = new Map<string, number>();
    for (const row of d.grid) for (const a of row.answers) if (a.verdict !== 'none') answered.set(a.stakeholder_id, (answered.get(a.stakeholder_id) ?? 0) + 1);
    const timeline = new Map<number, ReturnType<typeof signalView>[]>();
    for (const s of d.signals) timeline.set(s.week, [...(timeline.get(s.week) ?? []), signalView(s)]);
    const claimErrors = (extra.claimErrors ?? {}) as Record<string, Record<string, string>>;
    const claimValues = (extra.claimValues ?? {}) as Record<string, Record<string, unknown>>;
    const t = d.tracking;
    return sendPage(
      req,
      reply,
      'deal',
      {
        title: d.deal.buyer_name,
        nav: 'deals',
        deal: { ...d.deal, stageLabel: STAGE_LABELS[d.deal.stage], week: weekOfDeal(d.deal.started_on, now), reminderDays: d.deal.reminder_days.join(', ') },
        notice: {
          created: 'Deal opened. Next, add the buyer’s security stakeholders and invite them.',
          added: 'Stakeholder added.',
          invited: 'A new personal link is on its way. Earlier links for this person no longer work.',
          revoked: 'Every link of this person now stops working, and their reminders stop.',
          extended: 'Their link works for longer now.',
          reminders: 'Reminder settings saved.',
          settings: 'Deal settings saved.',
          stage: 'Stage changed.',
          claim: 'Claim changed. Earlier answers on it now ask for re-confirmation.',
        }[Object.keys(q).find((k) => q[k] === '1') ?? ''],
        checkpoint: { ...t.checkpoint, label: CHECKPOINT_LABELS[t.checkpoint.state], ready: t.checkpoint.state === 'ready', open: t.checkpoint.state === 'open' },
        risk: t.risk.noSecurityStakeholder,
        firstSignal: t.firstSecuritySignalWeek,
        firstCorrection: t.firstSecurityCorrectionWeek,
        stages: DEAL_STAGES.map((s) => ({ value: s, label: STAGE_LABELS[s], selected: s === (extra.askedStage ?? d.deal.stage) })),
        respondents: d.respondents,
        grid: d.grid.map((row) => ({
          ...row,
          statusLabel: STATUS_LABELS[row.status],
          cells: row.answers.map((a) => ({
            verdict: a.verdict,
            label: VERDICT_LABELS[a.verdict],
            detail: a.kind ? KIND_SHORT[a.kind] : undefined,
            stale: a.stale,
            handedTo: a.handed_to,
            who: names.get(a.stakeholder_id),
          })),
        })),
        stakeholders: d.stakeholders.map((s) => {
          const mail = d.pendingMail.get(s.id);
          return {
            ...s,
            roleLabel: ROLE_LABELS[s.role],
            champion: s.role === 'champion',
            foundBy: s.source === 'delegated' ? `Delegated by ${s.delegated_by_name}` : 'Added by vendor',
            answered: answered.get(s.id) ?? 0,
            invited: day(s.invited_at),
            linkLabel: LINK_LABELS[s.link_state],
            linkActive: s.link_state === 'active',
            linkUntil: s.link_state === 'active' ? day(s.link_expires_at) : undefined,
            canExtend: s.link_state === 'active' || s.link_state === 'expired',
            mailFailed: mail === 'failed',
            mailPending: mail === 'pending',
          };
        }),
        hasStakeholders: d.stakeholders.length > 0,
        delegations: d.signals
          .filter((s) => s.type === 'delegation')
          .reverse()
          .map((s) => ({ from: s.stakeholder_name, to: s.target_name, concern: getConcern(s.concern!)?.title, week: s.week, when: day(s.created_at) })),
        weeks: [...timeline.entries()].map(([week, signals]) => ({ week, signals })),
        claims: d.claims.map((c) => {
          const concern = getConcern(c.concern)!;
          return {
            key: c.concern,
            title: concern.title,
            sentence: concern.sentence(c.claim),
            tailored: c.tailored,
            revision: c.revision,
            open: Boolean(claimErrors[c.concern]),
            fields: fieldViews(concern, claimValues[c.concern] ?? c.claim, { prefix: 'c', errors: claimErrors[c.concern], baseline: c.claim, idPrefix: `c-${c.concern}-` }),
          };
        }),
        roles: roles((extra.values as Record<string, unknown> | undefined)?.role),
        values: {},
        errors: {},
        ...extra,
      },
      status,
    );
  }

  type DealParams = { Params: { id: string } };
  type PersonParams = { Params: { id: string; sid: string } };
  const back = (reply: FastifyReply, id: string, flag: string, anchor = '') => seeOther(reply, `/app/deals/${id}?${flag}=1${anchor}`);

  app.get<DealParams>('/app/deals/:id', { preHandler: requireSession }, (req, reply) => renderDeal(req, reply, req.params.id));

  app.post<DealParams>('/app/deals/:id/stakeholders', form, async (req, reply) => {
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
    return back(reply, req.params.id, 'added', '#stakeholders');
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/invite', form, async (req, reply) => {
    await resendLink(db, clock, config.LINK_TTL_DAYS, req.session!.vendorId, req.params.id, req.params.sid);
    app.services.worker.nudge();
    return back(reply, req.params.id, 'invited', '#stakeholders');
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/revoke', form, async (req, reply) => {
    await revokeLinks(db, clock, req.session!.vendorId, req.params.id, req.params.sid);
    return back(reply, req.params.id, 'revoked', '#stakeholders');
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/extend', form, async (req, reply) => {
    await extendLinks(db, clock, req.session!.vendorId, req.params.id, req.params.sid, config.LINK_TTL_DAYS);
    return back(reply, req.params.id, 'extended', '#stakeholders');
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/reminders', form, async (req, reply) => {
    const paused = (req.body as Record<string, unknown> | undefined)?.paused === 'yes';
    await setStakeholderReminders(db, req.session!.vendorId, req.params.id, req.params.sid, paused);
    return back(reply, req.params.id, 'reminders', '#stakeholders');
  });

  app.post<DealParams>('/app/deals/:id/settings', form, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const days = ([] as unknown[]).concat(body.reminder_days ?? []).join(',').split(/[,\s]+/).filter(Boolean).map(Number);
    const parsed = dealSettingsInput.safeParse({ reminders_paused: body.reminders_paused === 'yes', share_corrections: body.share_corrections === 'yes', reminder_days: days });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { settingsError: `Reminder days ${parsed.error.issues[0].message}.` }, 400);
    await updateDealSettings(db, req.session!.vendorId, req.params.id, parsed.data);
    return back(reply, req.params.id, 'settings', '#settings');
  });

  app.post<DealParams>('/app/deals/:id/stage', form, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const parsed = stageInput.safeParse({ stage: body.stage, override_reason: typeof body.override_reason === 'string' && body.override_reason.trim() ? body.override_reason : undefined });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { stageError: parsed.error.issues[0].message }, 400);
    try {
      await changeStage(db, clock, req.session!.vendorId, req.params.id, req.session!.userId, parsed.data);
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 409) {
        return renderDeal(req, reply, req.params.id, { stageError: err.message, askedStage: parsed.data.stage }, 409);
      }
      throw err;
    }
    return back(reply, req.params.id, 'stage');
  });

  app.post<{ Params: { id: string; concern: string } }>('/app/deals/:id/claims/:concern', form, async (req, reply) => {
    const concern = getConcern(req.params.concern);
    if (!concern) throw new AppError(404, 'not_found', 'That concern does not exist.');
    const values = readConcernForm(concern, (req.body ?? {}) as Record<string, unknown>, 'c');
    try {
      await changeClaim(db, clock, req.session!.vendorId, req.params.id, req.session!.userId, concern.key, values);
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 400) {
        const errors = byField((err.details as FieldProblem[]) ?? []);
        return renderDeal(req, reply, req.params.id, { claimErrors: { [concern.key]: errors }, claimValues: { [concern.key]: values } }, 400);
      }
      throw err;
    }
    return back(reply, req.params.id, 'claim', `#claim-${concern.key}`);
  });
}
