// The JSON API under /api/v1, authorised by an API key. Shapes documented in
// the README; keep them stable.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parse } from '../lib/validate.js';
import { getDraft, listVersions, mergeIntoDraft, publishProfile, saveDraft, warningsFor } from '../profiles/service.js';
import { addStakeholder, createDeal, dealInput, getDeal, listDeals, stakeholderInput, weekOfDeal } from '../deals/service.js';
import { loadDealDetail } from '../deals/detail.js';

const profileBody = z.object({ concerns: z.unknown() });

export default async function apiRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;

  app.get('/profile', async (req) => {
    const vendorId = req.session!.vendorId;
    const [draft, versions] = await Promise.all([getDraft(db, vendorId), listVersions(db, vendorId)]);
    return {
      concerns: Object.fromEntries(Object.entries(draft).map(([k, c]) => [k, { ...c.values, narrative: c.narrative }])),
      warnings: warningsFor(draft),
      versions: versions.map((v) => ({ version: v.version, catalog_version: v.catalog_version, published_at: v.published_at })),
    };
  });

  app.put('/profile', async (req) => {
    const vendorId = req.session!.vendorId;
    const body = parse(profileBody, req.body, 'profile');
    const merged = mergeIntoDraft(await getDraft(db, vendorId), body.concerns);
    await saveDraft(db, clock, vendorId, null, merged);
    return {
      concerns: Object.fromEntries(Object.entries(merged).map(([k, c]) => [k, { ...c.values, narrative: c.narrative }])),
      warnings: warningsFor(merged),
    };
  });

  app.post('/profile/publish', async (req) => {
    return { version: await publishProfile(db, clock, req.session!.vendorId, null) };
  });

  app.get('/deals', async (req) => {
    const now = clock.now();
    const deals = await listDeals(db, req.session!.vendorId);
    return { deals: deals.map((d) => ({ ...d, week: weekOfDeal(d.started_on, now) })) };
  });

  app.post('/deals', async (req, reply) => {
    const vendorId = req.session!.vendorId;
    const input = parse(dealInput, req.body, 'deal');
    const id = await createDeal(db, clock, vendorId, null, input);
    const deal = await getDeal(db, vendorId, id);
    return reply.code(201).send(dealJson(deal, clock.now()));
  });

  app.get<{ Params: { id: string } }>('/deals/:id', async (req) => {
    const d = await loadDealDetail(db, req.session!.vendorId, req.params.id);
    return {
      ...dealJson(d.deal, clock.now()),
      stakeholders: d.stakeholders.map((s) => ({ id: s.id, name: s.name, email: s.email, role: s.role, invited_at: s.invited_at })),
      concerns: d.grid.map((row) => ({
        concern: row.concern,
        claim_revision: row.revision,
        claim: d.claims.find((c) => c.concern === row.concern)?.claim,
        tailored: row.tailored,
        answers: row.answers.map((a) => ({ stakeholder_id: a.stakeholder_id, verdict: a.verdict === 'none' ? null : a.verdict, kind: a.kind, stale: a.stale, answered_at: a.at })),
      })),
    };
  });

  app.post<{ Params: { id: string } }>('/deals/:id/stakeholders', async (req, reply) => {
    const vendorId = req.session!.vendorId;
    const input = parse(stakeholderInput, req.body, 'stakeholder');
    const id = await addStakeholder(db, clock, config.LINK_TTL_DAYS, vendorId, req.params.id, input);
    app.services.worker.nudge();
    return reply.code(201).send({ id, deal_id: req.params.id, name: input.name, email: input.email, role: input.role, invited: input.invite });
  });

  app.get<{ Params: { id: string } }>('/deals/:id/signals', async (req) => {
    const d = await loadDealDetail(db, req.session!.vendorId, req.params.id);
    return {
      signals: d.signals.map((s) => ({
        id: s.id,
        type: s.type,
        concern: s.concern,
        claim_revision: s.claim_revision,
        verdict: s.verdict,
        kind: s.kind,
        comment: s.comment,
        changes: s.changes,
        stakeholder: s.stakeholder_id ? { id: s.stakeholder_id, name: s.stakeholder_name, role: s.stakeholder_role } : null,
        week: s.week,
        created_at: s.created_at,
      })),
    };
  });
}

function dealJson(deal: Awaited<ReturnType<typeof getDeal>>, now: Date) {
  return {
    id: deal.id,
    buyer_name: deal.buyer_name,
    buyer_domain: deal.buyer_domain,
    started_on: deal.started_on,
    week: weekOfDeal(deal.started_on, now),
    stage: deal.stage,
    profile_version: deal.profile_version,
    created_at: deal.created_at,
  };
}
