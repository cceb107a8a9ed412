// The read model: kept in step by every write, rebuilt from scratch on
// demand, and the deal list's pages, sorts and filters read from it.
import t from 'tap';
import { sql } from 'kysely';
import { rebuildReadModel } from '../server/readmodel/service.js';
import { testApp } from './helpers/app.js';
import { decodeEntities, form } from './helpers/http.js';
import { readModelAndTruth } from './helpers/read-model.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('every kind of write leaves the read model equal to a recomputation from the signals', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const check = async (step: string) => {
    const { held, truth } = await readModelAndTruth(db, dealId);
    t.ok(held, `${step}: the deal has a read model`);
    t.same(held, truth, `${step}: read model equals the truth`);
  };
  await check('opened');
  let state = (await readModelAndTruth(db, dealId)).held!;
  t.equal(state.no_security_stakeholder, true, 'a new deal has nobody from security');
  t.equal(state.concerns_open, 6);

  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  await check('stakeholder added');
  t.equal((await readModelAndTruth(db, dealId)).held!.no_security_stakeholder, false, 'the CISO clears the risk at once');

  const answer = (concern: string, values: Record<string, unknown>) => app.inject({ method: 'POST', url: `${carla.path}/answer/${concern}`, ...form(values as never) });
  t.equal((await answer('data_residency', { verdict: 'confirm' })).statusCode, 303);
  await check('confirmed');
  const audit = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns.find((c: { concern: string }) => c.concern === 'audit_compliance');
  t.equal((await answer('audit_compliance', { verdict: 'correct', kind: 'factual_error', ...claimForm(audit.claim, { breach_notification_hours: 24 }) })).statusCode, 303);
  await check('corrected');
  state = (await readModelAndTruth(db, dealId)).held!;
  t.equal(state.corrections, 1);
  t.equal(state.concerns_open, 4);
  const fields = await db.selectFrom('correction_fields').selectAll().where('deal_id', '=', dealId).execute();
  t.match(fields, [{ concern: 'audit_compliance', field: 'breach_notification_hours', corrected: 24, kind: 'factual_error' }], 'the corrected field is in correction_fields');

  t.equal((await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/data_residency`, { storage_regions: ['EU_EEA'] })).statusCode, 200);
  await check('claim changed');
  t.match(
    (await readModelAndTruth(db, dealId)).held!.concerns.find((c) => c.concern === 'data_residency'),
    { status: 'stale', claim_revision: 2 },
  );

  const handover = await app.inject({
    method: 'POST',
    url: `${carla.path}/delegate`,
    ...form({ concerns: ['model_access_controls'], name: 'Sam Sec', email: 'sam@bank.example', role: 'security' }),
  });
  t.equal(handover.statusCode, 303);
  await check('delegated');
  const sam = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().stakeholders.find((s: { email: string }) => s.email === 'sam@bank.example');
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${sam.id}/confirm`)).statusCode, 200);
  await check('delegate confirmed');
  t.equal((await vendor.api('PATCH', `/api/v1/deals/${dealId}/stakeholders/${carla.id}`, { role: 'legal' })).statusCode, 200);
  await check('role changed');
  t.equal((await readModelAndTruth(db, dealId)).held!.first_security_week, null, 'Carla as legal no longer dates a security signal');
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${carla.id}/revoke`)).statusCode, 200);
  await check('revoked');
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'negotiation', override_reason: 'Board approved' })).statusCode, 200);
  await check('stage moved with an override');
  t.match((await readModelAndTruth(db, dealId)).held!, { stage: 'negotiation', checkpoint: 'overridden', override: { reason: 'Board approved' } });
});

t.test('rebuild-read-model recomputes every deal from scratch, and again without change', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const deals = [await openDeal(vendor, { buyer_name: 'One' }), await openDeal(vendor, { buyer_name: 'Two' })];
  const ciso = await inviteStakeholder(ctx, vendor, deals[0], { email: 'carla@bank.example' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${deals[0]}`)).json().concerns[0].claim;
  await ctx.app.inject({
    method: 'POST',
    url: `${ciso.path}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'requirement_gap', ...claimForm(claim, { inference_regions: ['EU_EEA'] }) }),
  });
  const before = await Promise.all(deals.map((id) => readModelAndTruth(ctx.db, id)));

  // Lose the read model (as a restore from an old backup would), then rebuild it.
  await sql`delete from deal_concern_state`.execute(ctx.db);
  await sql`delete from deal_state`.execute(ctx.db);
  await sql`delete from correction_fields`.execute(ctx.db);
  t.equal((await ctx.db.selectFrom('deal_state').select('deal_id').execute()).length, 0);
  t.equal(await rebuildReadModel(ctx.db), 2, 'both deals rebuilt');
  const after = await Promise.all(deals.map((id) => readModelAndTruth(ctx.db, id)));
  t.same(after, before, 'the same read model as before');
  t.equal((await ctx.db.selectFrom('correction_fields').select('field').execute()).length, 1, 'correction fields rebuilt from the signals');
  t.equal(await rebuildReadModel(ctx.db), 2, 'safe to run again');
  t.same(await Promise.all(deals.map((id) => readModelAndTruth(ctx.db, id))), before, 'and nothing changes');
  t.equal(await rebuildReadModel(ctx.db, { onlyMissing: true }), 0, 'the start-up backfill finds nothing missing');
});

t.test('two answers on one deal at the same moment: neither is lost', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const people = await Promise.all(
    ['ciso', 'security', 'ciso', 'security'].map((role, i) => inviteStakeholder(ctx, vendor, dealId, { name: `Person ${i}`, email: `p${i}@bank.example`, role })),
  );
  const concerns = ['data_residency', 'model_access_controls', 'training_data_provenance', 'ai_governance', 'adversarial_risk', 'audit_compliance'];
  for (let round = 0; round < 3; round++) {
    const answers = people.map((p, i) =>
      ctx.app.inject({ method: 'POST', url: `${p.path}/answer/${concerns[(i + round) % concerns.length]}`, remoteAddress: `10.0.${round}.${i}`, ...form({ verdict: 'confirm' }) }),
    );
    const codes = (await Promise.all(answers)).map((r) => r.statusCode);
    t.same(codes, [303, 303, 303, 303], `round ${round}: four answers at once`);
    const { held, truth } = await readModelAndTruth(ctx.db, dealId);
    t.same(held, truth, `round ${round}: the read model holds every answer`);
  }
  t.equal((await readModelAndTruth(ctx.db, dealId)).held!.checkpoint, 'ready', 'twelve answers over the six concerns: ready');
});

t.test('the deal list pages, sorts and filters in SQL; bad parameters are named', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const names = ['Delta Bank', 'Alpha Insurance', 'Charlie Credit', 'Bravo Bank', 'Echo Fund', 'Foxtrot Bank', 'Golf Trust'];
  const ids: Record<string, string> = {};
  for (const [i, name] of names.entries()) {
    ctx.clock.advance(60_000);
    ids[name] = await openDeal(vendor, { buyer_name: name, started_on: `2026-0${1 + (i % 3)}-0${1 + i}` });
  }
  ctx.clock.advance(60_000);
  const carla = await inviteStakeholder(ctx, vendor, ids['Bravo Bank'], { email: 'carla@bravo.example' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${ids['Bravo Bank']}`)).json().concerns[0].claim;
  await ctx.app.inject({
    method: 'POST',
    url: `${carla.path}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'factual_error', ...claimForm(claim, { inference_regions: ['EU_EEA'] }) }),
  });
  ctx.clock.advance(60_000);
  await vendor.api('POST', `/api/v1/deals/${ids['Echo Fund']}/stage`, { stage: 'evaluation' });

  const list = async (qs: string) => {
    const res = await vendor.api('GET', `/api/v1/deals${qs}`);
    t.equal(res.statusCode, 200, `GET /api/v1/deals${qs}`);
    return res.json() as { deals: { buyer_name: string; id: string }[]; next_cursor: string | null };
  };
  const first = await list('');
  t.equal(first.deals[0].buyer_name, 'Echo Fund', 'newest activity first by default');
  t.equal(first.deals[1].buyer_name, 'Bravo Bank');
  t.equal(first.next_cursor, null, 'one page holds them all');

  // Walk by name, three at a time.
  const seen: string[] = [];
  let cursor: string | null = '';
  let pages = 0;
  while (cursor !== null) {
    const page = await list(`?sort=buyer_name&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    t.ok(page.deals.length <= 3);
    seen.push(...page.deals.map((d) => d.buyer_name));
    cursor = page.next_cursor;
    pages++;
  }
  t.equal(pages, 3, 'seven deals in pages of three');
  t.same(
    seen,
    [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    'every deal once, in name order',
  );
  const backwards = (await list('?sort=-buyer_name&limit=2')).deals.map((d) => d.buyer_name);
  t.same(backwards, ['Golf Trust', 'Foxtrot Bank'], 'descending');

  t.same(
    (await list('?q=bank&sort=buyer_name')).deals.map((d) => d.buyer_name),
    ['Bravo Bank', 'Delta Bank', 'Foxtrot Bank'],
    'q matches part of the name, any case',
  );
  t.same((await list('?q=100%25')).deals, [], 'a % in q is a character, not a wildcard');
  t.same(
    (await list('?stage=evaluation')).deals.map((d) => d.buyer_name),
    ['Echo Fund'],
  );
  t.same(
    (await list('?corrected=true')).deals.map((d) => d.buyer_name),
    ['Bravo Bank'],
  );
  t.equal((await list('?corrected=false')).deals.length, 6);
  t.equal((await list('?risk=no_security_stakeholder')).deals.length, 6, 'Bravo has a CISO');
  t.same((await list('?checkpoint=ready')).deals, []);
  t.same(
    (await list('?sort=-corrections&limit=1')).deals.map((d) => d.buyer_name),
    ['Bravo Bank'],
  );
  const weeks = (await list('?sort=-week')).deals.map((d) => d.buyer_name);
  t.same(weeks.slice(0, 3).sort(), ['Bravo Bank', 'Delta Bank', 'Golf Trust'], 'the oldest deals (started in January) first');

  for (const [qs, field] of [
    ['?limit=0', 'limit'],
    ['?limit=201', 'limit'],
    ['?limit=ten', 'limit'],
    ['?sort=price', 'sort'],
    ['?stage=won', 'stage'],
    ['?checkpoint=maybe', 'checkpoint'],
    ['?corrected=yes', 'corrected'],
    ['?cursor=not-a-cursor', 'cursor'],
    [`?sort=buyer_name&cursor=${first.next_cursor ?? (await list('?limit=1')).next_cursor}`, 'cursor'],
    ['?colour=red', 'colour'],
  ] as const) {
    const res = await vendor.api('GET', `/api/v1/deals${qs}`);
    t.equal(res.statusCode, 400, `${qs} is a 400`);
    t.equal(res.json().error.code, 'invalid_input');
    t.match(JSON.stringify(res.json().error.details), field, `naming ${field}`);
  }

  // The page: counts per stage, filters, and a link to the next page.
  const page = await vendor.page('/app?limit=3&sort=buyer_name');
  t.equal(page.statusCode, 200);
  t.match(page.body, /All <span class="count">7<\/span>/, 'the total');
  t.match(page.body, /Discovery <span class="count">6<\/span>/, 'six in discovery');
  t.match(page.body, /Evaluation <span class="count">1<\/span>/);
  const next = decodeEntities(/<a rel="next" href="([^"]+)"/.exec(page.body)?.[1] ?? '');
  t.match(next, /^\/app\?limit=3&sort=buyer_name&cursor=[A-Za-z0-9_-]+$/, 'a link to the next page, keeping the sort');
  const second = await vendor.page(next!);
  t.match(second.body, 'Delta Bank', 'the next page continues after the first');
  t.notMatch(second.body, 'Charlie Credit', 'and repeats none of it');
  t.match(second.body, 'First page');
  const filtered = await vendor.page('/app?q=zzz');
  t.match(filtered.body, 'No deal matches these filters');
  const bad = await vendor.page('/app?limit=0');
  t.equal(bad.statusCode, 400);
  t.match(bad.body, 'limit');
});

