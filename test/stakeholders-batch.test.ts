// POST /api/v1/deals/{id}/stakeholders/batch: up to 500 people in one
// request, all added or none, every bad row named by its index and field.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import t from 'tap';
import { testApp, type TestApp } from './helpers/app.js';
import { linksIn } from './helpers/smtp.js';
import { openDeal, signUpVendor } from './helpers/vendor.js';

/** Rows in the tables a batch writes. */
async function tableCounts(ctx: TestApp) {
  const count = async (table: 'stakeholders' | 'stakeholder_links' | 'outbox') =>
    Number(
      (
        await ctx.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { stakeholders: await count('stakeholders'), links: await count('stakeholder_links'), outbox: await count('outbox') };
}

const person = (i: number, extra: Record<string, unknown> = {}) => ({ name: `Person ${i}`, email: `person${i}@bank.example`, role: i % 2 ? 'security' : 'compliance', ...extra });

t.test('a batch adds everyone in one go and queues one invitation each', async (t) => {
  const ctx = await testApp(t);
  const { db, smtp } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  await ctx.drainMail();
  smtp.clear();
  const before = await tableCounts(ctx);

  const rows: { name: string; email: string; role: string; invite?: boolean }[] = [
    { name: '  Carla Ciso ', email: 'Carla@Bank.Example', role: 'ciso' },
    { name: 'Sam Security', email: 'sam@bank.example', role: 'security', invite: true },
    { name: 'Quiet Quinn', email: 'quinn@bank.example', role: 'legal', invite: false },
    { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion' },
    ...Array.from({ length: 16 }, (_, i) => person(i)),
  ];
  const res = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, { stakeholders: rows });
  t.equal(res.statusCode, 201, 'created');
  const body = res.json();
  t.equal(body.invited, 19, 'everyone but the one with invite: false');
  t.equal(body.stakeholders.length, 20);
  t.match(body.stakeholders[0], { id: /^[0-9a-f-]{36}$/, name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' }, 'values as stored: trimmed, address in lower case');
  t.same(
    body.stakeholders.map((s: { email: string }) => s.email),
    rows.map((r) => r.email.toLowerCase()),
    'in the order given',
  );
  t.same(Object.keys(body.stakeholders[0]).sort(), ['email', 'id', 'name', 'role']);

  const after = await tableCounts(ctx);
  t.same(after, { stakeholders: before.stakeholders + 20, links: before.links + 19, outbox: before.outbox + 19 }, 'one person, link and mail per row');

  // As a single add stores them: added by the vendor, counted at once, at the start of the chain.
  const stored = await db.selectFrom('stakeholders').selectAll().where('deal_id', '=', dealId).execute();
  t.ok(
    stored.every((s) => s.source === 'vendor' && s.confirmed_at !== null && s.delegation_depth === 0 && s.delegated_by === null),
    'vendor-added, confirmed, depth 0',
  );
  const quinn = stored.find((s) => s.email === 'quinn@bank.example')!;
  t.equal(quinn.invited_at, null, 'not invited: no reminder cadence');
  t.ok(
    stored.filter((s) => s.email !== 'quinn@bank.example').every((s) => s.invited_at !== null && s.reminders_sent === 0),
    'the invited have started their reminder cadence',
  );

  // The invitations go out through the outbox like any other, each with a working personal link.
  t.equal(await ctx.drainMail(), 19);
  const invited = rows.filter((r) => r.invite !== false).map((r) => r.email.toLowerCase());
  t.same(smtp.messages.map((m) => m.to).sort(), [...invited].sort(), 'one mail per invited person, none for the rest');
  const carla = smtp.messages.find((m) => m.to === 'carla@bank.example')!;
  t.match(carla.text, 'Hello Carla Ciso');
  const chris = smtp.messages.find((m) => m.to === 'chris@bank.example')!;
  t.match(chris.subject, 'follow your security team', 'a champion gets the champion invitation');
  const link = linksIn(carla.text).find((l) => l.includes('/r/'))!;
  const page = await ctx.app.inject({ method: 'GET', url: new URL(link).pathname });
  t.equal(page.statusCode, 200, 'the personal link opens the respondent page');

  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(detail.stakeholders.length, 20);
  t.equal(detail.risk.no_security_stakeholder, false, 'the CISO in the batch clears the risk');
});

t.test('a batch with bad rows names each by index and field and writes nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const single = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Olga Old', email: 'olga@bank.example', role: 'ciso' });
  t.equal(single.statusCode, 201);
  const before = await tableCounts(ctx);

  const rows = Array.from({ length: 12 }, (_, i) => person(i));
  rows[3] = person(3, { email: 'not-an-address' });
  rows[5] = person(5, { email: 'OLGA@bank.example' }); // already on the deal
  rows[7] = person(7, { role: 'ceo' });
  rows[9] = person(9, { email: ' Person1@BANK.example ' }); // the same address as row 1
  rows[10] = person(10, { name: '', invite: 'yes' });
  const res = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, { stakeholders: [...rows, 'nobody'] });
  t.equal(res.statusCode, 400);
  const { error } = res.json();
  t.equal(error.code, 'invalid_input');
  const fields = error.details.map((d: { field: string }) => d.field);
  t.same(
    fields,
    ['stakeholders.3.email', 'stakeholders.5.email', 'stakeholders.7.role', 'stakeholders.9.email', 'stakeholders.10.name', 'stakeholders.10.invite', 'stakeholders.12'],
    'every bad row by index and field, in row order, and nothing else',
  );
  const message = (field: string) => error.details.find((d: { field: string }) => d.field === field).message;
  t.equal(message('stakeholders.3.email'), 'must be a valid email address');
  t.equal(message('stakeholders.5.email'), 'is already a stakeholder on this deal');
  t.match(message('stakeholders.7.role'), 'must be one of ciso, security');
  t.equal(message('stakeholders.9.email'), 'repeats the address of stakeholders.1');
  t.equal(message('stakeholders.10.name'), 'is required');
  t.match(error.message, '6 of the 13 stakeholders have invalid values, so none was added: stakeholders.3.email (must be a valid email address)');
  t.same(await tableCounts(ctx), before, 'no person, link or mail was written');

  // Fixed, the same batch goes through.
  rows[3] = person(3);
  rows[5] = person(5);
  rows[7] = person(7);
  rows[9] = person(9);
  rows[10] = person(10);
  const fixed = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, { stakeholders: rows });
  t.equal(fixed.statusCode, 201, 'the fixed batch is created');
  t.same(await tableCounts(ctx), { stakeholders: before.stakeholders + 12, links: before.links + 12, outbox: before.outbox + 12 });

  // Sent again, every row is already on the deal: still one 400 naming each row, as the single add refuses one.
  const again = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, { stakeholders: rows.slice(0, 2) });
  t.equal(again.statusCode, 400);
  t.same(again.json().error.details, [
    { field: 'stakeholders.0.email', message: 'is already a stakeholder on this deal' },
    { field: 'stakeholders.1.email', message: 'is already a stakeholder on this deal' },
  ]);
});

