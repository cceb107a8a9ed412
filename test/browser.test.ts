// The story a new user follows, in a real browser (Debian's Chromium driven
// by playwright-core): sign up through the emailed link, publish the profile,
// open a deal, invite a CISO and a champion; the CISO corrects data residency
// (Correct, then that concern's own page) on a phone-sized screen with
// JavaScript off; the champion's page shows the CISO as engaged; the vendor's
// deal page shows the correction. The browser reports no Content-Security-
// Policy violation, and axe-core finds no accessibility violation on the
// respondent, champion, deal and insights pages.
// Screenshots land in test-artifacts/ for a person to look at.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { testApp } from './helpers/app.js';
import { linksIn } from './helpers/smtp.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';

if (!existsSync(CHROMIUM)) {
  // Reported as a skipped file (tap counts it under "skip"), not as a pass.
  t.plan(0, `no Chromium at ${CHROMIUM}; install Debian's chromium to run the browser tests`);
} else {
  t.test('a vendor and a CISO complete the core loop in a browser', async (t) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const ctx = await testApp(t, { env: { PUBLIC_URL: 'http://127.0.0.1:0' } });
    const { app, smtp } = ctx;
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    // Links in mail name the configured PUBLIC_URL; point them at the port we got.
    const local = (link: string) => `${address}${new URL(link).pathname}`;

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    t.teardown(() => browser.close());
    const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
    // Any CSP violation would show up on the console: collect them from every page.
    const violations: string[] = [];
    const watch = (ctx: BrowserContext) => ctx.on('console', (m) => /Content Security Policy|Refused to/.test(m.text()) && violations.push(m.text()));

    // The vendor signs up.
    const vendorContext = await browser.newContext();
    watch(vendorContext);
    const vendor = await vendorContext.newPage();
    await vendor.goto(`${address}/signup`);
    await vendor.getByLabel('Company name').fill('Acme AI');
    await vendor.getByLabel('Your name').fill('Ada Admin');
    await vendor.getByLabel('Work email').fill('ada@acme.example');
    await vendor.getByRole('button', { name: 'Email me a link' }).click();
    await vendor.getByRole('heading', { name: 'Check your email' }).waitFor();
    await ctx.drainMail();
    const signup = await smtp.waitFor((m) => m.to === 'ada@acme.example');
    await vendor.goto(local(linksIn(signup.text)[0]));
    await vendor.getByRole('button', { name: 'Create workspace and sign in' }).click();
    await vendor.getByRole('heading', { name: 'Deals' }).waitFor();
    await shot(vendor, '01-vendor-empty-dashboard');

    // Publishes the pre-filled profile.
    await vendor.getByRole('link', { name: 'Review and publish your profile' }).click();
    await vendor.getByRole('button', { name: 'Save draft' }).click();
    await vendor.getByText('Draft saved.').waitFor();
    await shot(vendor, '02-vendor-profile');
    await vendor.getByRole('button', { name: 'Publish version 1' }).click();
    await vendor.getByText('Version 1 published.').waitFor();

    // Opens a deal and invites the CISO.
    await vendor.goto(`${address}/app/deals/new`);
    await vendor.getByLabel('Buyer', { exact: true }).fill('Big Bank');
    await vendor.getByRole('button', { name: 'Open deal' }).click();
    await vendor.getByText('Deal opened.').waitFor();
    const addStakeholder = async (name: string, email: string, role: string) => {
      const add = vendor.locator('form', { has: vendor.getByRole('heading', { name: 'Add a stakeholder' }) });
      await add.getByLabel('Name').fill(name);
      await add.getByLabel('Email', { exact: true }).fill(email);
      await add.getByLabel('Role').selectOption(role);
      await add.getByRole('button', { name: 'Add stakeholder' }).click();
      await vendor.getByText('Stakeholder added.').waitFor();
    };
    await addStakeholder('Carla Ciso', 'carla@bank.example', 'ciso');
    await addStakeholder('Chris Champion', 'chris@bank.example', 'champion');
    await ctx.drainMail();
    const invite = await smtp.waitFor((m) => m.to === 'carla@bank.example');
    const championInvite = await smtp.waitFor((m) => m.to === 'chris@bank.example');

    // The CISO answers on a phone, with JavaScript off.
    const phone = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    watch(phone);
    const ciso = await phone.newPage();
    await ciso.goto(local(linksIn(invite.text)[0]));
    await ciso.getByRole('heading', { name: "Acme AI's security posture for Big Bank" }).waitFor();
    await shot(ciso, '03-respondent-page');
    // Correct opens the correction page for that one concern; its fields are pre-filled with the claim.
    await ciso.locator('section#data_residency').getByRole('link', { name: 'Correct Data residency' }).click();
    await ciso.getByRole('heading', { name: 'Correct: Data residency' }).waitFor();
    t.match(new URL(ciso.url()).pathname, /\/r\/[^/]+\/correct\/data_residency$/, 'Correct leads to the page for that concern');
    const regions = ciso.getByRole('group', { name: /Inference regions/ });
    t.ok(await regions.getByLabel('United States').isChecked(), 'the claim is pre-filled');
    await regions.getByLabel('United States').uncheck();
    await regions.getByLabel('EU/EEA').check();
    await ciso
      .getByRole('group', { name: 'What kind of correction is this?' })
      .getByLabel(/Requirement gap/)
      .check();
    await ciso.getByLabel('Comment (optional)').fill('We must keep inference in the EU.');
    await shot(ciso, '03b-respondent-correct');
    const formWidth = await ciso.evaluate(() => document.documentElement.scrollWidth);
    t.ok(formWidth <= 390, `no horizontal scrolling on the correction page (${formWidth}px wide)`);
    await ciso.getByRole('button', { name: 'Save correction' }).click();
    await ciso.getByText('Saved: Corrected on Data residency.').waitFor();
    t.match(ciso.url(), /\/r\/[^/?#]+\?saved=data_residency#next$/, 'back on the main page, at the next concern to answer');
    await shot(ciso, '04-respondent-saved');
    const width = await ciso.evaluate(() => document.documentElement.scrollWidth);
    t.ok(width <= 390, `no horizontal scrolling on a phone (page is ${width}px wide)`);

    // The champion sees the CISO engaged, and no addresses.
    const championContext = await browser.newContext();
    watch(championContext);
    const champion = await championContext.newPage();
    await champion.goto(local(linksIn(championInvite.text)[0]));
    await champion.getByRole('heading', { name: 'Security review status for Big Bank' }).waitFor();
    const carlaRow = champion.getByRole('row', { name: /Carla Ciso/ });
    t.match(await carlaRow.innerText(), /Engaged/, 'the champion sees the CISO as engaged');
    t.notMatch(await champion.content(), /@bank\.example/, 'and no email address');
    await shot(champion, '06-champion');

    // The vendor sees the correction.
    await vendor.reload();
    await vendor.getByText('Inference regions').first().waitFor();
    await shot(vendor, '05-vendor-deal');
    const row = vendor.locator('li.signal', { hasText: 'Data residency' });
    t.match(await row.innerText(), /Corrected[\s\S]*Carla Ciso[\s\S]*Inference regions\s+United States\s+EU\/EEA/);
    t.match(await row.innerText(), /We must keep inference in the EU\./);

    // The vendor's insights on a phone: the page itself never scrolls sideways (its tables scroll in their own box).
    const vendorPhone = await browser.newContext({ viewport: { width: 375, height: 812 }, storageState: await vendorContext.storageState() });
    watch(vendorPhone);
    const insights = await vendorPhone.newPage();
    await insights.goto(`${address}/app/insights`);
    await insights.getByRole('heading', { name: 'What security teams correct' }).waitFor();
    await shot(insights, '07-vendor-insights-phone');
    const insightsWidth = await insights.evaluate(() => document.documentElement.scrollWidth);
    t.ok(insightsWidth <= 375, `no horizontal scrolling on the insights page at 375 px (page is ${insightsWidth}px wide)`);
    t.same(violations, [], 'the browser reported no Content-Security-Policy violation');

    // Accessibility: axe-core on the pages people outside the vendor depend on most, and the insights page.
    // (axe is injected as a script, which our CSP rightly forbids; this context bypasses CSP for the check only.)
    const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const audit = await browser.newContext({ bypassCSP: true, storageState: await vendorContext.storageState() });
    for (const [name, url] of [
      ['respondent page', local(linksIn(invite.text)[0])],
      ['champion page', local(linksIn(championInvite.text)[0])],
      ['vendor deal page', vendor.url()],
      ['vendor insights page', `${address}/app/insights`],
      ['deal list with its export links', `${address}/app`],
      ['webhooks settings page', `${address}/app/settings/webhooks`],
    ]) {
      const page = await audit.newPage();
      await page.goto(url);
      await page.addScriptTag({ content: axeSource });
      const result = await page.evaluate(async () => {
        type AxeResult = { violations: { id: string; impact: string; nodes: { target: unknown[] }[] }[]; passes: unknown[] };
        const axe = (window as unknown as { axe: { run: (o: object) => Promise<AxeResult> } }).axe;
        const r = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
        return { violations: r.violations.map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`), passes: r.passes.length };
      });
      t.ok(result.passes > 10, `axe-core ran on the ${name} (${result.passes} rules passed)`);
      t.same(result.violations, [], `axe-core: no accessibility violations on the ${name}`);
    }
  });
}
