// Secrets the portal must read back (webhook signing secrets; later SSO
// client secrets) rest encrypted: AES-256-GCM with a random 96-bit nonce, the
// key derived by HKDF-SHA-256 from ENCRYPTION_KEY (or, for local use only,
// from the session secret). A sealed value names its key version
// ("v1.<base64url of nonce | tag | ciphertext>"), so a later key can be added
// while values sealed with the older one still open.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface Sealer {
  /** Encrypts and authenticates `plain`; a fresh nonce every time, so sealing twice gives two different values. */
  seal(plain: string): string;
  /** The plain text of a value `seal` gave; throws when it was altered or sealed with a key this sealer lacks. */
  open(sealed: string): string;
}

const NONCE = 12;
const TAG = 16;

/** 32 bytes for AES-256 from the configured secret; `info` keeps this key apart from any other use of the secret. */
function deriveKey(secret: string, version: number): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('posture-portal'), Buffer.from(`stored-secrets v${version}`), 32));
}

/**
 * A sealer over versioned secrets: `{ 1: key }` today; after a rotation `{ 1: old, 2: new }` seals with the
 * highest version and opens either.
 */
export function createSealer(secrets: Record<number, string>): Sealer {
  const keys = new Map(Object.entries(secrets).map(([v, s]) => [Number(v), deriveKey(s, Number(v))]));
  if (keys.size === 0 || [...keys.keys()].some((v) => !Number.isInteger(v) || v < 1)) throw new Error('createSealer: give at least one key, by version 1, 2, …');
  const current = Math.max(...keys.keys());
  return {
    seal(plain) {
      const nonce = randomBytes(NONCE);
      const cipher = createCipheriv('aes-256-gcm', keys.get(current)!, nonce);
      cipher.setAAD(Buffer.from(`v${current}`));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `v${current}.${Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    open(sealed) {
      const m = /^v(\d+)\.([A-Za-z0-9_-]+)$/.exec(sealed);
      const key = m && keys.get(Number(m[1]));
      if (!m || !key) throw new Error('cannot open a sealed value: unknown format or key version');
      const raw = Buffer.from(m[2], 'base64url');
      if (raw.length < NONCE + TAG) throw new Error('cannot open a sealed value: too short');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE));
      decipher.setAAD(Buffer.from(`v${m[1]}`));
      decipher.setAuthTag(raw.subarray(NONCE, NONCE + TAG));
      return Buffer.concat([decipher.update(raw.subarray(NONCE + TAG)), decipher.final()]).toString('utf8');
    },
  };
}
