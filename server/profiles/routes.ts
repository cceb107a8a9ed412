// The profile editor: six concerns in one form, warnings for contradictions,
// and publishing as an immutable version.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONCERNS } from '../concerns/index.js';
import { transaction } from '../db/index.js';
import { readConcernForm } from '../lib/concern-form.js';
import { seeOther, sendPage } from '../lib/render.js';
import { requireSession, sessionOf } from '../auth/session.js';
import { getDraft, publishedHistory, publishProfile, saveDraft, validateClaims, type ProfileErrors, type SubmittedClaims } from './service.js';
import { editorPage } from './views.js';
import type { ProfileClaims } from '../db/schema.js';

/** The editor form as sent: every concern's fields and narrative, still unvalidated. */
function readEditorForm(body: Record<string, unknown>): SubmittedClaims {
  return Object.fromEntries(CONCERNS.map((c) => [c.key, { values: readConcernForm(c, body, c.key), narrative: body[`${c.key}.narrative`] ?? '' }]));
}

export default async function profileRoutes(app: FastifyInstance) {
  const { db, clock } = app.services;
  const form = { preHandler: [requireSession, app.csrfProtection] };

  async function render(req: FastifyRequest, reply: FastifyReply, draft: SubmittedClaims, errors: ProfileErrors = {}, status = 200, publishing = false) {
    const { versions, latestClaims } = await publishedHistory(db, sessionOf(req).vendorId);
    const q = req.query as { saved?: string; published?: string };
    const published = /^\d+$/.test(q.published ?? '') ? q.published : undefined;
    return sendPage(req, reply, 'profile', editorPage({ draft, errors, versions, latestClaims, saved: q.saved === '1', published, publishing }), status);
  }

  app.get('/app/profile', { preHandler: requireSession }, async (req, reply) => {
    return render(req, reply, await getDraft(db, sessionOf(req).vendorId));
  });

  app.post('/app/profile', form, async (req, reply) => {
    const { vendorId, userId } = sessionOf(req);
    const submitted = readEditorForm((req.body ?? {}) as Record<string, unknown>);
    const { claims, errors } = validateClaims(submitted);
    if (Object.keys(errors).length) return render(req, reply, submitted, errors, 400);
    await transaction(db, (trx) => saveDraft(trx, clock, vendorId, userId, claims));
    return seeOther(reply, '/app/profile?saved=1');
  });

  // The editor's Publish button submits the editor form here (formaction): what is on screen is saved,
  // then published, in one transaction, so no edit is silently left behind. Invalid values publish
  // nothing and come back marked. A post without the editor's fields publishes the saved draft.
  app.post('/app/profile/publish', form, async (req, reply) => {
    const { vendorId, userId } = sessionOf(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const fromEditor = CONCERNS.some((c) => Object.keys(body).some((k) => k.startsWith(`${c.key}.`)));
    let claims: ProfileClaims | undefined;
    if (fromEditor) {
      const submitted = readEditorForm(body);
      const checked = validateClaims(submitted);
      if (Object.keys(checked.errors).length) return render(req, reply, submitted, checked.errors, 400, true);
      claims = checked.claims;
    }
    const version = await transaction(db, async (trx) => {
      if (claims) await saveDraft(trx, clock, vendorId, userId, claims);
      return publishProfile(trx, clock, vendorId, userId);
    });
    return seeOther(reply, `/app/profile?published=${version}`);
  });
}
