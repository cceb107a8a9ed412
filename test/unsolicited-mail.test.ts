// Mail that reaches people who did not ask for it (a sign-up confirmation to
// any address, a colleague's hand-over) must not relay a stranger's words:
// no requester text in subjects or in the sign-up mail, and names that read
// as web addresses or hide invisible characters are refused at the edge.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('the sign-up mail carries no text the requester chose; the confirmation page does', async (t) => {
  const ctx = await testApp(t);
  const res = await ctx.app.inject({ method: 'POST', url: '/signup', ...form({ workspace: 'Prize Desk Winners', name: 'Claim Team', email: 'victim@bank.example' }) });
  t.equal(res.statusCode, 200);
  await ctx.drainMail();
  const mail = await ctx.smtp.waitFor((m) => m.to === 'victim@bank.example');
  for (const part of [mail.subject, mail.text, mail.html]) {
    t.notMatch(part, 'Prize Desk', 'no workspace name');
    t.notMatch(part, 'Claim Team', 'no requester name');
  }
  const page = await ctx.app.inject({ method: 'GET', url: new URL(linksIn(mail.text)[0]).pathname });
  t.match(page.body, /Workspace: <strong>Prize Desk Winners<\/strong>/, 'the person who asked sees the name before confirming');
});

t.test('names that read as web addresses or hide characters are refused, and nothing is queued', async (t) => {
  const ctx = await testApp(t);
  let n = 0;
  // Each from its own address: sign-ups are limited per address, and this test makes many.
  const signup = (workspace: string, name = 'Ada Admin') =>
    ctx.app.inject({ method: 'POST', url: '/signup', remoteAddress: `192.0.2.${++n}`, ...form({ workspace, name, email: `a${n}@vendor.test` }) });
  for (const bad of ['Claim at evil.example', 'www.evil', 'https://evil.example/x', 'Go to bit.ly/prize', 'hxxp://x ftp://y', 'secure-login.com']) {
    const res = await signup(bad);
    t.equal(res.statusCode, 400, `workspace "${bad}" refused`);
    t.match(res.body, 'must be a name, not a web address');
  }
  t.equal((await signup('Acme AI', 'see evil.example')).statusCode, 400, 'a person’s name too');
  for (const [label, bad] of [
    ['zero-width space', 'Ada\u200bAdmin'],
    ['zero-width joiner', 'Ada\u200dAdmin'],
    ['byte order mark', 'Ada\ufeffAdmin'],
    ['word joiner', 'Ada\u2060Admin'],
    ['line separator', 'Ada\u2028Admin'],
    ['paragraph separator', 'Ada\u2029Admin'],
  ]) {
    const res = await signup('Acme AI', bad);
    t.equal(res.statusCode, 400, `${label} refused in a one-line field`);
    t.match(res.body, 'must be a single line without control characters');
  }
  t.same(await ctx.db.selectFrom('outbox').select('id').execute(), [], 'no mail queued for any refused sign-up');
  for (const good of ['Acme AI', 'J.R. Smith & Co.', 'O’Brien Ltd.', 'Zürich Re', 'Big Bank (EMEA)']) {
    t.equal((await signup(good, good)).statusCode, 200, `"${good}" is a name`);
  }
});

t.test('people added to a deal or handed a concern need names, and a hand-over subject names no respondent', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI' });
  const dealId = await openDeal(vendor);
  const added = await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders`, { name: 'Urgent: www.evil.example', role: 'ciso', email: 'x@bank.example' });
  t.equal(added.statusCode, 400, 'the API refuses a URL-like stakeholder name');
  t.match(added.json().error.details, [{ field: 'name', message: /not a web address/ }]);
  const buyer = await vendor.api('POST', '/api/v1/deals', { buyer_name: 'Pay at evil.example' });
  t.equal(buyer.statusCode, 400, 'and a URL-like buyer name');

  const ciso = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const handOver = (name: string, email: string) =>
    ctx.app.inject({ method: 'POST', url: `${ciso.path}/delegate`, ...form({ concerns: ['audit_compliance'], name, email, role: 'security' }) });
  const phishy = await handOver('Reset at evil.example', 'sam@bank.example');
  t.equal(phishy.statusCode, 400, 'a URL-like colleague name is refused');
  t.match(phishy.body, 'not a web address');
  t.equal((await handOver('Sam Security', 'sam@bank.example')).statusCode, 303);
  await ctx.drainMail();
  const mail = await ctx.smtp.waitFor((m) => m.to === 'sam@bank.example');
  t.notMatch(mail.subject, 'Carla', 'the subject names no respondent');
  t.equal(mail.subject, 'Acme AI: a colleague asked you to review security claims for Big Bank');
  t.match(mail.text, 'Carla Ciso handed these concerns to you', 'the body says who, where the recipient reads it in context');
});
