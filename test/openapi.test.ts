// The API's contract: /api/v1/openapi.json is a valid OpenAPI 3.1 document
// (checked by an OpenAPI validator library), it covers every /api/v1 route,
// and responses go out through their schemas. Every test's API responses are
// also checked against this document (test/helpers/contract.ts); here the
// checker itself is shown to catch what it must.
import t from 'tap';
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Validator } from '@seriousme/openapi-schema-validator';
import { testApp } from './helpers/app.js';
import { signUpVendor, openDeal } from './helpers/vendor.js';
import { ContractChecker, contractProblems, contractStats, openapiPath } from './helpers/contract.js';
import { apiSerializerCompiler, apiValidatorCompiler } from '../server/lib/api-schema.js';
import { handleError } from '../server/lib/error-handler.js';

type Operation = { summary?: string; tags?: string[]; security?: unknown[]; parameters?: { name: string; in: string }[]; responses: Record<string, unknown> };
type Doc = { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };

t.test('the document is public, valid OpenAPI 3.1, and covers every API route', async (t) => {
  const ctx = await testApp(t);
  const res = await ctx.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
  t.equal(res.statusCode, 200, 'served without a key');
  t.match(res.headers['content-type'], /^application\/json/);
  const doc = res.json() as Doc;
  t.equal(doc.openapi, '3.1.0');
  t.equal(doc.info.title, 'Posture Portal API');

  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  t.same(result.errors ?? [], [], 'the validator finds no error');
  t.equal(result.valid, true, 'the document validates as OpenAPI');

  const routes = ctx.app.routeTable.filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD' && r.url !== '/api/v1/openapi.json');
  t.ok(routes.length >= 20, `${routes.length} API routes`);
  for (const r of routes) {
    const op = doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()];
    t.ok(op, `${r.method} ${r.url} is in the document`);
    if (!op) continue;
    t.ok(op.summary && op.tags?.length, `${r.method} ${r.url} has a summary and a tag`);
    t.ok(
      Object.keys(op.responses).some((s) => /^2/.test(s)),
      `${r.method} ${r.url} declares its success response`,
    );
    t.ok(op.responses['4XX'] ?? op.responses['4xx'], `${r.method} ${r.url} declares the error shape`);
    t.same(op.security, [{ apiKey: [] }], `${r.method} ${r.url} needs a key`);
    if (r.method === 'POST') {
      t.ok(
        op.parameters?.some((p) => p.name === 'Idempotency-Key' && p.in === 'header'),
        `${r.method} ${r.url} declares Idempotency-Key`,
      );
    }
  }
  t.notOk(
    Object.keys(doc.paths).some((p) => !p.startsWith('/api/v1/')),
    'no page is in the document',
  );
});

t.test('the checker that every test runs catches a response that breaks the document', async (t) => {
  const ctx = await testApp(t);
  const checker = new ContractChecker(() => ctx.app);
  const ok = { method: 'GET', route: '/api/v1/deals', status: 200, contentType: 'application/json; charset=utf-8' };
  t.equal(checker.problem({ ...ok, body: JSON.stringify({ deals: [], next_cursor: null }) }), undefined, 'a right body passes');
  t.match(checker.problem({ ...ok, body: JSON.stringify({ deals: 'none', next_cursor: null }) }), /must be array/, 'a wrong type is caught');
  t.match(checker.problem({ ...ok, body: JSON.stringify({ next_cursor: null }) }), /must have required property 'deals'/, 'a missing key is caught');
  t.match(checker.problem({ ...ok, status: 418, body: '{}' }), /status not declared|must have required property 'error'/, 'an undeclared status is caught');
  t.match(checker.problem({ ...ok, contentType: 'text/html', body: '<p>' }), /content type text\/html not declared/, 'an undeclared content type is caught');
  t.match(checker.problem({ ...ok, status: 404, body: JSON.stringify({ message: 'nope' }) }), /must have required property 'error'/, 'an error in another shape is caught');
  t.equal(checker.problem({ ...ok, status: 404, body: JSON.stringify({ error: { code: 'not_found', message: 'No.' } }) }), undefined, 'the error shape passes');
});

t.test('a walk through the API: every response matched the document', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const before = contractStats.checked;
  const dealId = await openDeal(vendor, { buyer_name: 'Contract Bank', industry: 'insurance' });
  for (const [method, url, body] of [
    ['GET', '/api/v1/profile'],
    ['GET', '/api/v1/deals'],
    ['GET', `/api/v1/deals/${dealId}`],
    ['GET', `/api/v1/deals/${dealId}/signals`],
    ['POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Ada Sec', email: 'ada@contract.example', role: 'ciso' }],
    ['GET', '/api/v1/insights/corrections'],
    ['GET', '/api/v1/deals?limit=0'],
    ['GET', '/api/v1/deals/00000000-0000-0000-0000-000000000000'],
  ] as const) {
    const res = await vendor.api(method, url, body);
    t.ok(res.statusCode < 500, `${method} ${url} → ${res.statusCode}`);
  }
  t.ok(contractStats.checked - before >= 9, 'each response went through the checker');
  t.same(contractProblems, [], 'no response broke the document');
});

t.test('responses go out through their schema: undeclared keys are dropped, a mismatch is a 500', async (t) => {
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(apiValidatorCompiler);
  app.setSerializerCompiler(apiSerializerCompiler);
  app.setErrorHandler((err, req, reply) => handleError(err, req, reply));
  const api = app.withTypeProvider<ZodTypeProvider>();
  const Out = z.object({ id: z.string(), at: z.date() });
  api.get('/api/v1/leaky', { schema: { response: { 200: Out } } }, async () => ({ id: 'a', at: new Date('2026-01-02T03:04:05Z'), secret_hash: 'x' }));
  api.get('/api/v1/wrong', { schema: { response: { 200: Out } } }, async () => ({ id: 7 }) as unknown as z.infer<typeof Out>);
  api.post('/api/v1/strict', { schema: { body: z.object({ n: z.number() }).strict(), response: { 200: z.object({ n: z.number() }) } } }, async (req) => req.body);
  t.teardown(() => app.close());

  const leaky = await app.inject({ method: 'GET', url: '/api/v1/leaky' });
  t.same(leaky.json(), { id: 'a', at: '2026-01-02T03:04:05.000Z' }, 'the undeclared key is not sent; the date is ISO');
  const wrong = await app.inject({ method: 'GET', url: '/api/v1/wrong' });
  t.equal(wrong.statusCode, 500);
  t.equal(wrong.json().error.code, 'internal_error', 'a body that breaks its schema is not sent');
  const bad = await app.inject({ method: 'POST', url: '/api/v1/strict', payload: { n: 'one', extra: 1 } });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.code, 'invalid_input');
  t.same(
    bad
      .json()
      .error.details.map((d: { field: string }) => d.field)
      .sort(),
    ['extra', 'n'],
    'each bad field is named',
  );
});
