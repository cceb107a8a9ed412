// Reminders for silence: on the deal's cadence, only while silent, never twice.
import t from 'tap';
import { testApp, type TestApp } from './helpers/app.js';
import type { TapLike } from './helpers/db.js';
import { form } from './helpers/http.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';
import { scheduleReminders } from '../server/stakeholders/service.js';

const DAY = 86_400_000;
const reminders = (ctx: TestApp, to: string) => ctx.smtp.messages.filter((m) => m.to === to && m.subject.startsWith('Reminder:'));

async function setup(t: TapLike) {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const dealId = await openDeal(vendor);
  return { ctx, vendor, dealId };
}

t.test('silent stakeholders are reminded on days 3 and 7, then no more', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const sam = await inviteStakeholder(ctx, vendor, dealId, { email: 'sam@bank.example', role: 'security' });
  await ctx.app.inject({ method: 'POST', url: `${sam.path}/answer/data_residency`, ...form({ verdict: 'not_mine' }) });

  ctx.clock.advance(2 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 0, 'nothing before day 3');
  ctx.clock.advance(1 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 1, 'the day-3 reminder');
  t.equal(reminders(ctx, 'sam@bank.example').length, 0, 'an answer (even "not mine") stops reminders');
  t.match(reminders(ctx, 'carla@bank.example')[0].text, 'Once you answer anything, the reminders stop.');
  t.equal((await ctx.app.inject({ method: 'GET', url: carla.path })).statusCode, 200, 'the invitation’s link still works');

  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 1, 'running again sends nothing new');
  ctx.clock.advance(4 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 2, 'the day-7 reminder');
  ctx.clock.advance(30 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 2, 'the cadence is done');
  const detail = (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json();
  t.equal(detail.stakeholders.find((s: { email: string }) => s.email === 'carla@bank.example').reminders_sent, 2);
});

t.test('pauses, revoked links and closed deals stop reminders; the cadence is the deal’s', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const people = ['a', 'b', 'c'].map((x) => `${x}@bank.example`);
  const ids: string[] = [];
  for (const email of people) ids.push((await inviteStakeholder(ctx, vendor, dealId, { email, role: 'security' })).id);

  t.equal((await vendor.api('PATCH', `/api/v1/deals/${dealId}/stakeholders/${ids[0]}`, { reminders_paused: true })).statusCode, 200);
  t.equal((await vendor.post(`/app/deals/${dealId}/stakeholders/${ids[1]}/revoke`)).statusCode, 303);
  ctx.clock.advance(3 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, people[0]).length, 0, 'paused for this person');
  t.equal(reminders(ctx, people[1]).length, 0, 'revoked link');
  t.equal(reminders(ctx, people[2]).length, 1, 'the others are reminded');

  t.equal((await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { reminders_paused: true })).statusCode, 200);
  ctx.clock.advance(4 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, people[2]).length, 1, 'paused for the whole deal');

  const bad = await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { reminder_days: [7, 3] });
  t.equal(bad.statusCode, 400, 'the cadence must increase');
  t.equal((await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { reminders_paused: false, reminder_days: [3, 7, 14] })).statusCode, 200);
  await ctx.drainMail();
  t.equal(reminders(ctx, people[2]).length, 2, 'resumed: the overdue day-7 reminder goes out');
  t.equal((await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: 'closed_lost' })).statusCode, 200);
  ctx.clock.advance(7 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, people[2]).length, 2, 'a closed deal sends no reminders');
});

t.test('two workers at once queue each reminder once', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  for (let i = 0; i < 8; i++) await inviteStakeholder(ctx, vendor, dealId, { email: `p${i}@bank.example`, role: 'security' });
  ctx.clock.advance(3 * DAY);
  const [a, b, c] = await Promise.all([scheduleReminders(ctx.db, ctx.clock), scheduleReminders(ctx.db, ctx.clock), scheduleReminders(ctx.db, ctx.clock)]);
  t.equal(a + b + c, 8, 'eight reminders in all');
  await ctx.drainMail();
  const sent = ctx.smtp.messages.filter((m) => m.subject.startsWith('Reminder:'));
  t.equal(sent.length, 8);
  t.equal(new Set(sent.map((m) => m.to)).size, 8, 'one each');
});

t.test('resending restarts the cadence', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  const carla = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  ctx.clock.advance(3 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 1);
  await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${carla.id}/resend`);
  await ctx.drainMail();
  ctx.clock.advance(2 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 1, 'day 2 after the resend: nothing yet');
  ctx.clock.advance(1 * DAY);
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 2, 'day 3 after the resend');
});

t.test('reminders overdue after a pause arrive as one', async (t) => {
  const { ctx, vendor, dealId } = await setup(t);
  await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { reminders_paused: true });
  ctx.clock.advance(10 * DAY);
  await ctx.drainMail();
  await vendor.api('PATCH', `/api/v1/deals/${dealId}`, { reminders_paused: false });
  await ctx.drainMail();
  await ctx.drainMail();
  t.equal(reminders(ctx, 'carla@bank.example').length, 1, 'one reminder for both missed steps');
});
