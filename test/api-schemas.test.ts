// The /api/v1 routes' own schemas (server/api/schemas.ts, server/insights/schemas.ts):
// an insight answers JSON through its schema and CSV as text, a body left out
// where it is optional still works, and the document carries what the schemas say.
import t from 'tap';
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { testApp } from './helpers/app.js';
import { openDeal, signUpVendor } from './helpers/vendor.js';
import { apiSerializerCompiler, apiValidatorCompiler, csvText } from '../server/lib/api-schema.js';
import { handleError } from '../server/lib/error-handler.js';
import { CONCERNS } from '../server/concerns/index.js';
import { insightQuery } from '../server/insights/service.js';
import { OutcomesInsight } from '../server/insights/schemas.js';

const outcomes = {
  reached_negotiation: { deals: 2, ready: { deals: 1, share: 0.5 }, overridden: { deals: 1, share: 0.5 } },
  won: { ready: { won: 1, closed: 1, rate: null }, overridden: { won: 0, closed: 1, rate: null } },
  min_closed_for_rate: 5,
};

t.test('an insight route answers JSON through its schema (undeclared keys dropped) and CSV as it is', async (t) => {
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(apiValidatorCompiler);
  app.setSerializerCompiler(apiSerializerCompiler);
  app.setErrorHandler((err, req, reply) => handleError(err, req, reply));
  t.teardown(() => app.close());
  // The shape of insightApi's routes: one 200 with a JSON and a CSV content type.
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/v1/insights/outcomes',
    {
      schema: {
        querystring: insightQuery,
        response: { 200: { description: 'x', content: { 'application/json': { schema: OutcomesInsight }, 'text/csv': { schema: csvText } } } },
      },
    },
    async (req, reply) =>
      req.query.format === 'csv'
        ? reply.header('content-type', 'text/csv; charset=utf-8').send('a,b\r\n1,2\r\n')
        : { ...outcomes, vendor_id: 'secret', won: { ...outcomes.won, ready: { ...outcomes.won.ready, deal_ids: ['x'] } } },
  );

  const json = await app.inject({ method: 'GET', url: '/api/v1/insights/outcomes' });
  t.equal(json.statusCode, 200);
  t.match(json.headers['content-type'], /^application\/json/);
  t.same(json.json(), outcomes, 'the undeclared keys, top-level and nested, are not sent');

  const csv = await app.inject({ method: 'GET', url: '/api/v1/insights/outcomes?format=csv' });
  t.equal(csv.statusCode, 200);
  t.match(csv.headers['content-type'], /^text\/csv/);
  t.equal(csv.body, 'a,b\r\n1,2\r\n', 'the CSV goes out unchanged');

  const bad = await app.inject({ method: 'GET', url: '/api/v1/insights/outcomes?format=xml&colour=red' });
  t.equal(bad.statusCode, 400);
  t.same(
    bad
      .json()
      .error.details.map((d: { field: string }) => d.field)
      .sort(),
    ['colour', 'format'],
    'the query schema names each bad parameter',
  );
});

t.test('the real insight routes answer JSON and CSV through the document', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  await openDeal(vendor);
  const json = await vendor.api('GET', '/api/v1/insights/outcomes?industry=');
  t.equal(json.statusCode, 200, 'an empty filter is no filter');
  t.same(Object.keys(json.json()).sort(), ['min_closed_for_rate', 'reached_negotiation', 'won']);
  const csv = await vendor.api('GET', '/api/v1/insights/timing?format=csv');
  t.equal(csv.statusCode, 200);
  t.match(csv.headers['content-type'], /^text\/csv/);
  t.match(csv.body, /^measure,week,deals,median,p75,share\r\n/);
});

t.test('extend without a body still extends by the link lifetime', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const added = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  t.equal(added.statusCode, 201);
  const sid = added.json().id;
  const none = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${sid}/extend`);
  t.equal(none.statusCode, 200, none.body);
  t.same(none.json(), { id: sid, extended_days: ctx.config.LINK_TTL_DAYS });
  const some = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${sid}/extend`, { days: 3 });
  t.same(some.json(), { id: sid, extended_days: 3 });
  const bad = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${sid}/extend`, { days: 0 });
  t.equal(bad.statusCode, 400);
  t.same(
    bad.json().error.details.map((d: { field: string }) => d.field),
    ['days'],
  );
});

t.test('the document carries the schemas: query parameters, catalogue fields, enums', async (t) => {
  const ctx = await testApp(t);
  const doc = (await ctx.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json();
  const params = (path: string) => (doc.paths[path].get.parameters as { name: string; in: string }[]).filter((p) => p.in === 'query').map((p) => p.name);
  t.same(params('/api/v1/insights/timing').sort(), ['format', 'from', 'industry', 'outcome', 'region', 'stage', 'to']);
  t.ok(params('/api/v1/deals').includes('corrected_field'));
  t.same(params('/api/v1/deals/{id}/signals').sort(), ['cursor', 'limit']);
  const concerns = doc.components.schemas.ProfileDraft.properties.concerns.properties;
  t.same(
    Object.keys(concerns),
    CONCERNS.map((c) => c.key),
    'every concern of the catalogue',
  );
  for (const c of CONCERNS) t.same(Object.keys(concerns[c.key].properties), [...c.fields.map((f) => f.key), 'narrative'], `${c.key}: its fields and narrative`);
  t.same(doc.components.schemas.Deal.properties.stage.enum, ['discovery', 'evaluation', 'business_case', 'negotiation', 'closed_won', 'closed_lost']);
  t.same(doc.components.schemas.DealDetail.properties.checkpoint.properties.state.enum, ['ready', 'open', 'overridden']);
});

t.test('a claim change that is not an object is refused as before, naming the body', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const res = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/data_residency`, ['US']);
  t.equal(res.statusCode, 400);
  t.same(res.json().error.details, [{ field: '(body)', message: 'Expected an object of field values.' }]);
  const unknown = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/data_residency`, { colour: 'red' });
  t.equal(unknown.statusCode, 400, 'the concern still checks its own fields');
  t.same(
    unknown.json().error.details.map((d: { field: string }) => d.field),
    ['colour'],
  );
});
