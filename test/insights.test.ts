// Pipeline insight, checked against numbers worked out by hand on a small,
// fixed pipeline built the way people build it: deals opened through the API,
// people invited by mail, answers given through their personal links, stages
// moved through the gate. Every figure below is derived in the comments.
import t, { type Test } from 'tap';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor, type TestVendor } from './helpers/vendor.js';
import { linksIn } from './helpers/smtp.js';
import { scheduleReminders } from '../server/stakeholders/service.js';

const DAY = 86_400_000;

/**
 * The pipeline (every deal starts 2026-03-02, the test clock's day 0, but Delta on 2026-02-02):
 *
 * - Alpha Bank (financial_services, EU_EEA): Ann (CISO) corrects data residency on day 3 (inference regions → EU/EEA,
 *   factual error) and confirms model access controls; Leo (legal) corrects training data provenance on day 5 (does not count)
 *   and calls the other five not his.
 * - Beta Insurance (insurance, US): Sam (security) on day 10 corrects data residency (inference and storage regions → EU/EEA,
 *   requirement gap) and confirms the other five; the deal then passes the gate ready and is won.
 * - Gamma Health (healthcare, US): Cora (compliance) says on day 9 that data residency is not hers, and confirms audit
 *   and compliance on day 20; Pia (privacy) never answers; the deal passes the gate overridden and is lost.
 * - Delta Retail (retail, no region): nobody from security; stays in discovery.
 *
 * Reminders run on days 4 and 8: Leo gets one before answering on day 5; Sam, Cora and Pia get two; Ann none. Sam's
 * link is sent again on day 9 (which restarts his reminder cadence, not what he was sent).
 */
async function pipeline(t: Test) {
  const ctx = await testApp(t);
  const { app, clock } = ctx;
  const vendor = await signUpVendor(ctx, { workspace: 'Insight AI', email: 'ada@insight.test' });
  const alpha = await openDeal(vendor, { buyer_name: 'Alpha Bank', industry: 'financial_services', region: 'EU_EEA' });
  const beta = await openDeal(vendor, { buyer_name: 'Beta Insurance', industry: 'insurance', region: 'US' });
  const gamma = await openDeal(vendor, { buyer_name: 'Gamma Health', industry: 'healthcare', region: 'US' });
  const delta = await openDeal(vendor, { buyer_name: 'Delta Retail', industry: 'retail', started_on: '2026-02-02' });
  const ann = await inviteStakeholder(ctx, vendor, alpha, { name: 'Ann', email: 'ann@alpha.example', role: 'ciso' });
  const leo = await inviteStakeholder(ctx, vendor, alpha, { name: 'Leo', email: 'leo@alpha.example', role: 'legal' });
  const sam = await inviteStakeholder(ctx, vendor, beta, { name: 'Sam', email: 'sam@beta.example', role: 'security' });
  const cora = await inviteStakeholder(ctx, vendor, gamma, { name: 'Cora', email: 'cora@gamma.example', role: 'compliance' });
  await inviteStakeholder(ctx, vendor, gamma, { name: 'Pia', email: 'pia@gamma.example', role: 'privacy' });
  await inviteStakeholder(ctx, vendor, delta, { name: 'Chad', email: 'chad@delta.example', role: 'champion' });

  const claimOf = async (dealId: string, concern: string) =>
    (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns.find((c: { concern: string }) => c.concern === concern).claim as Record<string, unknown>;
  const answer = async (path: string, concern: string, values: Record<string, string | string[]>) => {
    const res = await app.inject({ method: 'POST', url: `${path}/answer/${concern}`, ...form(values) });
    t.equal(res.statusCode, 303, `${concern} answered`);
  };
  const correct = async (path: string, dealId: string, concern: string, kind: string, changes: Record<string, unknown>) =>
    answer(path, concern, { verdict: 'correct', kind, ...claimForm(await claimOf(dealId, concern), changes) } as Record<string, string | string[]>);
  const at = async (day: number) => {
    clock.set(new Date(Date.parse('2026-03-02T09:00:00Z') + day * DAY));
  };

  await at(3);
  await correct(ann.path, alpha, 'data_residency', 'factual_error', { inference_regions: ['EU_EEA'] });
  await answer(ann.path, 'model_access_controls', { verdict: 'confirm' });
  await at(4);
  await scheduleReminders(ctx.db, clock);
  await at(5);
  await correct(leo.path, alpha, 'training_data_provenance', 'factual_error', { indemnity_cap: 'capped_at_fees' });
  for (const c of ['data_residency', 'model_access_controls', 'ai_governance', 'adversarial_risk', 'audit_compliance']) await answer(leo.path, c, { verdict: 'not_mine' });
  await at(8);
  await scheduleReminders(ctx.db, clock);
  await at(9);
  // Cora calls data residency not hers in week 2: a "not mine" is not the security team speaking.
  await answer(cora.path, 'data_residency', { verdict: 'not_mine' });
  // Sam's link is sent again: his engagement still counts from the first invitation, with both reminders.
  const resent = await vendor.api('POST', `/api/v1/deals/${beta}/stakeholders/${sam.id}/resend`);
  t.equal(resent.statusCode, 200, 'link resent');
  await ctx.drainMail();
  const samMail = [...ctx.smtp.messages].reverse().find((m) => m.to === 'sam@beta.example')!;
  sam.path = new URL(linksIn(samMail.text).find((l) => l.includes('/r/'))!).pathname;
  await at(10);
  await correct(sam.path, beta, 'data_residency', 'requirement_gap', { inference_regions: ['EU_EEA'], storage_regions: ['EU_EEA'] });
  for (const c of ['model_access_controls', 'training_data_provenance', 'ai_governance', 'adversarial_risk', 'audit_compliance']) await answer(sam.path, c, { verdict: 'confirm' });
  await stage(t, vendor, beta, 'negotiation');
  await stage(t, vendor, beta, 'closed_won');
  await at(20);
  await answer(cora.path, 'audit_compliance', { verdict: 'confirm' });
  await stage(t, vendor, gamma, 'negotiation', 'The buyer asked us to go ahead while privacy reviews.');
  await stage(t, vendor, gamma, 'closed_lost');
  return { ctx, vendor, deals: { alpha, beta, gamma, delta } };
}

async function stage(t: Test, vendor: TestVendor, dealId: string, to: string, override_reason?: string) {
  const res = await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: to, ...(override_reason ? { override_reason } : {}) });
  t.equal(res.statusCode, 200, `moved to ${to}`);
}

