// A deal's buyer segment (industry and region): set when the deal is opened,
// through the API or the page; changed or cleared later; shown in the deal's
// JSON and page; copied into the read model; and the deal list filtered by it
// and by what the buyer's security team corrects (the links insight follows).
import t from 'tap';
import { testApp, type TestApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';

type Detail = { id: string; industry: string | null; region: string | null; concerns: { concern: string; claim: Record<string, unknown> }[] };

const stored = (ctx: TestApp, id: string) => ctx.db.selectFrom('deals').select(['industry', 'region']).where('id', '=', id).executeTakeFirstOrThrow();
const copied = (ctx: TestApp, id: string) => ctx.db.selectFrom('deal_state').select(['industry', 'region']).where('deal_id', '=', id).executeTakeFirstOrThrow();
const dealCount = async (ctx: TestApp) => (await ctx.db.selectFrom('deals').select('id').execute()).length;

t.test('a deal is opened with a buyer segment, through the API and the page', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const plain = await openDeal(vendor, { buyer_name: 'Plain Bank' });

  const res = await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Euro Bank', industry: 'financial_services', region: 'EU_EEA' });
  t.equal(res.statusCode, 201);
  t.match(res.json(), { buyer_name: 'Euro Bank', industry: 'financial_services', region: 'EU_EEA' }, 'the answer names the segment');
  const id = res.json().id as string;
  t.same(await stored(ctx, id), { industry: 'financial_services', region: 'EU_EEA' }, 'stored on the deal');
  t.same(await copied(ctx, id), { industry: 'financial_services', region: 'EU_EEA' }, 'and copied into the read model');

  const detail = (await vendor.api('GET', `/api/v1/deals/${id}`)).json() as Detail;
  t.equal(detail.industry, 'financial_services', 'the deal’s JSON has its industry');
  t.equal(detail.region, 'EU_EEA', 'and its region');
  const none = (await vendor.api('GET', `/api/v1/deals/${plain}`)).json() as Detail;
  t.ok('industry' in none && 'region' in none, 'a deal without a segment says so');
  t.equal(none.industry, null, 'industry is null when not set');
  t.equal(none.region, null, 'region is null when not set');

  const listed = (await vendor.api('GET', '/api/v1/deals')).json().deals as Detail[];
  t.same(
    listed.map((d) => [d.id, d.industry, d.region]).sort(),
    [
      [id, 'financial_services', 'EU_EEA'],
      [plain, null, null],
    ].sort(),
    'the list’s items carry the segment too',
  );

  // The page form: two optional selects, "Not set" first.
  const page = await vendor.page('/app/deals/new');
  t.equal(page.statusCode, 200);
  t.match(
    page.body,
    /<label for="in-industry">Buyer industry \(optional\)<\/label>\s*<select id="in-industry" name="industry">\s*<option value="">Not set<\/option><option value="financial_services">Financial services<\/option>/,
  );
  t.match(
    page.body,
    /<label for="in-region">Buyer region \(optional\)<\/label>\s*<select id="in-region" name="region">\s*<option value="">Not set<\/option><option value="US">United States<\/option>/,
  );

  const created = await vendor.post('/app/deals', { buyer_name: 'Care Trust', started_on: '2026-03-01', profile_version: '1', industry: 'healthcare', region: 'UK' });
  t.equal(created.statusCode, 303);
  const pageId = /^\/app\/deals\/([0-9a-f-]{36})\?created=1$/.exec(String(created.headers.location))?.[1];
  t.ok(pageId, 'on to the new deal');
  t.same(await stored(ctx, pageId!), { industry: 'healthcare', region: 'UK' }, 'the page stores the segment');
  t.same(await copied(ctx, pageId!), { industry: 'healthcare', region: 'UK' }, 'and the read model copies it');
  const dealPage = await vendor.page(`/app/deals/${pageId}`);
  t.match(dealPage.body, 'Buyer segment: Healthcare · United Kingdom', 'the deal page shows the segment in words');
  t.notMatch(dealPage.body, 'Buyer segment: healthcare', 'not as codes');

  const unset = await vendor.post('/app/deals', { buyer_name: 'No Segment Ltd', profile_version: '1', industry: '', region: '' });
  t.equal(unset.statusCode, 303, '"Not set" is accepted');
  const unsetId = /\/app\/deals\/([0-9a-f-]{36})/.exec(String(unset.headers.location))![1];
  t.same(await stored(ctx, unsetId), { industry: null, region: null }, '"Not set" stores nothing');
  t.match((await vendor.page(`/app/deals/${unsetId}`)).body, 'Buyer segment not set');
});

