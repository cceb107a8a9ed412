// The vendor's pages for deals: the list, opening a deal (with tailoring), and
// a deal's page with the actions on its stage, claims, settings and people.
// HTTP only: parse, open the transaction, call the services, respond.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { transaction } from '../db/index.js';
import { CONCERNS, getConcern } from '../concerns/index.js';
import { readConcernForm } from '../lib/concern-form.js';
import { DomainError, invalid, isInvalidInput, notFound } from '../lib/errors.js';
import { atLeast, mayChangeDeal } from '../rules.js';
import { seeOther, sendPage } from '../lib/render.js';
import { byField, fieldErrors, zodDetails } from '../lib/validate.js';
import { requireSession, sessionOf } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { getVersion, listVersions } from '../profiles/service.js';
import { addStakeholder, confirmStakeholder, extendLinks, getStakeholder, resendLink, revokeLinks, setStakeholderReminders, stakeholderInput } from '../stakeholders/service.js';
import { loadDealDetail } from './detail.js';
import {
  changeClaim,
  changeStage,
  createDeal,
  currentClaims,
  dealInput,
  dealListParams,
  dealSegmentInput,
  dealSettingsInput,
  getDeal,
  listDealPage,
  stageCounts,
  stageInput,
  updateDealSettings,
  workspaceMembers,
  dealOwnerInput,
} from './service.js';
import { PEOPLE_PAGE, claimEditView, dealListView, dealPageView, newDealView, revokeConfirmView, type DealPageForm } from './views.js';

type DealParams = { Params: { id: string } };
type PersonParams = { Params: { id: string; sid: string } };
type Body = Record<string, unknown>;

