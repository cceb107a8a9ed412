// Lower layers throw a DomainError with a stable code and a message for
// people. They never choose an HTTP status: the one table below maps each
// code to its status and to what a browser is shown, and the one error
// handler (server/lib/error-handler.ts) applies it to pages and to the JSON API alike.

/** How each code answers: its HTTP status, and the page a browser gets (templates/pages/error.hbs unless named). */
export const ERROR_TABLE = {
  invalid_input: { status: 400 },
  bad_request: { status: 400 },
  unauthorized: { status: 401 },
  /** A single sign-on that did not complete (wrong issuer, replayed or expired state, bad nonce, refused code). */
  sso_failed: { status: 401 },
  signed_out: { status: 401 },
  cross_site: { status: 403 },
  csrf: { status: 403 },
  champion_read_only: { status: 403 },
  /** The session's role in the workspace does not allow the request. */
  forbidden: { status: 403 },
  /** This workspace signs in through its identity provider (require_sso); the message says where to start. */
  sso_required: { status: 403 },
  not_found: { status: 404 },
  /** A personal or sign-in link that is unknown, spent, expired or mangled. */
  link_invalid: { status: 404, page: 'link-invalid' },
  no_published_profile: { status: 409 },
  /** The address already belongs to a member of the workspace. */
  already_member: { status: 409 },
  /** The change would leave the workspace without an owner. */
  last_owner: { status: 409 },
  /** A workspace already has the most members (and pending invitations) it may (members/service.ts MAX_MEMBERS). */
  too_many_members: { status: 409 },
  duplicate_stakeholder: { status: 409 },
  no_link: { status: 409 },
  no_claim: { status: 409 },
  claim_changed: { status: 409 },
  checkpoint_open: { status: 409 },
  stage_changed: { status: 409 },
  /** A workspace already has the most webhook endpoints it may (webhooks/service.ts MAX_ENDPOINTS). */
  too_many_webhooks: { status: 409 },
  /** An Idempotency-Key whose first request is still being answered. */
  idempotency_in_progress: { status: 409 },
  too_large: { status: 413 },
  unsupported_media_type: { status: 415 },
  /** An Idempotency-Key used again with a different request. */
  idempotency_key_reused: { status: 422 },
  rate_limited: { status: 429 },
  internal_error: { status: 500 },
  unavailable: { status: 503 },
  overloaded: { status: 503 },
} as const satisfies Record<string, { status: number; page?: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export interface FieldProblem {
  field: string;
  message: string;
}

export class DomainError extends Error {
  /**
   * Derived from the table, so Fastify and its plugins see the same status our handler sends. A plain
   * property, not a getter: Fastify writes it back onto a validation error (the same value).
   */
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.statusCode = ERROR_TABLE[code].status;
  }

  /** The first problem of each field named in the details (for a form to show next to the field). */
  get fieldProblems(): FieldProblem[] {
    return Array.isArray(this.details) ? (this.details as FieldProblem[]).filter((d) => typeof d?.field === 'string') : [];
  }
}

/** A request that needs a session or key arrived without one that still works. */
export const signedOut = () => new DomainError('signed_out', 'Your session has ended. Sign in again, then repeat what you were doing.');

export const notFound = (what = 'That page') => new DomainError('not_found', `${what} does not exist, or you do not have access to it.`);

export const invalid = (message: string, details?: FieldProblem[]) => new DomainError('invalid_input', message, details);

/** True for the codes that mean "the input was wrong": the form is shown again with the problems marked. */
export const isInvalidInput = (err: unknown): err is DomainError => err instanceof DomainError && err.code === 'invalid_input';