t.test('a bad segment is refused, naming the field, and nothing is written', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  await openDeal(vendor, { buyer_name: 'First Bank' });
  const before = await dealCount(ctx);

  const cases: [unknown, string][] = [
    [{ buyer_name: 'B', industry: 'banking' }, 'industry'],
    [{ buyer_name: 'B', industry: 'Financial services' }, 'industry'],
    [{ buyer_name: 'B', region: 'MARS' }, 'region'],
    [{ buyer_name: 'B', region: 'eu_eea' }, 'region'],
    [{ buyer_name: 'B', industry: 42 }, 'industry'],
  ];
  for (const [body, field] of cases) {
    const res = await vendor.api('POST', '/api/v1/deals', body);
    t.equal(res.statusCode, 400, `${JSON.stringify(body)}: 400`);
    t.equal(res.json().error.code, 'invalid_input');
    t.same(
      res.json().error.details.map((d: { field: string }) => d.field),
      [field],
      `${JSON.stringify(body)}: names ${field}`,
    );
  }
  const industryError = (await vendor.api('POST', '/api/v1/deals', { buyer_name: 'B', industry: 'banking' })).json().error;
  t.match(industryError.details[0].message, 'financial_services, insurance, healthcare', 'the message lists the values');
  t.equal(await dealCount(ctx), before, 'no deal was stored');

  const res = await vendor.post('/app/deals', { buyer_name: 'Keep Me', buyer_domain: 'keep.example', profile_version: '1', industry: 'banking', region: 'CH' });
  t.equal(res.statusCode, 400);
  t.match(res.body, /<select id="in-industry" name="industry" aria-invalid="true" aria-describedby="in-industry-error">/, 'the industry is marked');
  t.match(res.body, /<p class="error" id="in-industry-error">must be one of financial_services[^<]*<\/p>/, 'with its problem next to it');
  t.notMatch(res.body, 'id="in-region-error"', 'the region is fine');
  t.match(res.body, 'value="Keep Me"', 'the buyer is kept');
  t.match(res.body, 'value="keep.example"', 'the domain is kept');
  t.match(res.body, '<option value="CH" selected>Switzerland</option>', 'the region is kept');
  t.equal(await dealCount(ctx), before, 'nothing was written');

  const kept = await vendor.post('/app/deals', { buyer_name: '', profile_version: '1', industry: 'energy', region: 'SG' });
  t.equal(kept.statusCode, 400, 'another field’s problem');
  t.match(kept.body, '<option value="energy" selected>Energy</option>', 'keeps the industry');
  t.match(kept.body, '<option value="SG" selected>Singapore</option>', 'and the region');
  t.equal(await dealCount(ctx), before, 'still nothing written');
});

