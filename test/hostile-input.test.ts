// A table of hostile strings pushed through every field a vendor or a
// respondent can type into; then every page and every mail that shows them
// is checked: escaped, no 5xx, nothing half-stored, no header injected.
import t from 'tap';
import { sql } from 'kysely';
import { testApp } from './helpers/app.js';
import { decodeEntities, form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

const PAYLOADS: Record<string, unknown> = {
  script: '<script>alert(1)</script>',
  attribute: '"><img src=x onerror=alert(1)>',
  quote: "' onmouseover='alert(1)",
  template: '{{7*7}} {{{body}}} ${7*7} <%= 7*7 %>',
  sql: "Robert'); DROP TABLE signals; --",
  crlf: 'Acme\r\nBcc: evil@attacker.example',
  lf: 'Acme\nSubject: pwned',
  rtl: 'invoice\u202Egnp.exe',
  zeroWidth: 'ze\u200Bro\u200Dwidth',
  long: 'x'.repeat(10_000),
  url: 'javascript:alert(1)',
  number: 42,
  array: ['a', 'b'],
  object: { toString: 'x' },
  nul: null,
  boolean: true,
};

/**
 * Markers that would mean a payload reached HTML unescaped, each with the
 * payload it comes from. The last one is a double quote that got through
 * while the angle brackets were escaped: an escaper that forgets quotes lets
 * `value="{{x}}"` break out of its attribute, which the raw markers miss.
 */
const RAW: [payload: keyof typeof PAYLOADS, marker: string][] = [
  ['script', '<script>alert(1)'],
  ['attribute', '<img src=x onerror'],
  ['quote', "' onmouseover='"],
  ['attribute', '"&gt;&lt;img'],
];
/** Every markup payload in one string, for the fields whose latest value a page shows. */
const ALL_MARKUP = [PAYLOADS.script, PAYLOADS.attribute, PAYLOADS.quote, PAYLOADS.template].join(' ');

async function tableCounts(db: import('../server/db/index.js').DB) {
  const { rows } = await sql<{ t: string; n: number }>`
    SELECT 'deals' t, count(*)::int n FROM deals UNION ALL SELECT 'stakeholders', count(*)::int FROM stakeholders
    UNION ALL SELECT 'signals', count(*)::int FROM signals UNION ALL SELECT 'api_keys', count(*)::int FROM api_keys
    UNION ALL SELECT 'outbox', count(*)::int FROM outbox UNION ALL SELECT 'deal_claims', count(*)::int FROM deal_claims`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.t, r.n]));
}

