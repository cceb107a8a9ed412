// Outbound webhooks (Standard Webhooks v1), end to end: a real HTTP receiver
// on 127.0.0.1 records each request, and every delivery is verified with the
// standardwebhooks library and the endpoint's secret. Time moves by the
// ManualClock, so retries are tested without waiting.
//
// The library checks webhook-timestamp against Date.now() (5 minutes either
// way); the app signs with its injected clock (March 2026 here), so `verify`
// runs the check with Date.now() set to the app's clock: the timestamp must
// still be within 5 minutes of the time the app thinks it is.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { CONCERN_KEYS } from '../server/concerns/index.js';
import { WebhookWorker } from '../server/webhooks/worker.js';
import { guard, type TapLike } from './helpers/db.js';
import { TEST_PUBLIC_URL, testApp, type TestApp } from './helpers/app.js';
import { csrfFrom, decodeEntities, form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';

const ALLOW = { WEBHOOK_ALLOW_PRIVATE: 'true' };
const ALL_EVENTS = ['signal.created', 'stakeholder.invited', 'stakeholder.engaged', 'deal.checkpoint_changed', 'deal.stage_changed', 'link.renewal_requested'];

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}
type Answer = { status: number; headers?: Record<string, string> } | 'hang';

/** A real HTTP server on 127.0.0.1 that records every request and answers as told (200 unless told otherwise). */
async function receiver(t: TapLike) {
  const received: Received[] = [];
  let answer: (r: Received) => Answer = () => ({ status: 200 });
  let delayMs = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { path: req.url ?? '', headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') };
      received.push(r);
      const a = answer(r);
      if (a === 'hang') return;
      setTimeout(() => res.writeHead(a.status, a.headers).end('ok'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    answer(f: (r: Received) => Answer) {
      answer = f;
    },
    delay(ms: number) {
      delayMs = ms;
    },
  };
}

/** Verifies a received delivery as a receiver would, with Date.now() at the app's clock; resolves to the payload. */
// The payload's shape is what the assertions check, so it is read loosely here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function verify(secret: string, r: Received, clock: { now(): Date }): { type: string; timestamp: string; data: Record<string, any> } {
  const real = Date.now;
  Date.now = () => clock.now().getTime();
  try {
    return new Webhook(secret).verify(r.body, r.headers) as never;
  } finally {
    Date.now = real;
  }
}

/** Runs the app's webhook worker until a pass finds nothing due. */
async function deliver(ctx: TestApp): Promise<number> {
  let total = 0;
  for (let i = 0; i < 100; i++) {
    const n = await ctx.app.services.webhooks.runOnce();
    if (n === 0) return total;
    total += n;
  }
  throw new Error('the webhook queue does not drain');
}

async function addEndpoint(vendor: TestVendor, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await vendor.api('POST', '/api/v1/webhooks', body);
  if (res.statusCode !== 201) throw new Error(`POST /webhooks answered ${res.statusCode}: ${res.body}`);
  return res.json();
}

const deliveries = async (vendor: TestVendor, id: string, query = '') => (await vendor.api('GET', `/api/v1/webhooks/${id}/deliveries${query}`)).json();

t.test('every event arrives signed, with the documented shape; Slack gets a readable message; a test goes to its endpoint only', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const { app, clock, db } = ctx;
  const rx = await receiver(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank', buyer_domain: 'bank.example', started_on: '2026-02-23' });

  const all = await addEndpoint(vendor, { url: rx.url('/all'), events: ALL_EVENTS, description: 'CRM' });
  t.match(all.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a whsec_ secret of 32 random bytes');
  const stages = await addEndpoint(vendor, { url: rx.url('/stages'), events: ['deal.stage_changed'] });
  const slack = await addEndpoint(vendor, { url: rx.url('/slack'), events: ['signal.created'], kind: 'slack' });

  // The secret rests encrypted: the raw row does not contain it, or its key bytes.
  const { rows } = await sql<{ r: string }>`SELECT row_to_json(e)::text AS r FROM webhook_endpoints e`.execute(db);
  const dump = rows.map((r) => r.r).join('\n');
  t.equal(rows.length, 3);
  for (const s of [all.secret, stages.secret, slack.secret]) {
    t.notOk(dump.includes(s.slice('whsec_'.length, 30)), 'no secret in the endpoints table');
  }
  const stored = await db.selectFrom('webhook_endpoints').select('secret').where('id', '=', all.id).executeTakeFirstOrThrow();
  t.match(stored.secret, /^v1\./, 'sealed with key version 1');
  t.equal(app.services.sealer.open(stored.secret), all.secret, 'and opens to the secret shown once');

  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const deal = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  const residency = deal.concerns.find((c: { concern: string }) => c.concern === 'data_residency');
  const answered = await app.inject({
    method: 'POST',
    url: `${carla.path}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'requirement_gap', comment: 'EU only, please.', ...claimForm(residency.claim, { inference_regions: ['EU_EEA'] }) }),
  });
  t.equal(answered.statusCode, 303);
  const other = CONCERN_KEYS.find((k) => k !== 'data_residency')!;
  await app.inject({ method: 'POST', url: `${carla.path}/answer/${other}`, ...form({ verdict: 'confirm' }) });
  // Reading the deal refreshes its read model: the checkpoint is still open, so no checkpoint event yet.
  await vendor.api('GET', `/api/v1/deals/${dealId}`);
  const moved = await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'negotiation', override_reason: 'CFO signed off on the risk.' });
  t.equal(moved.statusCode, 200);
  await app.inject({ method: 'POST', url: '/r/renew', ...form({ token: carla.path.split('/').pop()!, email: 'carla@bank.example' }) });
  const test = await vendor.api('POST', `/api/v1/webhooks/${stages.id}/test`);
  t.equal(test.statusCode, 202);

  t.ok((await deliver(ctx)) > 0);
  const at = (path: string) => rx.received.filter((r) => r.path === path);
  const events = at('/all').map((r) => verify(all.secret, r, clock));
  const types = events.map((e) => e.type).sort();
  t.same(
    types,
    [
      'deal.checkpoint_changed',
      'deal.stage_changed',
      'link.renewal_requested',
      'signal.created', // correction
      'signal.created', // confirm
      'signal.created', // checkpoint override
      'signal.created', // stage change
      'stakeholder.engaged', // once, on the first answer only
      'stakeholder.invited',
    ],
    'each event once, every one verified with the secret',
  );
  for (const r of at('/all')) {
    t.equal(r.headers['content-type'], 'application/json');
    t.match(r.headers['webhook-id'], /^msg_[A-Za-z0-9_-]+$/);
  }
  t.equal(new Set(at('/all').map((r) => r.headers['webhook-id'])).size, 9, 'each event has its own webhook-id');

  const dealJson = { id: dealId, buyer_name: 'Big Bank', buyer_domain: 'bank.example', stage: 'negotiation' };
  const vendorJson = { id: String, name: 'Acme AI' };
  const person = { id: carla.id, name: 'Carla Ciso', role: 'ciso' };
  const of = (type: string) => events.filter((e) => e.type === type);

  const correction = of('signal.created').find((e) => e.data.signal.verdict === 'correct')!;
  const { signals } = (await vendor.api('GET', `/api/v1/deals/${dealId}/signals`)).json();
  const stored1 = signals.find((s: { verdict: string }) => s.verdict === 'correct');
  t.same(Object.keys(correction).sort(), ['data', 'timestamp', 'type']);
  t.equal(correction.timestamp, clock.now().toISOString());
  t.match(correction.data, { deal: { ...dealJson, stage: String }, vendor: vendorJson });
  t.same(correction.data.signal, {
    id: stored1.id,
    type: 'answer',
    concern: 'data_residency',
    claim_revision: residency.revision ?? correction.data.signal.claim_revision,
    verdict: 'correct',
    kind: 'requirement_gap',
    comment: 'EU only, please.',
    changes: [{ field: 'inference_regions', claimed: ['US'], corrected: ['EU_EEA'] }],
    stakeholder: person,
    target_stakeholder: null,
    week: 2,
    created_at: clock.now().toISOString(),
  });
  t.equal(typeof correction.data.signal.id, 'number', 'the signal id is a number, as in the signals API');

  const [engaged] = of('stakeholder.engaged');
  t.same(engaged.data.stakeholder, person);
  t.equal(engaged.data.signal_id, stored1.id, 'engaged by the correction, the first answer');
  t.match(engaged.data.deal, { id: dealId, buyer_name: 'Big Bank' });

  const [invited] = of('stakeholder.invited');
  t.same(invited.data.stakeholder, { ...person, email: 'carla@bank.example' });
  t.match(invited.data, { deal: { id: dealId, buyer_name: 'Big Bank', stage: 'discovery' }, vendor: vendorJson }, 'the deal as it stood when invited');

  const [stage] = of('deal.stage_changed');
  t.same(stage.data.stage, { from: 'discovery', to: 'negotiation', overridden: true, override_reason: 'CFO signed off on the risk.' });
  t.same(stage.data.deal, dealJson);

  const [checkpoint] = of('deal.checkpoint_changed');
  t.equal(checkpoint.data.checkpoint.state, 'overridden');
  t.equal(checkpoint.data.checkpoint.previous_state, 'open');
  t.same(
    checkpoint.data.checkpoint.gaps.map((g: { concern: string }) => g.concern),
    CONCERN_KEYS.filter((k) => k !== 'data_residency' && k !== other),
    'the concerns still without a security answer',
  );
  t.ok(
    checkpoint.data.checkpoint.gaps.every((g: { title: string }) => g.title.length > 0),
    'each gap titled',
  );

  const [renewal] = of('link.renewal_requested');
  t.same(renewal.data.stakeholder, person);
  t.match(renewal.data.deal, { id: dealId });

  // The stage endpoint got the stage change and the test, nothing else; the test went nowhere else.
  const stageEvents = at('/stages').map((r) => verify(stages.secret, r, clock));
  t.same(stageEvents.map((e) => e.type).sort(), ['deal.stage_changed', 'endpoint.test']);
  t.same(Object.keys(stageEvents.find((e) => e.type === 'endpoint.test')!.data).sort(), ['message', 'webhook_id']);
  t.match(stageEvents.find((e) => e.type === 'endpoint.test')!.data, { webhook_id: stages.id, message: /test/ });
  t.notOk(
    events.some((e) => e.type === 'endpoint.test'),
    'the test went to its endpoint only',
  );
  t.throws(() => verify(all.secret, at('/stages')[0], clock), /No matching signature/, "another endpoint's secret does not verify it");

  // Slack: a message people read, headers still signed; the correction spelled out field by field.
  const slackBodies = at('/slack').map((r) => verify(slack.secret, r, clock) as unknown as { text: string; blocks: unknown[] });
  t.equal(slackBodies.length, 4, 'every signal');
  const corrected = slackBodies.find((b) => b.text.includes('corrected'))!;
  t.match(corrected.text, 'Carla Ciso (CISO) at Big Bank corrected *Data residency*');
  t.match(corrected.text, '• Data residency — Inference regions: claimed United States; corrected to EU/EEA', 'in the catalogue’s words');
  t.match(corrected.text, '> EU only, please.');
  t.match(corrected.blocks, [{ type: 'section', text: { type: 'mrkdwn', text: corrected.text } }]);
  t.notOk(
    slackBodies.some((b) => 'data' in b),
    'no raw payload to Slack',
  );

  // Nothing more: a second pass sends nothing again.
  const before = rx.received.length;
  t.equal(await deliver(ctx), 0);
  t.equal(rx.received.length, before);
});

t.test('a workspace without endpoints queues nothing; a switched-off endpoint gets nothing', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const count = async () =>
    Number(
      (
        await ctx.db
          .selectFrom('webhook_deliveries')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  t.equal(await count(), 0);
  const rx = await receiver(t);
  const ep = await addEndpoint(vendor, { url: rx.url(), events: ['stakeholder.invited'] });
  t.equal((await vendor.api('PATCH', `/api/v1/webhooks/${ep.id}`, { enabled: false })).json().disabled_reason, 'Switched off in the portal');
  await inviteStakeholder(ctx, vendor, dealId, { email: 'sam@bank.example', role: 'security' });
  t.equal(await count(), 0, 'switched off: not queued');
  const on = (await vendor.api('PATCH', `/api/v1/webhooks/${ep.id}`, { enabled: true })).json();
  t.match(on, { enabled: true, disabled_reason: null, description: null });
  await inviteStakeholder(ctx, vendor, dealId, { email: 'pat@bank.example', role: 'privacy' });
  t.equal(await count(), 1);
});

t.test('retries follow the Standard Webhooks schedule with one webhook-id; exhausted is failed, shown, and resent with the same id', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const { clock } = ctx;
  const rx = await receiver(t);
  rx.answer(() => ({ status: 500 }));
  const vendor = await signUpVendor(ctx);
  const ep = await addEndpoint(vendor, { url: rx.url(), events: ['deal.stage_changed'] });
  const queued = (await vendor.api('POST', `/api/v1/webhooks/${ep.id}/test`)).json();

  t.equal(await deliver(ctx), 1, 'first attempt at once');
  const waits = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000, 10 * 3_600_000];
  for (const [i, wait] of waits.entries()) {
    clock.advance(wait - 1);
    t.equal(await deliver(ctx), 0, `attempt ${i + 2} not before ${wait / 1000} s`);
    clock.advance(1);
    t.equal(await deliver(ctx), 1, `attempt ${i + 2} after ${wait / 1000} s`);
  }
  t.equal(rx.received.length, 8, 'eight attempts in all');
  t.equal(new Set(rx.received.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id on every attempt');
  // Each attempt signed afresh, at its own time: verified as a receiver would have when it arrived.
  const times = rx.received.map((r) => Number(r.headers['webhook-timestamp']));
  t.same(
    times,
    [...times].sort((x, y) => x - y),
    'timestamps move with the clock',
  );
  t.equal(new Set(times).size, 8, 'a fresh webhook-timestamp on each attempt');
  for (const r of rx.received) verify(ep.secret, r, { now: () => new Date(Number(r.headers['webhook-timestamp']) * 1000) });
  clock.advance(48 * 3_600_000);
  t.equal(await deliver(ctx), 0, 'nothing after the last');

  const list = await deliveries(vendor, ep.id);
  t.match(list.deliveries, [
    { id: queued.delivery_id, event_type: 'endpoint.test', status: 'failed', attempts: 8, last_status_code: 500, last_error: 'The endpoint answered 500', next_attempt_at: null },
  ]);
  const page = await vendor.page('/app/settings/webhooks');
  t.match(page.body, /<tr class="delivery failed"><td><code>endpoint.test<\/code>/, 'the page shows the failed delivery');
  t.match(page.body, `/app/settings/webhooks/${ep.id}/deliveries/${queued.delivery_id}/resend`, 'with a resend button');

  rx.answer(() => ({ status: 204 }));
  const resent = await vendor.api('POST', `/api/v1/webhooks/${ep.id}/deliveries/${queued.delivery_id}/resend`);
  t.equal(resent.statusCode, 202);
  t.equal(resent.json().webhook_id_header, list.deliveries[0].webhook_id_header, 'the same webhook-id');
  t.equal(await deliver(ctx), 1);
  t.equal(rx.received.at(-1)!.headers['webhook-id'], list.deliveries[0].webhook_id_header, 'sent with the original webhook-id');
  t.same(JSON.parse(rx.received.at(-1)!.body), JSON.parse(rx.received[0].body), 'and the same payload');
  const after = await deliveries(vendor, ep.id);
  t.match(after.deliveries[0], { id: resent.json().id, status: 'sent', attempts: 1, last_status_code: 204 });
  t.match(after.deliveries[1], { id: queued.delivery_id, status: 'failed' }, 'the failed one stays on record');

  // Keyset pages, newest first.
  const first = await deliveries(vendor, ep.id, '?limit=1');
  t.equal(first.deliveries.length, 1);
  t.equal(first.deliveries[0].id, resent.json().id);
  const second = await deliveries(vendor, ep.id, `?limit=1&cursor=${first.next_cursor}`);
  t.equal(second.deliveries[0].id, queued.delivery_id);
  t.equal(second.next_cursor, null);
});

t.test('Retry-After is honoured when longer than the schedule, in seconds or as a date, up to 24 hours', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const { clock } = ctx;
  const rx = await receiver(t);
  const answers: Answer[] = [
    { status: 429, headers: { 'retry-after': '120' } }, // longer than 5 s: 120 s
    { status: 503, headers: { 'retry-after': '1' } }, // shorter than 5 min: the schedule
    { status: 429, headers: { 'retry-after': '' } }, // set below, as a date 3 hours on
    { status: 429, headers: { 'retry-after': String(5 * 86_400) } }, // five days: capped at 24 h
    { status: 200 },
  ];
  rx.answer(() => answers.shift()!);
  const vendor = await signUpVendor(ctx);
  const ep = await addEndpoint(vendor, { url: rx.url(), events: ['deal.stage_changed'] });
  await vendor.api('POST', `/api/v1/webhooks/${ep.id}/test`);

  const due = async (ms: number, label: string) => {
    clock.advance(ms - 1);
    t.equal(await deliver(ctx), 0, `${label}: not yet`);
    clock.advance(1);
    t.equal(await deliver(ctx), 1, `${label}: then`);
  };
  t.equal(await deliver(ctx), 1);
  await due(120_000, 'Retry-After: 120');
  answers[0] = { status: 429, headers: { 'retry-after': new Date(clock.now().getTime() + 5 * 60_000 + 3 * 3_600_000).toUTCString() } };
  await due(5 * 60_000, 'a shorter Retry-After: the schedule’s 5 minutes');
  await due(3 * 3_600_000, 'Retry-After as an HTTP date');
  await due(24 * 3_600_000, 'Retry-After of five days, capped');
  t.match((await deliveries(vendor, ep.id)).deliveries[0], { status: 'sent', attempts: 5, last_status_code: 200 });
});

t.test('410 Gone fails the delivery and switches the endpoint off, with the reason shown', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const rx = await receiver(t);
  rx.answer(() => ({ status: 410 }));
  const vendor = await signUpVendor(ctx);
  const ep = await addEndpoint(vendor, { url: rx.url(), events: ['deal.stage_changed'] });
  await vendor.api('POST', `/api/v1/webhooks/${ep.id}/test`);
  await deliver(ctx);
  ctx.clock.advance(3_600_000);
  t.equal(await deliver(ctx), 0, 'no retry after 410');
  t.equal(rx.received.length, 1);
  t.match((await deliveries(vendor, ep.id)).deliveries[0], { status: 'failed', attempts: 1, last_status_code: 410 });
  const { webhooks } = (await vendor.api('GET', '/api/v1/webhooks')).json();
  t.match(webhooks, [{ id: ep.id, enabled: false, disabled_reason: /410 Gone/ }]);
  const page = await vendor.page('/app/settings/webhooks');
  t.match(page.body, /Switched off<\/span> Switched off on 2026-03-02: the endpoint answered 410 Gone/);
  t.match(page.body, `/app/settings/webhooks/${ep.id}/enable`, 'with a button to switch it on again');
});

t.test('an endpoint that does not answer in time is retried (the timeout is injectable)', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const rx = await receiver(t);
  rx.answer(() => 'hang');
  const vendor = await signUpVendor(ctx);
  const ep = await addEndpoint(vendor, { url: rx.url(), events: ['deal.stage_changed'] });
  await vendor.api('POST', `/api/v1/webhooks/${ep.id}/test`);
  const { db, clock, config } = ctx;
  const worker = new WebhookWorker({ db, clock, config, sealer: ctx.app.services.sealer, log: { info() {}, warn() {}, error() {} }, timeoutMs: 300 });
  const started = Date.now();
  t.equal(await worker.runOnce(), 1);
  t.ok(Date.now() - started < 5_000, 'gave up after the timeout, not 15 s');
  t.equal(rx.received.length, 1, 'the request was made');
  t.match((await deliveries(vendor, ep.id)).deliveries[0], { status: 'pending', attempts: 1, last_status_code: null, last_error: 'No answer within 0.3 s' });
});

t.test('rotation: both signatures for 24 hours, then only the new one', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const { clock } = ctx;
  const rx = await receiver(t);
  const vendor = await signUpVendor(ctx);
  const ep = await addEndpoint(vendor, { url: rx.url(), events: ['deal.stage_changed'] });
  const rotated = await vendor.api('POST', `/api/v1/webhooks/${ep.id}/rotate`);
  t.equal(rotated.statusCode, 200);
  const { secret, previous_secret_expires_at } = rotated.json();
  t.not(secret, ep.secret);
  t.equal(previous_secret_expires_at, new Date(clock.now().getTime() + 86_400_000).toISOString());

  await vendor.api('POST', `/api/v1/webhooks/${ep.id}/test`);
  await deliver(ctx);
  const during = rx.received[0];
  t.equal(during.headers['webhook-signature'].split(' ').length, 2, 'two signatures, space-separated');
  t.ok(during.headers['webhook-signature'].split(' ').every((s) => s.startsWith('v1,')));
  t.equal(verify(secret, during, clock).type, 'endpoint.test', 'verifies with the new secret');
  t.equal(verify(ep.secret, during, clock).type, 'endpoint.test', 'and with the old one');

  clock.advance(86_400_000 + 1000);
  await vendor.api('POST', `/api/v1/webhooks/${ep.id}/test`);
  await deliver(ctx);
  const after = rx.received[1];
  t.equal(after.headers['webhook-signature'].split(' ').length, 1, 'one signature after 24 hours');
  t.equal(verify(secret, after, clock).type, 'endpoint.test', 'the new secret verifies it');
  t.throws(() => verify(ep.secret, after, clock), /No matching signature/, 'the old one no longer does');
});

t.test('two app instances on one database deliver each event exactly once per endpoint', async (t) => {
  const env = { ...ALLOW, ENCRYPTION_KEY: 'k'.repeat(48) };
  const ctx = await testApp(t, { env });
  const rx = await receiver(t);
  rx.delay(15); // answers take a moment, so the two workers' passes overlap
  const vendor = await signUpVendor(ctx);
  const endpoints = [];
  for (let i = 0; i < 3; i++) endpoints.push(await addEndpoint(vendor, { url: rx.url(`/e${i}`), events: ['deal.stage_changed'] }));
  for (const ep of endpoints) for (let n = 0; n < 12; n++) await vendor.api('POST', `/api/v1/webhooks/${ep.id}/test`);

  // A second app server over the same database: its own session secret, the same ENCRYPTION_KEY.
  const config = loadConfig({ NODE_ENV: 'test', PUBLIC_URL: TEST_PUBLIC_URL, LOG_LEVEL: 'silent', ...env });
  const other = await buildApp({
    config,
    db: ctx.db,
    clock: ctx.clock,
    mail: { send: async () => {} },
    sessionSecret: 'another-session-secret-of-forty-characters',
    logger: false,
  });
  t.teardown(() => guard('close app', () => other.close()));
  await other.ready();

  const workers = [ctx.app.services.webhooks, other.services.webhooks];
  const counts = await Promise.all(
    workers.map(async (w) => {
      let n = 0;
      for (let k; (k = await w.runOnce()) > 0;) n += k;
      return n;
    }),
  );
  t.equal(counts[0] + counts[1], 36, 'every delivery attempted once between them');
  t.ok(counts[0] > 0 && counts[1] > 0, `both instances sent some (${counts.join(' and ')})`);
  t.equal(rx.received.length, 36, 'the receiver got 36 requests');
  for (const [i, ep] of endpoints.entries()) {
    const mine = rx.received.filter((r) => r.path === `/e${i}`);
    t.equal(mine.length, 12);
    t.equal(new Set(mine.map((r) => r.headers['webhook-id'])).size, 12, `endpoint ${i}: each message once`);
    for (const r of mine) verify(ep.secret, r, ctx.clock);
  }
});

t.test('the SSRF guard refuses private addresses when saving and when sending', async (t) => {
  const ctx = await testApp(t); // WEBHOOK_ALLOW_PRIVATE unset: off
  const rx = await receiver(t);
  const vendor = await signUpVendor(ctx);
  for (const url of [
    rx.url(),
    `http://localhost:${rx.port}/hook`,
    'http://10.1.2.3/hook',
    'http://172.16.0.1/',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://169.254.169.254/latest/meta-data',
    'http://0.0.0.0/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://224.0.0.1/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'https://user:pass@example.com/',
    'ftp://example.com/',
    'not a url',
  ]) {
    const res = await vendor.api('POST', '/api/v1/webhooks', { url, events: ['deal.stage_changed'] });
    t.equal(res.statusCode, 400, `refused: ${url}`);
    t.match(res.json().error, { code: 'invalid_input', details: [{ field: 'url', message: String }] });
  }
  t.equal((await vendor.api('GET', '/api/v1/webhooks')).json().webhooks.length, 0, 'none saved');

  // Saved anyway (written directly, as if it had resolved to a public address then): sending refuses it.
  const vendorId = (await ctx.db.selectFrom('vendors').select('id').executeTakeFirstOrThrow()).id;
  const id = '00000000-0000-4000-8000-000000000001';
  for (const [n, url] of [rx.url(), `http://localhost:${rx.port}/hook`].entries()) {
    const epId = id.slice(0, -1) + String(n + 1);
    await ctx.db
      .insertInto('webhook_endpoints')
      .values({
        id: epId,
        vendor_id: vendorId,
        url,
        description: null,
        events: ['deal.stage_changed'],
        secret: ctx.app.services.sealer.seal('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'),
        created_at: ctx.clock.now(),
        updated_at: ctx.clock.now(),
      })
      .execute();
    t.equal((await vendor.api('POST', `/api/v1/webhooks/${epId}/test`)).statusCode, 202);
  }
  t.equal(await deliver(ctx), 2);
  t.equal(rx.received.length, 0, 'nothing reached the private receiver');
  const failed = await ctx.db.selectFrom('webhook_deliveries').select(['status', 'last_error', 'last_status_code']).execute();
  t.equal(failed.length, 2);
  for (const d of failed) t.match(d, { status: 'pending', last_status_code: null, last_error: /^Refused: .*(private|loopback)/ }, 'refused, to be retried');
});

t.test('the connect-time lookup refuses what resolves to a private address (DNS rebinding)', async (t) => {
  const { guardedLookup, refusedAddress } = await import('../server/webhooks/ssrf.js');
  const lookup = guardedLookup(false);
  const err = await new Promise<Error | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)));
  t.match(err, { code: 'EREFUSEDADDRESS', message: /private, loopback/ }, 'localhost resolves to loopback: refused at connect time');
  const allowed = await new Promise<unknown>((resolve) => guardedLookup(true)('localhost', { all: true }, (e, a) => resolve(e ?? a)));
  t.ok(Array.isArray(allowed), 'with WEBHOOK_ALLOW_PRIVATE the address is given');
  t.equal(refusedAddress('93.184.216.34', false), undefined, 'a public IPv4 address is fine');
  t.equal(refusedAddress('2606:2800:220:1:248:1893:25c8:1946', false), undefined, 'a public IPv6 address is fine');
  for (const a of [
    '127.0.0.1',
    '10.0.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '100.127.0.1',
    '169.254.1.1',
    '0.1.2.3',
    '239.1.1.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fe80::1',
    'ff02::1',
    '::ffff:10.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a00:1',
    '::ffff:0:7f00:1',
    '::ffff:0:a9fe:a9fe',
    '2002:a00:1::1',
  ]) {
    t.ok(refusedAddress(a, false), `${a} refused`);
  }
  t.equal(refusedAddress('::ffff:5db8:d822', false), undefined, 'a mapped public IPv4 address is fine');
  t.match(refusedAddress('169.254.169.254', true), /metadata/, 'metadata stays refused even when private addresses are allowed');
  t.match(refusedAddress('fd00:ec2::254', true), /metadata/);
  t.match(refusedAddress('64:ff9b::a9fe:a9fe', true), /metadata/, 'so does its NAT64 form');
  t.match(refusedAddress('::ffff:0:a9fe:a9fe', true), /metadata/, 'and its IPv4-translated form');
  t.equal(refusedAddress('10.0.0.1', true), undefined, 'allowed when WEBHOOK_ALLOW_PRIVATE');
});