t.test('a deal’s signals come a page at a time', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  for (const concern of ['data_residency', 'model_access_controls', 'training_data_provenance', 'ai_governance', 'adversarial_risk']) {
    await ctx.app.inject({ method: 'POST', url: `${carla.path}/answer/${concern}`, ...form({ verdict: 'confirm' }) });
  }
  const ids: number[] = [];
  let cursor: string | null = '';
  while (cursor !== null) {
    const res = await vendor.api('GET', `/api/v1/deals/${dealId}/signals?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(res.statusCode, 200);
    ids.push(...res.json().signals.map((s: { id: number }) => s.id));
    cursor = res.json().next_cursor;
  }
  t.equal(ids.length, 5, 'every signal once');
  t.same(
    ids,
    [...ids].sort((a, b) => b - a),
    'newest first',
  );
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}/signals?limit=500`)).statusCode, 400);
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}/signals?cursor=abc`)).statusCode, 400);
  const other = await signUpVendor(ctx);
  t.equal((await other.api('GET', `/api/v1/deals/${dealId}/signals`)).statusCode, 404, 'another workspace sees nothing');
});

t.test('a deal with many people shows them a page at a time', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const people = Array.from({ length: 30 }, (_, i) => ({ name: `Person ${String(i).padStart(2, '0')}`, email: `p${i}@bank.example`, role: 'security', invite: false }));
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, { stakeholders: people })).statusCode, 201);
  const names = (html: string) => new Set([...html.matchAll(/Person \d\d/g)].map((m) => m[0]));
  const first = await vendor.page(`/app/deals/${dealId}`);
  t.match(first.body, 'People 1–25 of 30');
  t.equal(names(first.body).size, 25, 'twenty-five people on the first page');
  const more = decodeEntities(/<a href="([^"]+)">More people<\/a>/.exec(first.body)?.[1] ?? '');
  t.equal(more, `/app/deals/${dealId}?people=25#stakeholders`);
  const second = await vendor.page(more.replace(/#.*$/, ''));
  t.match(second.body, 'People 26–30 of 30');
  t.equal(names(second.body).size, 5, 'the other five on the second');
  t.same(
    [...names(second.body)].filter((n) => names(first.body).has(n)),
    [],
    'no one on both pages',
  );
  t.match(second.body, 'Previous people');
  const api = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(api.stakeholders.length, 30, 'the API lists everyone');
});

