// The JSON API under /api/v1, authorised by an API key. HTTP only: parse,
// open the transaction, call the features' services, shape the answer
// (api/views.ts). Shapes documented in the README; keep them stable.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { actingUserId, sessionOf } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { idParam } from '../lib/api-schema.js';
import { getDraft, listVersions, mergeIntoDraft, publishProfile, saveDraft, warningsFor } from '../profiles/service.js';
import { changeClaim, changeStage, createDeal, dealPatchInput, dealInput, getDeal, dealListParams, listDealPage, stageInput, updateDealSettings } from '../deals/service.js';
import { loadDealDetail } from '../deals/detail.js';
import { listDealSignals } from '../signals/service.js';
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
import {
  BatchAdded,
  ClaimChanged,
  Confirmed,
  Deal,
  DealDetail,
  DealList,
  Extended,
  PersonChanged,
  Profile,
  ProfileDraft,
  Published,
  Resent,
  Revoked,
  SignalList,
  StageChanged,
  StakeholderAdded,
  claimBody,
  personPatch,
  profileBody,
  signalListParams,
} from './schemas.js';

/** 500 people with long names and addresses fit; the app's 256 KB would not always. */
const BATCH_BODY_LIMIT = 1024 * 1024;

const dealParams = z.object({ id: idParam('deal') });
const personParams = z.object({ id: idParam('deal'), sid: idParam('stakeholder') });
const claimParams = z.object({ id: idParam('deal'), concern: z.string().describe("The concern's key (an unknown concern is a 404)") });

