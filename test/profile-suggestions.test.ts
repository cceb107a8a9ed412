// Profile suggestions: when buyers' security teams call a field of the
// published profile a factual error, with the same corrected value, in enough
// deals, the profile page suggests the change, names those deals, and puts the
// value into the draft (never published without the vendor) or forgets it
// until more deals say the same. The threshold is a workspace setting.
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { testApp, type TestApp } from './helpers/app.js';
import { decodeEntities, form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';
import { editorPage, midSentence } from '../server/profiles/views.js';
import { defaultDraft } from '../server/profiles/service.js';
import { settingsPage } from '../server/settings/views.js';

const TDP = 'training_data_provenance';
const SECTION = "Suggestions from buyers' security teams";

/**
 * Opens a deal for `buyer`, invites a CISO, and has them correct one field of
 * a concern's claim (with this kind); returns the deal's id.
 */
async function dealWithCorrection(
  ctx: TestApp,
  vendor: TestVendor,
  buyer: string,
  opts: { concern?: string; changes?: Record<string, unknown>; kind?: string; role?: string } = {},
): Promise<string> {
  const concern = opts.concern ?? TDP;
  const dealId = await openDeal(vendor, { buyer_name: buyer });
  const slug = buyer.toLowerCase().replace(/[^a-z]+/g, '-');
  const person = await inviteStakeholder(ctx, vendor, dealId, { name: `CISO of ${buyer}`, email: `ciso@${slug}.example`, role: opts.role ?? 'ciso' });
  ctx.clock.advance(60 * 60 * 1000); // each deal's correction an hour after the last: an order to show evidence in
  const claim = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns.find((c: { concern: string }) => c.concern === concern).claim;
  const res = await ctx.app.inject({
    method: 'POST',
    url: `${person.path}/answer/${concern}`,
    ...form({ verdict: 'correct', kind: opts.kind ?? 'factual_error', ...claimForm(claim, opts.changes ?? { indemnity_cap: 'capped_at_fees' }) }),
  });
  if (res.statusCode !== 303) throw new Error(`the correction answered ${res.statusCode}`);
  return dealId;
}

/** The keys of the suggestions a profile page offers (from their forms), decoded. */
function keysIn(html: string): string[] {
  return [...new Set([...html.matchAll(/<input type="hidden" name="key" value="([^"]*)">/g)].map((m) => decodeEntities(m[1])))];
}

/** The suggestions section of a profile page ('' when there is none). */
function section(res: LightMyRequestResponse): string {
  return /<section class="card suggestions" id="suggestions"[^]*?<\/section>/.exec(res.body)?.[0] ?? '';
}

const draftValue = async (vendor: TestVendor, concern: string, field: string) => (await vendor.api('GET', '/api/v1/profile')).json().concerns[concern][field];

t.test('three deals agreeing suggest a change; dismissed until more evidence; put into the draft, published by the vendor', async (t) => {
  const ctx = await testApp(t);
  const { db } = ctx;
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI', email: 'admin@acme.test' });
  const other = await signUpVendor(ctx, { workspace: 'Other AI', email: 'admin@other.test' });
  await openDeal(other, { buyer_name: 'Other Buyer' });

  const alpha = await dealWithCorrection(ctx, vendor, 'Alpha Bank');
  const beta = await dealWithCorrection(ctx, vendor, 'Beta Insurance');
  // The same value, but a requirement gap: the claim may be right, this buyer needs something else.
  const gamma = await dealWithCorrection(ctx, vendor, 'Gamma Health', { kind: 'requirement_gap' });
  // A factual error by someone outside the security team is not the security team's word.
  await dealWithCorrection(ctx, vendor, 'Epsilon Legal', { role: 'legal' });

  let page = await vendor.page('/app/profile');
  t.equal(page.statusCode, 200);
  t.notMatch(page.body, SECTION, 'two factual errors, a requirement gap and a lawyer: below the threshold of 3, no suggestion');
  t.same(keysIn(page.body), []);

  const delta = await dealWithCorrection(ctx, vendor, 'Delta Retail');
  page = await vendor.page('/app/profile');
  const shown = section(page);
  t.match(shown, `<h2 id="suggestions-h">${SECTION}</h2>`, 'the third deal brings the suggestion');
  t.match(
    shown,
    "3 buyers' security teams say the indemnity cap is <strong>“Capped at fees paid”</strong>, not “Uncapped”.",
    'the sentence: deals, field, suggested value, claimed value',
  );
  t.match(shown, 'Training data provenance', 'the concern is named');
  for (const [id, name] of [
    [alpha, 'Alpha Bank'],
    [beta, 'Beta Insurance'],
    [delta, 'Delta Retail'],
  ]) {
    t.match(shown, `<a href="/app/deals/${id}">${name}</a>`, `${name} is evidence, linked to its deal`);
  }
  t.notMatch(shown, 'Gamma Health', 'the requirement gap is not evidence');
  t.notMatch(shown, gamma, 'nor its deal');
  t.notMatch(shown, 'Epsilon Legal', 'nor the lawyer’s deal');
  t.match(shown, 'action="/app/profile/suggestions/apply"', 'Put into draft');
  t.match(shown, 'action="/app/profile/suggestions/dismiss"', 'Dismiss');
  t.match(shown, /<form method="post" action="\/app\/profile\/suggestions\/apply"><input type="hidden" name="_csrf" value="[^"]+">/, 'with a CSRF token');
  const keys = keysIn(page.body);
  t.equal(keys.length, 1, 'one suggestion');
  const key = keys[0];

  // Another workspace sees none of it, and cannot act on it.
  const theirs = await other.page('/app/profile');
  t.equal(theirs.statusCode, 200);
  t.notMatch(theirs.body, SECTION, 'another vendor never sees these suggestions');
  t.notMatch(theirs.body, /Alpha Bank|Delta Retail/);
  const foreign = await other.post('/app/profile/suggestions/apply', { key });
  t.equal(foreign.statusCode, 400, 'another vendor’s key is not one of theirs');
  t.match(foreign.body, 'That suggestion is no longer shown');
  t.notMatch(foreign.body, /Alpha Bank|Delta Retail/, 'and their refusal names none of these deals');
  t.equal(await draftValue(other, TDP, 'indemnity_cap'), 'uncapped', 'their draft is unchanged');
  t.equal((await other.post('/app/profile/suggestions/dismiss', { key })).statusCode, 400);
  t.equal((await db.selectFrom('suggestion_dismissals').selectAll().execute()).length, 0, 'nothing dismissed');

  // A request without the CSRF token is refused.
  const forged = await ctx.app.inject({ method: 'POST', url: '/app/profile/suggestions/apply', ...form({ key }, vendor.jar.headers()) });
  t.equal(forged.statusCode, 403, 'no CSRF token, no change');
  t.equal(await draftValue(vendor, TDP, 'indemnity_cap'), 'uncapped');

  // Dismiss: gone, remembered with the evidence it had.
  const dismissed = await vendor.post('/app/profile/suggestions/dismiss', { key });
  t.equal(dismissed.statusCode, 303);
  t.equal(dismissed.headers.location, '/app/profile?dismissed=1');
  page = await vendor.page(dismissed.headers.location as string);
  t.match(page.body, 'Suggestion dismissed.');
  t.notMatch(page.body, SECTION, 'the dismissed suggestion is hidden');
  t.match(await db.selectFrom('suggestion_dismissals').select(['key', 'evidence_deals']).execute(), [{ key, evidence_deals: 3 }]);

  // A stale key: refused with a message on the page, nothing changed.
  const stale = await vendor.post('/app/profile/suggestions/apply', { key });
  t.equal(stale.statusCode, 400);
  t.match(stale.body, /<p class="notice error-notice" role="alert">That suggestion is no longer shown: [^<]*Nothing was changed/);
  t.match(stale.body, '<h1>Posture profile</h1>', 'on the profile page');
  t.equal(await draftValue(vendor, TDP, 'indemnity_cap'), 'uncapped', 'the draft is unchanged');
  t.equal((await vendor.post('/app/profile/suggestions/dismiss', { key })).statusCode, 400, 'dismissing it again is stale too');
  t.equal((await vendor.post('/app/profile/suggestions/apply', {})).statusCode, 400, 'so is a form without a key');
  t.match(await db.selectFrom('suggestion_dismissals').select(['key', 'evidence_deals']).execute(), [{ key, evidence_deals: 3 }], 'the dismissal is as it was');

  // A fourth deal's correction is new evidence: the suggestion comes back.
  const zeta = await dealWithCorrection(ctx, vendor, 'Zeta Energy');
  page = await vendor.page('/app/profile');
  t.match(section(page), "4 buyers' security teams say the indemnity cap is", 'back, with four deals');
  t.match(section(page), `<a href="/app/deals/${zeta}">Zeta Energy</a>`);
  t.same(keysIn(page.body), [key], 'the same suggestion');

  // Put into draft: the draft holds the value; the published profile and new deals do not, until published.
  const versionsBefore = (await vendor.api('GET', '/api/v1/profile')).json().versions.length;
  const applied = await vendor.post('/app/profile/suggestions/apply', { key });
  t.equal(applied.statusCode, 303);
  t.equal(applied.headers.location, `/app/profile?suggested=1#${TDP}`);
  const profile = (await vendor.api('GET', '/api/v1/profile')).json();
  t.equal(profile.concerns[TDP].indemnity_cap, 'capped_at_fees', 'the draft holds the suggested value');
  t.equal(profile.concerns[TDP].ip_indemnity_scope, 'output_ip_all', 'and the rest of the claim as it was');
  t.equal(profile.versions.length, versionsBefore, 'nothing was published');
  const latest = await db.selectFrom('profile_versions').select('claims').orderBy('version', 'desc').executeTakeFirstOrThrow();
  t.equal(latest.claims[TDP].values.indemnity_cap, 'uncapped', 'the published version still says uncapped');

  page = await vendor.page(applied.headers.location as string);
  t.match(
    page.body,
    /<section class="card concern" id="training_data_provenance"[^>]*>\s*<h2[^]*?<\/h2>\s*<p class="notice success" role="status">Put into your draft: Indemnity cap: “Capped at fees paid”\. Publish to use it in new deals\.<\/p>/,
  );
  t.match(section(page), 'Already in your draft.', 'the suggestion says it is in the draft');
  t.notMatch(section(page), 'action="/app/profile/suggestions/apply"', 'instead of offering it again');
  t.match(page.body, /Publish version \d+/, 'publishing is offered');

  // Once published, the profile says what the buyers said: nothing left to suggest.
  t.equal((await vendor.post('/app/profile/publish')).statusCode, 303);
  page = await vendor.page('/app/profile');
  t.notMatch(page.body, SECTION, 'the published value now matches: no suggestion');
});

t.test('the threshold is a workspace setting, checked before it is saved', async (t) => {
  const ctx = await testApp(t);
  const { db } = ctx;
  const vendor = await signUpVendor(ctx, { workspace: 'Acme AI', email: 'admin@acme.test' });
  const threshold = () => db.selectFrom('vendors').select('suggestion_min_deals').where('name', '=', 'Acme AI').executeTakeFirstOrThrow();

  let settings = await vendor.page('/app/settings');
  t.match(settings.body, /<label for="in-suggestion_min_deals">Suggest a profile change after this many deals agree<\/label>/);
  t.match(settings.body, /id="in-suggestion_min_deals" name="suggestion_min_deals" type="number" value="3"/, 'the default is 3');

  for (const bad of ['0', 'abc', '1001', '2.5', '-3', '']) {
    const res = await vendor.post('/app/settings/suggestions', { suggestion_min_deals: bad });
    t.equal(res.statusCode, 400, `"${bad}" is refused`);
    t.match(res.body, /<p class="error" id="in-suggestion_min_deals-error">must be a whole number from 1 to 1000<\/p>/, `"${bad}": the field says why`);
    t.match(res.body, `name="suggestion_min_deals" type="number" value="${bad}"`, `"${bad}" stays on screen to correct`);
    t.equal((await threshold()).suggestion_min_deals, 3, `"${bad}": nothing saved`);
  }

  const alpha = await dealWithCorrection(ctx, vendor, 'Alpha Bank');
  const beta = await dealWithCorrection(ctx, vendor, 'Beta Insurance');
  t.notMatch((await vendor.page('/app/profile')).body, SECTION, 'two deals are below the default of 3');

  const saved = await vendor.post('/app/settings/suggestions', { suggestion_min_deals: ' 2 ' });
  t.equal(saved.statusCode, 303);
  t.equal(saved.headers.location, '/app/settings?suggestions=1#suggestions');
  t.equal((await threshold()).suggestion_min_deals, 2, 'saved');
  settings = await vendor.page(saved.headers.location as string);
  t.match(settings.body, 'Saved. A change is suggested once 2 deals agree.', 'with a confirmation');
  t.match(settings.body, /name="suggestion_min_deals" type="number" value="2"/);
  t.match(settings.body, 'action="/app/settings/workspace"', 'the other settings forms are still there');

  const page = await vendor.page('/app/profile');
  t.match(section(page), "2 buyers' security teams say the indemnity cap is <strong>“Capped at fees paid”</strong>", 'at 2 deals it shows');
  t.match(section(page), `Said in: <a href="/app/deals/${beta}">Beta Insurance</a>, <a href="/app/deals/${alpha}">Alpha Bank</a></p>`, 'both deals, latest activity first');

  const csrfless = await ctx.app.inject({ method: 'POST', url: '/app/settings/suggestions', ...form({ suggestion_min_deals: '7' }, vendor.jar.headers()) });
  t.equal(csrfless.statusCode, 403, 'the setting needs the CSRF token');
  t.equal((await threshold()).suggestion_min_deals, 2);
});

t.test('a suggested value the draft cannot hold is refused, naming why, and nothing is saved', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  t.equal((await vendor.post('/app/settings/suggestions', { suggestion_min_deals: '1' })).statusCode, 303);
  // The CISO says there is zero data retention, so nothing is kept for 30 days: two fields, two suggestions.
  await dealWithCorrection(ctx, vendor, 'Alpha Bank', { concern: 'data_residency', changes: { prompt_retention: 'zero_data_retention', prompt_retention_days: 0 } });
  const page = await vendor.page('/app/profile');
  t.match(section(page), "1 buyer's security team says the prompt retention is <strong>“Zero data retention”</strong>, not “Standard abuse-monitoring logs”.");
  t.match(section(page), "1 buyer's security team says the prompt retention period is <strong>“0 days”</strong>, not “30 days”.");
  const keys = keysIn(page.body);
  const retention = keys.find((k) => k.startsWith('data_residency.prompt_retention:'));
  const days = keys.find((k) => k.startsWith('data_residency.prompt_retention_days:'));
  t.ok(retention && days, 'one suggestion per field');

  // Zero data retention with a 30-day retention period contradicts itself.
  const refused = await vendor.post('/app/profile/suggestions/apply', { key: retention });
  t.equal(refused.statusCode, 400);
  t.match(
    refused.body,
    /<p class="notice error-notice" role="alert">Not put into your draft, and nothing was changed\. Prompt retention period: Zero data retention keeps no prompts/,
  );
  t.equal(await draftValue(vendor, 'data_residency', 'prompt_retention'), 'standard_abuse_logs', 'nothing saved');
  t.equal(await draftValue(vendor, 'data_residency', 'prompt_retention_days'), 30);

  // The period first, then the policy: both go in.
  t.equal((await vendor.post('/app/profile/suggestions/apply', { key: days })).statusCode, 303);
  t.equal((await vendor.post('/app/profile/suggestions/apply', { key: retention })).statusCode, 303);
  t.equal(await draftValue(vendor, 'data_residency', 'prompt_retention'), 'zero_data_retention');
  t.equal(await draftValue(vendor, 'data_residency', 'prompt_retention_days'), 0);
  const after = await vendor.page('/app/profile?suggested=1');
  t.match(after.body, 'Put into your draft: Prompt retention: “Zero data retention”; Prompt retention period: “0 days”. Publish to use it in new deals.');
});

t.test('the page data of suggestions, without a database', async (t) => {
  t.equal(midSentence('Indemnity cap'), 'indemnity cap');
  t.equal(midSentence('IP indemnity'), 'IP indemnity', 'an abbreviation keeps its capitals');
  t.equal(midSentence('MFA enforced'), 'MFA enforced');

  const draft = defaultDraft();
  const suggestion = {
    key: 'k',
    concern: TDP,
    field: 'indemnity_cap',
    claimed: 'uncapped',
    corrected: 'capped_at_fees',
    deals: 12,
    evidence: [{ deal_id: 'd1', buyer_name: 'Alpha Bank' }],
  };
  const page = editorPage({ draft, versions: [{ version: 1 }], latestClaims: draft, suggestions: [suggestion] });
  t.match(page.suggestions[0], {
    concernTitle: 'Training data provenance',
    fieldPhrase: 'indemnity cap',
    suggested: 'Capped at fees paid',
    claimed: 'Uncapped',
    evidence: [{ href: '/app/deals/d1', buyerName: 'Alpha Bank' }],
    more: 11,
    one: false,
    inDraft: false,
  });
  const inDraft = structuredClone(draft);
  inDraft[TDP].values.indemnity_cap = 'capped_at_fees';
  t.equal(editorPage({ draft: inDraft, versions: [], latestClaims: draft, suggestions: [suggestion] }).suggestions[0].inDraft, true);
  t.same(editorPage({ draft, versions: [], latestClaims: undefined }).suggestions, [], 'none given, none shown');

  t.equal(settingsPage([]).suggestions.value, '3', 'the setting defaults to 3');
  const refused = settingsPage(
    [],
    { suggestionsErrors: { suggestion_min_deals: 'must be…' }, suggestionsValues: { suggestion_min_deals: 'abc' } },
    { name: 'A', webDomain: null, suggestionMinDeals: 5 },
  );
  t.equal(refused.suggestions.value, 'abc', 'a refused value is shown as typed');
  t.equal(refused.suggestions.minDeals, 5, 'beside the saved one');
});