t.test('one workspace cannot see, change, test or resend another’s webhooks', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const rx = await receiver(t);
  const a = await signUpVendor(ctx, { workspace: 'A Corp', email: 'a@a.test' });
  const b = await signUpVendor(ctx, { workspace: 'B Corp', email: 'b@b.test' });
  const ep = await addEndpoint(a, { url: rx.url(), events: ['deal.stage_changed'] });
  const { delivery_id } = (await a.api('POST', `/api/v1/webhooks/${ep.id}/test`)).json();
  t.equal((await b.api('GET', '/api/v1/webhooks')).json().webhooks.length, 0, 'B lists none');
  for (const [method, url, body] of [
    ['GET', `/api/v1/webhooks/${ep.id}`],
    ['PATCH', `/api/v1/webhooks/${ep.id}`, { enabled: false }],
    ['DELETE', `/api/v1/webhooks/${ep.id}`],
    ['POST', `/api/v1/webhooks/${ep.id}/test`],
    ['POST', `/api/v1/webhooks/${ep.id}/rotate`],
    ['GET', `/api/v1/webhooks/${ep.id}/deliveries`],
    ['POST', `/api/v1/webhooks/${ep.id}/deliveries/${delivery_id}/resend`],
    ['GET', '/api/v1/webhooks/not-a-uuid'],
  ] as const) {
    const res = await b.api(method, url, body);
    t.equal(res.statusCode, 404, `${method} ${url}`);
    t.equal(res.json().error.code, 'not_found');
  }
  for (const action of ['test', 'rotate', 'disable', 'delete']) {
    t.equal((await b.post(`/app/settings/webhooks/${ep.id}/${action}`)).statusCode, 404, `page: ${action}`);
  }
  t.equal((await b.post(`/app/settings/webhooks/${ep.id}/deliveries/${delivery_id}/resend`)).statusCode, 404, 'page: resend');
  // A's endpoint is untouched: still enabled, one delivery, the secret unchanged.
  const mine = (await a.api('GET', `/api/v1/webhooks/${ep.id}`)).json();
  t.match(mine, { id: ep.id, enabled: true, disabled_reason: null });
  t.equal((await deliveries(a, ep.id)).deliveries.length, 1);
  await deliver(ctx);
  verify(ep.secret, rx.received[0], ctx.clock);
  // And A's own delivery id under B's endpoint is not found either.
  const bEp = await addEndpoint(b, { url: rx.url(), events: ['deal.stage_changed'] });
  t.equal((await b.api('POST', `/api/v1/webhooks/${bEp.id}/deliveries/${delivery_id}/resend`)).statusCode, 404);
  t.equal((await a.api('DELETE', `/api/v1/webhooks/${ep.id}`)).statusCode, 204, 'A may delete it');
  t.equal((await a.api('GET', `/api/v1/webhooks/${ep.id}`)).statusCode, 404, 'gone');
});

