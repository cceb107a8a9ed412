// The profile editor: six concerns in one form, warnings for contradictions,
// and publishing as an immutable version.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONCERNS } from '../concerns/index.js';
import { transaction } from '../db/index.js';
import { readConcernForm } from '../lib/concern-form.js';
import { isInvalidInput } from '../lib/errors.js';
import { seeOther, sendPage } from '../lib/render.js';
import { requireSession, sessionOf } from '../auth/session.js';
import { actorOf } from '../audit/service.js';
import { dismissSuggestion } from '../insights/service.js';
import {
  applySuggestion,
  getDraft,
  publishedHistory,
  publishProfile,
  saveDraft,
  suggestionByKey,
  suggestionsFor,
  validateClaims,
  type ProfileErrors,
  type SubmittedClaims,
} from './service.js';
import { editorPage } from './views.js';
import type { ProfileClaims } from '../db/schema.js';

/** The editor form as sent: every concern's fields and narrative, still unvalidated. */
function readEditorForm(body: Record<string, unknown>): SubmittedClaims {
  return Object.fromEntries(CONCERNS.map((c) => [c.key, { values: readConcernForm(c, body, c.key), narrative: body[`${c.key}.narrative`] ?? '' }]));
}

export default async function profileRoutes(app: FastifyInstance) {
  const { db, clock } = app.services;
  // The workspace's posture profile is an admin's to change and publish.
  const form = { preHandler: [requireSession, app.csrfProtection], config: { role: 'admin' as const } };

  async function render(req: FastifyRequest, reply: FastifyReply, draft: SubmittedClaims, errors: ProfileErrors = {}, status = 200, publishing = false, suggestionError?: string) {
    const { vendorId } = sessionOf(req);
    const { versions, latestClaims } = await publishedHistory(db, vendorId);
    const suggestions = await suggestionsFor(db, vendorId, latestClaims);
    const q = req.query as { saved?: string; published?: string; suggested?: string; dismissed?: string };
    const published = /^\d+$/.test(q.published ?? '') ? q.published : undefined;
    const page = editorPage({
      draft,
      errors,
      versions,
      latestClaims,
      saved: q.saved === '1',
      published,
      publishing,
      suggestions,
      suggested: q.suggested === '1',
      dismissed: q.dismissed === '1',
      suggestionError,
    });
    return sendPage(req, reply, 'profile', page, status);
  }

  /** The profile page again, 400, saying why a suggestion's form was refused (nothing was changed). */
  async function refuseSuggestion(req: FastifyRequest, reply: FastifyReply, message: string) {
    return render(req, reply, await getDraft(db, sessionOf(req).vendorId), {}, 400, false, message);
  }

  app.get('/app/profile', { preHandler: requireSession }, async (req, reply) => {
    return render(req, reply, await getDraft(db, sessionOf(req).vendorId));
  });

  app.post('/app/profile', form, async (req, reply) => {
    const submitted = readEditorForm((req.body ?? {}) as Record<string, unknown>);
    const { claims, errors } = validateClaims(submitted);
    if (Object.keys(errors).length) return render(req, reply, submitted, errors, 400);
    await transaction(db, (trx) => saveDraft(trx, clock, actorOf(req), claims));
    return seeOther(reply, '/app/profile?saved=1');
  });

  // The editor's Publish button submits the editor form here (formaction): what is on screen is saved,
  // then published, in one transaction, so no edit is silently left behind. Invalid values publish
  // nothing and come back marked. A post without the editor's fields publishes the saved draft.
  app.post('/app/profile/publish', form, async (req, reply) => {
    const actor = actorOf(req);
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
      if (claims) await saveDraft(trx, clock, actor, claims);
      return publishProfile(trx, clock, actor);
    });
    return seeOther(reply, `/app/profile?published=${version}`);
  });

  // A suggestion from buyers' security teams: its value goes into the draft (checked like any edit of it;
  // publishing is still the vendor's step), or it is dismissed until more deals say the same.
  async function chosenSuggestion(req: FastifyRequest) {
    const { vendorId } = sessionOf(req);
    const { latestClaims } = await publishedHistory(db, vendorId);
    return suggestionByKey(await suggestionsFor(db, vendorId, latestClaims), ((req.body ?? {}) as { key?: unknown }).key);
  }

  app.post('/app/profile/suggestions/apply', form, async (req, reply) => {
    try {
      const suggestion = await chosenSuggestion(req);
      await transaction(db, (trx) => applySuggestion(trx, clock, actorOf(req), suggestion));
      return seeOther(reply, `/app/profile?suggested=1#${encodeURIComponent(suggestion.concern)}`);
    } catch (err) {
      if (isInvalidInput(err)) return refuseSuggestion(req, reply, err.message);
      throw err;
    }
  });

  app.post('/app/profile/suggestions/dismiss', form, async (req, reply) => {
    try {
      const suggestion = await chosenSuggestion(req);
      await transaction(db, (trx) => dismissSuggestion(trx, clock, actorOf(req), suggestion));
      return seeOther(reply, '/app/profile?dismissed=1');
    } catch (err) {
      if (isInvalidInput(err)) return refuseSuggestion(req, reply, err.message);
      throw err;
    }
  });
}
