// Failed credential lookups (unknown links, bad API keys) per client address.
// Checked BEFORE each lookup and counted after a miss: past the cap, even a
// correct guess is not looked up or served, so the cap really bounds guessing.
// In memory, per process, by the injected clock, bounded in size.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from './clock.js';
import { DomainError } from './errors.js';

const MAX_KEYS = 10_000;

export class FailureLimit {
  private readonly windows = new Map<string, { failures: number; startMs: number }>();

  constructor(
    private readonly clock: Clock,
    /** Failures allowed per address per window. */
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** Throws 429 (with Retry-After) when this address has used up its failures; call before the lookup. */
  check(kind: string, req: FastifyRequest, reply: FastifyReply): void {
    const w = this.live(`${kind}:${req.ip}`);
    if (w && w.failures >= this.max) {
      const seconds = Math.max(1, Math.ceil((w.startMs + this.windowMs - this.clock.now().getTime()) / 1000));
      reply.header('retry-after', String(seconds));
      throw new DomainError('rate_limited', `Too many failed attempts from your address. Please wait ${seconds} seconds and try again.`);
    }
  }

  /** Counts one failed lookup for this address. */
  fail(kind: string, req: FastifyRequest): void {
    const key = `${kind}:${req.ip}`;
    let w = this.live(key);
    if (!w) {
      if (this.windows.size >= MAX_KEYS) this.sweep();
      w = { failures: 0, startMs: this.clock.now().getTime() };
      this.windows.set(key, w);
    }
    w.failures += 1;
  }

  private live(key: string) {
    const w = this.windows.get(key);
    return w && w.startMs + this.windowMs > this.clock.now().getTime() ? w : undefined;
  }

  private sweep(): void {
    const now = this.clock.now().getTime();
    for (const [key, w] of this.windows) if (w.startMs + this.windowMs <= now) this.windows.delete(key);
    // Still full of live keys (a flood from many addresses): start over rather than grow.
    if (this.windows.size >= MAX_KEYS) this.windows.clear();
  }
}