t.test('bad input is a 400 naming each field; a workspace has at most 20 endpoints', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const rx = await receiver(t);
  const vendor = await signUpVendor(ctx);
  const bad = async (body: unknown, fields: string[]) => {
    const res = await vendor.api('POST', '/api/v1/webhooks', body);
    t.equal(res.statusCode, 400, JSON.stringify(body));
    t.same([...new Set(res.json().error.details.map((d: { field: string }) => d.field))].sort(), fields.sort(), `names ${fields.join(', ')}`);
  };
  await bad({}, ['url', 'events']);
  await bad({ url: rx.url(), events: [] }, ['events']);
  await bad({ url: rx.url(), events: ['deal.stage_changed', 'deal.deleted'] }, ['events.1']);
  await bad({ url: rx.url(), events: 'deal.stage_changed' }, ['events']);
  await bad({ url: rx.url(), events: ['deal.stage_changed'], kind: 'teams' }, ['kind']);
  await bad({ url: rx.url(), events: ['deal.stage_changed'], secret: 'mine' }, ['secret']);
  await bad({ url: rx.url(), events: ['deal.stage_changed'], description: 'x'.repeat(201) }, ['description']);
  // Under 2,000 characters as typed, far over once percent-encoded: still a 400, not a database error.
  await bad({ url: `${rx.url()}/${'é'.repeat(1900)}`, events: ['deal.stage_changed'] }, ['url']);
  const ep = await addEndpoint(vendor, { url: rx.url(), events: ['deal.stage_changed'] });
  // A second endpoint for the same address would get every event twice (a reloaded form, a retried request).
  await bad({ url: rx.url(), events: ['signal.created'] }, ['url']);
  const patch = await vendor.api('PATCH', `/api/v1/webhooks/${ep.id}`, { enabled: 'yes' });
  t.equal(patch.statusCode, 400);
  t.match(patch.json().error.details, [{ field: 'enabled' }]);
  const badUrl = await vendor.api('PATCH', `/api/v1/webhooks/${ep.id}`, { url: 'ftp://x.example/' });
  t.match(badUrl.json().error.details, [{ field: 'url' }]);
  const limit = await vendor.api('GET', `/api/v1/webhooks/${ep.id}/deliveries?limit=0`);
  t.equal(limit.statusCode, 400);
  t.match(limit.json().error.details, [{ field: 'limit' }]);
  const renamed = await vendor.api('PATCH', `/api/v1/webhooks/${ep.id}`, { description: 'CRM', events: ['signal.created', 'deal.stage_changed'] });
  t.match(renamed.json(), { description: 'CRM', events: ['signal.created', 'deal.stage_changed'], url: rx.url() });

  for (let i = 1; i < 20; i++) await addEndpoint(vendor, { url: rx.url(`/${i}`), events: ['deal.stage_changed'] });
  const over = await vendor.api('POST', '/api/v1/webhooks', { url: rx.url('/21'), events: ['deal.stage_changed'] });
  t.equal(over.statusCode, 409);
  t.match(over.json().error, { code: 'too_many_webhooks', message: /at most 20/ });
  t.equal((await vendor.api('GET', '/api/v1/webhooks')).json().webhooks.length, 20);
});