export default async function apiRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const { db, clock, config } = app.services;
  // Who may call what (a key acts with its role, capped by its creator's): the profile is an admin's; members
  // open deals and change the deals they own, admins and owners any deal; reads are open to every role.
  const admin = { role: 'admin' as const };
  const newDeal = { role: 'member' as const };
  const ownDeal = { role: 'member' as const, ownDeal: true };

  app.get('/profile', { schema: { tags: ['profile'], summary: 'The profile draft, its warnings and the published versions', response: { 200: Profile } } }, async (req) => {
    const { vendorId } = sessionOf(req);
    const [draft, versions] = await Promise.all([getDraft(db, vendorId), listVersions(db, vendorId)]);
    return {
      ...profileJson(draft, warningsFor(draft)),
      versions: versions.map((v) => ({ version: v.version, catalog_version: v.catalog_version, published_at: v.published_at })),
    };
  });

  app.put(
    '/profile',
    { config: admin, schema: { tags: ['profile'], summary: 'Change fields and narratives of the profile draft', body: profileBody, response: { 200: ProfileDraft } } },
    async (req) => {
      const { vendorId } = sessionOf(req);
      const merged = await transaction(db, async (trx) => {
        const next = mergeIntoDraft(await getDraft(trx, vendorId), req.body.concerns);
        await saveDraft(trx, clock, actorOf(req), next);
        return next;
      });
      return profileJson(merged, warningsFor(merged));
    },
  );

  app.post('/profile/publish', { config: admin, schema: { tags: ['profile'], summary: 'Publish the draft as the next version', response: { 200: Published } } }, async (req) => {
    return { version: await transaction(db, (trx) => publishProfile(trx, clock, actorOf(req))) };
  });

  app.get('/deals', { schema: { tags: ['deals'], summary: 'A page of deals, sorted and filtered', querystring: dealListParams, response: { 200: DealList } } }, async (req) => {
    const { vendorId } = sessionOf(req);
    const page = await listDealPage(db, vendorId, req.query, actingUserId(sessionOf(req)));
    const now = clock.now();
    return { deals: page.deals.map((d) => dealListItemJson(d, now)), next_cursor: page.nextCursor };
  });

  app.post(
    '/deals',
    { config: newDeal, schema: { tags: ['deals'], summary: 'Open a deal on a published profile version', body: dealInput, response: { 201: Deal } } },
    async (req, reply) => {
      const { vendorId, keyOwnerId } = sessionOf(req);
      // The deal's owner (named in its invitations, sent its digests) is whoever created the API key.
      const deal = await transaction(db, async (trx) => getDeal(trx, vendorId, await createDeal(trx, clock, actorOf(req), keyOwnerId ?? null, req.body)));
      return reply.code(201).send(dealJson(deal, clock.now()));
    },
  );

  app.get(
    '/deals/:id',
    { schema: { tags: ['deals'], summary: 'A deal with its checkpoint, people and concerns', params: dealParams, response: { 200: DealDetail } } },
    async (req) => dealDetailJson(await loadDealDetail(db, clock, sessionOf(req).vendorId, req.params.id), clock.now()),
  );

  app.patch(
    '/deals/:id',
    {
      config: ownDeal,
      schema: { tags: ['deals'], summary: "Change a deal's reminder settings or buyer segment", params: dealParams, body: dealPatchInput, response: { 200: Deal } },
    },
    async (req) => {
      const { vendorId } = sessionOf(req);
      await transaction(db, (trx) => updateDealSettings(trx, clock, actorOf(req), req.params.id, req.body));
      return dealJson(await getDeal(db, vendorId, req.params.id), clock.now());
    },
  );

  app.post(
    '/deals/:id/stage',
    {
      config: ownDeal,
      schema: {
        tags: ['deals'],
        summary: 'Move a deal to another stage (a gated stage needs the checkpoint ready, or a written override reason)',
        params: dealParams,
        body: stageInput,
        response: { 200: StageChanged },
      },
    },
    async (req) => {
      const { vendorId } = sessionOf(req);
      const result = await transaction(db, (trx) => changeStage(trx, clock, actorOf(req), req.params.id, req.body));
      return { ...dealJson(await getDeal(db, vendorId, req.params.id), clock.now()), overridden: result.overridden };
    },
  );

  app.put(
    '/deals/:id/claims/:concern',
    {
      config: ownDeal,
      schema: {
        tags: ['deals'],
        summary: "Change the deal's claim on one concern (earlier answers on it become stale)",
        params: claimParams,
        body: claimBody,
        response: { 200: ClaimChanged },
      },
    },
    async (req) => {
      const { revision, changes } = await transaction(db, (trx) => changeClaim(trx, clock, actorOf(req), req.params.id, req.params.concern, req.body));
      return { concern: req.params.concern, claim_revision: revision, changes };
    },
  );

  app.post(
    '/deals/:id/stakeholders',
    {
      config: ownDeal,
      schema: {
        tags: ['stakeholders'],
        summary: 'Add a person to a deal, emailing their personal link unless invite is false',
        params: dealParams,
        body: stakeholderInput,
        response: { 201: StakeholderAdded },
      },
    },
    async (req, reply) => {
      const input = req.body;
      const id = await transaction(db, (trx) => addStakeholder(trx, clock, config.LINK_TTL_DAYS, actorOf(req), req.params.id, input));
      app.services.worker.nudge();
      return reply.code(201).send({ id, deal_id: req.params.id, name: input.name, email: input.email, role: input.role, invited: input.invite });
    },
  );

  // Up to 500 people in one request (it counts once against the rate limit): all added, or none and every bad row named.
  app.post(
    '/deals/:id/stakeholders/batch',
    {
      config: ownDeal,
      bodyLimit: BATCH_BODY_LIMIT,
      schema: {
        tags: ['stakeholders'],
        summary: 'Add 1 to 500 people at once: all or none, every bad row named (stakeholders.3.email)',
        params: dealParams,
        body: batchInput,
        response: { 201: BatchAdded },
      },
    },
    async (req, reply) => {
      const result = await transaction(db, (trx) => addStakeholders(trx, clock, config.LINK_TTL_DAYS, actorOf(req), req.params.id, req.body.stakeholders));
      if (result.invited) app.services.worker.nudge();
      return reply.code(201).send(result);
    },
  );

  app.patch(
    '/deals/:id/stakeholders/:sid',
    {
      config: ownDeal,
      schema: { tags: ['stakeholders'], summary: "Pause a person's reminders or change their role", params: personParams, body: personPatch, response: { 200: PersonChanged } },
    },
    async (req) => {
      const actor = actorOf(req);
      const { reminders_paused, role } = req.body;
      await transaction(db, async (trx) => {
        if (role !== undefined) await changeStakeholderRole(trx, clock, actor, req.params.id, req.params.sid, role);
        if (reminders_paused !== undefined) await setStakeholderReminders(trx, clock, actor, req.params.id, req.params.sid, reminders_paused);
      });
      return { id: req.params.sid, ...(reminders_paused !== undefined ? { reminders_paused } : {}), ...(role !== undefined ? { role } : {}) };
    },
  );

  app.post(
    '/deals/:id/stakeholders/:sid/resend',
    { config: ownDeal, schema: { tags: ['stakeholders'], summary: 'Send a person a new link (their other links stop working)', params: personParams, response: { 200: Resent } } },
    async (req) => {
      await transaction(db, (trx) => resendLink(trx, clock, config.LINK_TTL_DAYS, actorOf(req), req.params.id, req.params.sid));
      app.services.worker.nudge();
      return { id: req.params.sid, resent: true as const };
    },
  );

  app.post(
    '/deals/:id/stakeholders/:sid/revoke',
    { config: ownDeal, schema: { tags: ['stakeholders'], summary: "Revoke every link of a person's", params: personParams, response: { 200: Revoked } } },
    async (req) => {
      await transaction(db, (trx) => revokeLinks(trx, clock, actorOf(req), req.params.id, req.params.sid));
      return { id: req.params.sid, revoked: true as const };
    },
  );

  app.post(
    '/deals/:id/stakeholders/:sid/extend',
    {
      config: ownDeal,
      schema: {
        tags: ['stakeholders'],
        summary: "Make a person's links work longer (the body is optional; days default to the link lifetime)",
        params: personParams,
        body: extendInput.optional(),
        response: { 200: Extended },
      },
    },
    async (req) => {
      const days = req.body?.days ?? config.LINK_TTL_DAYS;
      await transaction(db, (trx) => extendLinks(trx, clock, actorOf(req), req.params.id, req.params.sid, days));
      return { id: req.params.sid, extended_days: days };
    },
  );

  app.post(
    '/deals/:id/stakeholders/:sid/confirm',
    {
      config: ownDeal,
      schema: { tags: ['stakeholders'], summary: "Confirm that a delegate's answers count from now on (idempotent)", params: personParams, response: { 200: Confirmed } },
    },
    async (req) => {
      const result = await transaction(db, (trx) => confirmStakeholder(trx, clock, actorOf(req), req.params.id, req.params.sid));
      return { id: result.id, confirmed_at: result.confirmedAt };
    },
  );

  app.get(
    '/deals/:id/signals',
    { schema: { tags: ['signals'], summary: "A page of a deal's signals, newest first", params: dealParams, querystring: signalListParams, response: { 200: SignalList } } },
    async (req) => {
      const { vendorId } = sessionOf(req);
      const { limit, cursor } = req.query;
      await getDeal(db, vendorId, req.params.id);
      const rows = await listDealSignals(db, vendorId, req.params.id, { limit: limit + 1, beforeId: cursor });
      const page = rows.slice(0, limit);
      return { signals: page.map(signalJson), next_cursor: rows.length > limit ? String(page.at(-1)!.id) : null };
    },
  );
}
