// The keys that sign session cookies (a JWT) and the CSRF secret cookie.
// SESSION_SECRET signs; after a rotation the previous secret still verifies
// until the time the operator set, so nobody is signed out mid-deploy.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { TokenOrHeader } from '@fastify/jwt';
import { signerFactory, type UnsignResult } from '@fastify/cookie';
import type { Clock } from '../lib/clock.js';

export interface SessionKeys {
  current: string;
  /** The secret in use before the last rotation, accepted for verification only, until `until`. */
  previous?: { secret: string; until: Date };
}

/** A short, non-secret name for a key, carried in each session token so verification picks the right key. */
export const keyId = (secret: string): string => createHash('sha256').update(`pp-key:${secret}`).digest('base64url').slice(0, 8);

function previousIsValid(keys: SessionKeys, clock: Clock): keys is SessionKeys & { previous: { secret: string; until: Date } } {
  return keys.previous !== undefined && clock.now().getTime() < keys.previous.until.getTime();
}

/** For @fastify/cookie: signs with the current key; reads with the previous one too while it is valid. */
export function cookieSigner(keys: SessionKeys, clock: Clock): { sign(value: string): string; unsign(value: string): UnsignResult } {
  const current = signerFactory(keys.current);
  const both = keys.previous ? signerFactory([keys.current, keys.previous.secret]) : current;
  return {
    sign: (value) => current.sign(value),
    unsign: (value) => (previousIsValid(keys, clock) ? both : current).unsign(value),
  };
}

/**
 * For @fastify/jwt: the key for a token being signed or verified. Tokens we
 * sign name the current key; any other token is checked against the previous
 * key while that is valid, else against the current one (and so refused).
 */
export function jwtSecret(keys: SessionKeys, clock: Clock) {
  const currentId = keyId(keys.current);
  return async (_req: FastifyRequest, token: TokenOrHeader): Promise<string> => {
    const kid = (token as { kid?: unknown }).kid;
    return kid !== currentId && previousIsValid(keys, clock) ? keys.previous.secret : keys.current;
  };
}
