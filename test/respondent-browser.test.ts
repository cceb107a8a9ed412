// The respondent's pages in a real browser (Debian's Chromium driven by
// playwright-core), from the personal link in the invitation:
//   a. on a phone with JavaScript off, a CISO confirms five claims and corrects
//      one in a handful of actions, landing each time on the next concern
//      still needing them (in view), then on the completion panel, and mails
//      herself a copy of her own answers; a colleague answers "Not mine";
//   b. on a laptop with JavaScript on, the same essentials, a correction sent
//      without its kind (the error summary at the top, its link moving focus to
//      the kind), and the hand-over page with and without errors;
//   c. the vendor changes a claim she answered: a mail some minutes later, its
//      link opens her page marked "Needs your answer again" with old → new, and
//      one Confirm brings the completion panel back;
//   d. axe-core finds no violation on any of those pages, nor on the champion's;
//   e. the browser reports no Content-Security-Policy violation on any of them;
//   f. the main page's HTML stays within its 25 KB budget.
// Screenshots land in test-artifacts/respondent-*.png for a person to look at.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { testApp } from './helpers/app.js';
import { linksIn } from './helpers/smtp.js';
import { inviteStakeholder, type TestVendor, signUpVendor } from './helpers/vendor.js';
import { CONCERN_KEYS, getConcern } from '../server/concerns/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
/** The main page's budget: 25 KB of HTML before compression. */
const PAGE_BUDGET = 25 * 1024;
const MINUTE = 60_000;
/** The CSP problems Chromium writes to the console. */
const CSP_MESSAGE = /Content Security Policy|Refused to/;

const title = (key: string) => getConcern(key)!.title;

type Box = { top: number; bottom: number };
/** Within the viewport, give or take a pixel (layout positions fall on half pixels). */
const inView = (b: Box | undefined, height: number) => b !== undefined && b.top >= -1 && b.bottom <= height + 1;

/** Where the browser landed: the element marked #next, the card holding it, what that card says, all relative to the viewport. */
function landing(page: Page) {
  return page.evaluate(() => {
    const box = (el: Element | null | undefined) => {
      if (!el) return undefined;
      const r = el.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom };
    };
    const mark = document.getElementById('next');
    const card = mark?.closest('section');
    return {
      card: card?.id,
      mark: box(mark),
      heading: box(card?.querySelector('h2')),
      note: card?.querySelector('.notice.success')?.textContent ?? '',
      height: window.innerHeight,
      scrollY: window.scrollY,
    };
  });
}