t.test('the segment is changed and cleared, through the API and the deal page, and the read model follows', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const id = await openDeal(vendor, { buyer_name: 'Shifting Co' });
  const patch = (body: unknown) => vendor.api('PATCH', `/api/v1/deals/${id}`, body);

  const set = await patch({ industry: 'insurance', region: 'US' });
  t.equal(set.statusCode, 200);
  t.match(set.json(), { id, industry: 'insurance', region: 'US' }, 'the answer shows the new segment');
  t.same(await stored(ctx, id), { industry: 'insurance', region: 'US' });
  t.same(await copied(ctx, id), { industry: 'insurance', region: 'US' }, 'the read model’s copy follows');

  const cleared = await patch({ industry: null });
  t.equal(cleared.statusCode, 200);
  t.match(cleared.json(), { industry: null, region: 'US' }, 'null clears the industry; the region stays');
  t.same(await copied(ctx, id), { industry: null, region: 'US' }, 'the copy follows the clearing');

  const both = await patch({ reminders_paused: true, region: 'JP' });
  t.equal(both.statusCode, 200, 'settings and segment together');
  t.match(both.json(), { reminders_paused: true, region: 'JP', industry: null });
  t.equal((await patch({ reminders_paused: false })).json().region, 'JP', 'a settings change leaves the segment');

  for (const [body, field] of [
    [{ region: 'ATLANTIS' }, 'region'],
    [{ industry: 'banking', reminders_paused: true }, 'industry'],
    [{ industry: '' }, 'industry'],
    [{ segment: 'x' }, 'segment'],
  ] as const) {
    const res = await patch(body);
    t.equal(res.statusCode, 400, `${JSON.stringify(body)}: 400`);
    t.same(
      res.json().error.details.map((d: { field: string }) => d.field),
      [field],
      `${JSON.stringify(body)}: names ${field}`,
    );
  }
  const after = await ctx.db.selectFrom('deals').select(['industry', 'region', 'reminders_paused']).where('id', '=', id).executeTakeFirstOrThrow();
  t.same(after, { industry: null, region: 'JP', reminders_paused: false }, 'a refused change writes nothing');

  // The deal page's segment form.
  const page = await vendor.page(`/app/deals/${id}`);
  t.match(page.body, /<form method="post" action="\/app\/deals\/[0-9a-f-]+\/segment" novalidate>\s*<input type="hidden" name="_csrf"/, 'a segment form with CSRF');
  t.match(page.body, '<option value="JP" selected>Japan</option>', 'showing the current region');
  t.match(page.body, 'Buyer segment: Japan', 'the segment near the name');

  const saved = await vendor.post(`/app/deals/${id}/segment`, { industry: 'energy', region: 'CH' });
  t.equal(saved.statusCode, 303);
  t.equal(saved.headers.location, `/app/deals/${id}?segment=1#segment`);
  t.same(await stored(ctx, id), { industry: 'energy', region: 'CH' });
  t.same(await copied(ctx, id), { industry: 'energy', region: 'CH' }, 'the read model’s copy follows the page too');
  const shown = await vendor.page(`/app/deals/${id}?segment=1`);
  t.match(shown.body, 'Buyer segment saved.');
  t.match(shown.body, 'Buyer segment: Energy · Switzerland');
  t.match(shown.body, '<option value="energy" selected>Energy</option>');

  const bad = await vendor.post(`/app/deals/${id}/segment`, { industry: 'energy', region: 'MARS' });
  t.equal(bad.statusCode, 400);
  t.match(bad.body, /<p class="error" id="in-region-error">must be one of US, CA, EU_EEA[^<]*<\/p>/, 'the problem is shown by the region');
  t.same(await stored(ctx, id), { industry: 'energy', region: 'CH' }, 'nothing changed');

  const unset = await vendor.post(`/app/deals/${id}/segment`, { industry: '', region: '' });
  t.equal(unset.statusCode, 303, '"Not set" is accepted');
  t.same(await stored(ctx, id), { industry: null, region: null }, '"Not set" clears both');
  t.same(await copied(ctx, id), { industry: null, region: null }, 'and the copy');
  t.match((await vendor.page(`/app/deals/${id}`)).body, 'Buyer segment not set');
});

