// Signals are append-only in the database itself; tokens rest only as hashes.
import t from 'tap';
import { sql } from 'kysely';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('the database refuses UPDATE, DELETE and TRUNCATE on signals', async (t) => {
  const ctx = await testApp(t);
  const { db, app } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  await app.inject({ method: 'POST', url: `${path}/answer/data_residency`, ...form({ verdict: 'confirm' }) });

  await t.rejects(db.updateTable('signals').set({ verdict: 'not_mine' }).execute(), /append-only/);
  await t.rejects(db.deleteFrom('signals').execute(), /append-only/);
  await t.rejects(sql`TRUNCATE signals`.execute(db), /append-only/);
  const rows = await db.selectFrom('signals').select('verdict').execute();
  t.same(rows, [{ verdict: 'confirm' }], 'the signal is still there, unchanged');
});

t.test('no raw token, API key or link secret is stored anywhere', async (t) => {
  const ctx = await testApp(t);
  const { db, smtp } = ctx;
  const vendor = await signUpVendor(ctx, { email: 'ada@vendor.test' });
  const dealId = await openDeal(vendor);
  await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email: 'ada@vendor.test' }) });
  await ctx.drainMail();

  const secrets = smtp.messages.flatMap((m) => linksIn(m.text)).map((l) => l.split('/').pop()!);
  secrets.push(vendor.apiKey);
  t.ok(secrets.length >= 4, 'sign-up, invitation and sign-in links plus the API key');
  const tables = [
    'vendors',
    'users',
    'login_tokens',
    'api_keys',
    'app_secrets',
    'profiles',
    'profile_versions',
    'deals',
    'deal_claims',
    'stakeholders',
    'stakeholder_links',
    'signals',
    'outbox',
  ];
  let dump = '';
  for (const table of tables) {
    const { rows } = await sql<{ r: string }>`SELECT row_to_json(x)::text AS r FROM ${sql.table(table)} x`.execute(db);
    dump += rows.map((r) => r.r).join('\n');
  }
  t.ok(dump.length > 1000, 'the dump has content');
  for (const s of secrets) t.notOk(dump.includes(s), `secret ${s.slice(0, 4)}… is not in the database`);
  t.ok(
    secrets.every((s) => s.replace(/^pp_/, '').length === 43),
    'every secret carries 256 bits (43 base64url characters)',
  );
});
