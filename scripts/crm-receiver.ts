// A webhook receiver that shows what a CRM integration would write for each
// Posture Portal event (docs/crm.md). It verifies each delivery (Standard
// Webhooks), answers at once, and prints the Salesforce and HubSpot records as
// JSON lines on stdout; everything else goes to stderr.
//
//   CRM_RECEIVER_SECRET=whsec_... npm run -s crm-receiver -- --port 4000 [--host 127.0.0.1]
//   (or --secret whsec_...)
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createReceiver, secretProblem } from './crm/receiver.js';

const USAGE =
  'Usage: npm run -s crm-receiver -- --port <0-65535> [--secret <whsec_...>] [--host <address, default 127.0.0.1>]\n' +
  "       the secret may come from CRM_RECEIVER_SECRET instead, which keeps it off the command line (ps) and out of npm's banner";
/** Deliveries are small; anything larger is not one. */
const MAX_BODY_BYTES = 1024 * 1024;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function readArgs() {
  let values;
  try {
    ({ values } = parseArgs({ options: { port: { type: 'string' }, secret: { type: 'string' }, host: { type: 'string' } }, strict: true, allowPositionals: false }));
  } catch (error) {
    fail((error as Error).message);
  }
  const { port, host = '127.0.0.1' } = values;
  const secret = values.secret ?? process.env.CRM_RECEIVER_SECRET;
  if (port === undefined || !/^\d{1,5}$/.test(port) || Number(port) > 65535) fail('--port: must be a whole number from 0 to 65535 (0 picks a free port)');
  if (secret === undefined) fail('--secret: required (or CRM_RECEIVER_SECRET), the endpoint signing secret (whsec_...)');
  const problem = secretProblem(secret);
  if (problem) fail(`--secret: ${problem}`);
  if (host.trim() === '') fail('--host: must not be empty');
  return { port: Number(port), secret, host };
}

const args = readArgs();
const receive = createReceiver(args.secret);

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  });
  req.on('end', () => {
    if (tooLarge) {
      res.writeHead(413).end();
      return;
    }
    const outcome = receive(Buffer.concat(chunks).toString('utf8'), req.headers);
    // Answer first, then write: a slow CRM must never make the sender time out and retry.
    res.writeHead(outcome.status).end();
    if (outcome.note) process.stderr.write(`crm-receiver: ${outcome.note}\n`);
    for (const record of outcome.records) process.stdout.write(`${JSON.stringify(record)}\n`);
  });
});

server.on('error', (error) => {
  process.stderr.write(`crm-receiver: ${error.message}\n`);
  process.exit(1);
});

server.listen(args.port, args.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : args.port;
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  process.stderr.write(`crm-receiver listening on http://${host}:${port}/\n`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
