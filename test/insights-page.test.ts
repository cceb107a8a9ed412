// The vendor's insights page (/app/insights): an empty workspace is pointed to
// its first deal; a correction by the buyer's security team shows in its
// concern's row with a link to the deals behind it; rates, shares and medians
// wait for enough deals; the charts are inline SVG with a title and a
// description and nothing the Content-Security-Policy forbids; a bad filter is
// dropped with a notice while the rest stay; each table downloads as CSV.
import t from 'tap';
import { testApp, type TestApp } from './helpers/app.js';
import { decodeEntities, form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';
import { insightsPageView, weekHistogram, groupedBars, NOT_ENOUGH_DEALS, type InsightsPageInput } from '../server/insights/views.js';
import { Views } from '../server/views.js';

/** The security team of `dealId` answers every concern: a CISO corrects data residency's inference regions (or confirms it), and confirms the rest. */
async function cisoAnswers(ctx: TestApp, vendor: TestVendor, dealId: string, email: string, correct: boolean) {
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { name: 'Carla Ciso', email, role: 'ciso' });
  const deal = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  for (const c of deal.concerns as { concern: string; claim: Record<string, unknown> }[]) {
    const body =
      correct && c.concern === 'data_residency'
        ? { verdict: 'correct', revision: '1', kind: 'requirement_gap', ...claimForm(c.claim, { inference_regions: ['EU_EEA'] }) }
        : { verdict: 'confirm', revision: '1' };
    const res = await ctx.app.inject({ method: 'POST', url: `${path}/answer/${c.concern}`, ...form(body) });
    if (res.statusCode !== 303) throw new Error(`answer ${c.concern} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
  }
}

/** The row of a table whose header cell reads `title`. */
function row(html: string, title: string): string {
  return new RegExp(`<tr[^>]*><th scope="row">${title}</th>[^]*?</tr>`).exec(html)?.[0] ?? '';
}

/** The link targets in a piece of the page, entities decoded. */
const hrefs = (html: string) => [...html.matchAll(/<a href="([^"]*)"/g)].map((m) => decodeEntities(m[1]));

/** The text of each cell of a row, tags dropped. */
const cells = (tr: string) => [...tr.matchAll(/<t[dh][^>]*>([^]*?)<\/t[dh]>/g)].map((m) => decodeEntities(m[1].replace(/<[^>]+>/g, '')).trim());

t.test('the page needs a session, as the other /app pages do', async (t) => {
  const { app } = await testApp(t);
  for (const url of ['/app/insights', '/app/insights?region=EU_EEA', '/app/insights/corrections.csv']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 303, `${url}: signed out, sent to sign in`);
    t.equal(res.headers.location, `/signin?next=${encodeURIComponent(url)}`);
  }
});

t.test('an empty workspace is pointed to opening a deal', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const res = await vendor.page('/app/insights');
  t.equal(res.statusCode, 200);
  t.match(res.body, '<a href="/app/insights" aria-current="page">Insights</a>', 'the main navigation marks the page');
  t.match(res.body, /<h2 id="empty-h">No deals yet<\/h2>/);
  t.match(res.body, '<a href="/app/deals/new">Open a deal</a>');
  t.notMatch(res.body, '<table', 'no empty tables');
  t.notMatch(res.body, /NaN|Infinity|undefined/);
  t.notMatch((await vendor.page('/app')).body, 'aria-current="page">Insights', 'other pages do not mark it');
});

t.test('a correction by the security team shows in its concern’s row, with a link to its deals', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const corrected = await openDeal(vendor, { buyer_name: 'Big Bank' });
  const confirmed = await openDeal(vendor, { buyer_name: 'Small Insurer' });
  await cisoAnswers(ctx, vendor, corrected, 'carla@bank.example', true);
  await cisoAnswers(ctx, vendor, confirmed, 'ivan@insurer.example', false);

  const res = await vendor.page('/app/insights');
  t.equal(res.statusCode, 200);
  const body = res.body;
  t.notMatch(body, /NaN|Infinity|undefined/);
  t.match(body, /<strong>Not enough deals yet<\/strong> for rates, shares and medians: 2 deals match/, 'two deals are too few for rates');

  const residency = row(body, 'Data residency');
  t.same(
    cells(residency),
    ['Data residency', '2', '1 deal that corrected Data residency', NOT_ENOUGH_DEALS, '1', '0', '1', '0'],
    'answered 2, confirmed 1, corrected 1 (a requirement gap)',
  );
  t.same(hrefs(residency), ['/app?corrected_concern=data_residency'], 'the corrected count links to the deals behind it');
  t.same(cells(row(body, 'Model access controls')).slice(1, 5), ['2', '0', NOT_ENOUGH_DEALS, '2'], 'a concern both confirmed: no correction and no link');
  t.notMatch(row(body, 'Model access controls'), '<a ');

  // The field's row, inside the concern's <details>.
  const details = /<details class="fields-detail">\s*<summary>Data residency: 1 field corrected<\/summary>[^]*?<\/details>/.exec(body)?.[0] ?? '';
  t.ok(details, 'data residency opens on its corrected field');
  t.same(cells(row(details, 'Inference regions')).slice(0, 3), ['Inference regions', '1 deal that corrected Inference regions (Data residency)', NOT_ENOUGH_DEALS]);
  t.same(hrefs(details), ['/app?corrected_field=data_residency.inference_regions'], 'the field links to its deals');
  t.match(details, '<li>EU/EEA in 1 of 2 deals</li>', 'the corrected-to value, of the deals that answered');
  t.match(details, /Not corrected on any deal: [^<]*Storage regions/);

  // Timing: both security teams spoke in week 1.
  t.match(body, /<dt>Spoke by week 2<\/dt><dd>2 of 2 deals<\/dd>/);
  t.same(cells(row(body, '1')), ['1', '2', '1'], 'week 1: two first signals, one first correction');
  t.match(body, /<dt>First security signal, median<\/dt><dd>not enough deals yet<\/dd>/);

  // The charts: inline SVG, labelled by a title and a description; nothing the CSP forbids.
  const svgs = [...body.matchAll(/<svg [^>]*>[^]*?<\/svg>/g)].map((m) => m[0]);
  t.equal(svgs.length, 3, 'first signal, first correction, engagement');
  for (const svg of svgs) {
    const id = /aria-labelledby="([\w-]+)-title \1-desc"/.exec(svg)?.[1];
    t.ok(id, 'labelled by its title and description');
    t.match(svg, /^<svg role="img"/);
    t.match(svg, new RegExp(`<title id="${id}-title">[^<]+</title>`));
    t.match(svg, new RegExp(`<desc id="${id}-desc">[^<]+</desc>`));
    t.match(svg, /viewBox="0 0 \d+ \d+" width="100%"/, 'scales to its box');
    t.match(svg, /<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" class="bar/, 'bars with computed geometry');
  }
  t.match(svgs[0], /<desc id="chart-signal-desc">[^<]*week 1: 2 deals/, 'the description carries the numbers');
  t.match(svgs[2], /<desc id="chart-engagement-desc">CISO: 2 invited, 2 answered any claim, 2 answered all\.<\/desc>/);
  t.notMatch(body, /<script|<style|\sstyle=/i, 'no script, no style element or attribute');
  t.same(cells(row(body, 'CISO')).slice(0, 4), ['CISO', '2', '2', '2'], 'the engagement table beside the funnel');

  // The concern's link leads to the deal it counted, not the other.
  const list = await vendor.page('/app?corrected_concern=data_residency');
  t.equal(list.statusCode, 200);
  t.match(list.body, 'Big Bank');
  t.notMatch(list.body, 'Small Insurer');
});

t.test('with five deals the page gives rates, shares and medians, and the won rate waits for closed deals', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const deals: string[] = [];
  for (let i = 0; i < 5; i++) {
    const id = await openDeal(vendor, { buyer_name: `Buyer ${i}` });
    await cisoAnswers(ctx, vendor, id, `ciso${i}@buyer${i}.example`, i < 2);
    deals.push(id);
  }
  const moved = await vendor.api('POST', `/api/v1/deals/${deals[0]}/stage`, { stage: 'negotiation' });
  t.equal(moved.statusCode, 200, 'a deal whose security team answered everything moves to negotiation');

  const body = (await vendor.page('/app/insights')).body;
  t.notMatch(body, 'Not enough deals yet</strong>');
  t.same(cells(row(body, 'Data residency')).slice(1, 5), ['5', '2 deals that corrected Data residency', '40%', '3']);
  t.same(cells(row(body, 'Inference regions')).slice(1, 3), ['2 deals that corrected Inference regions (Data residency)', '40%']);
  t.match(body, '<li>EU/EEA in 2 of 5 deals</li>');
  t.same(cells(row(body, 'Audit and compliance')).slice(1, 5), ['5', '0', '0%', '5']);
  t.match(body, /<dt>Spoke by week 2<\/dt><dd>5 of 5 deals \(100%\)<\/dd>/);
  t.match(body, /<dt>First security signal, median<\/dt><dd>week 1<\/dd><dd class="help">11 weeks earlier than the week-12 baseline<\/dd>/);
  t.match(body, /<dt>First correction, median<\/dt><dd>not enough deals yet<\/dd>/, 'two first corrections are too few for a median');
  t.same(cells(row(body, 'CISO')), ['CISO', '5', '5 (100%)', '5 (100%)', '0 days', '0']);
  const ready = cells(/<tr><th scope="row"><span class="pill checkpoint-ready">[^]*?<\/tr>/.exec(body)?.[0] ?? '');
  t.same(ready, ['Ready for negotiation', '1', NOT_ENOUGH_DEALS, '0', '0', 'not enough closed deals yet (0 closed; needs 5)']);
});

t.test('a bad filter is dropped with a notice; the valid one stays chosen and travels to the CSV links', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  await openDeal(vendor, { buyer_name: 'Big Bank' });

  const res = await vendor.page('/app/insights?region=XX&stage=negotiation&%3Cb%3Ex=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
  t.equal(res.statusCode, 200);
  const notice = /<div class="notice warning" role="status">[^]*?<\/div>/.exec(res.body)?.[0] ?? '';
  t.match(notice, /<li>We ignored region&#x3D;XX: must be one of US, CA, EU_EEA, [^<]*GLOBAL\.<\/li>/, 'the parameter and its value, escaped');
  t.match(notice, /<li>We ignored &lt;b&gt;x&#x3D;&lt;script&gt;alert\(1\)&lt;\/script&gt;: is not a filter of this page\.<\/li>/, 'unknown parameters are named, escaped');
  t.notMatch(res.body, /<b>x|<script/);
  t.notMatch(notice, 'stage', 'the valid filter is not named');
  t.match(res.body, '<option value="negotiation" selected>Negotiation</option>');
  t.notMatch(/<select id="f-region"[^]*?<\/select>/.exec(res.body)?.[0] ?? 'missing', 'selected', 'no region chosen');
  t.match(res.body, /No deal matches these filters \(stage Negotiation\)/, 'the one deal is in discovery');

  const links = [...res.body.matchAll(/<a class="download" href="([^"]+)" download>Download CSV/g)].map((m) => decodeEntities(m[1]));
  t.same(links, [], 'no tables (and no links) when nothing matches');

  const all = await vendor.page('/app/insights?stage=discovery');
  const hrefs = [...all.body.matchAll(/<a class="download" href="([^"]+)" download>Download CSV/g)].map((m) => decodeEntities(m[1]));
  t.same(
    hrefs,
    ['corrections', 'timing', 'outcomes', 'engagement'].map((n) => `/app/insights/${n}.csv?stage=discovery`),
    'each table links to its CSV with the filters',
  );
  const csv = await vendor.page(hrefs[0]);
  t.equal(csv.statusCode, 200);
  t.match(csv.headers['content-type'], /^text\/csv/);
  t.match(csv.headers['content-disposition'], /^attachment; filename="insight-corrections\.csv"/);
  t.match(csv.body, /^concern,field,answered_deals,confirmed_deals,corrected_deals,rate,factual_error,requirement_gap,not_applicable,top_values\r\n/, 'a header row');
});

t.test('the view: no figure from nothing, and the words for what is missing', async (t) => {
  const empty: InsightsPageInput = {
    filters: {},
    cleared: [{ param: 'region', message: 'must be one of US, CA', value: 'XX' }],
    corrections: { concerns: [] },
    timing: {
      deals: 0,
      first_signal_week: { median: null, p75: null, histogram: [] },
      first_correction_week: { median: null, p75: null, histogram: [] },
      spoke_by_week_2: { deals: 0, of_deals: 0, share: null },
      baseline_week: 12,
    },
    outcomes: {
      reached_negotiation: { deals: 0, ready: { deals: 0, share: null }, overridden: { deals: 0, share: null } },
      won: { ready: { won: 0, closed: 0, rate: null }, overridden: { won: 0, closed: 0, rate: null } },
      min_closed_for_rate: 5,
    },
    engagement: { roles: [{ role: 'ciso', invited: 0, answered_any: 0, answered_all: 0, median_days_to_first_answer: null, reminders_per_answering_person: null }] },
    now: new Date('2026-03-02T09:00:00Z'),
  };
  const view = insightsPageView(empty);
  t.equal(view.emptyWorkspace, true);
  t.same(view.cleared, ['We ignored region=XX: must be one of US, CA.'], 'names the value when it is given');
  t.equal(view.timing.signal.median, NOT_ENOUGH_DEALS);
  t.equal(view.engagement.rows[0].medianDays, NOT_ENOUGH_DEALS);
  t.equal(view.engagement.chart, undefined, 'no funnel without invitations');
  t.notMatch(JSON.stringify(view), /NaN|Infinity|null/);
  const html = new Views('templates').page('insights', view);
  t.notMatch(html, /NaN|Infinity|undefined/);

  // Closed deals below the threshold: the counts, and what is needed.
  const closedFew = insightsPageView({
    ...empty,
    timing: { ...empty.timing, deals: 9 },
    outcomes: {
      reached_negotiation: { deals: 6, ready: { deals: 4, share: 0.667 }, overridden: { deals: 2, share: 0.333 } },
      won: { ready: { won: 3, closed: 5, rate: 0.6 }, overridden: { won: 1, closed: 2, rate: null } },
      min_closed_for_rate: 5,
    },
  });
  t.same(
    closedFew.outcomes.rows.map((r) => [r.share, r.wonRate]),
    [
      ['67%', '60% (3 of 5 closed won)'],
      ['33%', 'not enough closed deals yet (2 closed; needs 5)'],
    ],
  );

  // Geometry: all zeros draws no bar and no NaN; the baseline is drawn past the last week.
  const flat = weekHistogram({ id: 'x', title: 'X', what: 'x', weeks: [], markWeek: 12 });
  t.same(flat.bars, []);
  t.notMatch(JSON.stringify(flat), /NaN|Infinity|null/);
  const h = weekHistogram({
    id: 'h',
    title: 'H',
    what: 'h',
    weeks: [
      { week: 1, deals: 4 },
      { week: 2, deals: 0 },
      { week: 3, deals: 2 },
    ],
    markWeek: 12,
  });
  t.equal(h.bars.length, 2, 'one bar per week with deals');
  t.equal(h.bars[0].height, 2 * h.bars[1].height, 'heights in proportion');
  t.ok(h.bars[0].x < h.bars[1].x, 'weeks left to right');
  t.ok(
    h.bars.every((b) => b.x >= 0 && b.x + b.width <= h.width && b.y >= 0 && b.y + b.height <= h.height),
    'inside the view box',
  );
  const mark = h.lines.find((l) => l.className === 'mark');
  t.ok(mark && mark.x1 > h.bars[1].x && mark.x1 < h.width, 'the week-12 mark is right of week 3, inside the box');
  const funnel = groupedBars({ id: 'f', title: 'F', desc: 'F', steps: ['a', 'b', 'c'], groups: [{ label: 'CISO', values: [4, 2, 0] }] });
  t.same(
    funnel.bars.map((b) => b.width),
    [funnel.bars[0].width, funnel.bars[0].width / 2],
    'bar lengths in proportion; a zero draws none',
  );
});
