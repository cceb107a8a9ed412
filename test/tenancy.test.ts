// Another vendor's deal, stakeholder or profile answers 404, exactly as if it did not exist.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('vendor B cannot see or touch vendor A’s data', async (t) => {
  const ctx = await testApp(t);
  const { db } = ctx;
  const a = await signUpVendor(ctx, { workspace: 'Alpha AI', email: 'admin@alpha.test' });
  const b = await signUpVendor(ctx, { workspace: 'Beta AI', email: 'admin@beta.test' });
  const dealId = await openDeal(a, { buyer_name: 'Alpha’s Bank' });
  const st = await inviteStakeholder(ctx, a, dealId, { email: 'ciso@bank.example' });
  await openDeal(b, { buyer_name: 'Beta’s Bank' });

  const missing = '00000000-0000-4000-8000-000000000000';
  for (const [method, url, body] of [
    ['GET', `/api/v1/deals/${dealId}`],
    ['GET', `/api/v1/deals/${dealId}/signals`],
    ['POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Mallory', email: 'm@evil.example', role: 'ciso' }],
  ] as const) {
    const theirs = await b.api(method, url, body);
    const none = await b.api(method, url.replace(dealId, missing), body);
    t.equal(theirs.statusCode, 404, `${method} ${url.replace(dealId, ':id')} is 404 for another vendor`);
    t.same(theirs.json(), none.json(), 'and says exactly what a missing id says');
  }
  const list = (await b.api('GET', '/api/v1/deals')).json().deals;
  t.same(
    list.map((d: { buyer_name: string }) => d.buyer_name),
    ['Beta’s Bank'],
    'B lists only its own deals',
  );
  t.notMatch((await b.api('GET', '/api/v1/profile')).body, 'Alpha');

  for (const url of [`/app/deals/${dealId}`]) {
    const res = await b.page(url);
    t.equal(res.statusCode, 404, `page ${url} is 404 for another vendor`);
    t.notMatch(res.body, 'Alpha’s Bank');
  }
  const invite = await b.post(`/app/deals/${dealId}/stakeholders/${st.id}/invite`);
  t.equal(invite.statusCode, 404, 'B cannot resend A’s link');
  const add = await b.post(`/app/deals/${dealId}/stakeholders`, { name: 'Mallory', email: 'm@evil.example', role: 'ciso', invite: 'yes' });
  t.equal(add.statusCode, 404, 'B cannot add a stakeholder to A’s deal');
  t.equal((await db.selectFrom('stakeholders').selectAll().execute()).length, 1, 'nothing was added');

  // A's own session still sees everything.
  t.equal((await a.page(`/app/deals/${dealId}`)).statusCode, 200);
  t.equal((await a.api('GET', `/api/v1/deals/${dealId}/signals`)).statusCode, 200);
});

t.test('the database refuses cross-tenant references', async (t) => {
  const ctx = await testApp(t);
  const { db } = ctx;
  const a = await signUpVendor(ctx, { email: 'admin@alpha.test' });
  const b = await signUpVendor(ctx, { email: 'admin@beta.test' });
  const dealA = await openDeal(a);
  await openDeal(b);
  const vendorB = (await db.selectFrom('users').select('vendor_id').where('email', '=', 'admin@beta.test').executeTakeFirstOrThrow()).vendor_id;
  await t.rejects(
    db
      .insertInto('stakeholders')
      .values({
        id: crypto.randomUUID(),
        vendor_id: vendorB,
        deal_id: dealA,
        name: 'x',
        email: 'x@x.example',
        role: 'ciso',
        delegated_by: null,
        created_at: new Date(),
        invited_at: null,
      })
      .execute(),
    /foreign key/,
    'a stakeholder of vendor B cannot point at vendor A’s deal',
  );
});