t.test('the settings page: empty state, add form errors keep the input, the secret once, CSRF required', async (t) => {
  const ctx = await testApp(t, { env: ALLOW });
  const rx = await receiver(t);
  const vendor = await signUpVendor(ctx);
  const settings = await vendor.page('/app/settings');
  t.match(settings.body, 'href="/app/settings/webhooks"', 'linked from the settings page');
  const empty = await vendor.page('/app/settings/webhooks');
  t.equal(empty.statusCode, 200);
  t.match(empty.body, 'No webhooks yet.');
  t.match(empty.body, '<label for="in-url">URL</label>');
  t.notMatch(empty.body, 'href="#in-url"', 'no error summary on a fresh form');

  const refused = await vendor.post('/app/settings/webhooks', { url: 'http://169.254.169.254/<b>', description: 'Ops <script>', kind: 'slack', events: ['deal.stage_changed'] });
  t.equal(refused.statusCode, 400);
  t.match(refused.body, /<input id="in-url" name="url" type="url" value="http:\/\/169.254.169.254\/&lt;b&gt;"[^>]*aria-invalid="true"/, 'the URL kept, escaped, marked invalid');
  t.match(refused.body, /<p class="error" id="in-url-error">[^<]*metadata/, 'the reason next to the field');
  t.match(refused.body, 'value="Ops &lt;script&gt;"', 'the description kept, escaped');
  t.match(refused.body, '<option value="slack" selected>', 'the format kept');
  t.match(refused.body, /value="deal.stage_changed" checked/);
  t.notMatch(refused.body, /value="signal.created" checked/, 'only the events chosen stay ticked');

  const noEvents = await vendor.post('/app/settings/webhooks', { url: rx.url() });
  t.equal(noEvents.statusCode, 400);
  t.match(noEvents.body, /<p class="error" id="in-events-error">choose at least one event<\/p>/);

  const csrfLess = await ctx.app.inject({ method: 'POST', url: '/app/settings/webhooks', ...form({ url: rx.url(), events: 'deal.stage_changed' }, vendor.jar.headers()) });
  t.equal(csrfLess.statusCode, 403, 'no CSRF token: refused');
  t.equal((await vendor.api('GET', '/api/v1/webhooks')).json().webhooks.length, 0, 'and nothing saved');

  const added = await vendor.post('/app/settings/webhooks', { url: rx.url(), description: 'CRM', kind: 'standard', events: ['deal.stage_changed', 'signal.created'] });
  t.equal(added.statusCode, 200);
  const secret = decodeEntities(/<code class="secret" aria-labelledby="secret-[^"]+">(whsec_[^<]+)<\/code>/.exec(added.body)?.[1] ?? '');
  t.ok(secret, 'the secret shown once');
  const [ep] = (await vendor.api('GET', '/api/v1/webhooks')).json().webhooks;
  t.match(ep, { url: rx.url(), description: 'CRM', events: ['signal.created', 'deal.stage_changed'], enabled: true });
  const again = await vendor.page('/app/settings/webhooks');
  t.notOk(decodeEntities(again.body).includes(secret), 'and never again');
  t.match(again.body, /<span class="pill confirm">Enabled<\/span>/);

  const tested = await vendor.post(`/app/settings/webhooks/${ep.id}/test`);
  t.equal(tested.statusCode, 303);
  await deliver(ctx);
  t.equal(verify(secret!, rx.received[0], ctx.clock).type, 'endpoint.test', 'the page’s secret verifies the test');
  const listed = await vendor.page(tested.headers.location as string);
  t.match(listed.body, 'A test event is on its way.');
  t.match(listed.body, /<tr class="delivery sent"><td><code>endpoint.test<\/code>/);

  const rotated = await vendor.post(`/app/settings/webhooks/${ep.id}/rotate`);
  const newSecret = decodeEntities(/<code class="secret" aria-labelledby="secret-[^"]+">(whsec_[^<]+)<\/code>/.exec(rotated.body)?.[1] ?? '');
  t.ok(newSecret && newSecret !== secret, 'a new secret shown once');
  t.match(rotated.body, 'deliveries carry signatures by both');

  t.equal((await vendor.post(`/app/settings/webhooks/${ep.id}/disable`)).statusCode, 303);
  t.match((await vendor.page('/app/settings/webhooks')).body, 'Switched off</span> Switched off in the portal');
  t.equal((await vendor.post(`/app/settings/webhooks/${ep.id}/delete`)).statusCode, 303);
  t.match((await vendor.page('/app/settings/webhooks?done=deleted')).body, 'No webhooks yet.');
  t.equal(csrfFrom(empty.body).length > 0, true);
});