export default async function dealRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;
  const form = { preHandler: [requireSession, app.csrfProtection] };
  // Members open deals and change the deals they own; admins and owners change any.
  const newDealForm = { ...form, config: { role: 'member' as const } };
  const dealForm = { ...form, config: { role: 'member' as const, ownDeal: true } };

  app.get('/app', { preHandler: requireSession }, async (req, reply) => {
    const { vendorId } = sessionOf(req);
    // The filter form sends its "Any …" choices as empty values: on this page they mean no filter.
    const query = Object.fromEntries(Object.entries((req.query ?? {}) as Record<string, unknown>).filter(([, v]) => v !== ''));
    const params = dealListParams.safeParse(query);
    if (!params.success) {
      const problems = zodDetails(params.error).map((d) => `${d.field} ${d.message}`);
      throw invalid(`This list address has parameters we cannot use: ${problems.join('; ')}.`, zodDetails(params.error));
    }
    // The page first: it brings the deals answers changed up to date, which the stage counts then include.
    const page = await listDealPage(db, vendorId, params.data, sessionOf(req).userId);
    const me = sessionOf(req).userId;
    const ownerId = params.data.owner === 'me' ? (me ?? undefined) : params.data.owner;
    const [counts, versions, members] = await Promise.all([stageCounts(db, vendorId, ownerId), listVersions(db, vendorId), workspaceMembers(db, vendorId)]);
    return sendPage(req, reply, 'dashboard', dealListView({ page, params: params.data, counts, published: versions.length > 0, now: clock.now(), members, me }));
  });

  // /app/deals is where people guess the deal list is: send them to it, filters and all.
  app.get('/app/deals', (req, reply) => {
    const query = req.url.indexOf('?');
    return reply.redirect(query === -1 ? '/app' : `/app${req.url.slice(query)}`, 303);
  });

  async function renderNew(
    req: FastifyRequest,
    reply: FastifyReply,
    values: Body,
    errors: Record<string, string> = {},
    tailorErrors: Record<string, Record<string, string>> = {},
    status = 200,
  ) {
    const { vendorId } = sessionOf(req);
    const versions = await listVersions(db, vendorId);
    const asked = Number(values.profile_version);
    const number = versions.some((v) => v.version === asked) ? asked : versions[0]?.version;
    const chosen = number ? await getVersion(db, vendorId, number) : undefined;
    return sendPage(req, reply, 'deal-new', newDealView({ versions, chosen, values, errors, tailorErrors, now: clock.now() }), status);
  }

  app.get('/app/deals/new', { preHandler: requireSession, config: newDealForm.config }, (req, reply) => renderNew(req, reply, {}));

  app.post('/app/deals', newDealForm, async (req, reply) => {
    const session = sessionOf(req);
    const body = (req.body ?? {}) as Body;
    // Only concerns whose tailoring fields were on the form (marked by a hidden input) count:
    // an absent checkbox group must not read as "none of these".
    const overrides = Object.fromEntries(CONCERNS.filter((c) => body[`t.${c.key}._present`] === '1').map((c) => [c.key, readConcernForm(c, body, `t.${c.key}`)]));
    const parsed = dealInput.safeParse({
      buyer_name: body.buyer_name,
      buyer_domain: typeof body.buyer_domain === 'string' && body.buyer_domain.trim() !== '' ? body.buyer_domain : undefined,
      started_on: body.started_on || undefined,
      profile_version: body.profile_version || undefined,
      overrides,
      industry: body.industry || undefined,
      region: body.region || undefined,
    });
    if (!parsed.success) return renderNew(req, reply, { ...body, tailoring: overrides }, fieldErrors(parsed.error), {}, 400);
    try {
      const id = await transaction(db, (trx) => createDeal(trx, clock, actorOf(req), session.userId, parsed.data));
      return seeOther(reply, `/app/deals/${id}?created=1`);
    } catch (err) {
      if (!isInvalidInput(err)) throw err;
      const tailorErrors: Record<string, Record<string, string>> = {};
      const errors: Record<string, string> = {};
      for (const d of err.fieldProblems) {
        const m = /^overrides\.([a-z_]+)\.([a-z_]+)/.exec(d.field);
        if (m) (tailorErrors[m[1]] ??= {})[m[2]] ??= d.message;
        else errors[d.field] ??= d.message;
      }
      return renderNew(req, reply, { ...body, tailoring: overrides }, errors, tailorErrors, 400);
    }
  });

  async function renderDeal(req: FastifyRequest, reply: FastifyReply, dealId: string, pageForm: DealPageForm = {}, status = 200) {
    // ?before=<signal id> pages back through the timeline (the newest signals come first).
    const before = Number((req.query as { before?: string }).before);
    // ?people=<offset> pages through a deal's people, PEOPLE_PAGE at a time.
    const people = Number((req.query as { people?: string }).people);
    const session = sessionOf(req);
    const [d, members] = await Promise.all([
      loadDealDetail(db, clock, session.vendorId, dealId, {
        signalsBefore: Number.isSafeInteger(before) && before > 0 ? before : undefined,
        people: { offset: Number.isSafeInteger(people) && people > 0 ? people - (people % PEOPLE_PAGE) : 0, limit: PEOPLE_PAGE },
      }),
      workspaceMembers(db, session.vendorId),
    ]);
    // Who may own it (members who are not viewers), and its owner whatever their role now.
    const owners = members.filter((m) => atLeast(m.role, 'member') || m.id === d.deal.owner_id);
    const view = dealPageView(d, clock.now(), req.query as Record<string, string | undefined>, pageForm, owners);
    // Controls only for those who may use them: the deal's owner, and admins and owners.
    return sendPage(req, reply, 'deal', { ...view, canChange: mayChangeDeal(session.role, session.userId, d.deal.owner_id) }, status);
  }
  const back = (reply: FastifyReply, id: string, flag: string, anchor = '') => seeOther(reply, `/app/deals/${id}?${flag}=1${anchor}`);

  app.get<DealParams>('/app/deals/:id', { preHandler: requireSession }, (req, reply) => renderDeal(req, reply, req.params.id));

  // Hands the deal to another member (its owner, or an admin, may).
  app.post<DealParams>('/app/deals/:id/owner', dealForm, async (req, reply) => {
    const parsed = dealOwnerInput.safeParse({ owner_id: (req.body as Body | undefined)?.owner_id });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { ownerError: 'Choose a member of the workspace to own this deal.' }, 400);
    try {
      await transaction(db, (trx) => updateDealSettings(trx, clock, actorOf(req), req.params.id, parsed.data));
    } catch (err) {
      if (isInvalidInput(err)) return renderDeal(req, reply, req.params.id, { ownerError: err.message }, 400);
      throw err;
    }
    return back(reply, req.params.id, 'owner', '#owner');
  });

  app.post<DealParams>('/app/deals/:id/stakeholders', dealForm, async (req, reply) => {
    const body = (req.body ?? {}) as Body;
    const parsed = stakeholderInput.safeParse({ name: body.name, email: body.email, role: body.role, invite: body.invite === 'yes', note: body.note });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { values: body, errors: fieldErrors(parsed.error) }, 400);
    try {
      await transaction(db, (trx) => addStakeholder(trx, clock, config.LINK_TTL_DAYS, actorOf(req), req.params.id, parsed.data));
    } catch (err) {
      if (err instanceof DomainError && err.code === 'duplicate_stakeholder') {
        return renderDeal(req, reply, req.params.id, { values: body, errors: { email: err.message } }, err.statusCode);
      }
      throw err;
    }
    app.services.worker.nudge();
    return back(reply, req.params.id, 'added', '#stakeholders');
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/invite', dealForm, async (req, reply) => {
    await transaction(db, (trx) => resendLink(trx, clock, config.LINK_TTL_DAYS, actorOf(req), req.params.id, req.params.sid));
    app.services.worker.nudge();
    return back(reply, req.params.id, 'invited', '#stakeholders');
  });

  // Revoking is two steps, without JavaScript: the deal page links to this page, whose one button posts the revoke.
  app.get<PersonParams>('/app/deals/:id/stakeholders/:sid/revoke', { preHandler: requireSession, config: dealForm.config }, async (req, reply) => {
    const { vendorId } = sessionOf(req);
    const deal = await getDeal(db, vendorId, req.params.id);
    const person = await getStakeholder(db, vendorId, deal.id, req.params.sid);
    return sendPage(req, reply, 'revoke-confirm', revokeConfirmView(deal, person));
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/revoke', dealForm, async (req, reply) => {
    await transaction(db, (trx) => revokeLinks(trx, clock, actorOf(req), req.params.id, req.params.sid));
    return back(reply, req.params.id, 'revoked', '#stakeholders');
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/extend', dealForm, async (req, reply) => {
    await transaction(db, (trx) => extendLinks(trx, clock, actorOf(req), req.params.id, req.params.sid, config.LINK_TTL_DAYS));
    return back(reply, req.params.id, 'extended', '#stakeholders');
  });

  // One click counts a delegate's answers (rules.answersCount); again, it changes nothing.
  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/confirm', dealForm, async (req, reply) => {
    await transaction(db, (trx) => confirmStakeholder(trx, clock, actorOf(req), req.params.id, req.params.sid));
    return back(reply, req.params.id, 'confirmed', '#stakeholders');
  });

  app.post<PersonParams>('/app/deals/:id/stakeholders/:sid/reminders', dealForm, async (req, reply) => {
    const paused = (req.body as Body | undefined)?.paused === 'yes';
    await transaction(db, (trx) => setStakeholderReminders(trx, clock, actorOf(req), req.params.id, req.params.sid, paused));
    return back(reply, req.params.id, 'reminders', '#stakeholders');
  });

  app.post<DealParams>('/app/deals/:id/settings', dealForm, async (req, reply) => {
    const body = (req.body ?? {}) as Body;
    const days = ([] as unknown[])
      .concat(body.reminder_days ?? [])
      .join(',')
      .split(/[,\s]+/)
      .filter(Boolean)
      .map(Number);
    const parsed = dealSettingsInput.safeParse({ reminders_paused: body.reminders_paused === 'yes', share_corrections: body.share_corrections === 'yes', reminder_days: days });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { settingsError: `Reminder days ${parsed.error.issues[0].message}.` }, 400);
    await transaction(db, (trx) => updateDealSettings(trx, clock, actorOf(req), req.params.id, parsed.data));
    return back(reply, req.params.id, 'settings', '#settings');
  });

  // The buyer segment; "Not set" (an empty value) clears it.
  app.post<DealParams>('/app/deals/:id/segment', dealForm, async (req, reply) => {
    const body = (req.body ?? {}) as Body;
    const parsed = dealSegmentInput.safeParse({ industry: body.industry || null, region: body.region || null });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { segment: { values: body, errors: fieldErrors(parsed.error) } }, 400);
    await transaction(db, (trx) => updateDealSettings(trx, clock, actorOf(req), req.params.id, parsed.data));
    return back(reply, req.params.id, 'segment', '#segment');
  });

  app.post<DealParams>('/app/deals/:id/stage', dealForm, async (req, reply) => {
    const body = (req.body ?? {}) as Body;
    const parsed = stageInput.safeParse({
      stage: body.stage,
      override_reason: typeof body.override_reason === 'string' && body.override_reason.trim() ? body.override_reason : undefined,
    });
    if (!parsed.success) return renderDeal(req, reply, req.params.id, { stageError: parsed.error.issues[0].message }, 400);
    try {
      await transaction(db, (trx) => changeStage(trx, clock, actorOf(req), req.params.id, parsed.data));
    } catch (err) {
      if (err instanceof DomainError && (err.code === 'checkpoint_open' || err.code === 'stage_changed')) {
        return renderDeal(req, reply, req.params.id, { stageError: err.message, askedStage: parsed.data.stage }, err.statusCode);
      }
      throw err;
    }
    return back(reply, req.params.id, 'stage');
  });

  // One claim per page: the deal page links here, so it never carries six forms with every option.
  async function renderClaim(
    req: FastifyRequest,
    reply: FastifyReply,
    dealId: string,
    key: string,
    form: { values?: Record<string, unknown>; errors?: Record<string, string> } = {},
    status = 200,
  ) {
    const { vendorId } = sessionOf(req);
    const deal = await getDeal(db, vendorId, dealId);
    const claim = (await currentClaims(db, vendorId, dealId)).find((c) => c.concern === key);
    if (!claim) throw notFound('That concern');
    return sendPage(req, reply, 'deal-claim', claimEditView(deal, claim, form), status);
  }

  app.get<{ Params: { id: string; concern: string } }>('/app/deals/:id/claims/:concern', { preHandler: requireSession, config: dealForm.config }, (req, reply) =>
    renderClaim(req, reply, req.params.id, req.params.concern),
  );

  app.post<{ Params: { id: string; concern: string } }>('/app/deals/:id/claims/:concern', dealForm, async (req, reply) => {
    const concern = getConcern(req.params.concern);
    if (!concern) throw notFound('That concern');
    const values = readConcernForm(concern, (req.body ?? {}) as Body, 'c');
    try {
      await transaction(db, (trx) => changeClaim(trx, clock, actorOf(req), req.params.id, concern.key, values));
    } catch (err) {
      if (!isInvalidInput(err)) throw err;
      return renderClaim(req, reply, req.params.id, concern.key, { values, errors: byField(err.fieldProblems) }, 400);
    }
    return back(reply, req.params.id, 'claim', `#claim-${concern.key}`);
  });
}
