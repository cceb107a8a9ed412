// The JSON API under /api/v1, authorised by an API key. Shapes documented in
// the README; keep them stable.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parse } from '../lib/validate.js';
import { getDraft, listVersions, mergeIntoDraft, publishProfile, saveDraft, warningsFor } from '../profiles/service.js';
import { addStakeholder, createDeal, dealInput, getDeal, listDeals, stakeholderInput, weekOfDeal } from '../deals/service.js';
import { loadDealDetail } from '../deals/detail.js';
import { computeTracking, loadTracking, type Tracking } from '../deals/tracking.js';
import {
  changeClaim,
  changeStage,
  dealSettingsInput,
  extendInput,
  extendLinks,
  resendLink,
  revokeLinks,
  setStakeholderReminders,
  stageInput,
  updateDealSettings,
} from '../deals/lifecycle.js';

const profileBody = z.object({ concerns: z.unknown() });
const remindersBody = z.object({ reminders_paused: z.boolean() });

function trackingJson(t: Tracking) {
  return {
    checkpoint: t.checkpoint,
    risk: { no_security_stakeholder: t.risk.noSecurityStakeholder },
    concerns_open: t.concernsOpen,
    corrections: t.corrections,
    first_security_signal_week: t.firstSecuritySignalWeek,
    first_security_correction_week: t.firstSecurityCorrectionWeek,
  };
}

export default async function apiRoutes(app: FastifyInstance) {
  const { db, clock, config } = app.services;
  type DealParams = { Params: { id: string } };
  type PersonParams = { Params: { id: string; sid: string } };

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
    const vendorId = req.session!.vendorId;
    const now = clock.now();
    const deals = await listDeals(db, vendorId);
    const tracking = await loadTracking(db, vendorId, deals);
    return {
      deals: deals.map((d) => ({ ...d, week: weekOfDeal(d.started_on, now), ...trackingJson(computeTracking(tracking.get(d.id)!)) })),
    };
  });

  app.post('/deals', async (req, reply) => {
    const vendorId = req.session!.vendorId;
    const input = parse(dealInput, req.body, 'deal');
    const id = await createDeal(db, clock, vendorId, null, input);
    const deal = await getDeal(db, vendorId, id);
    return reply.code(201).send(dealJson(deal, clock.now()));
  });

  app.get<DealParams>('/deals/:id', async (req) => {
    const d = await loadDealDetail(db, clock, req.session!.vendorId, req.params.id);
    return {
      ...dealJson(d.deal, clock.now()),
      ...trackingJson(d.tracking),
      stakeholders: d.stakeholders.map((s) => ({
        id: s.id,
        name: s.name,
        email: s.email,
        role: s.role,
        source: s.source,
        delegated_by: s.delegated_by_id ? { id: s.delegated_by_id, name: s.delegated_by_name } : null,
        engaged: d.tracking.engaged.has(s.id),
        invited_at: s.invited_at,
        link: { state: s.link_state, expires_at: s.link_expires_at },
        reminders_paused: s.reminders_paused,
        reminders_sent: s.reminders_sent,
      })),
      concerns: d.grid.map((row) => ({
        concern: row.concern,
        status: row.status,
        claim_revision: row.revision,
        claim: d.claims.find((c) => c.concern === row.concern)?.claim,
        tailored: row.tailored,
        answers: row.answers.map((a) => ({
          stakeholder_id: a.stakeholder_id,
          verdict: a.verdict === 'none' ? null : a.verdict,
          kind: a.kind,
          stale: a.stale,
          answered_at: a.at,
          handed_to: a.handed_to,
        })),
      })),
    };
  });

  app.patch<DealParams>('/deals/:id', async (req) => {
    await updateDealSettings(db, req.session!.vendorId, req.params.id, parse(dealSettingsInput.strict(), req.body, 'settings'));
    return dealJson(await getDeal(db, req.session!.vendorId, req.params.id), clock.now());
  });

  app.post<DealParams>('/deals/:id/stage', async (req) => {
    const result = await changeStage(db, clock, req.session!.vendorId, req.params.id, null, parse(stageInput, req.body, 'stage change'));
    return { ...dealJson(await getDeal(db, req.session!.vendorId, req.params.id), clock.now()), overridden: result.overridden };
  });

  app.put<{ Params: { id: string; concern: string } }>('/deals/:id/claims/:concern', async (req) => {
    const { revision, changes } = await changeClaim(db, clock, req.session!.vendorId, req.params.id, null, req.params.concern, req.body);
    return { concern: req.params.concern, claim_revision: revision, changes };
  });

  app.post<DealParams>('/deals/:id/stakeholders', async (req, reply) => {
    const vendorId = req.session!.vendorId;
    const input = parse(stakeholderInput, req.body, 'stakeholder');
    const id = await addStakeholder(db, clock, config.LINK_TTL_DAYS, vendorId, req.params.id, input);
    app.services.worker.nudge();
    return reply.code(201).send({ id, deal_id: req.params.id, name: input.name, email: input.email, role: input.role, invited: input.invite });
  });

  app.patch<PersonParams>('/deals/:id/stakeholders/:sid', async (req) => {
    const { reminders_paused } = parse(remindersBody, req.body, 'stakeholder');
    await setStakeholderReminders(db, req.session!.vendorId, req.params.id, req.params.sid, reminders_paused);
    return { id: req.params.sid, reminders_paused };
  });

  app.post<PersonParams>('/deals/:id/stakeholders/:sid/resend', async (req) => {
    await resendLink(db, clock, config.LINK_TTL_DAYS, req.session!.vendorId, req.params.id, req.params.sid);
    app.services.worker.nudge();
    return { id: req.params.sid, resent: true };
  });

  app.post<PersonParams>('/deals/:id/stakeholders/:sid/revoke', async (req) => {
    await revokeLinks(db, clock, req.session!.vendorId, req.params.id, req.params.sid);
    return { id: req.params.sid, revoked: true };
  });

  app.post<PersonParams>('/deals/:id/stakeholders/:sid/extend', async (req) => {
    const { days } = parse(extendInput, req.body ?? {}, 'extension');
    await extendLinks(db, clock, req.session!.vendorId, req.params.id, req.params.sid, days ?? config.LINK_TTL_DAYS);
    return { id: req.params.sid, extended_days: days ?? config.LINK_TTL_DAYS };
  });

  app.get<DealParams>('/deals/:id/signals', async (req) => {
    const d = await loadDealDetail(db, clock, req.session!.vendorId, req.params.id);
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
        target_stakeholder: s.target_id ? { id: s.target_id, name: s.target_name, role: s.target_role } : null,
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
    reminder_days: deal.reminder_days,
    reminders_paused: deal.reminders_paused,
    share_corrections: deal.share_corrections,
    created_at: deal.created_at,
  };
}