t.test('hostile input is refused cleanly or stored and shown escaped, everywhere', async (t) => {
  const ctx = await testApp(t);
  const { app, db, smtp } = ctx;
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI', email: 'owner@vendor.test' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const ciso = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const champ = await inviteStakeholder(ctx, vendor, dealId, { name: 'Chris', email: 'chris@bank.example', role: 'champion' });
  await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { share_corrections: true });
  const claims = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns;
  const claimOf = (k: string) => claims.find((c: { concern: string }) => c.concern === k).claim;

  type Sender = (v: unknown, i: number) => Promise<{ statusCode: number }>;
  const ip = (i: number) => `10.${Math.floor(i / 250)}.${i % 250}.1`;
  const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  const fields: Record<string, Sender> = {
    'sign-up workspace': (v, i) => app.inject({ method: 'POST', url: '/signup', remoteAddress: ip(i), ...form({ workspace: asText(v), name: 'N', email: `s${i}@x.example` }) }),
    'sign-up name': (v, i) => app.inject({ method: 'POST', url: '/signup', remoteAddress: ip(i), ...form({ workspace: 'W', name: asText(v), email: `n${i}@x.example` }) }),
    'sign-in email': (v, i) => app.inject({ method: 'POST', url: '/signin', remoteAddress: ip(i), ...form({ email: asText(v) }) }),
    'API key name': (v) => vendor.post('/app/settings/api-keys', { name: asText(v) }),
    'buyer name (API)': (v) => vendor.api('POST', '/api/v1/deals', { buyer_name: v }),
    'buyer domain (API)': (v) => vendor.api('POST', '/api/v1/deals', { buyer_name: 'B', buyer_domain: v }),
    'buyer name (form)': (v) => vendor.post('/app/deals', { buyer_name: asText(v) }),
    'stakeholder name': (v, i) => vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: v, email: `p${i}@bank.example`, role: 'security', invite: true }),
    'stakeholder email': (v) => vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'P', email: v, role: 'security' }),
    'stakeholder role': (v, i) => vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'P', email: `r${i}@bank.example`, role: v }),
    'profile narrative': (v) => vendor.api('PUT', '/api/v1/profile', { concerns: { data_residency: { narrative: v } } }),
    'upstream model name': (v) => vendor.api('PUT', `/api/v1/deals/${dealId}/claims/training_data_provenance`, { upstream_model: 'named_third_party', upstream_model_name: v }),
    'override reason': (v) => vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'evaluation', override_reason: v }),
    'answer comment': (v, i) =>
      app.inject({
        method: 'POST',
        url: `${ciso.path}/answer/audit_compliance`,
        remoteAddress: ip(i),
        ...form({ verdict: 'correct', kind: 'requirement_gap', comment: asText(v), ...claimForm(claimOf('audit_compliance'), { breach_notification_hours: 24 }) }),
      }),
    'answer field value': (v, i) =>
      app.inject({
        method: 'POST',
        url: `${ciso.path}/answer/data_residency`,
        remoteAddress: ip(i),
        ...form({ verdict: 'correct', kind: 'factual_error', ...claimForm(claimOf('data_residency'), { inference_scope: asText(v) }) }),
      }),
    'delegate name': (v, i) =>
      app.inject({
        method: 'POST',
        url: `${ciso.path}/delegate`,
        remoteAddress: ip(i),
        ...form({ concerns: 'adversarial_risk', name: asText(v), email: `d${i}@bank.example`, role: 'security' }),
      }),
    'delegate email': (v, i) =>
      app.inject({ method: 'POST', url: `${ciso.path}/delegate`, remoteAddress: ip(i), ...form({ concerns: 'adversarial_risk', name: 'D', email: asText(v), role: 'security' }) }),
    'renew email': (v, i) => app.inject({ method: 'POST', url: '/r/renew', remoteAddress: ip(i), ...form({ token: ciso.path.slice(3), email: asText(v) }) }),
  };

  let i = 0;
  const accepted: string[] = [];
  const acceptedIn: Record<string, string[]> = {};
  for (const [field, send] of Object.entries(fields)) {
    for (const [name, payload] of Object.entries(PAYLOADS)) {
      i++;
      const before = await tableCounts(db);
      const res = await send(payload, i);
      t.ok(res.statusCode < 500, `${field} × ${name}: no 5xx (${res.statusCode})`);
      t.not(res.statusCode, 429, `${field} × ${name}: judged on its content, not rate-limited`);
      if (res.statusCode >= 400 || field === 'renew email') {
        // (Asking for a new link answers the same to everything, on purpose; it stores nothing for these.)
        const after = await tableCounts(db);
        t.same(after, before, `${field} × ${name}: refused, and nothing stored`);
      } else if (typeof payload === 'string') {
        accepted.push(payload);
        (acceptedIn[field] ??= []).push(payload);
      }
    }
  }
  t.ok(accepted.length > 20, `${accepted.length} hostile strings were accepted somewhere and must now be shown safely`);
  t.ok(accepted.includes(PAYLOADS.script as string) && accepted.includes(PAYLOADS.attribute as string), 'markup was accepted as text (it is data, not an attack on us)');
  // Comments, narratives and reasons may span lines; nothing else may.
  const multiLine = ['profile narrative', 'override reason', 'answer comment'];
  for (const [field, values] of Object.entries(acceptedIn)) {
    if (multiLine.includes(field)) continue;
    t.notOk(
      values.some((v) => /[\r\n]/.test(v)),
      `${field}: line breaks never get into a one-line field`,
    );
  }
  t.notOk(accepted.includes(PAYLOADS.rtl as string), 'no field takes bidi overrides');
  // The respondent page and the editor show the latest value: make it every hostile one.
  t.equal((await vendor.api('PUT', '/api/v1/profile', { concerns: { data_residency: { narrative: ALL_MARKUP } } })).statusCode, 200, 'the editor takes all the markup at once');
  const answered = await app.inject({
    method: 'POST',
    url: `${ciso.path}/answer/model_access_controls`,
    remoteAddress: ip(0),
    ...form({ verdict: 'confirm', comment: ALL_MARKUP }),
  });
  t.equal(answered.statusCode, 303, 'so does a comment');
  t.equal((await sql<{ n: number }>`select count(*)::int n from signals`.execute(db)).rows[0].n > 0, true, 'the signals table survived the SQL fragments');

  // Every page that shows what was typed.
  ctx.clock.advance(20 * 60_000);
  await app.inject({ method: 'POST', url: '/r/renew', ...form({ token: 'A'.repeat(43), email: 'carla@bank.example' }) });
  await ctx.drainMail();
  const pages: Record<string, string> = {
    dashboard: (await vendor.page('/app')).body,
    deal: (await vendor.page(`/app/deals/${dealId}`)).body,
    profile: (await vendor.page('/app/profile')).body,
    settings: (await vendor.page('/app/settings')).body,
    respondent: (await app.inject({ method: 'GET', url: ciso.path })).body,
    champion: (await app.inject({ method: 'GET', url: champ.path })).body,
  };
  // Each page shows every payload (so each check below has something to catch), and shows it escaped.
  for (const [where, html] of Object.entries(pages)) {
    const seen = decodeEntities(html);
    for (const [payload, raw] of RAW) {
      t.ok(seen.includes(PAYLOADS[payload] as string), `${where}: shows the ${payload} payload as text`);
      t.notOk(html.includes(raw), `${where}: no unescaped ${JSON.stringify(raw)}`);
    }
  }
  // Every mail, not one per subject: the invitations that name a hostile stakeholder share their subject with harmless ones.
  for (const [n, m] of smtp.messages.entries()) {
    for (const [, raw] of RAW) t.notOk(m.html.includes(raw), `mail ${n + 1} “${m.subject}” (html): no unescaped ${JSON.stringify(raw)}`);
  }
  for (const [payload, raw] of RAW) {
    const showing = smtp.messages.filter((m) => decodeEntities(m.html).includes(PAYLOADS[payload] as string)).length;
    t.ok(showing > 0, `${showing} mails show the ${payload} payload, so the mail checks for ${JSON.stringify(raw)} have something to catch`);
  }
  t.match(pages.deal, '&lt;script&gt;alert(1)&lt;/script&gt;', 'markup is shown as text on the deal page');
  t.ok(decodeEntities(pages.deal).includes(PAYLOADS.template as string), 'template syntax is shown verbatim on the deal page: no part of it was run');
  t.match(pages.respondent, '&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;', 'the respondent sees their own comment as text');
  t.match(pages.champion, '&lt;script&gt;alert(1)&lt;/script&gt;', 'the champion too, when corrections are shared');
  t.match(pages.profile, '&lt;script&gt;alert(1)&lt;/script&gt;', 'narratives are escaped in the editor');

  // Mail: no injected headers, plain text stays readable.
  t.ok(smtp.messages.length > 5, `${smtp.messages.length} mails to inspect`);
  for (const m of smtp.messages) {
    t.notOk(m.headers.has('bcc'), `“${m.subject}”: no Bcc header`);
    t.notMatch(m.subject, /[\r\n]/, 'a one-line subject');
    t.notMatch(m.subject, /pwned/, 'no injected subject');
    t.notMatch(m.text, /&lt;|&#x27;|&quot;/, `“${m.subject}”: plain text is not HTML-escaped`);
  }
  const digest = smtp.messages.find((m) => /correction/.test(m.subject));
  t.ok(digest, 'a digest carried the hostile comments');
  t.match(digest!.text, '<script>alert(1)</script>', 'shown as typed in plain text');
  t.match(digest!.html, '&lt;script&gt;', 'escaped in HTML');
  t.match(digest!.text, PAYLOADS.template as string, 'template syntax is not run in plain-text mail either');
  const links = linksIn(digest!.text);
  t.ok(links.length > 0 && links.every((l) => l.startsWith('http://portal.test/')), `links in mail point only at the portal (${links.join(', ')})`);
});
