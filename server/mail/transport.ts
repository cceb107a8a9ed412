// Where mail goes. SMTP in production; a local outbox folder (and the
// console) when no SMTP server is configured, so a fresh install works.
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { parseConnectionUrl } from 'nodemailer/lib/shared/index.js';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import type StreamTransport from 'nodemailer/lib/stream-transport/index.js';
import { LINE_UNSAFE, oneLine } from '../lib/text.js';

export interface MailMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
  /**
   * The From display name for this mail ("Dana Lee at Acme via Posture
   * Portal"); the address stays the configured MAIL_FROM's. Unset: MAIL_FROM as it is.
   */
  fromName?: string;
  /** Where a reply goes (a bare address), e.g. the deal owner's. */
  replyTo?: string;
}

/** The longest From display name sent; a longer one is cut. */
export const MAX_FROM_NAME = 300;

/**
 * The address part of MAIL_FROM ("Posture Portal <no-reply@x>" or a bare
 * address): a mail with its own display name still comes from this address.
 */
export function mailFromAddress(from: string): string {
  const first = addressparser(from, { flatten: true })[0];
  return first?.address || from.trim();
}

/** One plain address: no display name, list, comment or white space. */
const PLAIN_ADDRESS = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+$/;

/**
 * What nodemailer is given for a message: its own From display name (one
 * line, controls folded away; nodemailer quotes or encodes it as a header
 * needs) on the configured address, and its Reply-To. A display name cannot
 * carry an address of its own, so angle brackets are dropped from it; a
 * Reply-To that is not one plain address is left out rather than guessed at.
 */
export function envelopeOf(m: MailMessage, fromAddress: string): Mail.Options {
  const name = m.fromName === undefined ? '' : oneLine(m.fromName.replace(/[<>]/g, ' '), MAX_FROM_NAME).replace(/\s{2,}/g, ' ');
  const replyTo = m.replyTo !== undefined && PLAIN_ADDRESS.test(m.replyTo) && !LINE_UNSAFE.test(m.replyTo) ? m.replyTo : '';
  return {
    to: m.to,
    subject: m.subject,
    html: m.html,
    text: m.text,
    ...(name ? { from: { name, address: fromAddress } } : {}),
    ...(replyTo ? { replyTo: { name: '', address: replyTo } } : {}),
  };
}

export interface MailTransport {
  send(message: MailMessage): Promise<void>;
  close?(): void;
  /** How many sends it carries at once; the outbox worker sends up to this many mails at a time (1 when unset). */
  readonly concurrency?: number;
}

export interface SmtpPoolOptions {
  /** Connections kept open to the server, each carrying one mail at a time. */
  maxConnections?: number;
  /** Mails sent over one connection before it is replaced by a fresh one. */
  maxMessages?: number;
}

/** A few connections cover one app instance; each instance has its own pool. */
export const SMTP_POOL: Required<SmtpPoolOptions> = { maxConnections: 4, maxMessages: 100 };

/**
 * SMTP through a pool of reused connections (one TCP and TLS handshake, EHLO
 * and AUTH per connection, not per mail), with Nagle's algorithm off: SMTP is
 * a conversation of small writes, and with Nagle on a write that follows
 * another unacknowledged one waits for the server's delayed ACK (about 40 ms).
 * `concurrency` is the pool's size: the worker keeps every connection busy.
 */
export function smtpTransport(url: string, from: string, pool: SmtpPoolOptions = {}): MailTransport {
  const options: SMTPPool.Options & { maxRequeues: number } = {
    pool: true,
    ...SMTP_POOL,
    ...pool,
    // Sends that fail are retried by the outbox with backoff; the pool retries
    // a mail once on a fresh connection when the one it was given had just closed.
    maxRequeues: 1,
    // Keep sockets short-lived: a hung server must not hold the worker forever,
    // and a pooled connection left idle is closed after socketTimeout. Over
    // plain SMTP, connecting and the greeting share greetingTimeout; over smtps,
    // connectionTimeout covers connecting and the TLS handshake (see connectWithoutDelay).
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
    // Host, port, TLS and credentials, and any option in its query string, as nodemailer reads an SMTP URL.
    ...parseConnectionUrl(url),
    getSocket: connectWithoutDelay,
  };
  const transporter = nodemailer.createTransport(options, { from });
  const fromAddress = mailFromAddress(from);
  let closed = false;
  return {
    concurrency: Math.max(1, Math.floor(Number(options.maxConnections)) || 1),
    async send(m) {
      // A closed pool would take the mail and never answer.
      if (closed) throw Object.assign(new Error('mail transport closed'), { code: 'ECLOSED' });
      await transporter.sendMail(envelopeOf(m, fromAddress));
    },
    /** Closes idle connections now and busy ones once their mail is sent. */
    close() {
      closed = true;
      transporter.close();
    },
  };
}

/**
 * nodemailer's getSocket hook: the TCP connection nodemailer would open (same
 * host and port defaults, keep-alive), with TCP_NODELAY set. It is handed over
 * while still connecting (Node buffers until connected, and TLS can start on it
 * once it is), so nodemailer's own handlers see a refused connection or a
 * silent server: the mail fails with ESOCKET or ETIMEDOUT and the pool drops
 * the connection. (An error passed to the callback would leave a dead slot in
 * the pool.) nodemailer then speaks SMTP over it, smtps and STARTTLS included.
 */
function connectWithoutDelay(options: SMTPPool.Options, callback: (err: Error | null, socketOptions: { connection: Socket }) => void): void {
  const port = Number(options.port) || (options.secure ? 465 : 587);
  const connection = connect({ host: options.host || 'localhost', port, localAddress: options.localAddress, noDelay: true, keepAlive: true });
  // Synchronously: nodemailer attaches its error handler before any connection error can be emitted.
  callback(null, { connection });
}

/**
 * Development outbox: each mail becomes a file in `dir`, and its links are
 * printed so a person running the portal locally can follow them.
 */
export function folderTransport(dir: string, from: string, print: (line: string) => void): MailTransport {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const options: StreamTransport.Options = { streamTransport: true, buffer: true, newline: 'unix' };
  const transporter = nodemailer.createTransport(options, { from });
  const fromAddress = mailFromAddress(from);
  return {
    async send(m) {
      const info = await transporter.sendMail(envelopeOf(m, fromAddress));
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${info.messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}.eml`);
      writeFileSync(file, (info as unknown as { message: Buffer }).message, { mode: 0o600 });
      const links = [...new Set(m.text.match(/https?:\/\/\S+/g) ?? [])];
      print(`\n  Mail to ${m.to}: ${m.subject}\n${links.map((l) => `    ${l}`).join('\n')}\n    (saved as ${file})\n`);
    },
  };
}
