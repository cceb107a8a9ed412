// The JSON API under /api/v1, authorised by an API key. HTTP only: parse,
// open the transaction, call the features' services, shape the answer
// (api/views.ts). Shapes documented in the README; keep them stable.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { parse } from '../lib/validate.js';
import { sessionOf } from '../auth/session.js';
import { getDraft, listVersions, mergeIntoDraft, publishProfile, saveDraft, warningsFor } from '../profiles/service.js';
import {
  changeClaim,
  changeStage,
  createDeal,
  dealSettingsInput,
  dealInput,
  getDeal,
  listDeals,
  loadTracking,
  stageInput,
  stakeholderInput,
  updateDealSettings,
} from '../deals/service.js';
import { loadDealDetail } from '../deals/detail.js';
import { computeTracking } from '../deals/tracking.js';
import { addStakeholder, confirmStakeholder, extendInput, extendLinks, resendLink, revokeLinks, setStakeholderReminders } from '../stakeholders/service.js';
import { weekOfDeal } from '../rules.js';
import { dealDetailJson, dealJson, profileJson, signalJson, trackingJson } from './views.js';

const profileBody = z.object({ concerns: z.unknown() });
const remindersBody = z.object({ reminders_paused: z.boolean() });

export default async function apiRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;
  type DealParams = { Params: { id: string } };
  type PersonParams = { Params: { id: string; sid: string } };

  app.get('/profile', async (req) => {
    const { vendorId } = sessionOf(req);
    const [draft, versions] = await Promise.all([getDraft(db, vendorId), listVersions(db, vendorId)]);
    return {
      ...profileJson(draft, warningsFor(draft)),
      versions: versions.map((v) => ({ version: v.version, catalog_version: v.catalog_version, published_at: v.published_at })),
    };
  });

  app.put('/profile', async (req) => {
    const { vendorId } = sessionOf(req);
    const body = parse(profileBody, req.body, 'profile');
    const merged = await transaction(db, async (trx) => {
      const next = mergeIntoDraft(await getDraft(trx, vendorId), body.concerns);
      await saveDraft(trx, clock, vendorId, null, next);
      return next;
    });
    return profileJson(merged, warningsFor(merged));
  });

  app.post('/profile/publish', async (req) => {
    const { vendorId } = sessionOf(req);
    return { version: await transaction(db, (trx) => publishProfile(trx, clock, vendorId, null)) };
  });

  app.get('/deals', async (req) => {
    const { vendorId } = sessionOf(req);
    const now = clock.now();
    const deals = await listDeals(db, vendorId);
    const tracking = await loadTracking(db, vendorId, deals);
    return { deals: deals.map((d) => ({ ...d, week: weekOfDeal(d.started_on, now), ...trackingJson(computeTracking(tracking.get(d.id)!)) })) };
  });

  app.post('/deals', async (req, reply) => {
    const { vendorId } = sessionOf(req);
    const input = parse(dealInput, req.body, 'deal');
    const deal = await transaction(db, async (trx) => getDeal(trx, vendorId, await createDeal(trx, clock, vendorId, null, input)));
    return reply.code(201).send(dealJson(deal, clock.now()));
  });

  app.get<DealParams>('/deals/:id', async (req) => dealDetailJson(await loadDealDetail(db, clock, sessionOf(req).vendorId, req.params.id), clock.now()));

  app.patch<DealParams>('/deals/:id', async (req) => {
    const { vendorId } = sessionOf(req);
    await updateDealSettings(db, vendorId, req.params.id, parse(dealSettingsInput.strict(), req.body, 'settings'));
    return dealJson(await getDeal(db, vendorId, req.params.id), clock.now());
  });

  app.post<DealParams>('/deals/:id/stage', async (req) => {
    const { vendorId } = sessionOf(req);
    const input = parse(stageInput, req.body, 'stage change');
    const result = await transaction(db, (trx) => changeStage(trx, clock, vendorId, req.params.id, null, input));
    return { ...dealJson(await getDeal(db, vendorId, req.params.id), clock.now()), overridden: result.overridden };
  });

  app.put<{ Params: { id: string; concern: string } }>('/deals/:id/claims/:concern', async (req) => {
    const { vendorId } = sessionOf(req);
    const { revision, changes } = await transaction(db, (trx) => changeClaim(trx, clock, vendorId, req.params.id, null, req.params.concern, req.body));
    return { concern: req.params.concern, claim_revision: revision, changes };
  });

  app.post<DealParams>('/deals/:id/stakeholders', async (req, reply) => {
    const { vendorId } = sessionOf(req);
    const input = parse(stakeholderInput, req.body, 'stakeholder');
    const id = await transaction(db, (trx) => addStakeholder(trx, clock, config.LINK_TTL_DAYS, vendorId, req.params.id, input));
    app.services.worker.nudge();
    return reply.code(201).send({ id, deal_id: req.params.id, name: input.name, email: input.email, role: input.role, invited: input.invite });
  });

  app.patch<PersonParams>('/deals/:id/stakeholders/:sid', async (req) => {
    const { reminders_paused } = parse(remindersBody, req.body, 'stakeholder');
    await setStakeholderReminders(db, sessionOf(req).vendorId, req.params.id, req.params.sid, reminders_paused);
    return { id: req.params.sid, reminders_paused };
  });

  app.post<PersonParams>('/deals/:id/stakeholders/:sid/resend', async (req) => {
    const { vendorId } = sessionOf(req);
    await transaction(db, (trx) => resendLink(trx, clock, config.LINK_TTL_DAYS, vendorId, req.params.id, req.params.sid));
    app.services.worker.nudge();
    return { id: req.params.sid, resent: true };
  });

  app.post<PersonParams>('/deals/:id/stakeholders/:sid/revoke', async (req) => {
    await revokeLinks(db, clock, sessionOf(req).vendorId, req.params.id, req.params.sid);
    return { id: req.params.sid, revoked: true };
  });

  app.post<PersonParams>('/deals/:id/stakeholders/:sid/extend', async (req) => {
    const { days } = parse(extendInput, req.body ?? {}, 'extension');
    await extendLinks(db, clock, sessionOf(req).vendorId, req.params.id, req.params.sid, days ?? config.LINK_TTL_DAYS);
    return { id: req.params.sid, extended_days: days ?? config.LINK_TTL_DAYS };
  });

  app.post<PersonParams>('/deals/:id/stakeholders/:sid/confirm', async (req) => {
    const { vendorId } = sessionOf(req);
    const result = await transaction(db, (trx) => confirmStakeholder(trx, clock, vendorId, req.params.id, req.params.sid, null));
    return { id: result.id, confirmed_at: result.confirmedAt };
  });

  app.get<DealParams>('/deals/:id/signals', async (req) => {
    const d = await loadDealDetail(db, clock, sessionOf(req).vendorId, req.params.id);
    return { signals: d.signals.map(signalJson) };
  });
}
