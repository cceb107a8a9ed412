// The respondent's five minutes, over HTTP: the main page with six claims and
// three answers each, on to the next concern after every save, a correction
// on its own page with an error summary that links to each field, a
// completion panel and a receipt by mail, addresses that survive a reload, a
// light page sent compressed, and templates that are compiled at start-up.
import t from 'tap';
import { mkdtempSync, cpSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';
import { CONCERN_KEYS } from '../server/concerns/index.js';
import { Views } from '../server/views.js';

/** The main page's budget (issue 10): 25 KB of HTML before compression. */
const PAGE_BUDGET = 25 * 1024;

t.test('a CISO confirms five claims and corrects one without losing their place', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;

  const first = await app.inject({ method: 'GET', url: path });
  t.equal(first.statusCode, 200);
  const bytes = Buffer.byteLength(first.body);
  t.ok(bytes <= PAGE_BUDGET, `the main page is ${bytes} bytes, within ${PAGE_BUDGET}`);
  t.equal([...first.body.matchAll(/<section class="card concern" id="/g)].length, 6, 'all six claims on one page');
  t.equal([...first.body.matchAll(/name="verdict" value="confirm">Confirm<span class="sr-only"> /g)].length, 6, 'each with Confirm');
  t.equal([...first.body.matchAll(/class="button secondary" href="[^"]+\/correct\/[a-z_]+">Correct<span/g)].length, 6, 'Correct');
  t.equal([...first.body.matchAll(/name="verdict" value="not_mine" class="secondary">Not mine<span/g)].length, 6, 'and Not mine');
  t.notMatch(first.body, '<select', 'no correction form (with its many options) on the main page');
  t.match(first.body, '0 of 6 concerns answered');
  t.notMatch(first.body, 'id="next"', 'nothing saved yet: no landing mark');

  // Action 1-5: Confirm five claims from the main page; each lands on the next concern still needing them.
  const order = [...first.body.matchAll(/<section class="card concern" id="([a-z_]+)"/g)].map((m) => m[1]);
  t.same(order, CONCERN_KEYS, 'catalogue order');
  for (const [i, key] of order.slice(1).entries()) {
    const res = await app.inject({ method: 'POST', url: `${path}/answer/${key}`, ...form({ verdict: 'confirm', revision: '1' }) });
    t.equal(res.statusCode, 303, `confirm ${key}`);
    t.equal(res.headers.location, `${path}?saved=${key}#next`);
    const landed = await app.inject({ method: 'GET', url: res.headers.location as string });
    const next = i + 2 < order.length ? order[i + 2] : order[0];
    const mark = new RegExp(
      `<section class="card concern" id="${next}"[^>]*><span id="next"></span>\\s*<p class="notice success" role="status">Saved: Confirmed on [^<]+\\. Next: `,
    );
    t.match(landed.body, mark, `after ${key}, the page opens at ${next} with a note of what was saved`);
    t.match(landed.body, `${i + 1} of 6 concerns answered`);
  }

  // Action 6-9: Correct opens a page for that concern; change one value, choose the kind, save.
  const correctPage = await app.inject({ method: 'GET', url: `${path}/correct/data_residency` });
  t.equal(correctPage.statusCode, 200);
  t.match(correctPage.body, '<h1>Correct: Data residency</h1>');
  t.match(correctPage.body, `href="${path}#data_residency">← All six claims</a>`, 'a way back to the main page');
  t.notMatch(correctPage.body, 'id="model_access_controls', 'one concern per page');
  const saved = await app.inject({
    method: 'POST',
    url: `${path}/answer/data_residency`,
    ...form({ verdict: 'correct', revision: '1', kind: 'requirement_gap', ...claimForm(claim, { inference_regions: ['EU_EEA'] }) }),
  });
  t.equal(saved.statusCode, 303);
  const done = await app.inject({ method: 'GET', url: saved.headers.location as string });
  t.match(done.body, '6 of 6 concerns answered');
  t.match(
    done.body,
    /<section class="card done" id="done" aria-labelledby="done-h"><span id="next"><\/span>\s*<p class="notice success" role="status">Saved: Corrected on Data residency\.<\/p>/,
    'the completion panel is where they land',
  );
  t.match(done.body, /<li><span>Data residency<\/span> <strong>Corrected<\/strong> \(Requirement gap/, 'it sums up their answers');
  t.match(done.body, /<li><span>Audit and compliance<\/span> <strong>Confirmed<\/strong><\/li>/);

  // A receipt by mail: their own answers only, and no link (a new link would replace the one in use).
  const other = await inviteStakeholder(ctx, vendor, dealId, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
  await app.inject({ method: 'POST', url: `${other.path}/answer/adversarial_risk`, ...form({ verdict: 'not_mine', comment: 'Sam’s own remark' }) });
  smtp.clear();
  const receipt = await app.inject({ method: 'POST', url: `${path}/receipt` });
  t.equal(receipt.statusCode, 303);
  t.equal(receipt.headers.location, `${path}?receipt=1#done`);
  t.match((await app.inject({ method: 'GET', url: receipt.headers.location as string })).body, 'A copy of your answers is on its way to carla@bank.example.');
  await ctx.drainMail();
  const mail = await smtp.waitFor((m) => m.to === 'carla@bank.example');
  t.equal(mail.subject, "Your answers on Acme AI's security claims for Big Bank");
  t.match((mail.headers.get('from') as { text: string }).text, 'Ada Admin at Acme AI via Posture Portal', 'from the deal owner, as the invitation was');
  t.match((mail.headers.get('reply-to') as { text: string }).text, vendor.email, 'and replies go to them');
  t.match(mail.text, '* Data residency — Corrected (Requirement gap');
  t.match(mail.text, 'Inference regions: United States -> EU/EEA');
  t.match(mail.text, '* Audit and compliance — Confirmed');
  t.notMatch(mail.text, 'Sam', 'nobody else’s answers');
  t.notMatch(mail.text, '/r/', 'and no link');
  t.match(mail.html, 'Inference regions: United States → <strong>EU/EEA</strong>');
  t.equal((await app.inject({ method: 'GET', url: `${path}/receipt` })).headers.location, `${path}#done`, 'a reload of the receipt address leads back');
});

t.test('errors are shown where the eye is, and every address survives a reload', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;

  const bad = await app.inject({
    method: 'POST',
    url: `${path}/answer/data_residency`,
    ...form({ verdict: 'correct', ...claimForm(claim, { prompt_retention_days: 'soon' }) }),
  });
  t.equal(bad.statusCode, 400);
  const summary = /<div class="error-summary" role="alert"[^>]*>([^]*?)<\/div>/.exec(bad.body)?.[1] ?? '';
  t.match(summary, /<a href="#data_residency-prompt_retention_days">Prompt retention period: [^<]+<\/a>/, 'the summary links to the number field');
  t.match(summary, /<a href="#k-factual_error">Kind of correction: [^<]+<\/a>/, 'and to the kind');
  t.ok(bad.body.indexOf('error-summary') < bad.body.indexOf('<h1>'), 'the summary comes first on the page');
  t.match(bad.body, /id="data_residency-prompt_retention_days" name="v.prompt_retention_days" value="soon"|value="soon"/, 'what was typed is kept');
  t.equal((await db.selectFrom('signals').selectAll().execute()).length, 0, 'nothing recorded');

  // A reload of the address the browser shows after a POST (a GET on it) leads back to the page.
  const reload = await app.inject({ method: 'GET', url: `${path}/answer/data_residency` });
  t.equal(reload.statusCode, 303);
  t.equal(reload.headers.location, `${path}#data_residency`);
  t.equal((await app.inject({ method: 'GET', url: `${path}/delegate` })).headers.location, `${path}/handover`);
  t.equal((await app.inject({ method: 'GET', url: `${path}/answer/weather` })).statusCode, 404, 'an unknown concern is still a 404');
  t.equal((await app.inject({ method: 'GET', url: `${path}/correct/weather` })).statusCode, 404);
  for (const odd of ['/r/%E2%82%AC/receipt', '/r/%E2%82%AC/delegate', '/r/%E2%82%AC/answer/data_residency', '/r/a%0d%0aX:1/receipt']) {
    const res = await app.inject({ method: 'GET', url: odd });
    t.equal(res.statusCode, 404, `${odd}: the dead-link page, not a redirect to what was sent`);
    t.equal(res.headers.location, undefined);
  }

  // The hand-over page: no role is chosen for them, and a missing one is named in the summary.
  const handover = await app.inject({ method: 'POST', url: `${path}/delegate`, ...form({ concerns: 'data_residency', name: 'Pat', email: 'pat@bank.example' }) });
  t.equal(handover.statusCode, 400);
  t.match(handover.body, /<a href="#in-ho-role">Their role: [^<]+<\/a>/);
  t.match(handover.body, '<option value="">Choose their role</option>');
});

t.test('a changed claim counts again as open, and its page says what changed', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  for (const c of CONCERN_KEYS) await app.inject({ method: 'POST', url: `${path}/answer/${c}`, ...form({ verdict: 'confirm' }) });
  t.match((await app.inject({ method: 'GET', url: path })).body, '6 of 6 concerns answered');
  const changed = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/data_residency`, { prompt_retention_days: 0, prompt_retention: 'zero_data_retention' });
  t.equal(changed.statusCode, 200, 'the vendor changes the claim');
  const page = await app.inject({ method: 'GET', url: path });
  t.match(page.body, '5 of 6 concerns answered', 'the changed claim needs their answer again');
  t.notMatch(page.body, 'id="done"', 'no completion panel while one is open');
  t.match(page.body, /Data residency <span class="pill critical">critical<\/span> <span class="pill status-stale">Needs your answer again<\/span>/);
  t.match(page.body, /<li>Prompt retention period: 30 days → <strong>0 days<\/strong><\/li>/, 'old → new, field by field');
  const correct = await app.inject({ method: 'GET', url: `${path}/correct/data_residency` });
  t.match(correct.body, /<li>Prompt retention period: 30 days → <strong>0 days<\/strong><\/li>/, 'the correction page says it too');
  // Confirming the new claim lands on the completion panel.
  const again = await app.inject({ method: 'POST', url: `${path}/answer/data_residency`, ...form({ verdict: 'confirm', revision: '2' }) });
  t.match((await app.inject({ method: 'GET', url: again.headers.location as string })).body, /id="done"[^>]*><span id="next">/);
});

t.test('pages, styles and JSON are compressed for clients that ask', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const plain = await app.inject({ method: 'GET', url: path });
  t.equal(plain.headers['content-encoding'], undefined, 'no encoding unless asked');

  const br = await app.inject({ method: 'GET', url: path, headers: { 'accept-encoding': 'br, gzip' } });
  t.equal(br.headers['content-encoding'], 'br');
  t.equal(brotliDecompressSync(br.rawPayload).toString(), plain.body, 'the same page');
  t.ok(br.rawPayload.length < plain.rawPayload.length / 3, `brotli: ${br.rawPayload.length} of ${plain.rawPayload.length} bytes`);
  t.match(String(br.headers.vary), /accept-encoding/i);
  t.equal(Number(br.headers['content-length']), br.rawPayload.length, 'compressed in one piece, with its length (not streamed)');

  const gz = await app.inject({ method: 'GET', url: '/assets/app.css', headers: { 'accept-encoding': 'gzip' } });
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.match(gunzipSync(gz.rawPayload).toString(), 'Posture Portal');

  const json = await app.inject({ method: 'GET', url: `/api/v1/deals/${dealId}`, headers: { authorization: `Bearer ${vendor.apiKey}`, 'accept-encoding': 'gzip' } });
  t.equal(json.headers['content-encoding'], 'gzip');
  t.equal(JSON.parse(gunzipSync(json.rawPayload).toString()).id, dealId);
});

t.test('templates are compiled at start-up: a broken one stops the start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-templates-'));
  t.teardown(() => undefined);
  cpSync('templates', dir, { recursive: true });
  t.ok(new Views(dir), 'the real templates compile');
  writeFileSync(join(dir, 'pages', 'respond.hbs'), '{{#each concerns}}<p>{{title}}</p>');
  t.throws(() => new Views(dir), /templates\/pages\/respond\.hbs/, 'an unclosed block names its file');
  writeFileSync(join(dir, 'pages', 'respond.hbs'), '{{> no-such-partial}}');
  t.throws(() => new Views(dir), /templates\/pages\/respond\.hbs: .*no-such-partial/, 'so does a missing partial');
});

t.test('the same answer sent several times at once (a double click) is recorded once', async (t) => {
  const ctx = await testApp(t);
  const { app, db } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns[0].claim;
  const send = (values: Record<string, unknown>) => app.inject({ method: 'POST', url: `${path}/answer/data_residency`, ...form(values as never) });
  const answers = async () => (await db.selectFrom('signals').select('id').where('type', '=', 'answer').execute()).length;

  const confirms = await Promise.all(Array.from({ length: 8 }, () => send({ verdict: 'confirm', revision: '1' })));
  t.same(
    confirms.map((r) => r.statusCode),
    Array(8).fill(303),
    'every click is answered',
  );
  t.equal(await answers(), 1, 'one confirm recorded');
  const correction = { verdict: 'correct', revision: '1', kind: 'requirement_gap', comment: 'EU only.', ...claimForm(claim, { inference_regions: ['EU_EEA'] }) };
  await Promise.all(Array.from({ length: 6 }, () => send(correction)));
  t.equal(await answers(), 2, 'one correction recorded');
  t.equal((await db.selectFrom('correction_fields').select('signal_id').execute()).length, 1, 'and its corrected field once');
  t.equal((await send({ verdict: 'confirm', revision: '1' })).statusCode, 303);
  t.equal(await answers(), 3, 'a different answer after it is recorded');
});
