// Workspace settings: the workspace's web domain (named in its invitations),
// when the profile page suggests a change, and API keys for the JSON API and CRM integrations.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { transaction } from '../db/index.js';
import { requireSession, sessionOf } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { issueApiKey, listApiKeys, revokeApiKey } from '../auth/service.js';
import { fieldErrors, line } from '../lib/validate.js';
import { atLeast, MEMBER_ROLES } from '../rules.js';
import { seeOther, sendPage } from '../lib/render.js';
import { getWorkspaceSettings, setSuggestionMinDeals, setWebDomain, suggestionThresholdInput, webDomainInput } from './service.js';
import { settingsPage, type SettingsNotices } from './views.js';

const keyInput = z.object({ name: line(80), role: z.enum(MEMBER_ROLES, { message: 'must be one of viewer, member, admin or owner' }).default('member') });

export default async function settingsRoutes(app: FastifyInstance) {
  const { db, clock } = app.services;
  // Workspace settings and API keys are an admin's.
  const admin = { role: 'admin' as const };
  const form = { preHandler: [requireSession, app.csrfProtection], config: admin };

  async function render(req: FastifyRequest, reply: FastifyReply, notices: SettingsNotices, status = 200) {
    const { vendorId, role } = sessionOf(req);
    const [keys, workspace] = await Promise.all([listApiKeys(db, vendorId), getWorkspaceSettings(db, vendorId)]);
    return sendPage(req, reply, 'settings', settingsPage(keys, notices, workspace, role), status);
  }

  app.get('/app/settings', { preHandler: requireSession, config: admin }, async (req, reply) => {
    const query = req.query as { revoked?: string; workspace?: string; suggestions?: string };
    return render(req, reply, { revoked: query.revoked === '1', workspaceSaved: query.workspace === '1', suggestionsSaved: query.suggestions === '1' });
  });

  app.post('/app/settings/workspace', form, async (req, reply) => {
    const body = (req.body ?? {}) as { web_domain?: unknown };
    const r = webDomainInput.safeParse({ web_domain: body.web_domain ?? '' });
    if (!r.success) return render(req, reply, { workspaceErrors: fieldErrors(r.error), workspaceValues: { web_domain: String(body.web_domain ?? '') } }, 400);
    await transaction(db, (trx) => setWebDomain(trx, clock, actorOf(req), r.data.web_domain));
    return seeOther(reply, '/app/settings?workspace=1');
  });

  app.post('/app/settings/suggestions', form, async (req, reply) => {
    const body = (req.body ?? {}) as { suggestion_min_deals?: unknown };
    const sent = typeof body.suggestion_min_deals === 'string' ? body.suggestion_min_deals : '';
    const r = suggestionThresholdInput.safeParse({ suggestion_min_deals: sent });
    if (!r.success) return render(req, reply, { suggestionsErrors: fieldErrors(r.error), suggestionsValues: { suggestion_min_deals: sent } }, 400);
    await transaction(db, (trx) => setSuggestionMinDeals(trx, clock, actorOf(req), r.data.suggestion_min_deals));
    return seeOther(reply, '/app/settings?suggestions=1#suggestions');
  });

  app.post('/app/settings/api-keys', form, async (req, reply) => {
    const r = keyInput.safeParse(req.body ?? {});
    if (!r.success) return render(req, reply, { errors: fieldErrors(r.error) }, 400);
    const { role } = sessionOf(req);
    // A key can do no more than the person who creates it.
    if (!atLeast(role, r.data.role)) return render(req, reply, { errors: { role: `must be no higher than your own role (${role})` } }, 400);
    const key = await transaction(db, (trx) => issueApiKey(trx, clock, actorOf(req), r.data.name, r.data.role));
    // Shown once, on this response only; never stored or logged.
    return render(req, reply, { newKey: key, newKeyName: r.data.name });
  });

  app.post<{ Params: { id: string } }>('/app/settings/api-keys/:id/revoke', form, async (req, reply) => {
    await transaction(db, (trx) => revokeApiKey(trx, clock, actorOf(req), req.params.id));
    return seeOther(reply, '/app/settings?revoked=1');
  });
}
