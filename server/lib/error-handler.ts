// The one error path. Whatever went wrong (a DomainError from a service, a
// zod failure, a database that does not answer, a plugin's or Fastify's own
// error) becomes a code from ERROR_TABLE, and the table decides the status
// and the page. Under /api/v1 the answer is always the documented JSON shape
// { error: { code, message, details? } }; 5xx details never reach the client.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { isDatabaseUnavailable } from '../db/index.js';
import { DomainError, ERROR_TABLE, type ErrorCode } from './errors.js';
import { sendPage } from './render.js';
import { TOKEN_PATTERN } from './tokens.js';
import { zodDetails } from './validate.js';
import { optionalSession, SESSION_COOKIE } from '../auth/session.js';

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  bad_request: 'The request could not be read. Check that the body and the address are well-formed.',
  csrf: 'This form has expired. Go back, reload the page and submit it again.',
  internal_error: 'Something went wrong on our side. Nothing you sent was half-saved; please try again in a moment.',
  link_invalid: 'This link is not valid. Ask for a new one.',
  too_large: 'The request is too large.',
  unavailable: 'The portal cannot reach its database right now. Nothing was saved; please try again in a moment.',
  unsupported_media_type: 'Send JSON (application/json) or a form.',
};

/** Headings of error pages that say more than "Something went wrong". */
const PAGE_TITLES: Partial<Record<ErrorCode, string>> = {
  forbidden: 'Your role does not allow this',
  last_owner: 'The workspace needs an owner',
  already_member: 'Already a member',
  sso_required: 'Sign in with single sign-on',
  sso_failed: 'Single sign-on did not sign you in',
  rate_limited: 'Too many requests',
};

/** Paths whose last segment is a credential: a mangled address there is a dead link, not a bad request. */
const LINK_PATH = /^\/(r|auth\/link|invite)\//;

export function isApi(req: FastifyRequest): boolean {
  return req.url.startsWith('/api/');
}

/** Any error, as one of ours. */
function toDomainError(err: unknown, req: FastifyRequest): DomainError {
  if (err instanceof DomainError) return err;
  if (err instanceof ZodError) return new DomainError('invalid_input', 'Some values are not valid.', zodDetails(err));
  if (isDatabaseUnavailable(err)) return new DomainError('unavailable', MESSAGES.unavailable!);
  const e = err as { statusCode?: unknown; code?: unknown };
  if (e.code === 'FST_CSRF_INVALID_TOKEN' || e.code === 'FST_CSRF_MISSING_SECRET') return new DomainError('csrf', MESSAGES.csrf!);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Fastify's own client errors (an unreadable body, a bad %-escape, an over-long parameter).
    if (!isApi(req) && LINK_PATH.test(req.url)) return new DomainError('link_invalid', MESSAGES.link_invalid!);
    const code: ErrorCode = e.statusCode === 413 ? 'too_large' : e.statusCode === 415 ? 'unsupported_media_type' : 'bad_request';
    return new DomainError(code, MESSAGES[code]!);
  }
  return new DomainError('internal_error', MESSAGES.internal_error!);
}

/**
 * An error page is a page like any other: a signed-in person gets their own
 * header (their navigation, not "Sign in"). Only a request carrying a session
 * cookie whose signature checks out costs the one lookup every signed-in page
 * makes; a request without one (a scanner's 404) does no work at all, and a
 * page about an overloaded or unreachable portal does not ask the database.
 */
async function knowSession(req: FastifyRequest, status: number): Promise<void> {
  if (req.session || status >= 500 || status === 429 || !req.cookies?.[SESSION_COOKIE]) return;
  try {
    await optionalSession(req);
  } catch {
    req.session = undefined;
  }
}

export async function handleError(err: unknown, req: FastifyRequest, reply: FastifyReply) {
  const domain = toDomainError(err, req);
  const entry: { status: number; page?: string } = ERROR_TABLE[domain.code];
  const status = entry.status;
  if (status === 503) req.log.warn({ code: domain.code }, 'request refused: service unavailable');
  else if (status >= 500) req.log.error({ err }, 'request failed');
  reply.code(status);
  if (status === 429) reply.header('retry-after', reply.getHeader('retry-after') ?? '60');
  if (status === 503) reply.header('retry-after', reply.getHeader('retry-after') ?? '10');
  if (isApi(req)) {
    const details = domain.details;
    return reply.send({ error: { code: domain.code, message: domain.message, ...(details ? { details } : {}) } });
  }
  if (entry.page === 'link-invalid') return sendPage(req, reply, entry.page, linkPageData(req), status);
  await knowSession(req, status);
  return sendPage(req, reply, 'error', { title: PAGE_TITLES[domain.code] ?? (status === 404 ? 'Not found' : 'Something went wrong'), status, message: domain.message }, status);
}

/** The dead-link page: a respondent may ask for a new link, but only a token of the right form is ever echoed. */
function linkPageData(req: FastifyRequest) {
  const respondent = req.url.startsWith('/r/');
  const token = (req.params as { token?: unknown } | undefined)?.token;
  return {
    title: 'This link no longer works',
    respondent,
    invitation: req.url.startsWith('/invite/'),
    bare: respondent,
    token: respondent && typeof token === 'string' && TOKEN_PATTERN.test(token) ? token : undefined,
  };
}
