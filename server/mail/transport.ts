// Where mail goes. SMTP in production; a local outbox folder (and the
// console) when no SMTP server is configured, so a fresh install works.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type StreamTransport from 'nodemailer/lib/stream-transport/index.js';

export interface MailMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
}

export interface MailTransport {
  send(message: MailMessage): Promise<void>;
  close?(): void;
}

export function smtpTransport(url: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport(url, { from });
  // Keep sockets short-lived: a hung server must not hold the worker forever.
  Object.assign(transporter.options, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
  return {
    async send(m) {
      await transporter.sendMail({ to: m.to, subject: m.subject, html: m.html, text: m.text });
    },
    close: () => transporter.close(),
  };
}

/**
 * Development outbox: each mail becomes a file in `dir`, and its links are
 * printed so a person running the portal locally can follow them.
 */
export function folderTransport(dir: string, from: string, print: (line: string) => void): MailTransport {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const options: StreamTransport.Options = { streamTransport: true, buffer: true, newline: 'unix' };
  const transporter = nodemailer.createTransport(options, { from });
  return {
    async send(m) {
      const info = await transporter.sendMail({ to: m.to, subject: m.subject, html: m.html, text: m.text });
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${info.messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}.eml`);
      writeFileSync(file, (info as unknown as { message: Buffer }).message, { mode: 0o600 });
      const links = [...new Set(m.text.match(/https?:\/\/\S+/g) ?? [])];
      print(`\n  Mail to ${m.to}: ${m.subject}\n${links.map((l) => `    ${l}`).join('\n')}\n    (saved as ${file})\n`);
    },
  };
}
