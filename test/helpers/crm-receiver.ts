// The CRM recipe's receiver (scripts/crm-receiver.ts) as a child process, the way
// an integrator runs it, and deliveries signed the Standard Webhooks way.
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { Webhook } from 'standardwebhooks';

/** A Standard Webhooks signing secret for tests: whsec_ and the base64 of 32 bytes. */
export const testSecret = (fill = 7): string => `whsec_${Buffer.alloc(32, fill).toString('base64')}`;

export interface RunningReceiver {
  port: number;
  /** The JSON lines printed on stdout so far, parsed, in order. */
  lines(): unknown[];
  /** Resolves with lines() once at least `count` lines are printed; rejects after `ms` with what was printed. */
  waitForLines(count: number, ms?: number): Promise<unknown[]>;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Resolves with stderr once it matches `pattern` (stderr is a pipe of its own: a line may arrive after the HTTP answer). */
  waitForStderr(pattern: RegExp, ms?: number): Promise<string>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `scripts/crm-receiver.ts --port 0 --secret <secret>` and waits for its "listening on" line. Stopped at teardown. */
export async function startReceiver(t: Test, secret: string, opts: { secretFromEnv?: boolean } = {}): Promise<RunningReceiver> {
  // node --import tsx rather than npx: the signal then reaches the script itself, not a wrapper.
  const args = ['--import', 'tsx', 'scripts/crm-receiver.ts', '--port', '0', ...(opts.secretFromEnv ? [] : ['--secret', secret])];
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, ...(opts.secretFromEnv ? { CRM_RECEIVER_SECRET: secret } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exited: number | null | undefined;
  const exit = once(child, 'exit').then(([code]) => (exited = code as number | null));
  const changed = new Set<() => void>();
  const notify = () => changed.forEach((f) => f());
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => ((out += chunk), notify()));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => ((err += chunk), notify()));
  void exit.then(notify);

  const until = <T>(test: () => T | undefined, ms: number, what: () => string): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const value = test();
        if (value !== undefined) return done(() => resolve(value));
        if (exited !== undefined) done(() => reject(new Error(`the receiver exited (${exited}) before ${what()}\nstderr: ${err}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${what()}\nstdout: ${out}\nstderr: ${err}`))), ms);
      const done = (f: () => void) => (clearTimeout(timer), changed.delete(check), f());
      changed.add(check);
      check();
    });

  const lines = () =>
    out
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as unknown);
  const stop = async () => {
    if (exited === undefined) child.kill('SIGTERM');
    return exit;
  };
  t.teardown(stop);

  const port = await until(
    () => {
      const match = /^crm-receiver listening on http:\/\/127\.0\.0\.1:(\d+)\/$/m.exec(err);
      return match ? Number(match[1]) : undefined;
    },
    30_000,
    () => 'the "listening on" line',
  );
  return {
    port,
    lines,
    stderr: () => err,
    waitForStderr: (pattern, ms = 10_000) =>
      until(
        () => (pattern.test(err) ? err : undefined),
        ms,
        () => `stderr to match ${pattern}`,
      ),
    stop,
    waitForLines: (count, ms = 10_000) =>
      until(
        () => (out.endsWith('\n') && lines().length >= count ? lines() : undefined),
        ms,
        () => `${count} lines`,
      ),
  };
}

export interface Delivery {
  /** The webhook-id; a retry sends the same one. */
  id: string;
  /** The exact bytes sent (JSON.stringify of the event unless given). */
  body: string;
  /** Signature time (webhook-timestamp); now unless given. */
  date?: Date;
  /** Replaces the computed webhook-signature header. */
  signature?: string;
  method?: string;
}

/** POSTs a delivery signed with `secret` to the receiver; resolves with the status code and the response body. */
export function deliver(port: number, secret: string, d: Delivery): Promise<{ status: number; body: string }> {
  const date = d.date ?? new Date();
  const headers = {
    'content-type': 'application/json',
    'webhook-id': d.id,
    'webhook-timestamp': String(Math.floor(date.getTime() / 1000)),
    'webhook-signature': d.signature ?? new Webhook(secret).sign(d.id, date, d.body),
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/hooks/posture-portal', method: d.method ?? 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(d.body);
  });
}
