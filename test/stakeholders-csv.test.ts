// Stakeholders pasted as CSV on the deal page: the RFC 4180 reader, the
// preview (every row and its problems, nothing written), and the confirm
// (all or none, through the same service as the API's batch, CSRF required).
import t from 'tap';
import { testApp, type TestApp } from './helpers/app.js';
import { decodeEntities, form } from './helpers/http.js';
import { openDeal, signUpVendor } from './helpers/vendor.js';
import { MAX_CSV_BYTES, parseCsv, readStakeholderCsv } from '../server/stakeholders/csv.js';

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

/** The CSV the preview carries to the confirm, as a browser would send it back. */
const hiddenCsv = (html: string) => {
  const m = /<input type="hidden" name="csv" value="([^"]*)">/.exec(html);
  return m ? decodeEntities(m[1]) : undefined;
};

/** The text of the problems cell of the row for `line`. */
const rowOf = (html: string, line: number) => /<tr id="line-(\d+)"[^>]*>([\s\S]*?)<\/tr>/g.exec(html.slice(html.indexOf(`<tr id="line-${line}"`)))?.[2] ?? '';

t.test('the reader follows RFC 4180', async (t) => {
  const fields = (text: string) => {
    const r = parseCsv(text);
    if (!r.ok) throw new Error(r.message);
    return r.records.map((x) => x.fields);
  };
  t.same(fields('a,b,c'), [['a', 'b', 'c']]);
  t.same(
    fields('a,b\r\nc,d\r\n'),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
    'CRLF, and a final line break ends the last record without adding one',
  );
  t.same(
    fields('\uFEFFname,email\nx,y'),
    [
      ['name', 'email'],
      ['x', 'y'],
    ],
    'a UTF-8 byte order mark is dropped',
  );
  t.same(fields('"Okafor, Ada","She said ""hi""",plain'), [['Okafor, Ada', 'She said "hi"', 'plain']], 'quoted commas and doubled quotes');
  t.same(
    fields('"two\r\nlines",x\r\ny,z'),
    [
      ['two\r\nlines', 'x'],
      ['y', 'z'],
    ],
    'a line break inside quotes stays in the value',
  );
  t.same(fields('a,,""\n'), [['a', '', '']], 'empty values, quoted or not');
  t.same(fields('a, "b, c" ,d'), [['a', 'b, c', 'd']], 'spaces around a quoted value are dropped');
  t.same(fields('O"Brien,x'), [['O"Brien', 'x']], 'a quote inside an unquoted value is kept');
  t.same(fields('a\rb\n\nc'), [['a'], ['b'], [''], ['c']], 'a lone CR ends a record too; an empty line is an empty record');

  const lines = parseCsv('h\n"multi\nline"\nnext');
  t.same(lines.ok && lines.records.map((r) => r.line), [1, 2, 4], 'each record knows the line it starts on');
  t.match(parseCsv('a,b\n"open,c\nd,e'), { ok: false, line: 2, message: /never closed/ });
  t.match(parseCsv('a\n"x"y,z'), { ok: false, line: 2, message: /text after a closing quote/ });
});

t.test('reading people from CSV', async (t) => {
  const read = (text: string) => readStakeholderCsv(text, 500);
  const ok = read(
    '\uFEFFName , EMAIL,Role,invite,Company\r\n"Okafor, Ada",ADA@bank.example,CISO,yes,Bank\r\n\r\nBo,bo@bank.example,security,No\r\n,,,\r\nCy,cy@bank.example,Legal,\r\n',
  );
  t.ok(ok.ok);
  if (!ok.ok) return;
  t.same(
    ok.people.map((p) => [p.line, p.input]),
    [
      [2, { name: 'Okafor, Ada', email: 'ADA@bank.example', role: 'ciso', invite: true }],
      [4, { name: 'Bo', email: 'bo@bank.example', role: 'security', invite: false }],
      [6, { name: 'Cy', email: 'cy@bank.example', role: 'legal', invite: true }],
    ],
    'header in any case, roles by label or key, invite defaults to yes, blank lines skipped, lines counted',
  );
  t.same(ok.ignoredColumns, ['Company']);
  t.ok(
    ok.people.every((p) => p.problems.length === 0),
    'no problems',
  );

  const bad = read('name,email,role,invite\nA,a@x.example,Boss,maybe\nB,b@x.example,ciso,,extra\nC,c@x.example,,');
  t.ok(bad.ok);
  if (bad.ok) {
    t.same(
      bad.people[0].problems.map((p) => p.field),
      ['role', 'invite'],
    );
    t.match(bad.people[0].problems[0].message, 'must be one of CISO, Security, Compliance');
    t.same(
      bad.people[1].problems.map((p) => p.field),
      ['row'],
    );
    t.same(bad.people[2].problems, [{ field: 'role', message: 'is required' }]);
  }
  t.match(read(''), { ok: false, message: /empty/ });
  t.match(read('email,role\nx@y.example,ciso'), { ok: false, line: 1, message: /lacks name/ });
  t.match(read('name,email,role,email\nA,a@x.example,ciso,b@x.example'), { ok: false, message: /names email more than once/ });
  t.match(read('name,email,role\n'), { ok: false, message: /no people/ });
  t.match(readStakeholderCsv('name,email,role\nA,a@x.example,ciso\nB,b@x.example,ciso\nC,c@x.example,ciso', 2), { ok: false, message: /has 3 people; at most 2/ });
  t.match(read(`name,email,role\n${'x'.repeat(MAX_CSV_BYTES)}`), { ok: false, message: /larger than 256 KB/ });
  t.match(read('name,email,role\n"A,a@x.example,ciso'), { ok: false, line: 2, message: /Line 2 has a quoted value that is never closed/ });
});

