// Idempotency-Key on API POSTs: a retry with the same key and body returns the
// first answer and creates nothing; another body with that key is a 422; keys
// are per API key and kept 24 hours.
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { testApp, type TestApp } from './helpers/app.js';
import { openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';

function post(ctx: TestApp, key: string, url: string, body: unknown, idempotencyKey?: string): Promise<LightMyRequestResponse> {
  return ctx.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    payload: JSON.stringify(body),
  });
}

const countDeals = async (vendor: TestVendor) => (await vendor.api('GET', '/api/v1/deals')).json().deals.length as number;

t.test('a retried POST with the same key and body gets the first answer and creates nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  await openDeal(vendor, { buyer_name: 'First Bank' });
  t.equal(await countDeals(vendor), 1);

  const body = { buyer_name: 'Retry Bank', industry: 'insurance' };
  const first = await post(ctx, vendor.apiKey, '/api/v1/deals', body, 'deal-2026-03-02-a');
  t.equal(first.statusCode, 201);
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is not a replay');
  ctx.clock.advance(60_000);
  // The same body with its keys in another order is the same request.
  const again = await post(ctx, vendor.apiKey, '/api/v1/deals', { industry: 'insurance', buyer_name: 'Retry Bank' }, 'deal-2026-03-02-a');
  t.equal(again.statusCode, 201, 'the retry answers as the first did');
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.body, first.body, 'with the first answer, byte for byte');
  t.match(again.headers['content-type'], /^application\/json/);
  t.equal(await countDeals(vendor), 2, 'one deal was created, not two');
  // A kept answer may carry a secret shown once (a webhook's): it rests sealed.
  const kept = await ctx.db.selectFrom('idempotency_keys').select('response_body').where('key', '=', 'deal-2026-03-02-a').executeTakeFirstOrThrow();
  t.ok(kept.response_body?.startsWith('v1.'), 'the kept answer is sealed');
  t.notOk(kept.response_body?.includes('Retry Bank'), 'and does not hold the answer in plain');

  const other = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: 'Other Bank' }, 'deal-2026-03-02-a');
  t.equal(other.statusCode, 422, 'another body with the same key is refused');
  t.equal(other.json().error.code, 'idempotency_key_reused');
  t.equal(await countDeals(vendor), 2, 'and creates nothing');

  const elsewhere = await post(ctx, vendor.apiKey, `/api/v1/deals/${first.json().id}/stage`, body, 'deal-2026-03-02-a');
  t.equal(elsewhere.statusCode, 422, 'the same key on another route is another request');

  const noKey1 = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: 'Keyless' });
  const noKey2 = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: 'Keyless' });
  t.not(noKey1.json().id, noKey2.json().id, 'without a key, two POSTs are two deals');
  t.equal(await countDeals(vendor), 4);
});

t.test('a client error is kept too; a bad key is a 400; keys are per API key and last a day', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  await openDeal(vendor, { buyer_name: 'First Bank' });

  const bad = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: '' }, 'bad-1');
  t.equal(bad.statusCode, 400);
  const badAgain = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: '' }, 'bad-1');
  t.equal(badAgain.statusCode, 400, 'the retry of a bad request gets the same 400');
  t.equal(badAgain.headers['idempotent-replayed'], 'true');

  for (const header of ['', 'has space', 'x'.repeat(256), 'naïve']) {
    const res = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: 'Header Bank' }, header || undefined);
    if (!header) continue;
    t.equal(res.statusCode, 400, `Idempotency-Key ${JSON.stringify(header.slice(0, 12))} is refused`);
    t.equal(res.json().error.details[0].field, 'Idempotency-Key');
  }
  const before = await countDeals(vendor);

  // A second key of the same workspace has its own keys.
  const created = await vendor.post('/app/settings/api-keys', { name: 'second' });
  const second = /<code class="secret">([^<]+)<\/code>/.exec(created.body)![1];
  const a = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: 'Shared Key Bank' }, 'shared');
  const b = await post(ctx, second, '/api/v1/deals', { buyer_name: 'Shared Key Bank' }, 'shared');
  t.equal(b.statusCode, 201);
  t.not(b.json().id, a.json().id, 'the same key under another API key is another request');
  t.equal(await countDeals(vendor), before + 2);

  ctx.clock.advance(23 * 3_600_000);
  t.equal((await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: 'Shared Key Bank' }, 'shared')).json().id, a.json().id, 'kept for 23 hours');
  ctx.clock.advance(2 * 3_600_000);
  const later = await post(ctx, vendor.apiKey, '/api/v1/deals', { buyer_name: 'Shared Key Bank' }, 'shared');
  t.equal(later.statusCode, 201);
  t.not(later.json().id, a.json().id, 'after 24 hours the key is new again');

  await ctx.app.services.worker.runOnce();
  const left = await ctx.db.selectFrom('idempotency_keys').select('key').execute();
  t.notOk(
    left.some((r) => r.key === 'bad-1'),
    'the worker forgets keys older than a day',
  );
  t.ok(
    left.some((r) => r.key === 'shared'),
    'and keeps the fresh ones',
  );
});

t.test('concurrent retries: one runs, the other is told to wait; nothing is created twice', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const body = { name: 'Cam Ciso', email: 'cam@bank.example', role: 'ciso' };
  const url = `/api/v1/deals/${dealId}/stakeholders`;
  const answers = await Promise.all([post(ctx, vendor.apiKey, url, body, 'inv-1'), post(ctx, vendor.apiKey, url, body, 'inv-1'), post(ctx, vendor.apiKey, url, body, 'inv-1')]);
  const codes = answers.map((r) => r.statusCode).sort();
  t.ok(codes.includes(201), `one created (${codes.join(', ')})`);
  t.ok(
    codes.every((c) => c === 201 || c === 409),
    'the others replay it or are asked to retry',
  );
  for (const r of answers.filter((x) => x.statusCode === 409)) t.equal(r.json().error.code, 'idempotency_in_progress');
  const retry = await post(ctx, vendor.apiKey, url, body, 'inv-1');
  t.equal(retry.statusCode, 201);
  t.equal(retry.json().id, answers.find((r) => r.statusCode === 201)!.json().id, 'a retry afterwards gets the person created');
  const deal = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(deal.stakeholders.filter((s: { email: string }) => s.email === 'cam@bank.example').length, 1, 'one stakeholder, not two');
  await ctx.drainMail();
  t.equal(ctx.smtp.messages.filter((m) => m.to === 'cam@bank.example').length, 1, 'one invitation was sent');
});
