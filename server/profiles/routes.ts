// The profile editor: six concerns in one form, warnings for contradictions,
// and publishing as an immutable version.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONCERNS } from '../concerns/index.js';
import type { ProfileClaims } from '../db/schema.js';
import { fieldViews, readConcernForm } from '../lib/concern-form.js';
import { seeOther, sendPage } from '../lib/render.js';
import { requireSession } from '../auth/session.js';
import {
  getDraft,
  getVersion,
  hasUnpublishedChanges,
  listVersions,
  NARRATIVE_MAX,
  publishProfile,
  saveDraft,
  validateClaims,
  warningsFor,
  type ProfileErrors,
} from './service.js';

export default async function profileRoutes(app: FastifyInstance) {
  const { db, clock } = app.services;
  const form = { preHandler: [requireSession, app.csrfProtection] };

  async function render(
    req: FastifyRequest,
    reply: FastifyReply,
    draft: Record<string, { values: Record<string, unknown>; narrative: unknown }>,
    errors: ProfileErrors = {},
    status = 200,
  ) {
    const vendorId = req.session!.vendorId;
    const versions = await listVersions(db, vendorId);
    const latest = versions[0] ? await getVersion(db, vendorId, versions[0].version) : undefined;
    const valid = Object.keys(errors).length === 0;
    const warnings = valid ? warningsFor(draft as ProfileClaims) : [];
    const warned = new Set(warnings.flatMap((w) => w.fields.map((f) => f.concern)));
    const q = req.query as { saved?: string; published?: string };
    return sendPage(
      req,
      reply,
      'profile',
      {
        title: 'Posture profile',
        nav: 'profile',
        saved: q.saved === '1',
        published: /^\d+$/.test(q.published ?? '') ? q.published : undefined,
        invalid: !valid,
        warnings,
        versions,
        nextVersion: (versions[0]?.version ?? 0) + 1,
        unpublished: valid && hasUnpublishedChanges(draft as ProfileClaims, latest?.claims),
        narrativeMax: NARRATIVE_MAX,
        concerns: CONCERNS.map((c) => ({
          key: c.key,
          title: c.title,
          severity: c.severity,
          critical: c.severity === 'critical',
          summary: c.summary,
          frameworks: c.frameworks,
          hasWarning: warned.has(c.key),
          hasError: Boolean(errors[c.key]),
          narrative: String(draft[c.key]?.narrative ?? ''),
          narrativeError: errors[c.key]?.narrative,
          sentence: errors[c.key] ? undefined : c.sentence(draft[c.key].values as never),
          fields: fieldViews(c, draft[c.key]?.values ?? {}, { prefix: c.key, errors: errors[c.key] }),
        })),
      },
      status,
    );
  }

  app.get('/app/profile', { preHandler: requireSession }, async (req, reply) => {
    return render(req, reply, await getDraft(db, req.session!.vendorId));
  });

  app.post('/app/profile', form, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const submitted = Object.fromEntries(
      CONCERNS.map((c) => [c.key, { values: readConcernForm(c, body, c.key), narrative: body[`${c.key}.narrative`] ?? '' }]),
    );
    const { claims, errors } = validateClaims(submitted);
    if (Object.keys(errors).length) return render(req, reply, submitted, errors, 400);
    await saveDraft(db, clock, req.session!.vendorId, req.session!.userId, claims);
    return seeOther(reply, '/app/profile?saved=1');
  });

  app.post('/app/profile/publish', form, async (req, reply) => {
    const version = await publishProfile(db, clock, req.session!.vendorId, req.session!.userId);
    return seeOther(reply, `/app/profile?published=${version}`);
  });
}
