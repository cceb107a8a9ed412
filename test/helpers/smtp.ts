// An in-process SMTP server that keeps every message it receives, parsed.
import type { AddressInfo } from 'node:net';
import { simpleParser, type HeaderValue } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { guard, type TapLike } from './db.js';

export interface ReceivedMail {
  /** Envelope recipients (RCPT TO), bare addresses joined with ", ". */
  to: string;
  /** Envelope sender (MAIL FROM), a bare address. */
  from: string;
  subject: string;
  text: string;
  /** '' when the message had no HTML part. */
  html: string;
  /** Parsed headers, keys lower-cased (e.g. headers.get('from')). */
  headers: Map<string, HeaderValue>;
  /** The raw To: header as text (may include display names). */
  toHeader: string;
}

export interface SmtpSink {
  /** smtp://127.0.0.1:PORT — stays the same across stop()/start(). */
  url: string;
  port: number;
  /** Every message received so far, in arrival order. */
  messages: ReceivedMail[];
  /**
   * Resolves with the first message (already received or arriving later)
   * matching predicate; rejects after timeoutMs, naming what did arrive.
   */
  waitFor(predicate?: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Forgets the messages received so far. */
  clear(): void;
  /** Stops listening (connections are refused) — for outage tests. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** http(s) URLs in a text body, in order, without duplicates or trailing punctuation. */
export function linksIn(text: string): string[] {
  const found = text.match(/https?:\/\/[^\s<>"'`]+/g) ?? [];
  return [...new Set(found.map((u) => u.replace(/[.,;:!?)\]}>]+$/, '')))];
}

export async function smtpSink(t: TapLike): Promise<SmtpSink> {
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let server: SMTPServer | undefined;
  let port = 0;

  const listen = async () => {
    if (server) return;
    const s = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // stop() should not wait 30 s for a client that keeps its connection.
      closeTimeout: 100,
      onData(stream, session, callback) {
        simpleParser(stream).then(
          (parsed) => {
            const to = parsed.to ? (Array.isArray(parsed.to) ? parsed.to : [parsed.to]) : [];
            messages.push({
              to: session.envelope.rcptTo.map((a) => a.address).join(', '),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : '',
              headers: parsed.headers,
              toHeader: to.map((a) => a.text).join(', '),
            });
            // Accept only once the message is stored, so when the sender's
            // sendMail resolves the message is already in `messages`.
            callback();
            for (const wake of [...waiters]) wake();
          },
          (err: Error) => callback(err),
        );
      },
    });
    s.on('error', () => {}); // a client's broken connection is not the test's failure
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.server.off('error', reject);
        resolve();
      });
    });
    port = (s.server.address() as AddressInfo).port;
    server = s;
  };

  const stop = async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  t.teardown(() => guard('stop SMTP sink', stop));

  const sink: SmtpSink = {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    waitFor(predicate = () => true, timeoutMs = 5_000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<ReceivedMail>((resolve, reject) => {
        const wake = () => {
          const m = messages.find(predicate);
          if (!m) return;
          done();
          resolve(m);
        };
        const timer = setTimeout(() => {
          done();
          const seen = messages.map((m) => `${m.to}: ${m.subject}`).join('; ') || 'none';
          reject(new Error(`no matching mail within ${timeoutMs} ms (received: ${seen})`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        waiters.add(wake);
      });
    },
    clear() {
      messages.length = 0;
    },
    stop,
    start: listen,
  };
  return sink;
}
