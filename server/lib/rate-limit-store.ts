// A store for @fastify/rate-limit that reads time from the injected clock, so
// every limit's window moves with the clock tests set. In memory, per
// process, bounded in size (the plugin's own local store does the same, but
// with Date.now()).
import type { Clock } from './clock.js';

interface Window {
  current: number;
  startMs: number;
}
type Callback = (err: Error | null, res: { current: number; ttl: number }) => void;

const MAX_KEYS = 10_000;

/** The store class to give the plugin as `store`; each route's limit gets its own child. */
export function clockStore(clock: Clock) {
  return class ClockStore {
    private readonly windows = new Map<string, Window>();

    incr(key: string, cb: Callback, timeWindow: number): void {
      const now = clock.now().getTime();
      let w = this.windows.get(key);
      if (!w || w.startMs + timeWindow <= now) {
        if (!w && this.windows.size >= MAX_KEYS) this.sweep(now, timeWindow);
        w = { current: 0, startMs: now };
        this.windows.set(key, w);
      }
      w.current += 1;
      cb(null, { current: w.current, ttl: w.startMs + timeWindow - now });
    }

    read(key: string, cb: Callback, timeWindow: number): void {
      const now = clock.now().getTime();
      const w = this.windows.get(key);
      if (!w || w.startMs + timeWindow <= now) cb(null, { current: 0, ttl: 0 });
      else cb(null, { current: w.current, ttl: w.startMs + timeWindow - now });
    }

    child(): ClockStore {
      return new ClockStore();
    }

    private sweep(now: number, timeWindow: number): void {
      for (const [key, w] of this.windows) if (w.startMs + timeWindow <= now) this.windows.delete(key);
      // Still full of live keys (a flood from many addresses): start over rather than grow.
      if (this.windows.size >= MAX_KEYS) this.windows.clear();
    }
  };
}