t.test('the size of a batch is bounded, and its shape checked', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const before = await tableCounts(ctx);
  const url = `/api/v1/deals/${dealId}/stakeholders/batch`;

  const tooMany = await vendor.api('POST', url, { stakeholders: Array.from({ length: 501 }, (_, i) => person(i)) });
  t.equal(tooMany.statusCode, 400);
  t.same(tooMany.json().error.details, [{ field: 'stakeholders', message: 'must list at most 500 stakeholders; send the rest in another request' }]);
  const none = await vendor.api('POST', url, { stakeholders: [] });
  t.equal(none.statusCode, 400);
  t.same(
    none.json().error.details.map((d: { field: string }) => d.field),
    ['stakeholders'],
  );
  const notList = await vendor.api('POST', url, { stakeholders: { name: 'x' } });
  t.equal(notList.statusCode, 400);
  const noBody = await vendor.api('POST', url);
  t.equal(noBody.statusCode, 400);
  t.same(await tableCounts(ctx), before, 'nothing written');

  // 500 is allowed, with long names and addresses (over the app's usual 256 KB body).
  const long = (i: number) => ({
    name: `${'Ø'.repeat(110)} ${i}`,
    email: `${'a'.repeat(60)}.${i}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(50)}.example`,
    role: 'other',
    invite: false,
  });
  const full = await vendor.api('POST', url, { stakeholders: Array.from({ length: 500 }, (_, i) => long(i)) });
  t.equal(full.statusCode, 201, '500 long rows are created');
  t.equal(full.json().stakeholders.length, 500);
  t.equal((await tableCounts(ctx)).stakeholders, before.stakeholders + 500);
});