const get = async (vendor: TestVendor, url: string) => {
  const res = await vendor.api('GET', url);
  return { status: res.statusCode, body: res.headers['content-type']?.toString().startsWith('application/json') ? res.json() : undefined, res };
};

t.test('insight over a small pipeline equals the numbers worked out by hand', async (t) => {
  const { vendor } = await pipeline(t);

  t.test('corrections', async (t) => {
    const { status, body } = await get(vendor, '/api/v1/insights/corrections');
    t.equal(status, 200);
    const concerns = body.concerns as { concern: string; answered_deals: number; confirmed_deals: number; corrected_deals: number; rate: number | null }[];
    // Data residency: answered (confirmed or corrected by the security team) in Alpha and Beta, corrected in both;
    // Gamma's "not mine" does not count. Sorted by rate, it comes first.
    t.equal(concerns[0].concern, 'data_residency', 'the most corrected concern first');
    t.match(concerns[0], {
      answered_deals: 2,
      confirmed_deals: 0,
      corrected_deals: 2,
      rate: 1,
      by_kind: { factual_error: 1, requirement_gap: 1, not_applicable: 0 },
    });
    const fields = (concerns[0] as unknown as { fields: { field: string }[] }).fields;
    t.match(fields[0], {
      field: 'inference_regions',
      answered_deals: 2,
      corrected_deals: 2,
      rate: 1,
      by_kind: { factual_error: 1, requirement_gap: 1, not_applicable: 0 },
      top_values: [{ value: ['EU_EEA'], label: 'EU/EEA', deals: 2 }],
    });
    t.match(fields[1], { field: 'storage_regions', answered_deals: 2, corrected_deals: 1, rate: 0.5, top_values: [{ value: ['EU_EEA'], deals: 1 }] });
    t.match(fields[2], { corrected_deals: 0, rate: 0, top_values: [] }, 'uncorrected fields follow, at rate 0');
    const by = Object.fromEntries(concerns.map((c) => [c.concern, c]));
    // Model access controls: confirmed by Ann (Alpha) and Sam (Beta).
    t.match(by.model_access_controls, { answered_deals: 2, confirmed_deals: 2, corrected_deals: 0, rate: 0 });
    // Training data provenance: Leo's correction in Alpha is legal's, not the security team's; only Sam's confirmation counts.
    t.match(by.training_data_provenance, { answered_deals: 1, confirmed_deals: 1, corrected_deals: 0, rate: 0 });
    t.same(
      (by.training_data_provenance as unknown as { fields: { corrected_deals: number }[] }).fields.map((f) => f.corrected_deals),
      [0, 0, 0, 0, 0, 0, 0],
      'legal’s correction of the indemnity cap is not counted',
    );
    // Audit and compliance: Sam (Beta) and Cora (Gamma).
    t.match(by.audit_compliance, { answered_deals: 2, confirmed_deals: 2, corrected_deals: 0 });
    t.match(by.ai_governance, { answered_deals: 1, confirmed_deals: 1 });
  });

  t.test('timing', async (t) => {
    const { body } = await get(vendor, '/api/v1/insights/timing');
    // First security signals (a confirm or correct): Alpha week 1 (day 3), Beta week 2 (day 10), Gamma week 3 (day 20;
    // Cora's "not mine" in week 2 does not count); Delta none. Median of 1, 2, 3 is 2; the 75th percentile
    // (interpolated) 2.5. First corrections: Alpha 1, Beta 2.
    t.same(body, {
      deals: 4,
      first_signal_week: {
        median: 2,
        p75: 2.5,
        histogram: [
          { week: 1, deals: 1 },
          { week: 2, deals: 1 },
          { week: 3, deals: 1 },
        ],
      },
      first_correction_week: {
        median: 1.5,
        p75: 1.8,
        histogram: [
          { week: 1, deals: 1 },
          { week: 2, deals: 1 },
        ],
      },
      // Deals with an invited security-team member: Alpha, Beta, Gamma; of these Alpha and Beta spoke by week 2 (not Gamma).
      spoke_by_week_2: { deals: 2, of_deals: 3, share: 0.667 },
      baseline_week: 12,
    });
  });

  t.test('checkpoint and outcome', async (t) => {
    const { body } = await get(vendor, '/api/v1/insights/outcomes');
    // Beta passed the gate ready and was won; Gamma passed it overridden and was lost. Below five closed deals, no rate.
    t.same(body, {
      reached_negotiation: { deals: 2, ready: { deals: 1, share: 0.5 }, overridden: { deals: 1, share: 0.5 } },
      won: { ready: { won: 1, closed: 1, rate: null }, overridden: { won: 0, closed: 1, rate: null } },
      min_closed_for_rate: 5,
    });
  });

  t.test('engagement', async (t) => {
    const { body } = await get(vendor, '/api/v1/insights/engagement');
    const by = Object.fromEntries((body.roles as { role: string }[]).map((r) => [r.role, r]));
    t.same(
      body.roles.map((r: { role: string }) => r.role),
      ['ciso', 'security', 'compliance', 'privacy', 'legal', 'other'],
      'every answering role, the champion left out',
    );
    // Ann: invited day 0, first answer day 3, no reminder; all six concerns are hers and she answered two.
    t.same(by.ciso, { role: 'ciso', invited: 1, answered_any: 1, answered_all: 0, median_days_to_first_answer: 3, reminders_per_answering_person: 0 });
    // Sam: day 10 from his first invitation (not day 1 from the resend), all six concerns, two reminders (days 4 and 8).
    t.same(by.security, { role: 'security', invited: 1, answered_any: 1, answered_all: 1, median_days_to_first_answer: 10, reminders_per_answering_person: 2 });
    // Cora: day 20; data residency she called not hers, but four of her other five are unanswered.
    t.same(by.compliance, { role: 'compliance', invited: 1, answered_any: 1, answered_all: 0, median_days_to_first_answer: 20, reminders_per_answering_person: 2 });
    // Pia never answered: nothing to divide by.
    t.same(by.privacy, { role: 'privacy', invited: 1, answered_any: 0, answered_all: 0, median_days_to_first_answer: null, reminders_per_answering_person: null });
    // Leo: day 5, one reminder before he answered; the five he called not his leave the one he corrected.
    t.same(by.legal, { role: 'legal', invited: 1, answered_any: 1, answered_all: 1, median_days_to_first_answer: 5, reminders_per_answering_person: 1 });
    t.same(by.other, { role: 'other', invited: 0, answered_any: 0, answered_all: 0, median_days_to_first_answer: null, reminders_per_answering_person: null });
  });

  t.test('filters narrow every insight', async (t) => {
    const residency = async (query: string) =>
      (await get(vendor, `/api/v1/insights/corrections?${query}`)).body.concerns.find((c: { concern: string }) => c.concern === 'data_residency');
    t.match(await residency('industry=financial_services'), { answered_deals: 1, corrected_deals: 1, by_kind: { factual_error: 1, requirement_gap: 0 } }, 'Alpha only');
    t.match(await residency('region=US'), { answered_deals: 1, corrected_deals: 1, by_kind: { factual_error: 0, requirement_gap: 1 } }, 'Beta (and Gamma, silent on it)');
    t.match(await residency('outcome=open'), { answered_deals: 1, by_kind: { factual_error: 1 } }, 'open deals: Alpha and Delta');
    t.match(await residency('stage=closed_lost'), { answered_deals: 0, corrected_deals: 0, rate: null }, 'Gamma: nothing answered, no rate');
    t.match(await residency('stage=negotiation&outcome=won'), { answered_deals: 0 }, 'a stage outside the outcome matches nothing');
    t.equal((await get(vendor, '/api/v1/insights/timing?from=2026-03-01')).body.deals, 3, 'Delta started in February');
    t.equal((await get(vendor, '/api/v1/insights/timing?to=2026-02-28')).body.deals, 1, 'only Delta');
    t.equal((await get(vendor, '/api/v1/insights/timing?from=2026-03-02&to=2026-03-02')).body.deals, 3, 'both ends inclusive');
    t.match((await get(vendor, '/api/v1/insights/outcomes?outcome=won')).body.reached_negotiation, { deals: 1, ready: { deals: 1 }, overridden: { deals: 0, share: 0 } });
    const engaged = (await get(vendor, '/api/v1/insights/engagement?industry=healthcare')).body.roles;
    t.same(
      engaged.filter((r: { invited: number }) => r.invited > 0).map((r: { role: string }) => r.role),
      ['compliance', 'privacy'],
      'Gamma’s people only',
    );
  });

  t.test('CSV of each insight', async (t) => {
    const { res } = await get(vendor, '/api/v1/insights/corrections?format=csv&industry=insurance');
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^text\/csv; charset=utf-8/);
    t.match(res.headers['content-disposition'], /attachment; filename="insight-corrections\.csv"/);
    const lines = res.body.trim().split('\r\n');
    t.equal(lines[0], 'concern,field,answered_deals,confirmed_deals,corrected_deals,rate,factual_error,requirement_gap,not_applicable,top_values');
    t.ok(lines.includes('data_residency,,1,0,1,1,0,1,0,'), 'the concern row for Beta alone');
    t.ok(lines.includes('data_residency,inference_regions,1,,1,1,0,1,0,EU/EEA (1)'), 'its field row with the top value');
    for (const name of ['timing', 'outcomes', 'engagement']) {
      const r = (await get(vendor, `/api/v1/insights/${name}?format=csv`)).res;
      t.equal(r.statusCode, 200, `${name} as CSV`);
      t.ok(r.body.split('\r\n').length > 2, `${name} has a header and rows`);
    }
    const engagement = (await get(vendor, '/api/v1/insights/engagement?format=csv')).res.body.split('\r\n');
    t.ok(engagement.includes('security,1,1,1,10,2'), 'the security row');
  });
});

