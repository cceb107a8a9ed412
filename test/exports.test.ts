// Streaming exports: the workspace's signals, its deals and a deal's grid as
// CSV and NDJSON, through the API (a key) and the pages (a session).
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { sql } from 'kysely';
import { parse as parseCsv } from 'csv-parse/sync';
import { testApp, TEST_START } from './helpers/app.js';
import { decodeEntities, form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';
import { exportSignals } from '../server/exports/service.js';

const DAY = 86_400_000;
const BUYER = 'Zürich Försäkring, "Nord" AB';
const FORMULA_NAME = '=HYPERLINK("evil";"Click me")';
const COMMENT = '-2+3 "quoted", with a comma\nand a second line';

const SIGNAL_HEADER = [
  'deal_id',
  'buyer_name',
  'id',
  'type',
  'concern',
  'claim_revision',
  'verdict',
  'kind',
  'comment',
  'stakeholder_id',
  'stakeholder_name',
  'stakeholder_role',
  'target_stakeholder_id',
  'target_stakeholder_name',
  'target_stakeholder_role',
  'week',
  'created_at',
  'change_field',
  'change_claimed',
  'change_corrected',
];

type Json = Record<string, unknown>;

/** Every page of a deal's signals from the signals API, oldest first. */
async function apiSignals(vendor: TestVendor, dealId: string): Promise<Json[]> {
  const out: Json[] = [];
  let cursor: string | null = null;
  do {
    const res = await vendor.api('GET', `/api/v1/deals/${dealId}/signals?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    if (res.statusCode !== 200) throw new Error(`signals answered ${res.statusCode}`);
    const body = res.json() as { signals: Json[]; next_cursor: string | null };
    out.push(...body.signals);
    cursor = body.next_cursor;
  } while (cursor);
  return out.reverse();
}

const ndjson = (body: string): Json[] => {
  if (body !== '' && !body.endsWith('\n')) throw new Error('NDJSON must end with a line break');
  return body === ''
    ? []
    : body
        .slice(0, -1)
        .split('\n')
        .map((l) => JSON.parse(l) as Json);
};
/** CSV as arrays of cells, header first, with a real parser (RFC 4180: quotes, commas and line breaks inside cells). */
const csv = (body: string): string[][] => parseCsv(body, { relax_column_count: false }) as string[][];

/** What a spreadsheet must see for a text cell: a formula start neutralised with an apostrophe. */
const safe = (s: string) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
/** A value as the CSV writes it (independently of the export's own code). */
const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? safe(v) : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** The CSV rows a signal object should become: one per changed field, or one with the change columns empty. */
function expectedSignalRows(s: Json): string[][] {
  const who = (p: unknown) => {
    const o = p as { id: string; name: string; role: string } | null;
    return o ? [o.id, o.name, o.role] : [null, null, null];
  };
  const base = [
    s.deal_id,
    s.buyer_name,
    s.id,
    s.type,
    s.concern,
    s.claim_revision,
    s.verdict,
    s.kind,
    s.comment,
    ...who(s.stakeholder),
    ...who(s.target_stakeholder),
    s.week,
    s.created_at,
  ];
  const changes = s.changes as { field: string; claimed: unknown; corrected: unknown }[];
  const tails = changes.length ? changes.map((c) => [c.field, c.claimed, c.corrected]) : [[null, null, null]];
  return tails.map((tail) => [...base, ...tail].map(cell));
}

/**
 * Vendor A: Zürich (a correction changing two fields with a hostile comment from a person named like a formula, a
 * "not mine", a claim change, a stage move), Beta (a confirm two days later, an answer commented "@SUM(1)") and
 * Gamma (nothing answered, a champion only, moved to negotiation by an override). Vendor B: one deal with one answer.
 */
async function workspace(t: Test) {
  const ctx = await testApp(t);
  const { app, clock } = ctx;
  const a = await signUpVendor(ctx, { workspace: 'Export AI', email: 'ada@export.test' });
  const zurich = await openDeal(a, { buyer_name: BUYER, industry: 'insurance', region: 'EU_EEA' });
  const beta = await openDeal(a, { buyer_name: 'Beta Bank', industry: 'financial_services', region: 'US' });
  const gamma = await openDeal(a, { buyer_name: 'Gamma Retail', industry: 'retail' });
  const evil = await inviteStakeholder(ctx, a, zurich, { name: FORMULA_NAME, email: 'evil@zurich.example', role: 'ciso' });
  const leo = await inviteStakeholder(ctx, a, zurich, { name: 'Léo Müller', email: 'leo@zurich.example', role: 'legal' });
  const sam = await inviteStakeholder(ctx, a, beta, { name: 'Sam', email: 'sam@beta.example', role: 'security' });
  await inviteStakeholder(ctx, a, gamma, { name: 'Chad', email: 'chad@gamma.example', role: 'champion' });

  const answer = async (path: string, concern: string, values: Record<string, string | string[]>) => {
    const res = await app.inject({ method: 'POST', url: `${path}/answer/${concern}`, ...form(values) });
    if (res.statusCode !== 303) throw new Error(`answer ${concern} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
  };
  const claimOf = async (dealId: string, concern: string) =>
    (await a.api('GET', `/api/v1/deals/${dealId}`)).json().concerns.find((c: { concern: string }) => c.concern === concern).claim as Record<string, unknown>;

  // Day 0 (2026-03-02)
  const residency = await claimOf(zurich, 'data_residency');
  await answer(evil.path, 'data_residency', {
    verdict: 'correct',
    kind: 'factual_error',
    comment: COMMENT,
    ...(claimForm(residency, { inference_regions: ['EU_EEA'], storage_regions: ['EU_EEA'] }) as Record<string, string | string[]>),
  });
  await answer(leo.path, 'model_access_controls', { verdict: 'not_mine' });
  // Day 1: the vendor changes a claim (a signal of the vendor's, with changes) and moves Zürich on.
  clock.set(new Date(Date.parse(TEST_START) + DAY));
  const changed = await a.api('PUT', `/api/v1/deals/${zurich}/claims/audit_compliance`, { breach_notification_hours: 24 });
  if (changed.statusCode !== 200) throw new Error(`claim change answered ${changed.statusCode}: ${changed.body}`);
  const moved = await a.api('POST', `/api/v1/deals/${zurich}/stage`, { stage: 'evaluation' });
  if (moved.statusCode !== 200) throw new Error(`stage answered ${moved.statusCode}: ${moved.body}`);
  // Day 2; Gamma goes on without security's answers, in writing.
  clock.set(new Date(Date.parse(TEST_START) + 2 * DAY));
  await answer(sam.path, 'model_access_controls', { verdict: 'confirm', comment: '@SUM(1)' });
  const overridden = await a.api('POST', `/api/v1/deals/${gamma}/stage`, { stage: 'negotiation', override_reason: '+1 from the buyer, "go ahead"' });
  if (overridden.statusCode !== 200) throw new Error(`override answered ${overridden.statusCode}: ${overridden.body}`);

  const b = await signUpVendor(ctx, { workspace: 'Other AI', email: 'bo@other.test' });
  const bDeal = await openDeal(b, { buyer_name: 'Other Buyer' });
  const bob = await inviteStakeholder(ctx, b, bDeal, { name: 'Bob', email: 'bob@other.example', role: 'ciso' });
  await answer(bob.path, 'data_residency', { verdict: 'confirm' });
  return { ctx, a, b, deals: { zurich, beta, gamma, bDeal }, people: { evil, leo, sam } };
}

const get = (vendor: TestVendor, url: string) => vendor.api('GET', url);

t.test('signals export: NDJSON lines are the signals API objects, CSV their flattened rows', async (t) => {
  const { a, deals } = await workspace(t);
  const expected: Json[] = [];
  for (const [id, buyer] of [
    [deals.zurich, BUYER],
    [deals.beta, 'Beta Bank'],
    [deals.gamma, 'Gamma Retail'],
  ]) {
    for (const s of await apiSignals(a, id)) expected.push({ deal_id: id, buyer_name: buyer, ...s });
  }
  expected.sort((x, y) => Number(x.id) - Number(y.id));
  t.ok(expected.length >= 7, `the workspace has signals of several kinds (${expected.length})`);
  t.ok(
    expected.some((s) => (s.changes as unknown[]).length === 2 && s.type === 'answer'),
    'one answer changes two fields',
  );
  t.ok(
    expected.some((s) => s.stakeholder === null && (s.changes as unknown[]).length > 0),
    "a vendor's signal (no stakeholder) has changes",
  );

  const nd = await get(a, '/api/v1/signals/export?format=ndjson');
  t.equal(nd.statusCode, 200);
  t.equal(nd.headers['content-type'], 'application/x-ndjson');
  t.equal(nd.headers['cache-control'], 'no-store');
  t.match(String(nd.headers['content-disposition']), /^attachment; filename="signals-2026-03-04\.ndjson"$/);
  t.same(ndjson(nd.body), expected, 'the same objects as the signals API, with deal_id and buyer_name, oldest first');
  t.strictSame(
    ndjson(nd.body).map((s) => Object.keys(s).slice(0, 2)),
    expected.map(() => ['deal_id', 'buyer_name']),
  );

  const c = await get(a, '/api/v1/signals/export');
  t.equal(c.statusCode, 200, 'csv is the default format');
  t.equal(c.headers['content-type'], 'text/csv; charset=utf-8');
  t.equal(c.headers['cache-control'], 'no-store');
  t.match(String(c.headers['content-disposition']), /^attachment; filename="signals-2026-03-04\.csv"$/);
  t.ok(c.body.includes('\r\n'), 'CRLF records');
  const rows = csv(c.body);
  t.strictSame(rows[0], SIGNAL_HEADER, 'the header');
  t.strictSame(rows.slice(1), expected.flatMap(expectedSignalRows), 'one row per changed field, flattened, cells neutralised');

  // The hostile cells, one by one, as a spreadsheet receives them.
  const correction = rows.filter((r) => r[SIGNAL_HEADER.indexOf('verdict')] === 'correct');
  t.equal(correction.length, 2, 'the correction of two fields is two rows');
  t.strictSame(correction.map((r) => r[SIGNAL_HEADER.indexOf('change_field')]).sort(), ['inference_regions', 'storage_regions']);
  t.equal(correction[0][SIGNAL_HEADER.indexOf('stakeholder_name')], `'${FORMULA_NAME}`, 'a name starting with = opens as text');
  t.equal(correction[0][SIGNAL_HEADER.indexOf('comment')], `'${COMMENT}`, 'a comment starting with - opens as text, its quotes, comma and line break intact');
  t.equal(correction[0][SIGNAL_HEADER.indexOf('buyer_name')], BUYER, 'non-ASCII, quotes and a comma round-trip');
  t.equal(correction[0][SIGNAL_HEADER.indexOf('change_corrected')], '["EU_EEA"]', 'a list value is JSON in its cell');
  t.ok(
    rows.some((r) => r[SIGNAL_HEADER.indexOf('comment')] === "'@SUM(1)"),
    'a comment starting with @ opens as text',
  );
  t.ok(
    rows.some((r) => r[SIGNAL_HEADER.indexOf('stakeholder_name')] === 'Léo Müller'),
    'UTF-8 names',
  );
  t.ok(Buffer.from(c.rawPayload).includes(Buffer.from('Zürich', 'utf8')), 'the bytes are UTF-8');
  const single = rows.filter((r) => r[SIGNAL_HEADER.indexOf('verdict')] === 'not_mine');
  t.equal(single.length, 1, 'a signal without changes is one row');
  t.strictSame(single[0].slice(-3), ['', '', ''], 'with the change columns empty');
});

t.test('signals export filters: deal, days, and the deal-list filters', async (t) => {
  const { a, deals } = await workspace(t);
  const all = ndjson((await get(a, '/api/v1/signals/export?format=ndjson')).body);
  const ids = (q: string) =>
    get(a, `/api/v1/signals/export?format=ndjson&${q}`).then((r) => {
      t.equal(r.statusCode, 200, q);
      return ndjson(r.body).map((s) => s.id);
    });
  const where = (f: (s: Json) => boolean) => all.filter(f).map((s) => s.id);
  const day = (s: Json) => String(s.created_at).slice(0, 10);

  t.strictSame(
    await ids(`deal_id=${deals.beta}`),
    where((s) => s.deal_id === deals.beta),
    'one deal',
  );
  t.ok((await ids(`deal_id=${deals.beta}`)).length > 0, '(which has signals)');
  t.strictSame(
    await ids('from=2026-03-03'),
    where((s) => day(s) >= '2026-03-03'),
    'from a day, inclusive',
  );
  t.strictSame(
    await ids('to=2026-03-02'),
    where((s) => day(s) <= '2026-03-02'),
    'to a day, inclusive',
  );
  t.strictSame(
    await ids('from=2026-03-03&to=2026-03-03'),
    where((s) => day(s) === '2026-03-03'),
    'one day',
  );
  t.ok((await ids('from=2026-03-03&to=2026-03-03')).length > 0, '(which has signals)');
  t.strictSame(await ids('from=2026-03-05'), [], 'nothing after the last day');
  t.strictSame(
    await ids('stage=evaluation'),
    where((s) => s.deal_id === deals.zurich),
    'by stage (Zürich moved to evaluation)',
  );
  t.strictSame(
    await ids('corrected=true'),
    where((s) => s.deal_id === deals.zurich),
    'deals with corrections',
  );
  t.strictSame(
    await ids('corrected=false'),
    where((s) => s.deal_id !== deals.zurich),
    'deals without',
  );
  t.strictSame(
    await ids('industry=financial_services'),
    where((s) => s.deal_id === deals.beta),
    'by industry',
  );
  t.strictSame(
    await ids('q=beta'),
    where((s) => s.deal_id === deals.beta),
    'by buyer',
  );
  t.strictSame(
    await ids('corrected_field=data_residency.inference_regions'),
    where((s) => s.deal_id === deals.zurich),
    'by corrected field',
  );
  t.strictSame(await ids(`deal_id=${deals.beta}&stage=evaluation`), [], 'filters combine');
  t.strictSame(
    await ids(`q=z%C3%BCrich&from=2026-03-03`),
    where((s) => s.deal_id === deals.zurich && day(s) >= '2026-03-03'),
    'deal and day filters combine',
  );

  // The same filters pick the same deals as the deal export (the one WHERE clause of the list).
  for (const q of ['stage=evaluation', 'corrected=true', 'region=US', 'risk=no_security_stakeholder', 'checkpoint=open']) {
    const dealIds = new Set(ndjson((await get(a, `/api/v1/deals/export?format=ndjson&${q}`)).body).map((d) => d.id));
    t.strictSame(
      await ids(q),
      where((s) => dealIds.has(s.deal_id)),
      `signals of the deals the list shows for ${q}`,
    );
  }
});

t.test('deals export: every deal-list item in the list order, flattened in CSV', async (t) => {
  const { a, deals } = await workspace(t);
  const list = (await get(a, '/api/v1/deals?limit=200')).json().deals as Json[];
  t.equal(list.length, 3);
  const nd = await get(a, '/api/v1/deals/export?format=ndjson');
  t.equal(nd.statusCode, 200, '/deals/export is not taken for a deal id');
  t.equal(nd.headers['content-type'], 'application/x-ndjson');
  t.match(String(nd.headers['content-disposition']), /^attachment; filename="deals-2026-03-04\.ndjson"$/);
  t.same(ndjson(nd.body), list, 'the list items, in the list order');

  const sorted = (await get(a, '/api/v1/deals?limit=200&sort=buyer_name&corrected=false')).json().deals as Json[];
  t.strictSame(
    ndjson((await get(a, '/api/v1/deals/export?format=ndjson&sort=buyer_name&corrected=false')).body).map((d) => d.id),
    sorted.map((d) => d.id),
    'filters and sort as the list',
  );
  t.equal(sorted.length, 2);

  const rows = csv((await get(a, '/api/v1/deals/export?format=csv')).body);
  const header = rows[0];
  t.strictSame(header, [
    'id',
    'buyer_name',
    'buyer_domain',
    'started_on',
    'week',
    'stage',
    'industry',
    'region',
    'profile_version',
    'owner_id',
    'created_at',
    'last_activity_at',
    'stakeholders',
    'signals',
    'checkpoint_state',
    'checkpoint_gaps',
    'checkpoint_override_reason',
    'checkpoint_override_at',
    'risk_no_security_stakeholder',
    'concerns_open',
    'corrections',
    'first_security_signal_week',
    'first_security_correction_week',
    'awaiting_confirmation',
  ]);
  // Every key of the API item is a column (nested ones flattened): a new field in the list cannot go missing here.
  const leaves = (o: Json, prefix = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? leaves(v as Json, `${prefix}${k}_`) : [`${prefix}${k}`]));
  t.strictSame([...new Set(list.flatMap((d) => leaves(d)))].sort(), [...header].sort(), 'the columns are the API items flattened');
  const byId = new Map(rows.slice(1).map((r) => [r[0], Object.fromEntries(header.map((h, i) => [h, r[i]]))]));
  const z = byId.get(deals.zurich)!;
  const api = list.find((d) => d.id === deals.zurich)!;
  t.equal(z.buyer_name, BUYER);
  t.equal(z.stage, 'evaluation');
  t.equal(z.risk_no_security_stakeholder, String((api.risk as Json).no_security_stakeholder));
  t.equal(z.awaiting_confirmation, JSON.stringify(api.awaiting_confirmation), 'a list of people is JSON in one cell');
  t.equal(z.corrections, String(api.corrections));
  t.equal(z.started_on, api.started_on);
  t.equal(z.created_at, api.created_at);
  t.equal(byId.get(deals.gamma)!.first_security_signal_week, '', 'null is an empty cell');
  t.equal(z.checkpoint_state, 'open');
  t.same(JSON.parse(z.checkpoint_gaps), (api.checkpoint as Json).gaps, 'the open concerns are JSON in one cell');
  t.ok(((api.checkpoint as Json).gaps as unknown[]).length > 0, '(there are some)');
  t.equal(z.checkpoint_override_reason, '', 'no override');
  const g = byId.get(deals.gamma)!;
  t.equal(g.checkpoint_state, 'overridden');
  t.equal(g.checkpoint_override_reason, `'+1 from the buyer, "go ahead"`, 'the override, neutralised');
  t.equal(g.checkpoint_override_at, '2026-03-04T09:00:00.000Z');
});

t.test('grid export: one row per respondent and concern with the answer state', async (t) => {
  const { a, deals, people } = await workspace(t);
  const detail = (await get(a, `/api/v1/deals/${deals.zurich}`)).json() as {
    concerns: {
      concern: string;
      status: string;
      claim_revision: number;
      tailored: boolean;
      answers: { stakeholder_id: string; verdict: string | null; kind: string | null; stale: boolean; answered_at: string | null }[];
    }[];
    stakeholders: { id: string; name: string; role: string }[];
  };
  const nd = await get(a, `/api/v1/deals/${deals.zurich}/grid/export?format=ndjson`);
  t.equal(nd.statusCode, 200);
  t.match(String(nd.headers['content-disposition']), /^attachment; filename="z-rich-f-rs-kring-nord-ab-grid-2026-03-04\.ndjson"$/);
  const lines = ndjson(nd.body);
  t.equal(lines.length, 2 * detail.concerns.length, 'two people × every concern');
  for (const c of detail.concerns) {
    for (const ans of c.answers) {
      const line = lines.find((l) => l.concern === c.concern && (l.stakeholder as Json).id === ans.stakeholder_id);
      const person = detail.stakeholders.find((s) => s.id === ans.stakeholder_id)!;
      t.same(
        line && { ...line, stakeholder: { ...(line.stakeholder as Json), counted: undefined } },
        {
          deal_id: deals.zurich,
          buyer_name: BUYER,
          concern: c.concern,
          concern_title: line?.concern_title,
          claim_revision: c.claim_revision,
          concern_status: c.status,
          tailored: c.tailored,
          stakeholder: { id: person.id, name: person.name, role: person.role, counted: undefined },
          state: ans.verdict ?? 'none',
          kind: ans.kind,
          stale: ans.stale,
          answered_at: ans.answered_at,
          handed_to: null,
        },
        `${person.name} on ${c.concern}`,
      );
    }
  }
  const states = (who: string) => lines.filter((l) => (l.stakeholder as Json).id === who).map((l) => `${l.concern}:${l.state}`);
  t.ok(states(people.evil.id).includes('data_residency:correct'));
  t.ok(states(people.leo.id).includes('model_access_controls:not_mine'));
  t.ok(states(people.leo.id).includes('data_residency:none'), 'an unanswered cell is "none"');

  const rows = csv((await get(a, `/api/v1/deals/${deals.zurich}/grid/export`)).body);
  t.strictSame(rows[0], [
    'deal_id',
    'buyer_name',
    'concern',
    'concern_title',
    'claim_revision',
    'concern_status',
    'tailored',
    'stakeholder_id',
    'stakeholder_name',
    'stakeholder_role',
    'stakeholder_counted',
    'state',
    'kind',
    'stale',
    'answered_at',
    'handed_to',
  ]);
  t.equal(rows.length, 1 + lines.length);
  const evilRow = rows.find((r) => r[7] === people.evil.id && r[2] === 'data_residency')!;
  t.strictSame(evilRow.slice(8, 16), [`'${FORMULA_NAME}`, 'ciso', 'true', 'correct', 'factual_error', 'false', evilRow[14], ''], 'flattened, neutralised');
  t.match(evilRow[14], /^2026-03-02T/);

  const champion = await get(a, `/api/v1/deals/${deals.gamma}/grid/export?format=ndjson`);
  t.equal(champion.statusCode, 200);
  t.equal(champion.body, '', 'a deal whose only person is its champion has no grid rows');
  t.strictSame(csv((await get(a, `/api/v1/deals/${deals.gamma}/grid/export`)).body).length, 1, 'the CSV is its header alone');
});

t.test('tenancy: another workspace exports none of these rows', async (t) => {
  const { ctx, a, b, deals } = await workspace(t);
  const aSignals = (await ctx.db.selectFrom('signals').select(['id', 'vendor_id']).execute()).filter((s) => s.vendor_id !== undefined);
  const bVendor = (await ctx.db.selectFrom('deals').select('vendor_id').where('id', '=', deals.bDeal).executeTakeFirstOrThrow()).vendor_id;
  const bIds = aSignals.filter((s) => s.vendor_id === bVendor).map((s) => s.id);
  t.ok(bIds.length > 0 && bIds.length < aSignals.length, 'both workspaces have signals');

  const bSignals = ndjson((await get(b, '/api/v1/signals/export?format=ndjson')).body);
  t.strictSame(
    bSignals.map((s) => s.id),
    bIds,
    "B's export is B's signals",
  );
  t.strictSame([...new Set(bSignals.map((s) => s.deal_id))], [deals.bDeal]);
  const bCsv = (await get(b, '/api/v1/signals/export')).body;
  for (const id of [deals.zurich, deals.beta, BUYER, 'Beta Bank']) t.notOk(bCsv.includes(id), `B's CSV has nothing of A's (${id.slice(0, 8)})`);
  t.strictSame(
    ndjson((await get(b, '/api/v1/deals/export?format=ndjson')).body).map((d) => d.id),
    [deals.bDeal],
  );

  for (const url of [
    `/api/v1/deals/${deals.zurich}/grid/export`,
    `/api/v1/signals/export?deal_id=${deals.zurich}`,
    '/api/v1/signals/export?deal_id=not-a-uuid',
    '/api/v1/deals/00000000-0000-4000-8000-000000000000/grid/export',
  ]) {
    const res = await get(b, url);
    t.equal(res.statusCode, 404, `${url} is a 404 for B`);
    t.equal(res.json().error.code, 'not_found');
  }
  t.equal((await b.page(`/app/deals/${deals.zurich}/grid.csv`)).statusCode, 404, 'the page route too');
  t.equal((await b.page(`/app/deals/${deals.zurich}/signals.csv`)).statusCode, 404);
  t.equal((await a.page(`/app/deals/${deals.zurich}/grid.csv`)).statusCode, 200, 'A may');
});

t.test('bad parameters are a 400 naming each', async (t) => {
  const { ctx, a, deals } = await workspace(t);
  const cases: [string, string[]][] = [
    ['/api/v1/signals/export?colour=red', ['colour']],
    ['/api/v1/signals/export?format=xml', ['format']],
    ['/api/v1/signals/export?from=2026-13-01&to=yesterday', ['from', 'to']],
    ['/api/v1/signals/export?from=2026-03-04&to=2026-03-03', ['to']],
    ['/api/v1/signals/export?stage=won', ['stage']],
    ['/api/v1/signals/export?sort=buyer_name', ['sort']],
    ['/api/v1/deals/export?limit=10&cursor=x', ['limit', 'cursor']],
    ['/api/v1/deals/export?corrected=maybe', ['corrected']],
    ['/api/v1/deals/export?format=json', ['format']],
    [`/api/v1/deals/${deals.zurich}/grid/export?stage=evaluation`, ['stage']],
  ];
  for (const [url, fields] of cases) {
    const res = await get(a, url);
    t.equal(res.statusCode, 400, url);
    const body = res.json();
    t.equal(body.error.code, 'invalid_input', url);
    const named = (body.error.details as { field: string }[]).map((d) => d.field);
    for (const f of fields) t.ok(named.some((n) => n === f || n.includes(f)) || body.error.message.includes(f), `${url} names ${f}`);
  }
  const page = await a.page('/app/deals/export.csv?colour=red');
  t.equal(page.statusCode, 400, 'the page route refuses an unknown parameter too');
  t.match(page.body, /colour/);
  // A HEAD would run a whole export only to drop it: the exports answer GET alone.
  for (const url of ['/api/v1/signals/export', '/api/v1/deals/export', `/api/v1/deals/${deals.zurich}/grid/export`]) {
    const head = await ctx.app.inject({ method: 'HEAD', url, headers: { authorization: `Bearer ${a.apiKey}` } });
    t.equal(head.statusCode, 404, `HEAD ${url} runs nothing`);
  }
  for (const url of ['/app/deals/export.csv', `/app/deals/${deals.zurich}/signals.csv`, `/app/deals/${deals.zurich}/grid.ndjson`]) {
    const head = await ctx.app.inject({ method: 'HEAD', url, headers: a.jar.headers() });
    t.equal(head.statusCode, 404, `HEAD ${url} runs nothing`);
  }
});

t.test('more rows than one batch: every signal once, in order, across batch boundaries', async (t) => {
  const ctx = await testApp(t);
  const { db, clock } = ctx;
  const a = await signUpVendor(ctx, { email: 'ada@batch.test' });
  const one = await openDeal(a, { buyer_name: 'One' });
  const two = await openDeal(a, { buyer_name: 'Two' });
  const p1 = await inviteStakeholder(ctx, a, one, { name: 'P1', email: 'p1@one.example' });
  const p2 = await inviteStakeholder(ctx, a, two, { name: 'P2', email: 'p2@two.example' });
  const b = await signUpVendor(ctx, { email: 'bo@batch.test' });
  const other = await openDeal(b, { buyer_name: 'Other' });
  const po = await inviteStakeholder(ctx, b, other, { name: 'PO', email: 'po@other.example' });
  const vendorOf = async (dealId: string) => (await db.selectFrom('deals').select('vendor_id').where('id', '=', dealId).executeTakeFirstOrThrow()).vendor_id;
  const [va, vb] = [await vendorOf(one), await vendorOf(other)];
  // 2,345 signals for A, interleaved between its two deals and with B's (1,000 per query in the export).
  await sql`
    insert into signals (vendor_id, deal_id, stakeholder_id, type, concern, claim_revision, verdict, changes, week, created_at)
    select case when g % 3 = 0 then ${vb}::uuid else ${va}::uuid end,
           case when g % 3 = 0 then ${other}::uuid when g % 2 = 0 then ${one}::uuid else ${two}::uuid end,
           case when g % 3 = 0 then ${po.id}::uuid when g % 2 = 0 then ${p1.id}::uuid else ${p2.id}::uuid end,
           'answer', 'data_residency', 1, 'confirm', '[]'::jsonb, 1, ${new Date(TEST_START)}::timestamptz + make_interval(secs => g)
      from generate_series(1, 3517) g`.execute(db);
  const expected = (await db.selectFrom('signals').select('id').where('vendor_id', '=', va).orderBy('id').execute()).map((r) => r.id);
  t.ok(expected.length > 2000, `A has ${expected.length} signals`);

  const nd = ndjson((await a.api('GET', '/api/v1/signals/export?format=ndjson')).body).map((s) => s.id);
  t.equal(nd.length, expected.length, 'as many lines as signals');
  t.strictSame(nd, expected, 'each once, in id order: no gap or repeat at a batch boundary');
  const rows = csv((await a.api('GET', '/api/v1/signals/export')).body).slice(1);
  t.strictSame(
    rows.map((r) => Number(r[2])),
    expected,
    'the CSV too',
  );
  const filtered = ndjson((await a.api('GET', `/api/v1/signals/export?format=ndjson&deal_id=${one}`)).body).map((s) => s.id);
  const ofOne = (await db.selectFrom('signals').select('id').where('deal_id', '=', one).orderBy('id').execute()).map((r) => r.id);
  t.ok(ofOne.length > 1000);
  t.strictSame(filtered, ofOne, "one deal's, across batches");

  // Small batches through the service: the boundaries fall everywhere, including on the last row.
  for (const batch of [1, 7, expected.length, expected.length - 1]) {
    let queries = 0;
    const file = await exportSignals(db, clock, va, {}, 'ndjson', { batch, onBatch: () => queries++ });
    let text = '';
    for await (const chunk of file.body) text += String(chunk);
    t.strictSame(
      ndjson(text).map((s) => s.id),
      expected,
      `batch of ${batch}`,
    );
    t.equal(queries, Math.floor(expected.length / batch) + 1, `batch of ${batch}: ${queries} queries, the last one short`);
  }
});

t.test('a client that goes away stops the queries', async (t) => {
  const ctx = await testApp(t);
  const { db, clock } = ctx;
  const a = await signUpVendor(ctx, { email: 'ada@gone.test' });
  const dealId = await openDeal(a);
  const p = await inviteStakeholder(ctx, a, dealId, { name: 'P', email: 'p@gone.example' });
  const vendorId = (await db.selectFrom('deals').select('vendor_id').where('id', '=', dealId).executeTakeFirstOrThrow()).vendor_id;
  await sql`
    insert into signals (vendor_id, deal_id, stakeholder_id, type, concern, claim_revision, verdict, changes, week, created_at)
    select ${vendorId}::uuid, ${dealId}::uuid, ${p.id}::uuid, 'answer', 'data_residency', 1, 'confirm', '[]'::jsonb, 1, now()
      from generate_series(1, 2000) g`.execute(db);

  let queries = 0;
  const file = await exportSignals(db, clock, vendorId, {}, 'csv', { batch: 10, onBatch: () => queries++ });
  // A consumer that takes one chunk, then goes away (as the response does when its socket closes).
  await new Promise<void>((resolve) => {
    const sink = new Writable({
      write(_chunk, _enc, done) {
        file.body.destroy();
        done();
      },
    });
    file.body.on('close', resolve);
    file.body.pipe(sink);
  });
  const seen = queries;
  await new Promise((r) => setTimeout(r, 200));
  t.equal(queries, seen, 'no query after the stream is destroyed');
  t.ok(queries < 10, `only the first batches were read (${queries} of 201)`);

  // Backpressure: a consumer that never reads lets the export run only a few batches ahead.
  let ahead = 0;
  const idle = await exportSignals(db, clock, vendorId, {}, 'ndjson', { batch: 10, onBatch: () => ahead++ });
  await new Promise((r) => setTimeout(r, 300));
  t.ok(ahead < 40, `a stalled reader holds the export back (${ahead} of 201 batches read)`);
  idle.body.destroy();
});

t.test('pages: export links keep the filters; the routes want a session', async (t) => {
  const { ctx, a, deals } = await workspace(t);
  const list = await a.page('/app?stage=evaluation&q=z%C3%BCrich&sort=buyer_name&industry=');
  t.equal(list.statusCode, 200);
  const hrefs = [...list.body.matchAll(/href="(\/app\/deals\/export\.[a-z]+[^"]*)"/g)].map((m) => decodeEntities(m[1]));
  t.equal(hrefs.length, 2, 'an Export CSV and an NDJSON link');
  const params = (href: string) => Object.fromEntries(new URL(href, 'http://x').searchParams);
  t.strictSame(params(hrefs[0]), { sort: 'buyer_name', stage: 'evaluation', q: 'zürich' }, 'the CSV link keeps the filters and order, not the page');
  t.match(hrefs[0], /^\/app\/deals\/export\.csv\?/);
  t.match(hrefs[1], /^\/app\/deals\/export\.ndjson\?/);
  t.match(list.body, />Export CSV<span class="sr-only"> of these deals<\/span><\/a>/);

  const viaPage = await a.page(hrefs[1]);
  t.equal(viaPage.statusCode, 200);
  t.equal(viaPage.headers['content-type'], 'application/x-ndjson');
  t.strictSame(
    ndjson(viaPage.body).map((d) => d.id),
    [deals.zurich],
    'the page export is the filtered list',
  );
  const plain = await a.page('/app');
  t.match(plain.body, /href="\/app\/deals\/export\.csv"/, 'without filters, every deal');

  const deal = await a.page(`/app/deals/${deals.zurich}`);
  for (const ext of ['csv', 'ndjson']) {
    t.match(deal.body, new RegExp(`href="/app/deals/${deals.zurich}/signals\\.${ext}"`), `the deal page links its signals as ${ext}`);
    t.match(deal.body, new RegExp(`href="/app/deals/${deals.zurich}/grid\\.${ext}"`), `and its grid as ${ext}`);
  }
  const pageSignals = await a.page(`/app/deals/${deals.zurich}/signals.ndjson`);
  const apiSignalsOfDeal = await get(a, `/api/v1/signals/export?format=ndjson&deal_id=${deals.zurich}`);
  t.equal(pageSignals.statusCode, 200);
  t.equal(pageSignals.body, apiSignalsOfDeal.body, "the page's signals are the API's for that deal");
  t.match(String(pageSignals.headers['content-disposition']), /filename="z-rich-f-rs-kring-nord-ab-signals-2026-03-04\.ndjson"/);
  const pageGrid = await a.page(`/app/deals/${deals.zurich}/grid.csv`);
  t.equal(pageGrid.body, (await get(a, `/api/v1/deals/${deals.zurich}/grid/export`)).body, "the page's grid is the API's");
  t.equal(pageGrid.headers['cache-control'], 'no-store');

  for (const url of ['/app/deals/export.csv', `/app/deals/${deals.zurich}/signals.csv`, `/app/deals/${deals.zurich}/grid.ndjson`]) {
    const anon = await ctx.app.inject({ method: 'GET', url });
    t.equal(anon.statusCode, 303, `${url} without a session goes to sign-in`);
    t.match(String(anon.headers.location), /^\/signin\?next=/);
    t.notOk(anon.body.includes('buyer_name'), 'and shows nothing');
  }
  const keyOnly = await ctx.app.inject({ method: 'GET', url: '/api/v1/signals/export' });
  t.equal(keyOnly.statusCode, 401, 'the API wants a key');
});

t.test('the OpenAPI document describes the exports', async (t) => {
  const ctx = await testApp(t);
  const doc = (await ctx.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json();
  for (const path of ['/api/v1/signals/export', '/api/v1/deals/export', '/api/v1/deals/{id}/grid/export']) {
    const op = doc.paths[path]?.get;
    t.ok(op, `${path} is documented`);
    t.ok(op?.responses?.['200']?.content?.['text/csv'], `${path} answers text/csv`);
    t.ok(op?.responses?.['200']?.content?.['application/x-ndjson'], `${path} answers NDJSON`);
    const names = (op?.parameters ?? []).map((p: { name: string }) => p.name);
    t.ok(names.includes('format'), `${path} documents format`);
  }
  const params = doc.paths['/api/v1/signals/export'].get.parameters.map((p: { name: string }) => p.name);
  for (const p of ['deal_id', 'from', 'to', 'stage', 'corrected_field']) t.ok(params.includes(p), `signals export documents ${p}`);
});
