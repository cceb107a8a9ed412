// Workspace settings: API keys for the JSON API and CRM integrations.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { requireSession } from '../auth/session.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/repository.js';
import { line } from '../lib/validate.js';
import { seeOther, sendPage } from '../lib/render.js';
import { fieldErrors } from '../lib/validate.js';
import { notFound } from '../lib/errors.js';

const keyInput = z.object({ name: line(80) });

export default async function settingsRoutes(app: FastifyInstance) {
  const { db, clock } = app.services;
  const form = { preHandler: [requireSession, app.csrfProtection] };

  const page = async (vendorId: string, extra: Record<string, unknown> = {}) => ({
    title: 'API keys',
    nav: 'settings',
    keys: (await listApiKeys(db, vendorId)).map((k) => ({ ...k, created: k.created_at.toISOString().slice(0, 10) })),
    ...extra,
  });

  app.get('/app/settings', { preHandler: requireSession }, async (req, reply) => {
    const revoked = (req.query as { revoked?: string }).revoked === '1';
    return sendPage(req, reply, 'settings', await page(req.session!.vendorId, { revoked }));
  });

  app.post('/app/settings/api-keys', form, async (req, reply) => {
    const r = keyInput.safeParse(req.body ?? {});
    if (!r.success) {
      return sendPage(req, reply, 'settings', await page(req.session!.vendorId, { errors: fieldErrors(r.error) }), 400);
    }
    const key = await createApiKey(db, clock, req.session!.vendorId, req.session!.userId, r.data.name);
    // Shown once, on this response only; never stored or logged.
    return sendPage(req, reply, 'settings', await page(req.session!.vendorId, { newKey: key, newKeyName: r.data.name }));
  });

  app.post<{ Params: { id: string } }>('/app/settings/api-keys/:id/revoke', form, async (req, reply) => {
    const revoked = z.uuid().safeParse(req.params.id).success && (await revokeApiKey(db, clock, req.session!.vendorId, req.params.id));
    if (!revoked) throw notFound('That API key');
    return seeOther(reply, '/app/settings?revoked=1');
  });
}