t.test('won rates appear from five closed deals in a group', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Closer AI', email: 'ada@closer.test' });
  const deals: string[] = [];
  for (let i = 0; i < 6; i++) deals.push(await openDeal(vendor, { buyer_name: `Buyer ${i}` }));
  // Six deals pass the gate overridden; four are won, one lost, one still in negotiation.
  for (const d of deals) await stage(t, vendor, d, 'negotiation', 'Security review runs in parallel.');
  for (const d of deals.slice(0, 4)) await stage(t, vendor, d, 'closed_won');
  const { body: four } = await get(vendor, '/api/v1/insights/outcomes');
  t.same(four.won.overridden, { won: 4, closed: 4, rate: null }, 'four closed: not enough for a rate');
  await stage(t, vendor, deals[4], 'closed_lost');
  const { body } = await get(vendor, '/api/v1/insights/outcomes');
  t.same(body.won.overridden, { won: 4, closed: 5, rate: 0.8 }, 'five closed: 4 of 5 won');
  t.same(body.reached_negotiation, { deals: 6, ready: { deals: 0, share: 0 }, overridden: { deals: 6, share: 1 } });
  // Moving back and through the gate again does not change how the deal first passed it.
  await stage(t, vendor, deals[5], 'evaluation');
  await stage(t, vendor, deals[5], 'negotiation', 'Again.');
  t.equal((await get(vendor, '/api/v1/insights/outcomes')).body.reached_negotiation.overridden.deals, 6);
});

