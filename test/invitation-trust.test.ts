// An invitation a security professional can trust: it comes "from" the deal's
// owner at the vendor (on the portal's own address), a reply reaches that
// owner, and its body names them, the vendor's web domain, the vendor's note
// (escaped) and how to check it is genuine; it asks for a hand-over rather
// than a forward. Read from the mail as it arrives over real SMTP.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { AddressObject } from 'mailparser';
import { testApp, type TestApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn, type ReceivedMail } from './helpers/smtp.js';
import { signUpVendor, type TestVendor } from './helpers/vendor.js';
import { envelopeOf, folderTransport, mailFromAddress } from '../server/mail/transport.js';
import { resolveLink } from '../server/stakeholders/service.js';

const DAY = 86_400_000;
const PORTAL_ADDRESS = 'no-reply@posture-portal.local';
/** Markup, an ampersand and both kinds of quote: the HTML part must show them as text, the text part as written. */
const NOTE = `We met at the <script>alert("x")</script> summit & talked about "RSA" — it's for the pilot.`;
const NOTE_HTML = 'We met at the &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; summit &amp; talked about &quot;RSA&quot; — it&#x27;s for the pilot.';

/** The single address of an address header (From, Reply-To), or undefined when the mail has none. */
function addressOf(mail: ReceivedMail, header: 'from' | 'reply-to') {
  const value = mail.headers.get(header) as AddressObject | undefined;
  if (!value) return undefined;
  const all = value.value;
  return all.length === 1 ? { name: all[0].name, address: all[0].address } : { name: `${all.length} addresses`, address: '' };
}

const pathOf = (mail: ReceivedMail) => {
  const link = linksIn(mail.text).find((l) => l.includes('/r/'));
  if (!link) throw new Error(`no personal link in "${mail.subject}"`);
  return new URL(link).pathname;
};

/** A deal opened on the deal page, so the signed-in person is its owner (deals.created_by). */
async function openOwnedDeal(vendor: TestVendor, buyer = 'Big Bank'): Promise<string> {
  const published = await vendor.api('POST', '/api/v1/profile/publish');
  if (published.statusCode !== 200) throw new Error(`publish answered ${published.statusCode}`);
  const res = await vendor.post('/app/deals', { buyer_name: buyer });
  const id = /^\/app\/deals\/([0-9a-f-]{36})\?created=1$/.exec(String(res.headers.location))?.[1];
  if (res.statusCode !== 303 || !id) throw new Error(`opening a deal answered ${res.statusCode} ${String(res.headers.location)}`);
  return id;
}

