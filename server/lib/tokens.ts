// Links and API keys are credentials: 256 bits from the CSPRNG, shown once,
// and only their SHA-256 stored. A plain hash is right here because the
// secret is random and long, not a password a person chose.
import { createHash, randomBytes } from 'node:crypto';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A token as it appears in a URL: 43 base64url characters. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