if (!existsSync(CHROMIUM)) {
  // Reported as a skipped file (tap counts it under "skip"), not as a pass.
  t.plan(0, `no Chromium at ${CHROMIUM}; install Debian's chromium to run the browser tests`);
} else {
  t.test('the respondent pages in a browser', async (t) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const ctx = await testApp(t, { env: { PUBLIC_URL: 'http://127.0.0.1:0' } });
    const { app, smtp } = ctx;
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    // Links in mail name the configured PUBLIC_URL; point them at the port we got.
    const local = (link: string) => `${address}${new URL(link, address).pathname}`;

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    t.teardown(() => browser.close());
    const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}/respondent-${name}.png`, fullPage: true });

    // Every CSP violation shows up on the console, JavaScript on or off: collect them from every page.
    const violations: string[] = [];
    const watch = (context: BrowserContext, into = violations) => {
      context.on('console', (m) => CSP_MESSAGE.test(m.text()) && into.push(`${m.page()?.url() ?? '?'}: ${m.text()}`));
      return context;
    };
    const phone = () => browser.newContext({ javaScriptEnabled: false, viewport: { width: 375, height: 812 } }).then((c) => watch(c));
    const laptop = () => browser.newContext({ viewport: { width: 1280, height: 900 } }).then((c) => watch(c));

    // axe-core runs in the page as it is served, CSP enforced: evaluated over the DevTools protocol,
    // it needs no <script> (which the CSP rightly refuses). It needs timers, so JavaScript must be on;
    // the server sends the same HTML either way.
    const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const audited: string[] = [];
    const audit = async (t: Test, page: Page, name: string) => {
      await page.evaluate(axeSource);
      const result = await page.evaluate(async () => {
        type AxeResult = { violations: { id: string; impact: string; nodes: { target: unknown[] }[] }[]; passes: unknown[] };
        const axe = (window as unknown as { axe: { run: (o: object) => Promise<AxeResult> } }).axe;
        const r = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
        return { violations: r.violations.map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`), passes: r.passes.length };
      });
      audited.push(name);
      t.ok(result.passes > 10, `axe-core ran on the ${name} (${result.passes} rules passed)`);
      t.same(result.violations, [], `axe-core: no accessibility violations on the ${name}`);
    };
    /** The HTML of the page as the server sent it, decoded. */
    const htmlBytes = async (page: Page) => {
      const res = await page.reload();
      return (await res!.body()).length;
    };

    // The vendor opens the deal on its pages, so the deal has an owner to name as the contact.
    const vendor: TestVendor = await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Dana Lee', email: 'dana@acme.example' });
    t.equal((await vendor.api('POST', '/api/v1/profile/publish')).statusCode, 200, 'the vendor publishes its profile');
    const opened = await vendor.post('/app/deals', { buyer_name: 'Big Bank', buyer_domain: 'bank.example' });
    const dealId = /^\/app\/deals\/([0-9a-f-]{36})/.exec(String(opened.headers.location))?.[1];
    t.ok(dealId, 'and opens a deal on its pages');
    const carla = await inviteStakeholder(ctx, vendor, dealId!, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
    const sam = await inviteStakeholder(ctx, vendor, dealId!, { name: 'Sam Sec', email: 'sam@bank.example', role: 'security' });
    const jo = await inviteStakeholder(ctx, vendor, dealId!, { name: 'Jo Sec', email: 'jo@bank.example', role: 'security' });
    const chris = await inviteStakeholder(ctx, vendor, dealId!, { name: 'Chris Champion', email: 'chris@bank.example', role: 'champion' });
    const order = [...CONCERN_KEYS];
    t.equal(order.length, 6, 'six concerns');

    await t.test('a. phone, JavaScript off: five confirms and a correction without losing her place', async (t) => {
      const page = await (await phone()).newPage();
      let actions = 0;
      /** One thing the person does: a click, a fill, a check. */
      const act = (p: Promise<void>) => {
        actions++;
        return p;
      };

      const first = await page.goto(`${address}${carla.path}`);
      await page.getByRole('heading', { name: "Acme AI's security posture for Big Bank" }).waitFor();
      const bytes = (await first!.body()).length;
      t.ok(bytes > 5_000 && bytes <= PAGE_BUDGET, `the main page's HTML is ${bytes} bytes, within ${PAGE_BUDGET}`);
      t.equal(await page.locator('section.concern').count(), 6, 'six claim cards');
      t.equal(await page.locator('#next').count(), 0, 'nothing saved yet: no landing mark');
      const contact = await page.locator('p.contact').innerText();
      t.match(contact, /Your contact at Acme AI.*: Dana Lee, dana@acme\.example\./, 'the deal owner is named as the contact');
      t.equal(await page.locator('p.contact a').getAttribute('href'), 'mailto:dana@acme.example');
      await shot(page, 'a-phone-fresh');

      // Confirm the five claims after data residency; each time the page opens at the next one still open.
      const confirmed = order.slice(1);
      for (const [i, key] of confirmed.entries()) {
        const next = i + 1 < confirmed.length ? confirmed[i + 1] : order[0];
        await act(
          page
            .locator(`section#${key}`)
            .getByRole('button', { name: `Confirm ${title(key)}`, exact: true })
            .click(),
        );
        await page.waitForURL(new RegExp(`/r/[^/?#]+\\?saved=${key}#next$`));
        t.pass(`Confirm on ${key}: the address ends with #next`);
        const at = await landing(page);
        t.equal(at.card, next, `after ${key}, #next marks ${next}`);
        t.equal(at.note, `Saved: Confirmed on ${title(key)}. Next: ${title(next)}.`, 'with a note of what was saved, where the eye is');
        t.ok(
          inView(at.mark, at.height) && inView(at.heading, at.height),
          `the #next mark and the ${title(next)} heading are in view (mark at ${at.mark?.top}, heading ${at.heading?.top}–${at.heading?.bottom}, of ${at.height})`,
        );
        t.match(await page.locator('p.progress').innerText(), `${i + 1} of 6 concerns answered`);
        if (i === 0) {
          t.ok(at.scrollY > 0, `the browser scrolled to the third card (scrollY ${at.scrollY})`);
          await shot(page, 'a-phone-saved');
        }
      }
      t.equal(await page.locator('#done').count(), 0, 'no completion panel while one concern is open');

      // Correct data residency on its own page: one changed value, the kind, save.
      await act(page.locator(`section#${order[0]}`).getByRole('link', { name: 'Correct Data residency', exact: true }).click());
      await page.getByRole('heading', { name: 'Correct: Data residency' }).waitFor();
      t.equal(await page.locator('form.answer').count(), 1, 'one correction form on the page');
      const days = page.getByLabel('Prompt retention period');
      t.equal(await days.inputValue(), '30', 'pre-filled with the claim');
      await shot(page, 'a-phone-correct');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      t.ok(width <= 375, `no horizontal scrolling on the correction page (${width}px wide)`);
      await act(days.fill('7'));
      await act(
        page
          .getByRole('group', { name: 'What kind of correction is this?' })
          .getByLabel(/Requirement gap/)
          .check(),
      );
      await act(page.getByRole('button', { name: 'Save correction' }).click());
      await page.waitForURL(/\?saved=data_residency#next$/);

      // Every concern answered: the completion panel is where she lands, in view.
      const done = await landing(page);
      t.equal(done.card, 'done', 'the landing mark is in the completion panel');
      t.ok(inView(done.mark, done.height) && inView(done.heading, done.height), 'the completion panel is in view');
      t.equal(done.note, 'Saved: Corrected on Data residency.');
      const summary = (await page.locator('#done ul.summary li').allInnerTexts()).map((s) => s.replace(/\s+/g, ' ').trim());
      t.equal(summary.length, 6, 'the panel sums up six answers');
      t.match(
        summary.find((s) => s.startsWith('Data residency')),
        /Corrected \(Requirement gap/,
      );
      t.equal(summary.filter((s) => / Confirmed$/.test(s)).length, 5, 'five confirmed');
      await shot(page, 'a-phone-done');
      // Five clicks on Confirm, then Correct, one value, the kind and Save: 9.
      t.ok(actions <= 12, `five confirms and one correction took ${actions} actions (at most 12)`);

      // A colleague answers "Not mine" on data residency from his own link.
      const samPage = await (await phone()).newPage();
      await samPage.goto(`${address}${sam.path}`);
      await samPage.locator('section#data_residency').getByRole('button', { name: 'Not mine Data residency', exact: true }).click();
      await samPage.waitForURL(/\?saved=data_residency#next$/);
      const samAt = await landing(samPage);
      t.equal(samAt.note, `Saved: Not mine on Data residency. Next: ${title(order[1])}.`, 'his "Not mine" is saved, and he goes on');
      t.match(await samPage.locator('#data_residency-h').innerText(), /Not mine$/, 'the card shows his answer');
      await shot(samPage, 'a-phone-not-mine');

      // A copy of her answers by mail: hers only.
      smtp.clear();
      await act(page.getByRole('button', { name: 'Email me a copy of my answers' }).click());
      await page.waitForURL(/\?receipt=1#done$/);
      await page.getByText('A copy of your answers is on its way to carla@bank.example.').waitFor();
      const panel = await page.evaluate(() => ({ top: document.getElementById('done-h')!.getBoundingClientRect().top, height: window.innerHeight }));
      t.ok(panel.top >= 0 && panel.top < panel.height, `the address ends with #done, and the panel is in view (heading at ${panel.top})`);
      await shot(page, 'a-phone-receipt');
      await ctx.drainMail();
      const receipt = await smtp.waitFor((m) => m.to === 'carla@bank.example');
      t.equal(receipt.subject, "Your answers on Acme AI's security claims for Big Bank");
      const items = receipt.text.split('\n').filter((l) => l.startsWith('* '));
      t.same(items.map((l) => l.replace(/ — .*/, '').slice(2)).sort(), order.map(title).sort(), 'one entry per concern, no more (nobody else’s answers)');
      t.match(receipt.text, '* Data residency — Corrected (Requirement gap');
      t.match(receipt.text, 'Prompt retention period: 30 days -> 7 days', 'with what she changed');
      t.equal(items.filter((l) => / — Confirmed/.test(l)).length, 5, 'and her five confirmations');
      t.notMatch(receipt.text, /Not mine|Sam Sec/, 'Sam’s "Not mine" is not in it');
      t.equal(smtp.messages.filter((m) => m.to === 'sam@bank.example').length, 0, 'and Sam got nothing');
    });

    await t.test('b. laptop, JavaScript on: confirm, a correction with an error, the hand-over page', async (t) => {
      const page = await (await laptop()).newPage();
      const first = await page.goto(`${address}${jo.path}`);
      await page.getByRole('heading', { name: "Acme AI's security posture for Big Bank" }).waitFor();
      const bytes = (await first!.body()).length;
      t.ok(bytes > 5_000 && bytes <= PAGE_BUDGET, `the main page's HTML is ${bytes} bytes, within ${PAGE_BUDGET}`);
      await audit(t, page, 'main page (fresh)');
      await shot(page, 'b-laptop-fresh');

      await page
        .locator(`section#${order[1]}`)
        .getByRole('button', { name: `Confirm ${title(order[1])}`, exact: true })
        .click();
      await page.waitForURL(new RegExp(`\\?saved=${order[1]}#next$`));
      const at = await landing(page);
      t.equal(at.card, order[2], 'Confirm lands on the next concern');
      t.ok(inView(at.heading, at.height), 'in view');
      await audit(t, page, 'main page after a save (with its note)');
      await shot(page, 'b-laptop-saved');

      // Correct data residency; change a value but forget the kind.
      await page.locator('section#data_residency').getByRole('link', { name: 'Correct Data residency', exact: true }).click();
      await page.getByRole('heading', { name: 'Correct: Data residency' }).waitFor();
      t.equal(await page.locator('.error-summary').count(), 0, 'no error summary before a mistake');
      await audit(t, page, 'correct page');
      await shot(page, 'b-laptop-correct');
      const regions = page.getByRole('group', { name: /Inference regions/ });
      await regions.getByLabel('EU/EEA').check();
      await page.getByRole('button', { name: 'Save correction' }).click();
      const summary = page.locator('.error-summary');
      await summary.waitFor();
      t.match(page.url(), /\/answer\/data_residency$/, 'the form came back from the server');
      const layout = await page.evaluate(() => {
        const s = document.querySelector('.error-summary')!.getBoundingClientRect();
        const h1 = document.querySelector('h1')!.getBoundingClientRect();
        return { top: s.top, bottom: s.bottom, h1: h1.top, height: window.innerHeight };
      });
      t.ok(
        layout.top >= 0 && layout.bottom <= layout.height && layout.top < layout.h1,
        `the error summary is in view, above the heading (${layout.top}–${layout.bottom}, h1 at ${layout.h1})`,
      );
      t.match(await summary.locator('h2').innerText(), 'Your correction was not saved');
      const kindLink = summary.getByRole('link', { name: /^Kind of correction: / });
      t.equal(await kindLink.count(), 1, 'the summary names the missing kind');
      t.ok(
        await page
          .getByRole('group', { name: /Inference regions/ })
          .getByLabel('EU/EEA')
          .isChecked(),
        'what she ticked is kept',
      );
      await audit(t, page, 'correct page with errors');
      await shot(page, 'b-laptop-correct-errors');
      await kindLink.click();
      t.equal(await page.evaluate(() => document.activeElement?.id), 'k-factual_error', 'the summary link moves focus to the first kind');
      t.ok(await page.locator('#k-factual_error').isVisible(), 'which is on screen');
      await page.keyboard.press('Space');
      t.ok(await page.locator('#k-factual_error').isChecked(), 'and can be chosen from there with the keyboard');
      await page.getByRole('button', { name: 'Save correction' }).click();
      await page.waitForURL(/\?saved=data_residency#next$/);
      t.equal((await landing(page)).note, `Saved: Corrected on Data residency. Next: ${title(order[2])}.`, 'saved, and on to the next open concern');

      // The hand-over page, then sent empty.
      await page.getByRole('link', { name: 'Not the right person for some of these? Hand them to a colleague' }).click();
      await page.getByRole('heading', { name: 'Hand concerns to a colleague' }).waitFor();
      t.equal(await page.locator('#in-ho-role').inputValue(), '', 'no role is chosen for them');
      await audit(t, page, 'hand-over page');
      await shot(page, 'b-laptop-handover');
      await page.getByRole('button', { name: 'Hand over' }).click();
      const handoverSummary = page.locator('.error-summary');
      await handoverSummary.waitFor();
      t.match(await handoverSummary.innerText(), /Nothing was handed over/);
      const roleLink = handoverSummary.getByRole('link', { name: /^Their role: / });
      t.equal(await roleLink.count(), 1, 'the summary names the missing role');
      await audit(t, page, 'hand-over page with errors');
      await shot(page, 'b-laptop-handover-errors');
      await roleLink.click();
      t.equal(await page.evaluate(() => document.activeElement?.id), 'in-ho-role', 'its link moves focus to the role');

      // The rest confirmed: the completion panel, then the receipt.
      await page.goto(`${address}${jo.path}`);
      for (const key of order.slice(2)) {
        await page
          .locator(`section#${key}`)
          .getByRole('button', { name: `Confirm ${title(key)}`, exact: true })
          .click();
        await page.waitForURL(new RegExp(`\\?saved=${key}#next$`));
      }
      const done = await landing(page);
      t.equal(done.card, 'done', 'the last answer lands on the completion panel');
      t.ok(inView(done.heading, done.height), 'in view');
      const full = await htmlBytes(page);
      t.ok(full > 5_000 && full <= PAGE_BUDGET, `with every answer shown, the main page's HTML is ${full} bytes, within ${PAGE_BUDGET}`);
      await audit(t, page, 'completion panel');
      await shot(page, 'b-laptop-done');
      await page.getByRole('button', { name: 'Email me a copy of my answers' }).click();
      await page.getByText('A copy of your answers is on its way to jo@bank.example.').waitFor();
      await audit(t, page, 'completion panel after the receipt');

      // The champion's read-only page.
      const champion = await (await laptop()).newPage();
      await champion.goto(`${address}${chris.path}`);
      await champion.getByRole('heading', { name: 'Security review status for Big Bank' }).waitFor();
      t.match(await champion.getByRole('row', { name: /Jo Sec/ }).innerText(), /Engaged/, 'the champion sees Jo engaged');
      t.equal(await champion.getByRole('button', { name: /Confirm/ }).count(), 0, 'and nothing to answer');
      await audit(t, champion, 'champion page');
      await shot(champion, 'b-champion');
    });

    await t.test('c. a changed claim: the mail, the page that says what changed, and one Confirm', async (t) => {
      const changed = await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/model_access_controls`, { mfa_enforced: false });
      t.equal(changed.statusCode, 200, 'the vendor changes a claim Carla confirmed');
      await ctx.drainMail();
      const askedAgain = () => smtp.messages.filter((m) => m.to === 'carla@bank.example' && /changed/.test(m.subject));
      t.equal(askedAgain().length, 0, 'no mail at once: changes are gathered for a few minutes');
      ctx.clock.advance(6 * MINUTE);
      await ctx.drainMail();
      t.equal(askedAgain().length, 1, 'one mail after the gathering time');
      const [mail] = askedAgain();
      t.match(mail.subject, /^Acme AI: 1 claim changed for Big Bank/);
      const link = linksIn(mail.text).find((l) => l.includes('/r/'));
      t.ok(link, 'with a personal link');

      const page = await (await laptop()).newPage();
      await page.goto(local(link!));
      await page.getByRole('heading', { name: "Acme AI's security posture for Big Bank" }).waitFor();
      t.match(await page.locator('p.progress').innerText(), '5 of 6 concerns answered', 'the changed claim needs her again');
      t.equal(await page.locator('#done').count(), 0, 'no completion panel for now');
      const card = page.locator('section#model_access_controls');
      t.match(await card.locator('h2').innerText(), /Needs your answer again$/);
      t.match(await card.locator('.notice.warning').innerText(), /changed this claim after you answered \(Confirmed, [\d-]+\)[\s\S]*MFA enforced: Yes → No/, 'old → new');
      t.equal(await page.locator('section.is-stale').count(), 1, 'only that claim');
      await audit(t, page, 'main page with a changed claim');
      await shot(page, 'c-laptop-changed');

      await card.getByRole('button', { name: 'Confirm Model access controls', exact: true }).click();
      await page.waitForURL(/\?saved=model_access_controls#next$/);
      const done = await landing(page);
      t.equal(done.card, 'done', 'one Confirm brings the completion panel back');
      t.ok(inView(done.heading, done.height), 'in view');
      t.match(await page.locator('p.progress').innerText(), '6 of 6 concerns answered');
      t.equal(await page.locator('section.is-stale').count(), 0, 'nothing needs her again');
      await shot(page, 'c-laptop-done-again');
    });

    await t.test('d, e. axe-core and the Content-Security-Policy on every page', async (t) => {
      t.same(
        audited,
        [
          'main page (fresh)',
          'main page after a save (with its note)',
          'correct page',
          'correct page with errors',
          'hand-over page',
          'hand-over page with errors',
          'completion panel',
          'completion panel after the receipt',
          'champion page',
          'main page with a changed claim',
        ],
        'axe-core ran on each page a respondent or champion sees',
      );
      // The watch is not blind: an inline style in a page with JavaScript off is reported.
      const control: string[] = [];
      const context = watch(await browser.newContext({ javaScriptEnabled: false }), control);
      const page = await context.newPage();
      await page.goto(`${address}${sam.path}`);
      await page.evaluate(() => document.body.appendChild(document.createElement('style')).append('body { color: red }'));
      for (let i = 0; i < 50 && control.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      t.match(control[0], CSP_MESSAGE, 'the console watch catches a CSP violation');
      t.same(violations, [], 'the browser reported no Content-Security-Policy violation on any respondent page');
    });
  });
}