t.test('the preview shows every row and its problems, and writes nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const added = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Olga Old', email: 'olga@bank.example', role: 'ciso' });
  t.equal(added.statusCode, 201);
  const before = await tableCounts(ctx);

  const deal = await vendor.page(`/app/deals/${dealId}`);
  t.match(deal.body, `action="/app/deals/${dealId}/stakeholders/csv/preview"`, 'the deal page has the CSV form');
  t.match(deal.body, /<label for="in-csv">[^<]+<\/label>\s*<textarea id="in-csv" name="csv"/, 'its box is labelled');

  const csv = [
    'name,email,role,invite',
    '"Okafor, Ada",ada@bank.example,CISO,yes', // 2
    'Bad Mail,not-an-address,Security,', // 3
    'Boss Person,boss@bank.example,Boss,no', // 4
    'Maybe May,may@bank.example,legal,maybe', // 5
    'Ada Again,ADA@bank.example,privacy,', // 6: the same address as line 2
    'Olga Twice,olga@bank.example,other,', // 7: already on the deal
    'Zoë "Z" <b>Zed</b>,zed@bank.example,Champion,no', // 8
  ].join('\r\n');
  const res = await vendor.post(`/app/deals/${dealId}/stakeholders/csv/preview`, { csv });
  t.equal(res.statusCode, 400, 'a preview with problems answers 400');
  const html = res.body;
  t.match(html, '5 rows of 7 have problems. Nothing was added.');
  for (const line of [3, 4, 5, 6, 7]) t.match(html, `<a href="#line-${line}">Line ${line}</a>`, `the summary links to line ${line}`);
  t.match(rowOf(html, 2), 'Okafor, Ada');
  t.match(rowOf(html, 2), '<td>CISO</td>');
  t.match(rowOf(html, 2), 'None');
  t.match(rowOf(html, 3), /<strong>Email<\/strong> must be a valid email address/);
  t.match(rowOf(html, 4), /<strong>Role<\/strong> must be one of CISO, Security/);
  t.match(rowOf(html, 5), /<strong>Invite<\/strong> must be yes or no/);
  t.match(rowOf(html, 6), /<strong>Email<\/strong> repeats the address of line 2/);
  t.match(rowOf(html, 7), /<strong>Email<\/strong> is already a stakeholder on this deal/);
  t.match(rowOf(html, 8), 'Zoë &quot;Z&quot; &lt;b&gt;Zed&lt;/b&gt;', 'escaped');
  t.notMatch(html, '<b>Zed</b>', 'nothing typed is markup');
  t.match(html, /<tr id="line-3" class="has-error">\s*<th scope="row">3<\/th>/, 'each row is headed by its line');
  t.match(html, '<th scope="col">Problems</th>');
  t.notMatch(html, `action="/app/deals/${dealId}/stakeholders/csv"`, 'no confirm while rows are bad');
  t.match(html, /<textarea id="in-csv" name="csv"[^>]*aria-invalid="true"[^>]*>name,email,role,invite/, 'the CSV is back in the box to correct');
  t.same(await tableCounts(ctx), before, 'the preview wrote nothing');

  const whole = await vendor.post(`/app/deals/${dealId}/stakeholders/csv/preview`, { csv: 'email,role\nx@bank.example,ciso' });
  t.equal(whole.statusCode, 400);
  t.match(whole.body, /role="alert"><p>The first line must be a header naming the columns name, email and role/);
  const tooMany = await vendor.post(`/app/deals/${dealId}/stakeholders/csv/preview`, {
    csv: ['name,email,role', ...Array.from({ length: 501 }, (_, i) => `P ${i},p${i}@bank.example,other`)].join('\n'),
  });
  t.equal(tooMany.statusCode, 400);
  t.match(tooMany.body, 'The CSV has 501 people; at most 500 can be added at once.');
  // Over 256 KB of CSV (up to three times that url-encoded) is the page again, not a bare 413.
  const big = await vendor.post(`/app/deals/${dealId}/stakeholders/csv/preview`, { csv: `name,email,role\n"${',;'.repeat(MAX_CSV_BYTES / 2)}",a@b.example,ciso` });
  t.equal(big.statusCode, 400);
  t.match(big.body, 'The CSV is larger than 256 KB.');
  t.same(await tableCounts(ctx), before, 'still nothing written');
});

