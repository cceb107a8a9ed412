// Settings come from the environment, are parsed once with zod and frozen.
// A missing or malformed value names the variable and the process exits non-zero.
import { z } from 'zod';

const postgresUrl = z
  .string()
  .url()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must start with postgres:// or postgresql://');

const smtpUrl = z
  .string()
  .url()
  .refine((v) => /^smtps?:\/\//.test(v), 'must start with smtp:// or smtps://');

const redisUrl = z
  .string()
  .url()
  .refine((v) => /^rediss?:\/\//.test(v), 'must start with redis:// or rediss://');

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** The address people open; used in every link we mail. */
  PUBLIC_URL: z.string().url().optional(),
  /** PostgreSQL; without it the portal runs on embedded PGlite in DATA_DIR. */
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  /** Redis, shared by every app server for rate-limit counters; without it each process counts on its own. */
  REDIS_URL: redisUrl.optional(),
  /** SMTP; without it mail is written to DATA_DIR/outbox and its links printed. */
  SMTP_URL: smtpUrl.optional(),
  MAIL_FROM: z.string().min(3).default('Posture Portal <no-reply@posture-portal.local>'),
  /**
   * Signs session cookies. Required in production. Without it (local use only)
   * a random secret is kept in the database, and a copy of the database could
   * then forge sessions: the server warns loudly at start.
   */
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** After rotating SESSION_SECRET: the old value, still accepted (never used to sign) until SESSION_SECRET_PREVIOUS_UNTIL. */
  SESSION_SECRET_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),
  /** When the previous secret stops being accepted: an ISO 8601 time such as 2026-12-05T12:00:00Z. Sessions last 12 hours. */
  SESSION_SECRET_PREVIOUS_UNTIL: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with a zone, such as 2026-12-05T12:00:00Z' }).optional(),
  /**
   * Encrypts secrets kept in the database (webhook signing secrets; later SSO client secrets): AES-256-GCM
   * with a key derived from this (HKDF-SHA-256), at least 32 random characters. Required in production.
   * Without it (local use only) the key is derived from the session secret, so rotating SESSION_SECRET
   * then makes the stored secrets unreadable: set ENCRYPTION_KEY anywhere that matters, and keep it.
   */
  ENCRYPTION_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /**
   * Outbound webhooks may reach private, loopback and link-local addresses (and plain http in production).
   * Off by default: a workspace must not be able to make the portal call into its own network. Cloud metadata
   * addresses stay refused either way.
   */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .transform((v) => v === 'true')
    .default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Behind a reverse proxy: how many hops to trust (e.g. 1), or a comma-separated
   * list of proxy addresses/CIDRs. Never "trust every hop": the client could then
   * choose its own address and slip past per-address rate limits.
   */
  TRUST_PROXY: z
    .string()
    .trim()
    .refine(
      (v) => v === 'false' || /^[1-9]$/.test(v) || /^[0-9a-fA-F.:/]+(,\s*[0-9a-fA-F.:/]+)*$/.test(v),
      'must be false, a hop count from 1 to 9, or a comma-separated list of proxy addresses',
    )
    .transform((v): false | number | string[] => (v === 'false' ? false : /^\d$/.test(v) ? Number(v) : v.split(',').map((s) => s.trim())))
    .default(false),
  /** How long a respondent's personal link stays valid. */
  LINK_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(45),
  /** A deal's owner gets at most one digest of new corrections per this many minutes. */
  DIGEST_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  /** Requests per minute one API key may make. */
  API_RATE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(600),
  /** Shed load with 503 when the event loop lags more than this (ms) ... */
  MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  /** ... or the heap grows past this (MiB), instead of slowing down for everyone. */
  MAX_HEAP_MB: z.coerce.number().int().min(64).max(65_536).default(1_536),
  /** A request not answered within this (ms) gets 503 instead of waiting on a stalled database. */
  REQUEST_DEADLINE_MS: z.coerce.number().int().min(100).max(600_000).default(20_000),
  /** PostgreSQL cancels a statement running longer than this (ms); the client gives up 5 s later. */
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
});

export type Config = Readonly<Omit<z.output<typeof schema>, 'PUBLIC_URL'> & { PUBLIC_URL: string; secureCookies: boolean }>;

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Treat empty strings as unset, as shells and compose files often export them.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = result.data;
  if (c.NODE_ENV === 'production' && !c.SMTP_URL) {
    // Without SMTP, mailed links are printed to the log: fine on a laptop, a leak in production.
    throw new ConfigError('Invalid configuration:\n  SMTP_URL: is required when NODE_ENV is production');
  }
  if (c.NODE_ENV === 'production' && !c.SESSION_SECRET) {
    // The fallback keeps the key in the database, where a copy of the database could forge any session.
    throw new ConfigError('Invalid configuration:\n  SESSION_SECRET: is required when NODE_ENV is production (32 or more random characters)');
  }
  if (c.NODE_ENV === 'production' && !c.ENCRYPTION_KEY) {
    // The fallback derives it from the session secret, which may be the one kept in the database.
    throw new ConfigError('Invalid configuration:\n  ENCRYPTION_KEY: is required when NODE_ENV is production (32 or more random characters)');
  }
  if (Boolean(c.SESSION_SECRET_PREVIOUS) !== Boolean(c.SESSION_SECRET_PREVIOUS_UNTIL)) {
    throw new ConfigError('Invalid configuration:\n  SESSION_SECRET_PREVIOUS_UNTIL: set it together with SESSION_SECRET_PREVIOUS, to say until when the old secret is accepted');
  }
  if (c.SESSION_SECRET_PREVIOUS && !c.SESSION_SECRET) {
    throw new ConfigError('Invalid configuration:\n  SESSION_SECRET: is required when SESSION_SECRET_PREVIOUS is set');
  }
  const publicUrl = (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, '');
  return Object.freeze({ ...c, PUBLIC_URL: publicUrl, secureCookies: publicUrl.startsWith('https://') });
}
