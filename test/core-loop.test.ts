// The core loop end to end, through real SMTP: a vendor publishes, opens a
// deal, invites a CISO; the CISO follows the emailed link and corrects data
// residency; the vendor reads back exactly that structured change.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('a correction travels from the emailed link to the signals API', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp, db, clock } = ctx;
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI' });
  const dealId = await openDeal(vendor, { buyer_name: 'Big Bank', buyer_domain: 'bank.example', started_on: '2026-02-23' });

  const invite = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const mail = smtp.messages.find((m) => m.to === 'carla@bank.example')!;
  t.match(mail.subject, 'Acme AI: six security claims for Big Bank');
  t.match(mail.text, 'Hello Carla Ciso');
  t.match(mail.html, `href="http://portal.test${invite.path}"`, 'the HTML part links to the same personal page');

  // Opening the page (as a scanner or a person) records nothing.
  const page = await app.inject({ method: 'GET', url: invite.path });
  t.equal(page.statusCode, 200);
  t.match(page.body, 'Acme AI&#x27;s security posture for Big Bank');
  t.match(page.body, 'Inference');
  const before = await db
    .selectFrom('signals')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  t.equal(before.n, 0, 'opening the link is not engagement');

  const deal = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  const residency = deal.concerns.find((c: { concern: string }) => c.concern === 'data_residency');
  t.same(residency.claim.inference_regions, ['US'], 'the default hypothesis runs inference in the US');

  clock.advance(3 * 86_400_000); // 2026-03-05: week 2 of a deal started 2026-02-23
  const answer = await app.inject({
    method: 'POST',
    url: `${invite.path}/answer/data_residency`,
    ...form({
      verdict: 'correct',
      kind: 'requirement_gap',
      comment: 'Our regulator requires EU-only processing.',
      ...claimForm(residency.claim, { inference_regions: ['EU_EEA'] }),
    }),
  });
  t.equal(answer.statusCode, 303);
  t.equal(answer.headers.location, `${invite.path}?saved=data_residency#next`, 'on to the next concern needing an answer');

  const { signals } = (await vendor.api('GET', `/api/v1/deals/${dealId}/signals`)).json();
  t.equal(signals.length, 1);
  t.match(signals[0], {
    type: 'answer',
    concern: 'data_residency',
    verdict: 'correct',
    kind: 'requirement_gap',
    comment: 'Our regulator requires EU-only processing.',
    stakeholder: { id: invite.id, name: 'Carla Ciso', role: 'ciso' },
    week: 2,
    created_at: '2026-03-05T09:00:00.000Z',
  });
  t.same(signals[0].changes, [{ field: 'inference_regions', claimed: ['US'], corrected: ['EU_EEA'] }], 'exactly that change');

  // The respondent sees their answer; the vendor's grid and signal list show it.
  const again = await app.inject({ method: 'GET', url: `${invite.path}?saved=data_residency` });
  t.match(
    again.body,
    /<section class="card concern" id="model_access_controls" aria-labelledby="model_access_controls-h"><span id="next"><\/span>\s*<p class="notice success" role="status">Saved: Corrected on Data residency. Next: Model access controls.<\/p>/,
    'the note of what was saved is where they land: the next concern',
  );
  t.match(again.body, '1 of 6 concerns answered');
  const dealPage = await vendor.page(`/app/deals/${dealId}`);
  t.equal(dealPage.statusCode, 200);
  t.match(dealPage.body, /<span class="pill correct">Corrected<\/span>/);
  t.match(dealPage.body, /<td>Inference regions<\/td><td>United States<\/td><td><strong>EU\/EEA<\/strong><\/td>/);
  t.match(dealPage.body, 'requirement gap');

  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  const cell = detail.concerns.find((c: { concern: string }) => c.concern === 'data_residency').answers[0];
  t.match(cell, { stakeholder_id: invite.id, verdict: 'correct', kind: 'requirement_gap', stale: false });
});

t.test('answers can be confirmed, revised and marked not mine; each revision is a new signal', async (t) => {
  const ctx = await testApp(t);
  const { app } = ctx;
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'sam@bank.example', role: 'security' });

  const send = (concern: string, values: Record<string, unknown>) => app.inject({ method: 'POST', url: `${path}/answer/${concern}`, ...form(values as never) });

  t.equal((await send('model_access_controls', { verdict: 'confirm' })).statusCode, 303);
  t.equal((await send('model_access_controls', { verdict: 'confirm' })).statusCode, 303, 'a double submit is accepted');
  t.equal((await send('audit_compliance', { verdict: 'not_mine' })).statusCode, 303);
  t.equal((await send('model_access_controls', { verdict: 'not_mine', comment: 'Ask our IAM team.' })).statusCode, 303);

  const { signals } = (await vendor.api('GET', `/api/v1/deals/${dealId}/signals`)).json();
  t.same(
    signals.map((s: { concern: string; verdict: string }) => `${s.concern}:${s.verdict}`),
    ['model_access_controls:not_mine', 'audit_compliance:not_mine', 'model_access_controls:confirm'],
    'newest first; the repeated confirm was recorded once',
  );
  const page = await app.inject({ method: 'GET', url: path });
  t.match(page.body, '2 of 6 concerns answered');
  t.match(page.body, /Model access controls (<span class="pill critical">critical<\/span> )?<span class="pill not_mine">Not mine<\/span>/);
});

t.test('the vendor can tailor a claim for one buyer', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor, {
    buyer_name: 'EU Insurer',
    overrides: { data_residency: { storage_regions: ['EU_EEA'], inference_scope: 'single_region', inference_regions: ['EU_EEA'] } },
  });
  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  const residency = detail.concerns.find((c: { concern: string }) => c.concern === 'data_residency');
  t.equal(residency.tailored, true);
  t.same(residency.claim.storage_regions, ['EU_EEA']);
  t.equal(residency.claim.inference_scope, 'single_region');
  const access = detail.concerns.find((c: { concern: string }) => c.concern === 'model_access_controls');
  t.equal(access.tailored, false, 'untouched concerns keep the published claim');
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'dpo@insurer.example', role: 'privacy' });
  const page = await ctx.app.inject({ method: 'GET', url: path });
  t.match(page.body, 'in the EU/EEA', 'the respondent reads the tailored claim');
});
