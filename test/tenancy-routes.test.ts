// Walks the app's own route table: every vendor-scoped route with an id in
// it, page or API, called by another vendor with the first vendor's ids,
// answers 404 exactly as a missing id would, and leaks nothing. A route added
// later is covered without anyone remembering to add it here; a route with a
// parameter this walk does not know fails the test until it is taught.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { testApp } from './helpers/app.js';
import { inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';
import { inviteMember, sendInvitation, sessionClaims } from './helpers/team.js';

t.test('every vendor route refuses another vendor’s ids with a 404', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const a = await signUpVendor(ctx, { workspace: 'Alpha AI', email: 'admin@alpha.test' });
  const b = await signUpVendor(ctx, { workspace: 'Beta AI', email: 'admin@beta.test' });
  const dealId = await openDeal(a, { buyer_name: 'Alphabank Secret' });
  const person = await inviteStakeholder(ctx, a, dealId, { name: 'Xenia Hidden', email: 'xenia@alphabank.example', role: 'ciso' });
  await openDeal(b, { buyer_name: 'Beta Bank' });
  const keyA = await db
    .selectFrom('api_keys as k')
    .innerJoin('users as u', 'u.vendor_id', 'k.vendor_id')
    .select('k.id')
    .where('u.email', '=', 'admin@alpha.test')
    .executeTakeFirstOrThrow();
  // Two webhooks of A's (one for the API's routes, one for the page's: each route set deletes its own), each with a delivery.
  const hook = async (path: string) => {
    const { id } = (await a.api('POST', '/api/v1/webhooks', { url: `https://93.184.216.34/${path}`, events: ['deal.stage_changed'] })).json();
    const { delivery_id } = (await a.api('POST', `/api/v1/webhooks/${id}/test`)).json();
    return { id: id as string, delivery: delivery_id as string };
  };
  const [hookApi, hookPage] = [await hook('api'), await hook('page')];
  const hookOf = (url: string) => (url.startsWith('/api/') ? hookApi : hookPage);
  // A's team: a member and a pending invitation for each of the API's routes and the page's (each set removes its
  // own), and a second session of A's owner (ending it leaves the walk signed in).
  const ownerA = sessionClaims(app, a.jar).sub;
  const [mateApi, matePage] = [
    await inviteMember(ctx, a, { email: 'mate-api@alpha.test', name: 'Mate Api', role: 'member' }),
    await inviteMember(ctx, a, { email: 'mate-page@alpha.test', name: 'Mate Page', role: 'member' }),
  ];
  const [invApi, invPage] = [
    (await sendInvitation(a, { email: 'inv-api@alpha.test', name: 'Inv Api', role: 'viewer' })).json().id as string,
    (await sendInvitation(a, { email: 'inv-page@alpha.test', name: 'Inv Page', role: 'viewer' })).json().id as string,
  ];
  const otherSession = randomUUID();
  await db
    .insertInto('user_sessions')
    .values({
      vendor_id: sessionClaims(app, a.jar).vid,
      id: otherSession,
      user_id: ownerA,
      method: 'link',
      ip: null,
      user_agent: null,
      created_at: ctx.clock.now(),
      last_seen_at: ctx.clock.now(),
    })
    .execute();
  const teamIds = [mateApi.userId, matePage.userId, invApi, invPage, otherSession];
  const teamId = (url: string) => (url.includes('/invitations/') ? (url.startsWith('/api/') ? invApi : invPage) : url.startsWith('/api/') ? mateApi.userId : matePage.userId);

  const ids: Record<string, (url: string) => string> = {
    id: (url) => (url.startsWith('/app/settings/api-keys') ? keyA.id : url.includes('/webhooks/') ? hookOf(url).id : /\/(members|invitations)\//.test(url) ? teamId(url) : dealId),
    session: () => otherSession,
    sid: () => person.id,
    concern: () => 'data_residency',
    delivery: (url) => hookOf(url).delivery,
    delivery_id: (url) => hookOf(url).delivery,
  };
  // A body that would be accepted from the owner, so refusals come from ownership, not validation.
  const bodies: Record<string, Record<string, unknown>> = {
    'POST /app/deals/:id/stakeholders': { name: 'Mallory', email: 'm@evil.example', role: 'ciso', invite: 'yes' },
    'POST /app/deals/:id/stage': { stage: 'evaluation' },
    'POST /app/deals/:id/owner': { owner_id: ownerA },
    'POST /app/deals/:id/settings': { reminder_days: '3, 7' },
    'POST /app/deals/:id/segment': { industry: 'insurance', region: 'EU_EEA' },
    'POST /app/deals/:id/stakeholders/:sid/reminders': { paused: 'yes' },
    'POST /api/v1/deals/:id/stakeholders': { name: 'Mallory', email: 'm2@evil.example', role: 'ciso' },
    'POST /api/v1/deals/:id/stakeholders/batch': { stakeholders: [{ name: 'Mallory', email: 'm3@evil.example', role: 'ciso' }] },
    'POST /app/deals/:id/stakeholders/csv/preview': { csv: 'name,email,role\nMallory,m4@evil.example,ciso' },
    'POST /app/deals/:id/stakeholders/csv': { csv: 'name,email,role\nMallory,m5@evil.example,ciso' },
    'POST /api/v1/deals/:id/stage': { stage: 'evaluation' },
    'PATCH /api/v1/deals/:id': { reminders_paused: false },
    'PATCH /api/v1/deals/:id/stakeholders/:sid': { reminders_paused: true },
    'PUT /api/v1/deals/:id/claims/:concern': { inference_scope: 'global_routing' },
    'POST /app/members/:id/role': { role: 'viewer' },
    'POST /app/members/:id/remove': { new_owner_id: ownerA },
    'PATCH /api/v1/members/:id': { role: 'viewer' },
    'DELETE /api/v1/members/:id': { new_owner_id: ownerA },
  };

  const call = (v: TestVendor, method: string, pattern: string, url: string) => {
    const body = bodies[`${method} ${pattern}`] ?? {};
    if (url.startsWith('/api/')) return v.api(method as 'GET', url, method === 'GET' ? undefined : body);
    return method === 'GET' ? v.page(url) : v.post(url, body as never);
  };

  const scoped = app.routeTable.filter((r) => (r.url.startsWith('/app/') || r.url.startsWith('/api/v1/')) && r.url.includes(':') && r.method !== 'HEAD');
  t.ok(scoped.length >= 20, `${scoped.length} vendor routes with ids to walk`);
  const seen: string[] = [];
  for (const r of scoped) {
    const params = [...r.url.matchAll(/:([a-z_]+)/g)].map((m) => m[1]);
    const unknown = params.filter((p) => !ids[p]);
    t.same(unknown, [], `${r.method} ${r.url}: every parameter is known to this walk`);
    if (unknown.length) continue;
    const url = r.url.replace(/:([a-z_]+)/g, (_m, p: string) => ids[p](r.url));
    const theirs = await call(b, r.method, r.url, url);
    t.equal(theirs.statusCode, 404, `${r.method} ${r.url} answers 404 to another vendor`);
    t.notMatch(theirs.body, /Alphabank|Xenia|alphabank\.example/, `${r.method} ${r.url} leaks nothing`);
    const missing = await call(
      b,
      r.method,
      r.url,
      url
        .replace(dealId, '00000000-0000-4000-8000-000000000000')
        .replace(person.id, '00000000-0000-4000-8000-000000000001')
        .replace(keyA.id, '00000000-0000-4000-8000-000000000002')
        .replace(new RegExp(teamIds.join('|')), '00000000-0000-4000-8000-000000000003'),
    );
    t.equal(missing.statusCode, 404, `${r.method} ${r.url} answers 404 for a missing id too`);
    if (url.startsWith('/api/')) t.same(theirs.json(), missing.json(), `${r.method} ${r.url}: the same body as for a missing id`);
    seen.push(`${r.method} ${r.url}`);
  }
  t.equal((await db.selectFrom('stakeholders').selectAll().where('email', 'like', 'm%@evil.example').execute()).length, 0, 'nothing was written');
  const deal = await db.selectFrom('deals').select(['stage', 'reminders_paused', 'industry', 'region']).where('id', '=', dealId).executeTakeFirstOrThrow();
  t.same(deal, { stage: 'discovery', reminders_paused: false, industry: null, region: null }, 'A’s deal is untouched');

  // The walk is not vacuous: the owner succeeds on every one of these routes
  // (revocations last, so they do not lock the owner out of the rest).
  const weight = (url: string, method: string) =>
    url.includes('api-keys')
      ? 2
      : url.includes('revoke') ||
          url.endsWith('/webhooks/:id/delete') ||
          (method === 'DELETE' && url.includes('/webhooks/')) ||
          url.endsWith('/members/:id/remove') ||
          (method === 'DELETE' && url.endsWith('/members/:id'))
        ? 1
        : 0;
  const ownerOrder = [...scoped].sort((x, y) => weight(x.url, x.method) - weight(y.url, y.method));
  for (const r of ownerOrder) {
    const url = r.url.replace(/:([a-z_]+)/g, (_m, p: string) => ids[p](r.url));
    const own = await call(a, r.method, r.url, url);
    t.ok(own.statusCode >= 200 && own.statusCode < 400, `${r.method} ${r.url} works for its owner (${own.statusCode})`);
  }
  t.ok(seen.length === scoped.length);
});

// The routes without an id (lists, insight, settings) answer each vendor from its own rows only: walked the same
// way, every GET of them by another vendor shows none of the first vendor's buyers or people, while the first
// vendor's own answer does show its buyer where the route lists deals or their evidence.
t.test('every vendor page and API list without an id shows another vendor nothing', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const a = await signUpVendor(ctx, { workspace: 'Alpha AI', email: 'admin@alpha.test' });
  const b = await signUpVendor(ctx, { workspace: 'Beta AI', email: 'admin@beta.test' });
  const dealId = await openDeal(a, { buyer_name: 'Alphabank Secret', industry: 'financial_services', region: 'EU_EEA' });
  const xenia = await inviteStakeholder(ctx, a, dealId, { name: 'Xenia Hidden', email: 'xenia@alphabank.example', role: 'ciso' });
  await app.inject({ method: 'POST', url: `${xenia.path}/answer/ai_governance`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'verdict=confirm' });
  await openDeal(b, { buyer_name: 'Beta Bank' });

  const lists = app.routeTable.filter((r) => (r.url.startsWith('/app') || r.url.startsWith('/api/v1/')) && !r.url.includes(':') && r.method === 'GET');
  t.ok(lists.some((r) => r.url.startsWith('/api/v1/insights/')) && lists.some((r) => r.url.startsWith('/app/insights')), 'the insight routes are among them');
  for (const r of lists) {
    const theirs = r.url.startsWith('/api/') ? await b.api('GET', r.url) : await b.page(r.url);
    t.ok(theirs.statusCode < 500, `${r.url} answers another vendor (${theirs.statusCode})`);
    t.notMatch(theirs.body, /Alphabank|Xenia|alphabank\.example/, `${r.url} shows another vendor nothing of A`);
  }
  // Not vacuous: A's own insight counts A's answer, which B's does not.
  const governance = (res: { json(): { concerns: { concern: string; answered_deals: number }[] } }) =>
    res.json().concerns.find((c) => c.concern === 'ai_governance')!.answered_deals;
  t.equal(governance(await a.api('GET', '/api/v1/insights/corrections')), 1, 'A’s insight counts its deal');
  t.equal(governance(await b.api('GET', '/api/v1/insights/corrections')), 0, 'B’s does not');
  t.match((await a.page('/app')).body, /Alphabank Secret/, 'A’s list shows its buyer');
});
