// Deal owners: a deal belongs to the member who opened it until someone hands
// it over; its digests, renewal requests and the Reply-To of its invitations
// follow the owner; the deal list filters by owner; and a member changes only
// the deals they own, while admins and owners change any.
import t from 'tap';
import type { AddressObject } from 'mailparser';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { asOwner, inviteMember } from './helpers/team.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

const MIN = 60_000;
const DAY = 86_400_000;

t.test('a deal is its creator’s; the list filters by owner; members change only their own deals', async (t) => {
  const ctx = await testApp(t);
  const owner = asOwner(ctx, await signUpVendor(ctx, { email: 'olga@vendor.test', name: 'Olga Owner' }), 'Olga Owner');
  const mia = await inviteMember(ctx, owner, { email: 'mia@vendor.test', name: 'Mia Member', role: 'member' });
  const max = await inviteMember(ctx, owner, { email: 'max@vendor.test', name: 'Max Member', role: 'member' });
  const vic = await inviteMember(ctx, owner, { email: 'vic@vendor.test', name: 'Vic Viewer', role: 'viewer' });
  const ada = await inviteMember(ctx, owner, { email: 'ada@vendor.test', name: 'Ada Admin', role: 'admin' });

  const olgas = await openDeal(owner, { buyer_name: 'Olga Bank' });
  const mias = (await mia.api('POST', '/api/v1/deals', { buyer_name: 'Mia Bank' })).json().id as string;
  t.equal((await mia.api('GET', `/api/v1/deals/${mias}`)).json().owner_id, mia.userId, 'a deal opened through a member’s key is theirs');
  t.equal((await owner.api('GET', `/api/v1/deals/${olgas}`)).json().owner_id, owner.userId);
  const viaPage = await max.post('/app/deals', { buyer_name: 'Max Bank' });
  t.equal(viaPage.statusCode, 303, 'a member opens a deal on the page');
  const maxs = viaPage.headers.location!.split('/').pop()!;
  t.equal((await max.api('GET', `/api/v1/deals/${maxs}`)).json().owner_id, max.userId, 'a deal opened on the page is its opener’s');
  t.equal((await vic.api('POST', '/api/v1/deals', { buyer_name: 'Vic Bank' })).statusCode, 403, 'a viewer opens no deal');

  const names = async (who: typeof owner, query: string) =>
    ((await who.api('GET', `/api/v1/deals?${query}`)).json().deals as { buyer_name: string }[]).map((d) => d.buyer_name).sort();
  t.same(await names(mia, 'owner=me'), ['Mia Bank'], 'owner=me: the caller’s own deals');
  t.same(await names(owner, 'owner=me'), ['Olga Bank']);
  t.same(await names(vic, `owner=${max.userId}`), ['Max Bank'], 'owner=<member id>');
  t.same(await names(vic, ''), ['Max Bank', 'Mia Bank', 'Olga Bank'], 'everyone reads every deal');
  const bad = await owner.api('GET', '/api/v1/deals?owner=someone');
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.details[0].field, 'owner');
  const page = await mia.page('/app?owner=me');
  t.match(page.body, /<h1>My deals<\/h1>/);
  t.match(page.body, 'Mia Bank');
  t.notMatch(page.body, 'Olga Bank', 'the page’s My deals lists only hers');
  t.match((await mia.page('/app')).body, /<td>Olga Owner<\/td>/, 'the list names each deal’s owner');

  // The deal page offers its controls only to those who may use them.
  const controls = /Change stage|Add stakeholder|Save segment|Save settings|Hand over|Change this claim/g;
  t.equal(((await mia.page(`/app/deals/${mias}`)).body.match(controls) ?? []).length >= 6, true, 'her own deal: every control');
  const others = (await mia.page(`/app/deals/${olgas}`)).body;
  t.same(others.match(controls), null, 'someone else’s deal: none');
  t.match(others, 'Only Olga Owner (its owner) and admins change this deal');
  t.same((await vic.page(`/app/deals/${mias}`)).body.match(controls), null, 'a viewer: none');
  t.equal(((await ada.page(`/app/deals/${olgas}`)).body.match(controls) ?? []).length >= 6, true, 'an admin: every control on any deal');
  t.notMatch((await vic.page('/app/profile')).body, /Save draft|Publish version/, 'a viewer is offered no profile change');

  // Changing: a member only their own deals; admins any.
  t.equal((await mia.api('POST', `/api/v1/deals/${mias}/stage`, { stage: 'evaluation' })).statusCode, 200, 'a member moves her own deal');
  const refused = await mia.api('POST', `/api/v1/deals/${olgas}/stage`, { stage: 'evaluation' });
  t.equal(refused.statusCode, 403, 'but not someone else’s');
  t.equal(refused.json().error.code, 'forbidden');
  t.notMatch(refused.body, 'Olga Bank', 'and learns nothing of it');
  t.equal((await mia.post(`/app/deals/${olgas}/segment`, { industry: 'insurance' })).statusCode, 403, 'nor on its page');
  t.equal((await ada.api('POST', `/api/v1/deals/${mias}/stage`, { stage: 'business_case' })).statusCode, 200, 'an admin moves any deal');
  const stages = await ctx.db.selectFrom('deals').select(['buyer_name', 'stage']).orderBy('buyer_name').execute();
  t.same(
    stages.map((d) => `${d.buyer_name}: ${d.stage}`),
    ['Max Bank: discovery', 'Mia Bank: business_case', 'Olga Bank: discovery'],
    'only the allowed moves happened',
  );

  // Handing over: to a member, never to a viewer or someone of another workspace.
  const toViewer = await mia.api('PATCH', `/api/v1/deals/${mias}`, { owner_id: vic.userId });
  t.equal(toViewer.statusCode, 400, 'a viewer cannot own a deal');
  t.equal(toViewer.json().error.details[0].field, 'owner_id');
  const stranger = asOwner(ctx, await signUpVendor(ctx, { email: 'sam@other.test' }));
  t.equal((await mia.api('PATCH', `/api/v1/deals/${mias}`, { owner_id: stranger.userId })).statusCode, 400, 'nor a member of another workspace');
  const handed = await mia.api('PATCH', `/api/v1/deals/${mias}`, { owner_id: max.userId });
  t.equal(handed.statusCode, 200);
  t.equal(handed.json().owner_id, max.userId, 'Mia hands her deal to Max');
  t.equal((await mia.api('PATCH', `/api/v1/deals/${mias}`, { owner_id: mia.userId })).statusCode, 403, 'and then cannot take it back');
  const back = await ada.post(`/app/deals/${mias}/owner`, { owner_id: mia.userId });
  t.equal(back.statusCode, 303, 'an admin hands it back on the deal page');
  t.match((await mia.page(`/app/deals/${mias}?owner=1`)).body, /Owner: Mia Member/);
  const wrong = await ada.post(`/app/deals/${mias}/owner`, { owner_id: vic.userId });
  t.equal(wrong.statusCode, 400);
  t.match(wrong.body, 'a viewer cannot own one');
  t.equal((await ctx.db.selectFrom('deals').select('owner_id').where('id', '=', mias).executeTakeFirstOrThrow()).owner_id, mia.userId, 'the refused hand-over changed nothing');

  // Someone who owns deals is not made a viewer until they are handed on.
  const demote = await owner.api('PATCH', `/api/v1/members/${mia.userId}`, { role: 'viewer' });
  t.equal(demote.statusCode, 400);
  t.match(demote.json().error.message, 'Mia Member owns a deal');
  t.equal((await owner.api('PATCH', `/api/v1/members/${max.userId}`, { role: 'viewer' })).statusCode, 400, 'Max owns his too');
  t.equal((await owner.api('PATCH', `/api/v1/deals/${maxs}`, { owner_id: owner.userId })).statusCode, 200);
  t.equal((await owner.api('PATCH', `/api/v1/members/${max.userId}`, { role: 'viewer' })).statusCode, 200, 'once handed on, he can be');
  const mine = await mia.page('/app?owner=me');
  t.match(mine.body, /<span class="count">1<\/span>/, 'My deals counts only hers by stage');
});

