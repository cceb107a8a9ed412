// Binds a link's POST to the browser that opened the link: the GET page sets a
// nonce cookie (SameSite=Strict, on the link's path) and its form echoes the
// nonce. A form planted anywhere else, even on our own origin, has no nonce, so
// it cannot spend someone's sign-in link or invitation (login CSRF).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { newToken, TOKEN_PATTERN } from './tokens.js';

/** Two secrets compared in constant time; false when either is empty. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length > 0 && x.length === y.length && timingSafeEqual(x, y);
}

export interface BrowserNonce {
  /** The nonce for the GET page's form; one per browser, reused across tabs, so two open pages both work. */
  issue(req: FastifyRequest, reply: FastifyReply): string;
  /** Whether the POST's `nonce` field is this browser's cookie. */
  matches(req: FastifyRequest): boolean;
  /** Drops the cookie once the link is spent. */
  clear(reply: FastifyReply): void;
}

export function browserNonce(opts: { cookie: string; path: string; maxAgeSeconds: number }): BrowserNonce {
  return {
    issue(req, reply) {
      const existing = req.cookies[opts.cookie];
      const nonce = existing && TOKEN_PATTERN.test(existing) ? existing : newToken();
      reply.setCookie(opts.cookie, nonce, {
        path: opts.path,
        httpOnly: true,
        sameSite: 'strict',
        secure: reply.server.services.config.secureCookies,
        maxAge: opts.maxAgeSeconds,
      });
      return nonce;
    },
    matches(req) {
      return sameSecret(req.cookies[opts.cookie] ?? '', String((req.body as { nonce?: unknown } | undefined)?.nonce ?? ''));
    },
    clear(reply) {
      reply.clearCookie(opts.cookie, { path: opts.path });
    },
  };
}