t.test('the confirm adds everyone the preview showed, all or none', async (t) => {
  const ctx = await testApp(t);
  const { app, db, smtp } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  await ctx.drainMail();
  smtp.clear();
  const before = await tableCounts(ctx);

  const csv =
    '\uFEFFname,email,role,invite\r\n"Okafor, Ada",ADA@bank.example,CISO,yes\r\n"Sam ""Sec"" Smith",sam@bank.example,Security,\r\nLee Legal,lee@bank.example,legal,no\r\n';
  const preview = await vendor.post(`/app/deals/${dealId}/stakeholders/csv/preview`, { csv });
  t.equal(preview.statusCode, 200);
  t.match(preview.body, '3 people read');
  t.match(preview.body, '3 people will be added to Big Bank; 2 of them get their personal link by email.');
  t.match(preview.body, /<button type="submit">Add 3 stakeholders<\/button>/);
  const carried = hiddenCsv(preview.body);
  t.ok(carried?.includes('"Sam ""Sec"" Smith"'), 'the preview carries the CSV as it was');
  t.same(await tableCounts(ctx), before, 'the preview wrote nothing');

  // CSRF is required: no token, or another one, changes nothing.
  const noToken = await app.inject({ method: 'POST', url: `/app/deals/${dealId}/stakeholders/csv`, ...form({ csv: carried }, vendor.jar.headers()) });
  t.equal(noToken.statusCode, 403);
  const wrongToken = await app.inject({ method: 'POST', url: `/app/deals/${dealId}/stakeholders/csv`, ...form({ csv: carried, _csrf: 'forged' }, vendor.jar.headers()) });
  t.equal(wrongToken.statusCode, 403);
  t.same(await tableCounts(ctx), before, 'nothing written without the token');

  const done = await vendor.post(`/app/deals/${dealId}/stakeholders/csv`, { csv: carried });
  t.equal(done.statusCode, 303);
  t.equal(done.headers.location, `/app/deals/${dealId}?added=1#stakeholders`);
  t.same(await tableCounts(ctx), { stakeholders: before.stakeholders + 3, links: before.links + 2, outbox: before.outbox + 2 });
  const people = await db.selectFrom('stakeholders').select(['name', 'email', 'role', 'confirmed_at', 'invited_at']).where('deal_id', '=', dealId).orderBy('email').execute();
  t.match(people, [
    { name: 'Okafor, Ada', email: 'ada@bank.example', role: 'ciso', confirmed_at: Date, invited_at: Date },
    { name: 'Lee Legal', email: 'lee@bank.example', role: 'legal', confirmed_at: Date, invited_at: null },
    { name: 'Sam "Sec" Smith', email: 'sam@bank.example', role: 'security', confirmed_at: Date, invited_at: Date },
  ]);
  t.equal(await ctx.drainMail(), 2);
  t.same(smtp.messages.map((m) => m.to).sort(), ['ada@bank.example', 'sam@bank.example']);
  const page = await vendor.page(`/app/deals/${dealId}?added=1`);
  t.match(page.body, 'Okafor, Ada');

  // Confirming the same CSV again: everyone is already on the deal; the preview says so and nothing more is written.
  const again = await vendor.post(`/app/deals/${dealId}/stakeholders/csv`, { csv: carried });
  t.equal(again.statusCode, 400);
  t.match(rowOf(again.body, 2), 'is already a stakeholder on this deal');
  t.same((await tableCounts(ctx)).stakeholders, before.stakeholders + 3);
});

t.test('someone added between preview and confirm: the confirm refuses it all', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const csv = 'name,email,role\nAda,ada@bank.example,ciso\nBo,bo@bank.example,security';
  const preview = await vendor.post(`/app/deals/${dealId}/stakeholders/csv/preview`, { csv });
  t.equal(preview.statusCode, 200);
  const meanwhile = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Bo Elsewhere', email: 'bo@bank.example', role: 'security' });
  t.equal(meanwhile.statusCode, 201);
  const before = await tableCounts(ctx);
  const res = await vendor.post(`/app/deals/${dealId}/stakeholders/csv`, { csv: hiddenCsv(preview.body) });
  t.equal(res.statusCode, 400);
  t.match(rowOf(res.body, 3), 'is already a stakeholder on this deal');
  t.same(await tableCounts(ctx), before, 'Ada was not added either');
});

t.test('another vendor’s deal is not found on either page', async (t) => {
  const ctx = await testApp(t);
  const a = await signUpVendor(ctx, { workspace: 'Alpha AI', email: 'admin@alpha.test' });
  const b = await signUpVendor(ctx, { workspace: 'Beta AI', email: 'admin@beta.test' });
  const dealId = await openDeal(a, { buyer_name: 'Alphabank' });
  const before = await tableCounts(ctx);
  for (const path of ['csv/preview', 'csv']) {
    const res = await b.post(`/app/deals/${dealId}/stakeholders/${path}`, { csv: 'name,email,role\nMallory,m@evil.example,ciso' });
    t.equal(res.statusCode, 404, path);
    t.notMatch(res.body, 'Alphabank');
  }
  t.same(await tableCounts(ctx), before);
});