t.test('an answer marks its deal; reads and the background refresher bring the read model up to date', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const carla = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const stored = () => db.selectFrom('deal_state').select(['concerns_open', 'corrections']).where('deal_id', '=', dealId).executeTakeFirstOrThrow();
  const marked = async () => (await db.selectFrom('deal_state_dirty').select('deal_id').where('deal_id', '=', dealId).execute()).length;
  t.equal(await marked(), 0, 'nothing waits after the vendor’s own writes (refreshed in their transaction)');

  const confirm = (concern: string) => app.inject({ method: 'POST', url: `${carla.path}/answer/${concern}`, ...form({ verdict: 'confirm' }) });
  t.equal((await confirm('data_residency')).statusCode, 303);
  t.equal(await marked(), 1, 'the answer marked its deal');
  t.equal((await stored()).concerns_open, 6, 'and left the deal’s state to be refreshed after the request');

  // The deal list refreshes the workspace's marked deals before it reads.
  const list = (await vendor.api('GET', '/api/v1/deals')).json().deals[0];
  t.equal(list.concerns_open, 5, 'the list shows the answer');
  t.equal(await marked(), 0, 'and took the mark');

  // A deal's own page (or API) too.
  await confirm('model_access_controls');
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns_open, 4, 'the deal shows the answer');
  t.equal(await marked(), 0);

  // The background refresher, without any read.
  await confirm('training_data_provenance');
  t.equal((await stored()).concerns_open, 4);
  app.services.refresher.start();
  for (let i = 0; i < 100 && (await marked()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  await app.services.refresher.stop();
  t.equal(await marked(), 0, 'the refresher took the mark');
  t.equal((await stored()).concerns_open, 3, 'and brought the state up to date');
  const { held, truth } = await readModelAndTruth(db, dealId);
  t.same(held, truth, 'the read model equals the truth');

  // Answers racing a refresh: none is lost.
  const keys = ['ai_governance', 'adversarial_risk', 'audit_compliance'];
  const refreshes = Array.from({ length: 3 }, () => vendor.api('GET', '/api/v1/deals'));
  await Promise.all([...keys.map((k) => confirm(k)), ...refreshes]);
  t.equal((await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns_open, 0, 'every answer counted');
  t.same((await readModelAndTruth(db, dealId)).held, (await readModelAndTruth(db, dealId)).truth);
});
