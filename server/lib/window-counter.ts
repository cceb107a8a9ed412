// Counts events per key in fixed one-window buckets, in memory and bounded in
// size. For limits the rate-limit plugin cannot stack (it runs one limiter per
// request), such as failed token lookups per address.
export class WindowCounter {
  private readonly counts = new Map<string, { n: number; resetAt: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Records one event for `key` and returns how many it has had in the current window. */
  hit(key: string, now = Date.now()): number {
    let entry = this.counts.get(key);
    if (!entry || entry.resetAt <= now) {
      if (this.counts.size >= this.maxKeys) this.sweep(now);
      entry = { n: 0, resetAt: now + this.windowMs };
      this.counts.set(key, entry);
    }
    entry.n += 1;
    return entry.n;
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.counts) if (entry.resetAt <= now) this.counts.delete(key);
    // Still full of live keys (a flood from many addresses): start over rather than grow.
    if (this.counts.size >= this.maxKeys) this.counts.clear();
  }
}