t.test('another vendor’s deal is not found, and nothing is written', async (t) => {
  const ctx = await testApp(t);
  const a = await signUpVendor(ctx, { workspace: 'Alpha AI', email: 'admin@alpha.test' });
  const b = await signUpVendor(ctx, { workspace: 'Beta AI', email: 'admin@beta.test' });
  const dealId = await openDeal(a, { buyer_name: 'Alphabank' });
  const before = await tableCounts(ctx);
  const body = { stakeholders: [person(1), person(2)] };
  const theirs = await b.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, body);
  t.equal(theirs.statusCode, 404);
  t.equal(theirs.json().error.code, 'not_found');
  const missing = await b.api('POST', `/api/v1/deals/00000000-0000-4000-8000-000000000000/stakeholders/batch`, body);
  t.same(theirs.json(), missing.json(), 'the same answer as a deal that does not exist');
  const garbage = await b.api('POST', `/api/v1/deals/not-a-uuid/stakeholders/batch`, body);
  t.equal(garbage.statusCode, 404);
  t.same(await tableCounts(ctx), before);
  const noKey = await ctx.app.inject({ method: 'POST', url: `/api/v1/deals/${dealId}/stakeholders/batch`, payload: body });
  t.equal(noKey.statusCode, 401);
});

t.test('an address added by someone else while the batch runs: the unique key decides, and nothing of the batch stays', async (t) => {
  const ctx = await testApp(t);
  if (ctx.handle.kind !== 'postgres') {
    t.pass('needs two connections at once: PostgreSQL only');
    return;
  }
  const { db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { vendor_id } = await db.selectFrom('deals').select('vendor_id').where('id', '=', dealId).executeTakeFirstOrThrow();
  const before = await tableCounts(ctx);

  // Another transaction adds Bo and has not committed: the batch's check cannot see him, its INSERT waits on his row.
  const other = await db.startTransaction().execute();
  const now = new Date();
  await other
    .insertInto('stakeholders')
    .values({
      id: randomUUID(),
      vendor_id,
      deal_id: dealId,
      name: 'Bo Elsewhere',
      email: 'bo@bank.example',
      role: 'security',
      delegated_by: null,
      created_at: now,
      invited_at: null,
      confirmed_at: now,
    })
    .execute();
  const pending = vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, {
    stakeholders: [
      { name: 'Ada', email: 'ada@bank.example', role: 'ciso' },
      { name: 'Bo', email: 'bo@bank.example', role: 'security' },
    ],
  });
  let waited = false;
  for (let i = 0; i < 400 && !waited; i++) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
    waited = rows[0].n > 0;
    if (!waited) await new Promise((r) => setTimeout(r, 25));
  }
  t.ok(waited, 'the batch’s INSERT waited on the other transaction');
  await other.commit().execute();

  const res = await pending;
  t.equal(res.statusCode, 400);
  t.same(res.json().error.details, [{ field: 'stakeholders.1.email', message: 'is already a stakeholder on this deal' }]);
  t.same(await tableCounts(ctx), { ...before, stakeholders: before.stakeholders + 1 }, 'only the other transaction’s Bo: Ada, links and mails rolled back');
});
