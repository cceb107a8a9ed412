// The JSON API under /api/v1, authorised by an API key. HTTP only: parse,
// open the transaction, call the features' services, shape the answer
// (api/views.ts). Shapes documented in the README; keep them stable.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { pageLimit, parse } from '../lib/validate.js';
import { sessionOf } from '../auth/session.js';
import { getDraft, listVersions, mergeIntoDraft, publishProfile, saveDraft, warningsFor } from '../profiles/service.js';
import { changeClaim, changeStage, createDeal, dealPatchInput, dealInput, getDeal, dealListParams, listDealPage, stageInput, updateDealSettings } from '../deals/service.js';
import { loadDealDetail } from '../deals/detail.js';
import { listDealSignals } from '../signals/service.js';
import { STAKEHOLDER_ROLES } from '../rules.js';
import {
  addStakeholder,
  addStakeholders,
  batchInput,
  changeStakeholderRole,
  confirmStakeholder,
  extendInput,
  extendLinks,
  resendLink,
  revokeLinks,
  setStakeholderReminders,
  stakeholderInput,
} from '../stakeholders/service.js';
import { dealDetailJson, dealJson, dealListItemJson, profileJson, signalJson } from './views.js';

const profileBody = z.object({ concerns: z.unknown() });
const personPatch = z
  .object({
    reminders_paused: z.boolean().optional(),
    role: z.enum(STAKEHOLDER_ROLES, { message: `must be one of ${STAKEHOLDER_ROLES.join(', ')}` }).optional(),
  })
  .strict()
  .refine((b) => b.reminders_paused !== undefined || b.role !== undefined, { message: 'give reminders_paused or role', path: ['reminders_paused'] });
/** A deal's signals, newest first: the cursor is the id of the last signal of the previous page. */
const signalListParams = z
  .object({
    limit: pageLimit,
    cursor: z.coerce
      .number({ message: 'is not a cursor from this list' })
      .int('is not a cursor from this list')
      .positive('is not a cursor from this list')
      .max(Number.MAX_SAFE_INTEGER, 'is not a cursor from this list')
      .optional(),
  })
  .strict();
/** 500 people with long names and addresses fit; the app's 256 KB would not always. */
const BATCH_BODY_LIMIT = 1024 * 1024;

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
    const page = await listDealPage(db, vendorId, parse(dealListParams, req.query, 'query'));
    const now = clock.now();
    return { deals: page.deals.map((d) => dealListItemJson(d, now)), next_cursor: page.nextCursor };
  });

  app.post('/deals', async (req, reply) => {
    const { vendorId, keyOwnerId } = sessionOf(req);
    const input = parse(dealInput, req.body, 'deal');
    // The deal's owner (named in its invitations, sent its digests) is whoever created the API key.
    const deal = await transaction(db, async (trx) => getDeal(trx, vendorId, await createDeal(trx, clock, vendorId, keyOwnerId ?? null, input)));
    return reply.code(201).send(dealJson(deal, clock.now()));
  });

  app.get<DealParams>('/deals/:id', async (req) => dealDetailJson(await loadDealDetail(db, clock, sessionOf(req).vendorId, req.params.id), clock.now()));

  app.patch<DealParams>('/deals/:id', async (req) => {
    const { vendorId } = sessionOf(req);
    const patch = parse(dealPatchInput, req.body, 'deal change');
    await transaction(db, (trx) => updateDealSettings(trx, vendorId, req.params.id, patch));
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

  // Up to 500 people in one request (it counts once against the rate limit): all added, or none and every bad row named.
  app.post<DealParams>('/deals/:id/stakeholders/batch', { bodyLimit: BATCH_BODY_LIMIT }, async (req, reply) => {
    const { vendorId } = sessionOf(req);
    const { stakeholders } = parse(batchInput, req.body, 'batch');
    const result = await transaction(db, (trx) => addStakeholders(trx, clock, config.LINK_TTL_DAYS, vendorId, req.params.id, stakeholders));
    if (result.invited) app.services.worker.nudge();
    return reply.code(201).send(result);
  });

  app.patch<PersonParams>('/deals/:id/stakeholders/:sid', async (req) => {
    const { vendorId } = sessionOf(req);
    const { reminders_paused, role } = parse(personPatch, req.body, 'stakeholder');
    await transaction(db, async (trx) => {
      if (role !== undefined) await changeStakeholderRole(trx, vendorId, req.params.id, req.params.sid, role);
      if (reminders_paused !== undefined) await setStakeholderReminders(trx, vendorId, req.params.id, req.params.sid, reminders_paused);
    });
    return { id: req.params.sid, ...(reminders_paused !== undefined ? { reminders_paused } : {}), ...(role !== undefined ? { role } : {}) };
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
    const { vendorId } = sessionOf(req);
    const { limit, cursor } = parse(signalListParams, req.query, 'query');
    await getDeal(db, vendorId, req.params.id);
    const rows = await listDealSignals(db, vendorId, req.params.id, { limit: limit + 1, beforeId: cursor });
    const page = rows.slice(0, limit);
    return { signals: page.map(signalJson), next_cursor: rows.length > limit ? String(page.at(-1)!.id) : null };
  });
}