const count = async (ctx: TestApp, table: 'stakeholders' | 'outbox') =>
  Number(
    (
      await ctx.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

t.test('the invitation, its reminder and a hand-over come from the deal owner, name the domain, and carry the note only to the person it was for', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Dana Lee', email: 'dana@acme.example' });
  t.equal((await vendor.post('/app/settings/workspace', { web_domain: 'acme.example' })).statusCode, 303, 'the web domain is set');
  const dealId = await openOwnedDeal(vendor);

  const added = await vendor.post(`/app/deals/${dealId}/stakeholders`, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso', invite: 'yes', note: NOTE });
  t.equal(added.statusCode, 303, 'the form with a note adds the person');
  const stored = await ctx.db.selectFrom('stakeholders').select('invite_note').where('email', '=', 'carla@bank.example').executeTakeFirstOrThrow();
  t.equal(stored.invite_note, NOTE, 'the note is kept as typed');
  await ctx.drainMail();
  const invite = await ctx.smtp.waitFor((m) => m.to === 'carla@bank.example');

  t.same(addressOf(invite, 'from'), { name: 'Dana Lee at Acme AI via Posture Portal', address: PORTAL_ADDRESS }, 'From: the owner at the vendor, on the portal’s address');
  t.equal(invite.from, PORTAL_ADDRESS, 'the envelope sender is the portal’s address');
  t.same(addressOf(invite, 'reply-to'), { name: '', address: 'dana@acme.example' }, 'a reply goes to the deal owner');
  for (const [part, body] of [
    ['text', invite.text],
    ['html', invite.html],
  ] as const) {
    t.match(body, 'Dana Lee at Acme AI (acme.example) asked you to check', `${part}: names the owner and the web domain`);
    t.match(body, 'A note from Dana Lee:', `${part}: the note is labelled as the owner’s`);
    t.match(body, /To check, reply to this email: your reply goes to Dana Lee \(dana@acme\.example\) at Acme AI\. Or ask Dana Lee directly/, `${part}: how to check it is genuine`);
    t.match(body, 'hand the concerns over from the page rather than forwarding this email', `${part}: a hand-over, not a forward`);
    t.notMatch(body, /do not forward/i, `${part}: no "do not forward"`);
  }
  t.match(invite.text, `> ${NOTE}`, 'the text part quotes the note verbatim');
  t.match(invite.html, NOTE_HTML, 'the HTML part shows the note escaped');
  t.notMatch(invite.html, '<script>', 'no markup from the note reaches the HTML');
  t.match(invite.html, /<blockquote[^>]*>We met at the &lt;script&gt;/, 'in a quoted block');

  // The respondent's page can name the same contact: the link resolves with it.
  const carlaPath = pathOf(invite);
  const ctxOfLink = await resolveLink(ctx.db, ctx.clock, carlaPath.slice('/r/'.length));
  t.same(ctxOfLink?.contact, { name: 'Dana Lee', email: 'dana@acme.example' }, 'the link knows the deal owner');
  t.equal(ctxOfLink?.vendorDomain, 'acme.example', 'and the web domain');

  // A reminder is the same invitation again.
  ctx.clock.advance(3 * DAY);
  await ctx.drainMail();
  const reminder = await ctx.smtp.waitFor((m) => m.to === 'carla@bank.example' && m.subject.startsWith('Reminder:'));
  t.same(addressOf(reminder, 'from'), { name: 'Dana Lee at Acme AI via Posture Portal', address: PORTAL_ADDRESS }, 'the reminder has the same From');
  t.same(addressOf(reminder, 'reply-to'), { name: '', address: 'dana@acme.example' }, 'and the same Reply-To');
  t.match(reminder.text, `> ${NOTE}`, 'and the note');
  t.match(reminder.html, NOTE_HTML, 'escaped in HTML');
  t.match(reminder.text, 'your reply goes to Dana Lee (dana@acme.example)');

  // A hand-over: from the same owner, with the colleague's request and not the vendor's note.
  const handed = await ctx.app.inject({
    method: 'POST',
    url: `${carlaPath}/delegate`,
    ...form({ concerns: ['audit_compliance'], name: 'Sam Security', email: 'sam@bank.example', role: 'security' }),
  });
  t.equal(handed.statusCode, 303, 'Carla hands a concern to Sam');
  await ctx.drainMail();
  const handOver = await ctx.smtp.waitFor((m) => m.to === 'sam@bank.example');
  t.same(addressOf(handOver, 'from'), { name: 'Dana Lee at Acme AI via Posture Portal', address: PORTAL_ADDRESS }, 'the hand-over has the same From');
  t.same(addressOf(handOver, 'reply-to'), { name: '', address: 'dana@acme.example' }, 'and Reply-To');
  for (const [part, body] of [
    ['text', handOver.text],
    ['html', handOver.html],
  ] as const) {
    t.match(body, 'Carla Ciso handed these concerns to you', `${part}: says who handed it over`);
    t.notMatch(body, 'A note from', `${part}: no vendor note`);
    t.notMatch(body, 'summit', `${part}: not a word of it`);
    t.match(body, 'Acme AI (acme.example) has written down', `${part}: names the web domain`);
    t.match(
      body,
      'To check, ask Carla Ciso, who handed these concerns to you, or reply to this email: your reply goes to Dana Lee (dana@acme.example) at Acme AI.',
      `${part}: how to check it is genuine`,
    );
    t.match(body, 'rather than forwarding this email', `${part}: a hand-over, not a forward`);
    t.notMatch(body, /do not forward/i, `${part}: no "do not forward"`);
  }

  // A champion's invitation gets the same sender, and asks for a new person rather than a forward.
  await vendor.post(`/app/deals/${dealId}/stakeholders`, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion', invite: 'yes', note: 'Thanks for the intro.' });
  await ctx.drainMail();
  const champion = await ctx.smtp.waitFor((m) => m.to === 'chris@bank.example');
  t.match(champion.subject, 'follow your security team');
  t.same(addressOf(champion, 'from'), { name: 'Dana Lee at Acme AI via Posture Portal', address: PORTAL_ADDRESS });
  t.same(addressOf(champion, 'reply-to'), { name: '', address: 'dana@acme.example' });
  for (const body of [champion.text, champion.html]) {
    t.match(body, 'A note from Dana Lee');
    t.match(body, 'Thanks for the intro.');
    t.match(body, 'ask Dana Lee to add them rather than forwarding this email');
    t.notMatch(body, /do not forward/i);
  }

  // Mail that is not an invitation keeps its own sender and footer.
  ctx.smtp.clear();
  await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email: 'dana@acme.example' }) });
  await ctx.drainMail();
  const signin = await ctx.smtp.waitFor((m) => m.to === 'dana@acme.example');
  t.same(addressOf(signin, 'from'), { name: 'Posture Portal', address: PORTAL_ADDRESS }, 'a sign-in mail comes from MAIL_FROM as configured');
  t.equal(addressOf(signin, 'reply-to'), undefined, 'with no Reply-To');
  t.match(signin.html, 'please do not forward this email', 'and the layout’s own footer');
});