t.test('digests, renewal requests and invitation replies go to the deal’s owner', async (t) => {
  const ctx = await testApp(t);
  const { app, smtp } = ctx;
  const owner = asOwner(ctx, await signUpVendor(ctx, { email: 'olga@vendor.test', name: 'Olga Owner' }), 'Olga Owner');
  const max = await inviteMember(ctx, owner, { email: 'max@vendor.test', name: 'Max Member', role: 'member' });
  const dealId = await openDeal(owner, { buyer_name: 'Big Bank' });
  t.equal((await owner.api('PATCH', `/api/v1/deals/${dealId}`, { owner_id: max.userId })).statusCode, 200, 'the owner hands the deal to Max');

  smtp.clear();
  const carla = await inviteStakeholder(ctx, owner, dealId, { name: 'Carla Ciso', email: 'carla@bank.example', role: 'ciso' });
  const invitation = smtp.messages.find((m) => m.to === 'carla@bank.example')!;
  t.equal((invitation.headers.get('reply-to') as AddressObject | undefined)?.value[0]?.address, 'max@vendor.test', 'replies to the invitation go to the owner');
  t.match(invitation.text, 'Max Member', 'and it names him');

  const claims = (await owner.api('GET', `/api/v1/deals/${dealId}`)).json().concerns as { concern: string; claim: Record<string, unknown> }[];
  const residency = claims.find((c) => c.concern === 'data_residency')!.claim;
  const answered = await app.inject({
    method: 'POST',
    url: `${carla.path}/answer/data_residency`,
    ...form({ verdict: 'correct', kind: 'requirement_gap', ...claimForm(residency, { inference_regions: ['EU_EEA'] }) } as never),
  });
  t.equal(answered.statusCode, 303);
  ctx.clock.advance(6 * MIN);
  await ctx.drainMail();
  const digests = smtp.messages.filter((m) => /correction/.test(m.subject));
  t.same(
    digests.map((m) => m.to),
    ['max@vendor.test'],
    'the digest goes to the owner, not to whoever opened the deal',
  );

  ctx.clock.advance(46 * DAY);
  smtp.clear();
  const renew = await app.inject({ method: 'POST', url: '/r/renew', ...form({ token: carla.path.slice(3), email: 'carla@bank.example' }) });
  t.equal(renew.statusCode, 200);
  await ctx.drainMail();
  t.same(
    smtp.messages.map((m) => m.to),
    ['max@vendor.test'],
    'the renewal request goes to the owner',
  );
});