t.test('the deal list filters by segment and by what the security team corrects', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const vendor = await signUpVendor(ctx);
  const alpha = await openDeal(vendor, { buyer_name: 'Alpha Bank', industry: 'financial_services', region: 'EU_EEA' });
  const beta = await openDeal(vendor, { buyer_name: 'Beta Bank', industry: 'financial_services', region: 'US' });
  const care = await openDeal(vendor, { buyer_name: 'Care Clinic', industry: 'healthcare', region: 'EU_EEA' });
  const delta = await openDeal(vendor, { buyer_name: 'Delta Works' });

  const claimOf = async (dealId: string, concern: string) =>
    ((await vendor.api('GET', `/api/v1/deals/${dealId}`)).json() as Detail).concerns.find((c) => c.concern === concern)!.claim;
  const answer = async (v: TestVendor, dealId: string, who: { email: string; role: string }, values: Record<string, unknown>) => {
    const { path } = await inviteStakeholder(ctx, v, dealId, { email: who.email, role: who.role });
    const res = await app.inject({ method: 'POST', url: `${path}/answer/data_residency`, ...form(values as never) });
    t.equal(res.statusCode, 303, `${who.email} answers`);
  };
  const residency = await claimOf(alpha, 'data_residency');
  t.same(residency.inference_regions, ['US'], 'the default claim runs inference in the US');
  t.notSame(residency.storage_regions, ['CH'], 'and stores outside Switzerland');
  // Alpha: the CISO corrects where inference runs. Care: the CISO corrects where data is stored.
  await answer(
    vendor,
    alpha,
    { email: 'ciso@alpha.example', role: 'ciso' },
    {
      verdict: 'correct',
      kind: 'requirement_gap',
      ...claimForm(residency, { inference_regions: ['EU_EEA'] }),
    },
  );
  await answer(vendor, care, { email: 'ciso@care.example', role: 'ciso' }, { verdict: 'correct', kind: 'factual_error', ...claimForm(residency, { storage_regions: ['CH'] }) });
  // Beta: a correction, but from legal, outside the security team. Delta: the CISO confirms.
  await answer(
    vendor,
    beta,
    { email: 'legal@beta.example', role: 'legal' },
    { verdict: 'correct', kind: 'requirement_gap', ...claimForm(residency, { inference_regions: ['EU_EEA'] }) },
  );
  await answer(vendor, delta, { email: 'ciso@delta.example', role: 'ciso' }, { verdict: 'confirm' });

  const names = new Map([
    [alpha, 'alpha'],
    [beta, 'beta'],
    [care, 'care'],
    [delta, 'delta'],
  ]);
  const list = async (query: string) => {
    const res = await vendor.api('GET', `/api/v1/deals?${query}`);
    t.equal(res.statusCode, 200, `${query}: 200`);
    return (res.json().deals as { id: string }[]).map((d) => names.get(d.id)).sort();
  };
  t.same(await list(''), ['alpha', 'beta', 'care', 'delta'], 'no filter: every deal');
  t.same(await list('industry=financial_services'), ['alpha', 'beta'], 'by industry');
  t.same(await list('industry=healthcare'), ['care']);
  t.same(await list('industry=energy'), [], 'an industry no deal has');
  t.same(await list('region=EU_EEA'), ['alpha', 'care'], 'by region');
  t.same(await list('industry=financial_services&region=EU_EEA'), ['alpha'], 'both together');
  t.same(await list('corrected_concern=data_residency'), ['alpha', 'care'], 'the security team corrected data residency (not legal, not a confirm)');
  t.same(await list('corrected_concern=audit_compliance'), [], 'nobody corrected audit and compliance');
  t.same(await list('corrected_field=data_residency.inference_regions'), ['alpha'], 'by corrected field');
  t.same(await list('corrected_field=data_residency.storage_regions'), ['care']);
  t.same(await list('corrected_field=data_residency.inference_scope'), [], 'a field nobody corrected');
  t.same(await list('corrected_concern=data_residency&industry=healthcare'), ['care'], 'with a segment');
  t.same(await list('corrected_concern=data_residency&sort=buyer_name&limit=1'), ['alpha'], 'paged: the first');

  for (const [query, field] of [
    ['industry=banking', 'industry'],
    ['region=MARS', 'region'],
    ['corrected_concern=weather', 'corrected_concern'],
    ['corrected_concern=data_residency.inference_regions', 'corrected_concern'],
    ['corrected_field=data_residency.colour', 'corrected_field'],
    ['corrected_field=weather.inference_regions', 'corrected_field'],
    ['corrected_field=data_residency', 'corrected_field'],
    ['corrected_field=data_residency.inference_regions.x', 'corrected_field'],
  ]) {
    const res = await vendor.api('GET', `/api/v1/deals?${query}`);
    t.equal(res.statusCode, 400, `${query}: 400`);
    t.same(
      res.json().error.details.map((d: { field: string }) => d.field),
      [field],
      `${query}: names ${field}`,
    );
    t.match(res.json().error.message, field, `${query}: the message names it too`);
  }

  // The page: the same filters, carried through its links, with a note that clears the correction filter.
  // Handlebars writes = in attributes as &#x3D; and & as &amp;.
  const hrefs = (html: string) => html.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&');
  const buyers = (html: string) => [...html.matchAll(/<a href="\/app\/deals\/[0-9a-f-]+">([^<]+)<\/a>/g)].map((m) => m[1]).sort();
  const concernPage = await vendor.page('/app?corrected_concern=data_residency');
  t.equal(concernPage.statusCode, 200);
  t.same(buyers(concernPage.body), ['Alpha Bank', 'Care Clinic'], 'the page lists the same deals');
  t.match(
    concernPage.body,
    /<p class="notice" role="status">Corrected by the buyer’s security team: <strong>Data residency<\/strong> — <a href="\/app">clear<span class="sr-only"> this filter<\/span><\/a><\/p>/,
    'a note of the filter, with a link that clears it',
  );
  t.match(concernPage.body, '<input type="hidden" name="corrected_concern" value="data_residency">', 'the filter form keeps it');
  t.match(hrefs(concernPage.body), /href="\/app\?corrected_concern=data_residency&stage=discovery"/, 'the stage links keep it');

  const fieldPage = await vendor.page('/app?corrected_field=data_residency.storage_regions&industry=healthcare');
  t.same(buyers(fieldPage.body), ['Care Clinic']);
  t.match(hrefs(fieldPage.body), /<strong>Data residency › Storage regions<\/strong> — <a href="\/app\?industry=healthcare">clear/, 'clearing keeps the other filters');
  t.match(fieldPage.body, '<option value="healthcare" selected>Healthcare</option>', 'the industry select shows the filter');

  // The filter form as a browser sends it: "Any …" is an empty value.
  const submitted = await vendor.page('/app?q=&stage=&checkpoint=&industry=healthcare&region=&sort=-last_activity');
  t.equal(submitted.statusCode, 200, 'the filter form with “Any” choices is accepted');
  t.same(buyers(submitted.body), ['Care Clinic'], 'and filters by what was chosen');

  const regionPage = await vendor.page('/app?region=US');
  t.same(buyers(regionPage.body), ['Beta Bank']);
  t.match(regionPage.body, '<option value="US" selected>United States</option>');
  t.notMatch(regionPage.body, 'Corrected by the buyer’s security team', 'no correction note without the filter');

  const first = await vendor.page('/app?corrected_concern=data_residency&sort=buyer_name&limit=1');
  t.same(buyers(first.body), ['Alpha Bank'], 'a page of one');
  const next = /<a rel="next" href="([^"]+)">/.exec(hrefs(first.body))?.[1];
  t.match(next, /corrected_concern=data_residency/, 'the next page keeps the filter');
  const second = await vendor.page(next!);
  t.same(buyers(second.body), ['Care Clinic'], 'and shows the other deal behind it');

  for (const query of ['industry=banking', 'corrected_field=data_residency.colour']) {
    const res = await vendor.page(`/app?${query}`);
    t.equal(res.statusCode, 400, `the page refuses ${query}`);
    t.match(res.body, query.split('=')[0], 'naming the parameter');
  }
});
