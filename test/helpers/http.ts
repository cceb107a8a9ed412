// Small helpers for driving the app through app.inject().
import type { LightMyRequestResponse } from 'fastify';

export interface CookieJar {
  /** Stores the cookies a response sets (and forgets those it expires); returns the response. */
  collect<R extends Pick<LightMyRequestResponse, 'headers'>>(res: R): R;
  /** The `cookie` request header value ('' when empty). */
  header(): string;
  /** `{ cookie }` to spread into inject headers; {} when the jar is empty. */
  headers(): { cookie?: string };
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  delete(name: string): void;
  clear(): void;
}

export function cookieJar(): CookieJar {
  const cookies = new Map<string, string>();
  const jar: CookieJar = {
    collect(res) {
      const raw = res.headers['set-cookie'];
      const lines = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
      for (const line of lines) {
        const [pair, ...attrs] = line.split(';');
        const eq = pair.indexOf('=');
        if (eq < 1) continue;
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        const expired = attrs.some((a) => {
          const [k, v = ''] = a.split('=').map((s) => s.trim());
          const key = k.toLowerCase();
          return (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v) <= Date.now());
        });
        if (expired || value === '') cookies.delete(name);
        else cookies.set(name, value);
      }
      return res;
    },
    header: () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    headers: () => (cookies.size ? { cookie: jar.header() } : {}),
    get: (name) => cookies.get(name),
    set: (name, value) => void cookies.set(name, value),
    delete: (name) => void cookies.delete(name),
    clear: () => cookies.clear(),
  };
  return jar;
}

/** The value of the `_csrf` hidden input in a page; throws when there is none. */
export function csrfFrom(html: string): string {
  const m = /<input\b[^>]*\bname="_csrf"[^>]*\bvalue="([^"]*)"/i.exec(html) ?? /<input\b[^>]*\bvalue="([^"]*)"[^>]*\bname="_csrf"/i.exec(html);
  if (!m) throw new Error('no _csrf field in the page');
  return decodeEntities(m[1]);
}

export type FormValue = string | number | boolean | null | undefined | ReadonlyArray<string | number | boolean>;

/**
 * A url-encoded body and its content type, for
 * `app.inject({ method: 'POST', url, ...form({ a: 1, tags: ['x', 'y'] }) })`.
 * Arrays become repeated keys; null/undefined are left out. Extra headers
 * (e.g. `jar.headers()`) go in the second argument.
 */
export function form(
  values: Record<string, FormValue>,
  headers: Record<string, string> = {},
): {
  payload: string;
  headers: Record<string, string> & { 'content-type': 'application/x-www-form-urlencoded' };
} {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
    else params.append(key, String(value));
  }
  return { payload: params.toString(), headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } };
}

/** HTML text with character references decoded: what a person reading the page sees. */
export function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