t.test('a deal opened through the JSON API: its key’s creator owns it and is named, and the note comes from the JSON API', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Dana Lee', email: 'dana@acme.example' });
  t.equal((await vendor.api('POST', '/api/v1/profile/publish')).statusCode, 200);
  // Opened through the API, it belongs to whoever created the key: Dana.
  const dealId = (await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Big Bank' })).json().id;
  const owner = await ctx.db.selectFrom('deals').innerJoin('users', 'users.id', 'deals.owner_id').select('users.email').where('deals.id', '=', dealId).executeTakeFirst();
  t.equal(owner?.email, 'dana@acme.example', 'a deal opened through an API key is owned by the key’s creator');

  const added = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso', note: NOTE });
  t.equal(added.statusCode, 201, added.body);
  const batch = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, {
    stakeholders: [
      { name: 'Sam Security', email: 'sam@bank.example', role: 'security', note: 'Line one\nLine two' },
      { name: 'Pat Privacy', email: 'pat@bank.example', role: 'privacy', invite: false },
    ],
  });
  t.equal(batch.statusCode, 201, batch.body);
  const notes = await ctx.db.selectFrom('stakeholders').select(['email', 'invite_note']).orderBy('email').execute();
  t.same(
    notes,
    [
      { email: 'carla@bank.example', invite_note: NOTE },
      { email: 'pat@bank.example', invite_note: null },
      { email: 'sam@bank.example', invite_note: 'Line one\nLine two' },
    ],
    'each note is kept on its person; none is none',
  );

  await ctx.drainMail();
  const carla = await ctx.smtp.waitFor((m) => m.to === 'carla@bank.example');
  t.same(addressOf(carla, 'from'), { name: 'Dana Lee at Acme AI via Posture Portal', address: PORTAL_ADDRESS }, 'From: the key’s creator at the vendor');
  t.same(addressOf(carla, 'reply-to'), { name: '', address: 'dana@acme.example' }, 'Reply-To: her');
  t.match(carla.text, 'Dana Lee at Acme AI asked you to check', 'the owner named');
  t.notMatch(carla.text, 'Acme AI (', 'no web domain while none is set');
  t.match(carla.text, 'A note from Dana Lee:');
  t.match(carla.html, NOTE_HTML);
  const sam = await ctx.smtp.waitFor((m) => m.to === 'sam@bank.example');
  t.match(sam.text, '> Line one\n> Line two', 'a note of several lines is quoted line by line');
  t.match(sam.html, 'Line one<br>Line two', 'and keeps its lines in HTML');

  const link = await resolveLink(ctx.db, ctx.clock, pathOf(carla).slice('/r/'.length));
  t.same(link?.contact, { name: 'Dana Lee', email: 'dana@acme.example' }, 'the link names the owner as its contact');
  t.equal(link?.vendorDomain, null, 'nor a web domain');

  const handed = await ctx.app.inject({
    method: 'POST',
    url: `${pathOf(carla)}/delegate`,
    ...form({ concerns: ['audit_compliance'], name: 'Lee Legal', email: 'lee@bank.example', role: 'legal' }),
  });
  t.equal(handed.statusCode, 303);
  await ctx.drainMail();
  const lee = await ctx.smtp.waitFor((m) => m.to === 'lee@bank.example');
  t.same(addressOf(lee, 'from'), { name: 'Dana Lee at Acme AI via Posture Portal', address: PORTAL_ADDRESS }, 'a hand-over: from the owner too');
  t.same(addressOf(lee, 'reply-to'), { name: '', address: 'dana@acme.example' }, 'with her Reply-To');
  t.notMatch(lee.text, 'A note from', 'the note was for Carla only');

  // An over-long note refuses the person, with the field named, and writes nothing.
  const before = { people: await count(ctx, 'stakeholders'), mail: await count(ctx, 'outbox') };
  const long = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Olga Long', email: 'olga@bank.example', role: 'ciso', note: 'x'.repeat(1001) });
  t.equal(long.statusCode, 400);
  t.same(long.json().error.details, [{ field: 'note', message: 'must be at most 1000 characters' }]);
  const longBatch = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/batch`, {
    stakeholders: [
      { name: 'Olga Long', email: 'olga@bank.example', role: 'ciso' },
      { name: 'Otto Long', email: 'otto@bank.example', role: 'ciso', note: 'y'.repeat(1001) },
    ],
  });
  t.equal(longBatch.statusCode, 400);
  t.same(longBatch.json().error.details, [{ field: 'stakeholders.1.note', message: 'must be at most 1000 characters' }]);
  t.equal(
    (await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Olga', email: 'olga@bank.example', role: 'ciso', note: 'z'.repeat(1000) })).statusCode,
    201,
    '1,000 characters fit',
  );
  t.equal(await count(ctx, 'stakeholders'), before.people + 1, 'only the one that fits was added');
  const missing = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Rolf', email: 'rolf@bank.example' });
  t.equal(missing.statusCode, 400);
  t.same(missing.json().error.details, [{ field: 'role', message: 'Choose their role' }], 'the API asks for the role too');
});

t.test('the add-stakeholder form: no default role, a clear error without one, and an over-long note saves nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Dana Lee' });
  const dealId = await openOwnedDeal(vendor);

  const page = await vendor.page(`/app/deals/${dealId}`);
  t.match(page.body, /<select id="in-role" name="role"><option value="" selected>Choose a role<\/option><option value="ciso">CISO<\/option>/, 'the role starts unchosen');
  t.match(page.body, /<label for="in-note">[^<]+<\/label>\s*<textarea id="in-note" name="note"/, 'the note box is labelled');

  const before = { people: await count(ctx, 'stakeholders'), mail: await count(ctx, 'outbox') };
  for (const role of [undefined, '']) {
    const res = await vendor.post(`/app/deals/${dealId}/stakeholders`, { name: 'Carla Ciso', email: 'carla@bank.example', role, invite: 'yes' });
    t.equal(res.statusCode, 400, `role ${JSON.stringify(role)} is refused`);
    t.match(res.body, /<select id="in-role" name="role" aria-invalid="true" aria-describedby="in-role-error">/);
    t.match(res.body, '<p class="error" id="in-role-error">Choose their role</p>');
    t.match(res.body, 'value="carla@bank.example"', 'what was typed stays');
  }

  const long = await vendor.post(`/app/deals/${dealId}/stakeholders`, {
    name: 'Carla Ciso',
    email: 'carla@bank.example',
    role: 'ciso',
    invite: 'yes',
    note: `<b>${'x'.repeat(1000)}`,
  });
  t.equal(long.statusCode, 400, 'a note over 1,000 characters is refused');
  t.match(long.body, '<p class="error" id="in-note-error">must be at most 1000 characters</p>');
  t.match(long.body, /<textarea id="in-note" name="note"[^>]*aria-invalid="true"[^>]*>&lt;b&gt;xxx/, 'the note is back in its box, escaped, to shorten');
  t.match(long.body, /<option value="ciso" selected>CISO<\/option>/, 'the chosen role stays chosen');
  t.same({ people: await count(ctx, 'stakeholders'), mail: await count(ctx, 'outbox') }, before, 'no person and no mail');

  const ok = await vendor.post(`/app/deals/${dealId}/stakeholders`, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso', invite: 'yes', note: '  \r\n  ' });
  t.equal(ok.statusCode, 303, 'a blank note is no note');
  t.equal((await ctx.db.selectFrom('stakeholders').select('invite_note').executeTakeFirstOrThrow()).invite_note, null);
  await ctx.drainMail();
  const mail = await ctx.smtp.waitFor((m) => m.to === 'carla@bank.example');
  t.notMatch(mail.text, 'A note from', 'and the invitation shows none');
  t.match(mail.text, 'Dana Lee at Acme AI asked you to check', 'no web domain while none is set');
});

t.test('the workspace web domain: a bare host name, lower-cased, or nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI' });
  const stored = async () => (await ctx.db.selectFrom('vendors').select('web_domain').executeTakeFirstOrThrow()).web_domain;

  const page = await vendor.page('/app/settings');
  t.match(page.body, /<h2 id="workspace-h">Workspace<\/h2>/);
  t.match(page.body, /<form method="post" action="\/app\/settings\/workspace"[^>]*>\s*<input type="hidden" name="_csrf"/, 'a form with the CSRF token');
  t.match(page.body, /<input id="in-web_domain" name="web_domain" type="text" value=""/, 'empty at first');

  const refused: [string, RegExp][] = [
    ['https://acme.example', /no https:\/\//],
    ['acme.example/about', /no https:\/\/, path/],
    ['acme.example:8443', /must be the domain alone/],
    ['dana@acme.example', /must be the domain alone/],
    ['acme', /must be a domain name such as acme\.example/],
    ['-acme.example', /must be a domain name/],
    ['acme..example', /must be a domain name/],
    ['192.0.2.1', /must be a domain name/],
    ['acmé.example', /must be a domain name/],
    [`${'a'.repeat(64)}.example`, /must be a domain name/],
  ];
  for (const [value, message] of refused) {
    const res = await vendor.post('/app/settings/workspace', { web_domain: value });
    t.equal(res.statusCode, 400, `"${value}" is refused`);
    t.match(res.body, /<p class="error" id="in-web_domain-error">must be [^<]+<\/p>/);
    t.match(res.body, message, `"${value}": the reason`);
    t.equal(await stored(), null, `"${value}": nothing saved`);
  }
  const echoed = await vendor.post('/app/settings/workspace', { web_domain: '"><script>x</script>' });
  t.equal(echoed.statusCode, 400);
  t.match(echoed.body, 'value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"', 'a refused value comes back escaped');

  const saved = await vendor.post('/app/settings/workspace', { web_domain: '  Acme.EXAMPLE.  ' });
  t.equal(saved.statusCode, 303);
  t.equal(saved.headers.location, '/app/settings?workspace=1');
  t.equal(await stored(), 'acme.example', 'saved lower-cased, trimmed, without the final dot');
  const shown = await vendor.page('/app/settings?workspace=1');
  t.match(shown.body, 'value="acme.example"');
  t.match(shown.body, 'Invitations now name acme.example.');

  t.equal((await vendor.post('/app/settings/workspace', { web_domain: 'xn--bcher-kva.example' })).statusCode, 303, 'an internationalised name in its xn-- form');
  t.equal(await stored(), 'xn--bcher-kva.example');

  const cleared = await vendor.post('/app/settings/workspace', { web_domain: '' });
  t.equal(cleared.statusCode, 303);
  t.equal(await stored(), null, 'an empty value clears it');
  t.match((await vendor.page('/app/settings?workspace=1')).body, 'Invitations name no web domain.');

  // Without the form's CSRF token nothing changes.
  const forged = await ctx.app.inject({ method: 'POST', url: '/app/settings/workspace', ...form({ web_domain: 'evil.example' }, vendor.jar.headers()) });
  t.ok(forged.statusCode >= 400, `a post without the token is refused (${forged.statusCode})`);
  t.equal(await stored(), null);
  const anonymous = await ctx.app.inject({ method: 'POST', url: '/app/settings/workspace', ...form({ web_domain: 'evil.example' }) });
  t.ok(anonymous.statusCode >= 400, 'and one without a session');
  t.equal(await stored(), null);
});

t.test('display names are one line, quoted as a header needs, and never an address', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme "Secure" AI', name: 'Dana O’Neil-Smith' });
  const dealId = await openOwnedDeal(vendor);
  t.equal((await vendor.post(`/app/deals/${dealId}/stakeholders`, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso', invite: 'yes' })).statusCode, 303);
  await ctx.drainMail();
  const mail = await ctx.smtp.waitFor((m) => m.to === 'carla@bank.example');
  t.same(addressOf(mail, 'from'), { name: 'Dana O’Neil-Smith at Acme "Secure" AI via Posture Portal', address: PORTAL_ADDRESS }, 'quotes and non-ASCII arrive intact');

  // What the transports are handed, whatever a caller passes.
  const hostile = envelopeOf(
    {
      to: 'a@bank.example',
      subject: 's',
      html: '',
      text: '',
      fromName: 'Eve\r\nBcc: victim@bank.example <ceo@bank.example>\u202e via',
      replyTo: 'dana@acme.example\r\nBcc: x@y.example',
    },
    'no-reply@portal.example',
  );
  const from = hostile.from as { name: string; address: string };
  t.equal(from.address, 'no-reply@portal.example', 'the address is always the configured one');
  t.notMatch(from.name, /[\r\n<>\u202e]/, 'no line break, angle bracket or bidi override in the name');
  t.equal(from.name, 'Eve Bcc: victim@bank.example ceo@bank.example via');
  t.notOk('replyTo' in hostile, 'a Reply-To that is not one plain address is left out');
  for (const bad of ['Dana <dana@acme.example>', 'dana@acme.example, eve@evil.example', 'dana @acme.example', 'dana']) {
    t.notOk('replyTo' in envelopeOf({ to: 'a@b.example', subject: 's', html: '', text: '', replyTo: bad }, 'x@y.example'), `no Reply-To from "${bad}"`);
  }
  t.same(envelopeOf({ to: 'a@b.example', subject: 's', html: '', text: '', replyTo: 'dana@acme.example' }, 'x@y.example').replyTo, { name: '', address: 'dana@acme.example' });
  t.notOk('from' in envelopeOf({ to: 'a@b.example', subject: 's', html: '', text: '' }, 'x@y.example'), 'no name: MAIL_FROM as configured');
  t.equal(mailFromAddress('Posture Portal <no-reply@posture-portal.local>'), PORTAL_ADDRESS);
  t.equal(mailFromAddress('bare@portal.example'), 'bare@portal.example');
});

t.test('the folder transport writes the same From and Reply-To', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pp-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const transport = folderTransport(dir, 'Posture Portal <no-reply@portal.example>', (l) => lines.push(l));
  await transport.send({
    to: 'carla@bank.example',
    subject: 'Hi',
    html: '<p>Hi</p>',
    text: 'Hi',
    fromName: 'Dana Lee at Acme AI via Posture Portal',
    replyTo: 'dana@acme.example',
  });
  await transport.send({ to: 'carla@bank.example', subject: 'Plain', html: '<p>Hi</p>', text: 'Hi' });
  const files = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8'));
  const withName = files.find((f) => f.includes('Subject: Hi'))!;
  const plain = files.find((f) => f.includes('Subject: Plain'))!;
  t.match(withName, /^From: Dana Lee at Acme AI via Posture Portal <no-reply@portal\.example>$/m);
  t.match(withName, /^Reply-To: dana@acme\.example$/m);
  t.match(plain, /^From: Posture Portal <no-reply@portal\.example>$/m);
  t.notMatch(plain, /^Reply-To:/m);
  t.equal(lines.length, 2);
});