t.test('an empty workspace divides by nothing', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx, { workspace: 'Empty AI', email: 'ada@empty.test' });
  const c = (await get(vendor, '/api/v1/insights/corrections')).body;
  t.equal(c.concerns.length, 6);
  t.ok(
    c.concerns.every((x: { rate: null; answered_deals: number }) => x.rate === null && x.answered_deals === 0),
    'no rate without answers',
  );
  t.same((await get(vendor, '/api/v1/insights/timing')).body, {
    deals: 0,
    first_signal_week: { median: null, p75: null, histogram: [] },
    first_correction_week: { median: null, p75: null, histogram: [] },
    spoke_by_week_2: { deals: 0, of_deals: 0, share: null },
    baseline_week: 12,
  });
  t.same((await get(vendor, '/api/v1/insights/outcomes')).body.won.ready, { won: 0, closed: 0, rate: null });
  t.ok(
    (await get(vendor, '/api/v1/insights/engagement')).body.roles.every((r: { reminders_per_answering_person: null }) => r.reminders_per_answering_person === null),
    'no reminders per person without people',
  );
});

t.test('bad filters are a 400 naming the parameter; another workspace sees none of this', async (t) => {
  const { ctx, vendor } = await pipeline(t);
  const cases: [string, string][] = [
    ['region=XX', 'region'],
    ['industry=banking', 'industry'],
    ['stage=won', 'stage'],
    ['outcome=maybe', 'outcome'],
    ['from=2026-13-01', 'from'],
    ['from=yesterday', 'from'],
    ['from=2026-03-10&to=2026-03-01', 'to'],
    ['format=xml', 'format'],
    ['owner=me', 'owner'],
  ];
  for (const [query, param] of cases) {
    for (const name of ['corrections', 'timing']) {
      const { status, body } = await get(vendor, `/api/v1/insights/${name}?${query}`);
      t.equal(status, 400, `${name}?${query}: 400`);
      t.equal(body.error?.code, 'invalid_input', 'the documented error shape');
      t.ok(
        (body.error?.details ?? []).some((d: { field: string }) => d.field === param),
        `${name}?${query} names ${param}`,
      );
    }
  }
  const other = await signUpVendor(ctx, { workspace: 'Other AI', email: 'ada@other.test' });
  const theirs = (await get(other, '/api/v1/insights/corrections')).body;
  t.ok(
    theirs.concerns.every((c: { answered_deals: number }) => c.answered_deals === 0),
    'another vendor counts none of these deals',
  );
  t.equal((await get(other, '/api/v1/insights/timing')).body.deals, 0);
  t.equal((await get(other, '/api/v1/insights/outcomes')).body.reached_negotiation.deals, 0);
  t.ok(
    (await get(other, '/api/v1/insights/engagement')).body.roles.every((r: { invited: number }) => r.invited === 0),
    'nor any of these people',
  );
  const noKey = await ctx.app.inject({ method: 'GET', url: '/api/v1/insights/corrections' });
  t.equal(noKey.statusCode, 401, 'the API needs a key');
});
