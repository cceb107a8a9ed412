// A vendor is a team: a workspace's owner invites an admin, a member and a
// viewer by email (API and Team page), each joins through the emailed link
// (a GET that creates nothing, then a POST that works once), roles are
// changed and members removed under the rule book's rules, sessions are
// listed and ended, and one person switches between their workspaces.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { testApp, type TestApp } from './helpers/app.js';
import { cookieJar, form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { openDeal, signUpVendor, spendSignInLink } from './helpers/vendor.js';
import { asOwner, invitationPath, inviteMember, sendInvitation, sessionClaims, type TeamMember } from './helpers/team.js';
import { DAY, MINUTE } from '../server/lib/clock.js';

const audit = (ctx: TestApp, vendorId: string, action: string) =>
  ctx.db.selectFrom('audit_log').selectAll().where('vendor_id', '=', vendorId).where('action', '=', action).orderBy('id').execute();

const usersOf = (ctx: TestApp, vendorId: string) => ctx.db.selectFrom('users').select(['id', 'email', 'role']).where('vendor_id', '=', vendorId).orderBy('created_at').execute();

/** An owner with an admin, a member and a viewer, each signed in with a key of their own. */
async function team(ctx: TestApp) {
  const owner = asOwner(ctx, await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Olivia Owner', email: 'olivia@acme.test' }), 'Olivia Owner');
  const admin = await inviteMember(ctx, owner, { email: 'adam@acme.test', name: 'Adam Admin', role: 'admin' });
  const member = await inviteMember(ctx, owner, { email: 'mia@acme.test', name: 'Mia Member', role: 'member' }, { via: 'page' });
  const viewer = await inviteMember(ctx, admin, { email: 'vic@acme.test', name: 'Vic Viewer', role: 'viewer' });
  return { owner, admin, member, viewer };
}

t.test('an owner invites; the invited person joins through the mail, once', async (t) => {
  const ctx = await testApp(t);
  const owner = asOwner(ctx, await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Olivia Owner', email: 'olivia@acme.test' }), 'Olivia Owner');

  const res = await owner.api('POST', '/api/v1/members', { email: 'Adam@Acme.test', name: 'Adam Admin', role: 'admin' });
  t.equal(res.statusCode, 201, 'the invitation is created');
  const invitation = res.json();
  t.match(invitation, { email: 'adam@acme.test', name: 'Adam Admin', role: 'admin' }, 'the address is kept in lower case');
  t.equal(new Date(invitation.expires_at).getTime() - ctx.clock.now().getTime(), 7 * DAY, 'it works for seven days');

  await ctx.drainMail();
  const mail = await ctx.smtp.waitFor((m) => m.to === 'adam@acme.test');
  t.equal(mail.subject, 'Olivia Owner invited you to Acme AI on Posture Portal', 'the subject names the inviter and the workspace');
  t.match(String((mail.headers.get('reply-to') as { text?: string } | undefined)?.text), /olivia@acme\.test/, 'a reply goes to the inviter');
  t.match(mail.text, /Olivia Owner \(olivia@acme\.test\) invited you to the Acme AI workspace/, 'the text names both');
  t.match(mail.html, /Join Acme AI/, 'an HTML part too');
  const link = linksIn(mail.text).find((l) => l.includes('/invite/'))!;
  t.ok(link, 'the mail carries the link');
  const path = new URL(link).pathname;
  const row = await ctx.db.selectFrom('member_invitations').select(['token_hash']).where('id', '=', invitation.id).executeTakeFirstOrThrow();
  t.ok(row.token_hash && !row.token_hash.includes(path.split('/').pop()!), 'only a hash of the token is stored');

  // The GET page shows a button and changes nothing.
  const before = await usersOf(ctx, owner.vendorId);
  const jar = cookieJar();
  const page = jar.collect(await ctx.app.inject({ method: 'GET', url: path, headers: jar.headers() }));
  t.equal(page.statusCode, 200);
  t.match(page.body, /Join Acme AI/);
  t.match(page.body, /Olivia Owner invited you/);
  t.same(await usersOf(ctx, owner.vendorId), before, 'opening the link creates nobody');
  const pending = await ctx.db.selectFrom('member_invitations').select('accepted_at').where('id', '=', invitation.id).executeTakeFirstOrThrow();
  t.equal(pending.accepted_at, null, 'and uses nothing up');

  // Without the nonce the page set, the POST is refused.
  const forged = await ctx.app.inject({ method: 'POST', url: path, ...form({ nonce: 'x'.repeat(43) }) });
  t.equal(forged.statusCode, 403, 'a POST without the page’s nonce is refused');

  const nonce = /name="nonce" value="([^"]+)"/.exec(page.body)![1];
  const joined = await spendSignInLink(ctx.app, path, jar);
  t.equal(joined.statusCode, 303);
  t.equal(joined.headers.location, '/app');
  const users = await usersOf(ctx, owner.vendorId);
  t.equal(users.length, 2, 'the POST creates the membership');
  t.match(users[1], { email: 'adam@acme.test', role: 'admin' }, 'with the invited role');
  const { sub, sid } = sessionClaims(ctx.app, jar);
  t.equal(sub, users[1].id, 'and signs them in');
  const session = await ctx.db.selectFrom('user_sessions').select('method').where('id', '=', sid).executeTakeFirstOrThrow();
  t.equal(session.method, 'invite', 'by invitation');
  const home = await ctx.app.inject({ method: 'GET', url: '/app', headers: jar.headers() });
  t.equal(home.statusCode, 200);
  t.match(home.body, /Adam Admin · Acme AI/, 'the header names the new member and the workspace');

  t.equal((await audit(ctx, owner.vendorId, 'member.invited')).length, 1, 'the invitation is audited');
  const [joinedEntry] = await audit(ctx, owner.vendorId, 'member.joined');
  t.match(joinedEntry, { actor_id: users[1].id, actor_name: 'Adam Admin', target_id: users[1].id, changes: { role: 'admin' } }, 'so is the joining');

  // Once only: the page is gone, and so is the POST, even from the browser that opened the page.
  const reopened = await ctx.app.inject({ method: 'GET', url: path });
  t.equal(reopened.statusCode, 404, 'the spent link’s page is gone');
  t.match(reopened.body, /This link no longer works/);
  const again = await ctx.app.inject({ method: 'POST', url: path, ...form({ nonce }, { cookie: `pp_invite_nonce=${nonce}` }) });
  t.equal(again.statusCode, 404, 'the link works once');
  t.equal((await usersOf(ctx, owner.vendorId)).length, 2, 'nobody more joined');
});

t.test('a team of four roles: who sees and may do what on the Team page and in the API', async (t) => {
  const ctx = await testApp(t);
  const { owner, admin, member, viewer } = await team(ctx);

  const list = await viewer.api('GET', '/api/v1/members');
  t.equal(list.statusCode, 200, 'everyone may read the team');
  t.same(
    list.json().members.map((m: { email: string; role: string }) => [m.email, m.role]),
    [
      ['olivia@acme.test', 'owner'],
      ['adam@acme.test', 'admin'],
      ['mia@acme.test', 'member'],
      ['vic@acme.test', 'viewer'],
    ],
    'four members, owners first',
  );
  t.ok(
    list.json().members.every((m: { last_sign_in_at: string | null }) => m.last_sign_in_at !== null),
    'each has signed in',
  );
  t.same(list.json().invitations, [], 'no invitation is pending any more');

  const asViewer = await viewer.page('/app/members');
  t.equal(asViewer.statusCode, 200);
  t.match(asViewer.body, /Mia Member/);
  t.notMatch(asViewer.body, /Send invitation|Change role|\/remove"/, 'a viewer sees no controls');
  const asAdmin = await admin.page('/app/members');
  t.match(asAdmin.body, /Send invitation/, 'an admin sees the invite form');
  const inviteForm = asAdmin.body.slice(asAdmin.body.indexOf('id="invite-h"'));
  t.notMatch(inviteForm, /value="owner"|value="admin"/, 'but may give only the member and viewer roles');
  t.match(inviteForm, /value="member"[^>]*>Member:/);
  t.match(asAdmin.body, new RegExp(`/app/members/${member.userId}/role`), 'and may change a member’s role');
  t.notMatch(asAdmin.body, new RegExp(`/app/members/${owner.userId}/role`), 'not the owner’s');
  const asOwnerPage = await owner.page('/app/members');
  t.match(asOwnerPage.body.slice(asOwnerPage.body.indexOf('id="invite-h"')), /value="owner"/, 'an owner may invite an owner');

  // Route checks hold whatever the page shows.
  const byViewer = await viewer.api('POST', '/api/v1/members', { email: 'x@acme.test', name: 'X', role: 'viewer' });
  t.equal(byViewer.statusCode, 403, 'a viewer may not invite');
  const byMemberPage = await member.post('/app/members/invite', { email: 'x@acme.test', name: 'X', role: 'viewer' });
  t.equal(byMemberPage.statusCode, 403, 'a member may not either, on the page');
  t.equal((await ctx.db.selectFrom('member_invitations').select('id').where('email', '=', 'x@acme.test').execute()).length, 0, 'nothing was created');
});

t.test('invitation rules: roles an admin may give, members, replacement, expiry, bad input', async (t) => {
  const ctx = await testApp(t);
  const owner = asOwner(ctx, await signUpVendor(ctx, { workspace: 'Acme AI', name: 'Olivia Owner', email: 'olivia@acme.test' }), 'Olivia Owner');
  const admin = await inviteMember(ctx, owner, { email: 'adam@acme.test', name: 'Adam Admin', role: 'admin' });

  for (const role of ['owner', 'admin']) {
    const res = await admin.api('POST', '/api/v1/members', { email: `new-${role}@acme.test`, name: 'Newcomer', role });
    t.equal(res.statusCode, 403, `an admin may not invite an ${role}`);
    t.equal(res.json().error.code, 'forbidden');
  }
  const onPage = await admin.post('/app/members/invite', { email: 'new-owner@acme.test', name: 'Newcomer', role: 'owner' });
  t.equal(onPage.statusCode, 403, 'nor on the page');
  t.match(onPage.body, /cannot give the owner role/, 'which says why, next to the form');
  t.match(onPage.body, /value="new-owner@acme\.test"/, 'keeping what was typed');
  t.equal((await ctx.db.selectFrom('member_invitations').select('id').where('email', 'like', 'new-%').execute()).length, 0, 'no invitation was made');
  t.equal((await admin.api('POST', '/api/v1/members', { email: 'mo@acme.test', name: 'Mo', role: 'member' })).statusCode, 201, 'an admin may invite a member');

  const existing = await owner.api('POST', '/api/v1/members', { email: 'ADAM@acme.test', name: 'Adam again', role: 'viewer' });
  t.equal(existing.statusCode, 409, 'an address that is already a member');
  t.equal(existing.json().error.code, 'already_member');
  t.match(existing.json().error.message, /adam@acme\.test is already a member/);

  const bad = await owner.api('POST', '/api/v1/members', { email: 'not an address', name: '', role: 'boss' });
  t.equal(bad.statusCode, 400);
  t.same(
    bad
      .json()
      .error.details.map((d: { field: string }) => d.field)
      .sort(),
    ['email', 'name', 'role'],
    'every bad field is named',
  );
  const badPage = await owner.post('/app/members/invite', { email: 'nope', name: 'N', role: 'member' });
  t.equal(badPage.statusCode, 400);
  t.match(badPage.body, /must be a valid email address/);

  // Inviting the same address again replaces the pending invitation: the first link stops working.
  await sendInvitation(owner, { email: 'rae@acme.test', name: 'Rae', role: 'viewer' });
  const first = await invitationPath(ctx, 'rae@acme.test');
  await sendInvitation(owner, { email: 'rae@acme.test', name: 'Rae', role: 'member' }, 'page');
  const second = await invitationPath(ctx, 'rae@acme.test');
  t.not(first, second, 'a new link');
  t.equal((await ctx.app.inject({ method: 'GET', url: first })).statusCode, 404, 'the replaced link no longer works');
  const listed = (await owner.api('GET', '/api/v1/members')).json().invitations.filter((i: { email: string }) => i.email === 'rae@acme.test');
  t.equal(listed.length, 1, 'one pending invitation for the address');
  t.equal(listed[0].role, 'member', 'the newer one');
  t.equal((await spendSignInLink(ctx.app, second)).statusCode, 303, 'the new link works');
  t.equal((await usersOf(ctx, owner.vendorId)).find((u) => u.email === 'rae@acme.test')?.role, 'member');

  // Revoked: the link stops working.
  const { id: revokedId } = (await sendInvitation(owner, { email: 'rex@acme.test', name: 'Rex', role: 'viewer' })).json();
  const revokedPath = await invitationPath(ctx, 'rex@acme.test');
  t.equal((await owner.api('DELETE', `/api/v1/invitations/${revokedId}`)).statusCode, 204, 'an invitation is revoked');
  t.equal((await ctx.app.inject({ method: 'GET', url: revokedPath })).statusCode, 404, 'its link no longer works');
  t.equal((await owner.api('DELETE', `/api/v1/invitations/${revokedId}`)).statusCode, 404, 'revoking it again finds nothing');
  t.equal((await audit(ctx, owner.vendorId, 'invitation.revoked')).length, 1, 'the revocation is audited');
  await sendInvitation(owner, { email: 'ray@acme.test', name: 'Ray', role: 'admin' });
  const adminInvite = (await owner.api('GET', '/api/v1/members')).json().invitations.find((i: { email: string }) => i.email === 'ray@acme.test');
  t.equal((await admin.api('DELETE', `/api/v1/invitations/${adminInvite.id}`)).statusCode, 403, 'an admin may not revoke an invitation to be admin');
  const revokeOnPage = await owner.post(`/app/members/invitations/${adminInvite.id}/revoke`);
  t.equal(revokeOnPage.statusCode, 303, 'an owner may, on the page');

  // Seven days, then the link is dead.
  await sendInvitation(owner, { email: 'late@acme.test', name: 'Late', role: 'viewer' });
  const late = await invitationPath(ctx, 'late@acme.test');
  const jar = cookieJar();
  const opened = jar.collect(await ctx.app.inject({ method: 'GET', url: late, headers: jar.headers() }));
  t.equal(opened.statusCode, 200, 'the link works within seven days');
  const nonce = /name="nonce" value="([^"]+)"/.exec(opened.body)![1];
  ctx.clock.advance(7 * DAY + MINUTE);
  t.equal((await ctx.app.inject({ method: 'GET', url: late })).statusCode, 404, 'after seven days the page is gone');
  const expired = await ctx.app.inject({ method: 'POST', url: late, ...form({ nonce }, jar.headers()) });
  t.equal(expired.statusCode, 404, 'and the button no longer joins');
  t.notOk(
    (await usersOf(ctx, owner.vendorId)).some((u) => u.email === 'late@acme.test'),
    'nobody joined',
  );
  t.notOk(
    (await owner.api('GET', '/api/v1/members')).json().invitations.some((i: { email: string }) => i.email === 'late@acme.test'),
    'it is no longer listed as pending',
  );
});

t.test('invitations are rate limited per client and capped per workspace', async (t) => {
  const ctx = await testApp(t);
  const owner = await signUpVendor(ctx, { workspace: 'Acme AI', email: 'olivia@acme.test' });
  const invite = (i: number) => owner.api('POST', '/api/v1/members', { email: `p${i}@acme.test`, name: `Person ${i}`, role: 'viewer' });
  // A burst: 30 invitations a minute.
  for (let i = 0; i < 30; i++) {
    const res = await invite(i);
    if (res.statusCode !== 201) t.fail(`invitation ${i} answered ${res.statusCode}`);
  }
  const limited = await invite(30);
  t.equal(limited.statusCode, 429, 'the 31st invitation in a minute is refused');
  t.equal(limited.json().error.code, 'rate_limited');
  t.ok(Number(limited.headers['retry-after']) > 0, 'saying when to try again');
  // The page's form, per client address: its own 30 a minute, counted whatever the body.
  for (let i = 0; i < 30; i++) await owner.post('/app/members/invite', { email: 'bad' });
  t.equal((await owner.post('/app/members/invite', { email: 'bad' })).statusCode, 429, 'the page’s form is limited too');
  ctx.clock.advance(61_000);

  // The workspace's cap: 50 invitations in 24 hours, counted in the database.
  for (let i = 30; i < 50; i++) {
    const res = await invite(i);
    if (res.statusCode !== 201) t.fail(`invitation ${i} answered ${res.statusCode}`);
  }
  const capped = await owner.api('POST', '/api/v1/members', { email: 'p50@acme.test', name: 'Person 50', role: 'viewer' });
  t.equal(capped.statusCode, 429, 'the 51st invitation of the day is refused');
  t.match(capped.json().error.message, /50 invitations in the last 24 hours/);
  const onPage = await owner.post('/app/members/invite', { email: 'p50@acme.test', name: 'Person 50', role: 'viewer' });
  t.equal(onPage.statusCode, 429, 'on the page too');
  ctx.clock.advance(DAY);
  t.equal((await owner.api('POST', '/api/v1/members', { email: 'p50@acme.test', name: 'Person 50', role: 'viewer' })).statusCode, 201, 'a day later, invitations go out again');
});

t.test('role changes follow the rule book; the last owner stays', async (t) => {
  const ctx = await testApp(t);
  const { owner, admin, member, viewer } = await team(ctx);
  const role = async (who: TeamMember) => (await ctx.db.selectFrom('users').select('role').where('id', '=', who.userId).executeTakeFirstOrThrow()).role;

  const demoted = await admin.api('PATCH', `/api/v1/members/${member.userId}`, { role: 'viewer' });
  t.equal(demoted.statusCode, 200, 'an admin changes a member to a viewer');
  t.match(demoted.json(), { id: member.userId, email: 'mia@acme.test', role: 'viewer' });
  const [changed] = await audit(ctx, owner.vendorId, 'member.role_changed');
  t.same(changed.changes, { role: { before: 'member', after: 'viewer' } }, 'audited with before and after');
  t.equal(changed.actor_kind, 'api_key');
  t.equal((await member.page('/app/members')).statusCode, 200, 'the demoted member still reads');
  t.equal((await member.api('POST', '/api/v1/deals', { buyer_name: 'Nope Bank' })).statusCode, 403, 'but their new role applies at once, to their key too');
  t.equal((await admin.post(`/app/members/${member.userId}/role`, { role: 'member' })).statusCode, 303, 'and back, on the page');
  t.equal(await role(member), 'member');

  for (const [who, to, why] of [
    [viewer, 'admin', 'an admin may not promote anyone to admin'],
    [viewer, 'owner', 'nor to owner'],
    [owner, 'member', 'nor demote an owner'],
    [admin, 'member', 'nor change their own role'],
  ] as const) {
    const res = await admin.api('PATCH', `/api/v1/members/${who.userId}`, { role: to });
    t.equal(res.statusCode, 403, why);
  }
  t.equal(await role(viewer), 'viewer', 'nothing changed');
  const onPage = await admin.post(`/app/members/${viewer.userId}/role`, { role: 'admin' });
  t.equal(onPage.statusCode, 403, 'refused on the page as well');
  t.match(onPage.body, /only owners give or take the admin and owner roles/);
  t.equal((await member.api('PATCH', `/api/v1/members/${viewer.userId}`, { role: 'member' })).statusCode, 403, 'a member changes no roles');
  t.equal((await admin.api('PATCH', `/api/v1/members/${viewer.userId}`, { role: 'chief' })).statusCode, 400, 'an unknown role is a 400');
  t.equal((await admin.api('PATCH', `/api/v1/members/${randomUUID()}`, { role: 'member' })).statusCode, 404, 'an unknown member is a 404');

  // The last owner cannot step down, be removed, or leave.
  const alone = await owner.api('PATCH', `/api/v1/members/${owner.userId}`, { role: 'admin' });
  t.equal(alone.statusCode, 409, 'the last owner cannot step down');
  t.equal(alone.json().error.code, 'last_owner');
  const removeSelf = await owner.api('DELETE', `/api/v1/members/${owner.userId}`, { new_owner_id: admin.userId });
  t.equal(removeSelf.statusCode, 409, 'nor be removed');
  t.equal(removeSelf.json().error.code, 'last_owner');
  const leave = await owner.post('/app/account/leave');
  t.equal(leave.statusCode, 409, 'nor leave');
  t.equal(await role(owner), 'owner', 'still the owner');

  // With a second owner, an owner may step down; only owners make owners.
  t.equal((await owner.api('PATCH', `/api/v1/members/${admin.userId}`, { role: 'owner' })).statusCode, 200, 'an owner makes an admin an owner');
  t.equal((await admin.api('PATCH', `/api/v1/members/${viewer.userId}`, { role: 'admin' })).statusCode, 403, 'their key keeps the admin role it was made with');
  const stepDown = await owner.api('PATCH', `/api/v1/members/${owner.userId}`, { role: 'admin' });
  t.equal(stepDown.statusCode, 200, 'an owner steps down while another owner remains');
  t.equal(await role(owner), 'admin');
  t.equal((await owner.api('PATCH', `/api/v1/members/${owner.userId}`, { role: 'owner' })).statusCode, 403, 'and cannot promote themself back');
  const last = await admin.post(`/app/members/${admin.userId}/role`, { role: 'member' });
  t.equal(last.statusCode, 409, 'now the other is the last owner, and cannot step down on the page either');
  t.match(last.body, /The last owner of a workspace cannot stop being an owner/);
});

t.test('removing a member hands over their deals, revokes their keys and ends their sessions', async (t) => {
  const ctx = await testApp(t);
  const { owner, admin, member, viewer } = await team(ctx);
  const ownerDeal = await openDeal(owner, { buyer_name: 'Owner Bank' });
  const memberDeals = [];
  for (const buyer of ['Mia Bank', 'Mia Insurance']) {
    const res = await member.api('POST', '/api/v1/deals', { buyer_name: buyer });
    t.equal(res.statusCode, 201, 'a member opens a deal');
    memberDeals.push(res.json().id as string);
  }
  const ownerOf = async (id: string) => (await ctx.db.selectFrom('deals').select('owner_id').where('id', '=', id).executeTakeFirstOrThrow()).owner_id;
  t.equal(await ownerOf(memberDeals[0]), member.userId, 'and owns it');
  // A sign-in link on record for the member (it refers to their row).
  await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email: 'mia@acme.test' }) });
  await ctx.drainMail();
  t.ok((await ctx.db.selectFrom('login_tokens').select('id').where('user_id', '=', member.userId).execute()).length > 0, 'a sign-in link names the member');

  for (const [body, why] of [
    [{}, 'no new owner'],
    [{ new_owner_id: viewer.userId }, 'a viewer cannot own deals'],
    [{ new_owner_id: member.userId }, 'not the member themself'],
    [{ new_owner_id: randomUUID() }, 'not a stranger'],
    [{ new_owner_id: 'nope' }, 'not a malformed id'],
  ] as const) {
    const res = await admin.api('DELETE', `/api/v1/members/${member.userId}`, body);
    t.equal(res.statusCode, 400, `refused: ${why}`);
  }
  t.equal((await admin.api('DELETE', `/api/v1/members/${owner.userId}`, { new_owner_id: admin.userId })).statusCode, 403, 'an admin may not remove an owner');
  t.equal((await member.api('DELETE', `/api/v1/members/${viewer.userId}`, { new_owner_id: member.userId })).statusCode, 403, 'a member removes nobody');
  t.equal((await admin.api('DELETE', `/api/v1/members/${admin.userId}`, { new_owner_id: owner.userId })).statusCode, 403, 'nobody removes themself');

  const removed = await admin.api('DELETE', `/api/v1/members/${member.userId}`, { new_owner_id: admin.userId });
  t.equal(removed.statusCode, 200, 'an admin removes a member');
  t.same(removed.json(), { id: member.userId, new_owner_id: admin.userId, deals_reassigned: 2, keys_revoked: 1 });
  t.equal(await ownerOf(memberDeals[0]), admin.userId, 'their deals now belong to the new owner');
  t.equal(await ownerOf(memberDeals[1]), admin.userId);
  t.equal(await ownerOf(ownerDeal), owner.userId, 'nobody else’s deal moved');
  t.notOk(await ctx.db.selectFrom('users').select('id').where('id', '=', member.userId).executeTakeFirst(), 'the membership is gone');
  t.equal((await ctx.db.selectFrom('user_sessions').select('id').where('user_id', '=', member.userId).execute()).length, 0, 'with their sessions');
  const key = await ctx.db.selectFrom('api_keys').select('revoked_at').where('created_by', '=', member.userId).executeTakeFirstOrThrow();
  t.ok(key.revoked_at, 'their key is revoked');

  const cookie = await ctx.app.inject({ method: 'GET', url: '/api/v1/members', headers: member.jar.headers() });
  t.equal(cookie.statusCode, 401, 'their next request with a key-less cookie is refused');
  const page = await member.page('/app');
  t.equal(page.statusCode, 303, 'their cookie no longer opens a page');
  t.match(page.headers.location, /^\/signin/);
  const formPost = await ctx.app.inject({ method: 'POST', url: '/app/account/leave', ...form({}, member.jar.headers()) });
  t.equal(formPost.statusCode, 401, 'nor sends a form');
  t.equal((await member.api('GET', '/api/v1/members')).statusCode, 401, 'their key is refused');
  const [entry] = await audit(ctx, owner.vendorId, 'member.removed');
  t.match(entry, { target_id: member.userId, changes: { new_owner_id: admin.userId, deals_reassigned: 2, keys_revoked: 1 } }, 'audited');

  // On the page: an owner removes the admin, handing their deals (now three) to the owner.
  const asOwnerPage = await owner.page('/app/members');
  t.match(
    asOwnerPage.body,
    new RegExp(`<select id="heir-${admin.userId}" name="new_owner_id"><option value="${owner.userId}">Olivia Owner \\(Owner\\)</option></select>`),
    'the select offers only those who may own deals',
  );
  const viaPage = await owner.post(`/app/members/${admin.userId}/remove`, { new_owner_id: owner.userId });
  t.equal(viaPage.statusCode, 303);
  t.equal(await ownerOf(memberDeals[0]), owner.userId, 'handed on again');
  t.equal((await admin.api('GET', '/api/v1/members')).statusCode, 401, 'the admin’s key is revoked');
  const refusal = await owner.post(`/app/members/${viewer.userId}/remove`, { new_owner_id: viewer.userId });
  t.equal(refusal.statusCode, 400, 'a bad new owner on the page is a 400');
  t.match(refusal.body, /whose role may own deals/);
});

t.test('a member leaves: their deals go to the first owner', async (t) => {
  const ctx = await testApp(t);
  const { owner, member } = await team(ctx);
  await openDeal(owner);
  const dealId = (await member.api('POST', '/api/v1/deals', { buyer_name: 'Mia Bank' })).json().id;
  const left = await member.post('/app/account/leave');
  t.equal(left.statusCode, 303);
  t.equal(left.headers.location, '/');
  const deal = await ctx.db.selectFrom('deals').select('owner_id').where('id', '=', dealId).executeTakeFirstOrThrow();
  t.equal(deal.owner_id, owner.userId, 'the first owner owns their deal');
  t.equal((await member.page('/app')).statusCode, 303, 'they are signed out');
  t.equal((await audit(ctx, owner.vendorId, 'member.left')).length, 1, 'audited');
});

t.test('sessions: a person lists and ends their own; an admin ends a member’s', async (t) => {
  const ctx = await testApp(t);
  const { owner, admin, member, viewer } = await team(ctx);
  // The member signs in on a second browser.
  await ctx.app.inject({ method: 'POST', url: '/signin', ...form({ email: 'mia@acme.test' }) });
  await ctx.drainMail();
  const mail = [...ctx.smtp.messages].reverse().find((m) => m.to === 'mia@acme.test' && /\/auth\/link\//.test(m.text))!;
  const laptop = cookieJar();
  const firefox = { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/128.0' };
  const linkPath = new URL(linksIn(mail.text).find((l) => l.includes('/auth/link/'))!).pathname;
  const linkPage = laptop.collect(await ctx.app.inject({ method: 'GET', url: linkPath, headers: { ...laptop.headers(), ...firefox } }));
  const linkNonce = /name="nonce" value="([^"]+)"/.exec(linkPage.body)![1];
  const signedIn = laptop.collect(await ctx.app.inject({ method: 'POST', url: linkPath, ...form({ nonce: linkNonce }, { ...laptop.headers(), ...firefox }) }));
  t.equal(signedIn.statusCode, 303);
  const laptopSid = sessionClaims(ctx.app, laptop).sid;
  const phoneSid = sessionClaims(ctx.app, member.jar).sid;

  const account = await member.page('/app/account');
  t.equal(account.statusCode, 200);
  t.match(account.body, /Firefox on macOS/, 'the other browser, named briefly');
  t.equal(account.body.match(/This session/g)?.length, 1, 'this session is marked, once');
  t.match(account.body, new RegExp(`/app/account/sessions/${laptopSid}/end`));
  t.match(account.body, new RegExp(`/app/account/sessions/${phoneSid}/end`));
  t.match(account.body, /Invitation link/);
  t.notMatch(account.body, new RegExp(sessionClaims(ctx.app, owner.jar).sid), 'nobody else’s sessions');

  const ended = await member.post(`/app/account/sessions/${laptopSid}/end`);
  t.equal(ended.statusCode, 303);
  t.equal(ended.headers.location, '/app/account?done=ended');
  t.equal((await ctx.app.inject({ method: 'GET', url: '/app', headers: laptop.headers() })).statusCode, 303, 'the ended session’s cookie is refused');
  t.equal((await member.page('/app')).statusCode, 200, 'this one goes on');
  t.notMatch((await member.page('/app/account')).body, new RegExp(laptopSid), 'the ended session is no longer listed');
  t.equal((await member.post(`/app/account/sessions/${sessionClaims(ctx.app, owner.jar).sid}/end`)).statusCode, 404, 'someone else’s session is not found');
  t.equal((await audit(ctx, owner.vendorId, 'session.ended')).length, 1, 'the ending is audited');

  const signOut = await member.post(`/app/account/sessions/${phoneSid}/end`);
  t.equal(signOut.headers.location, '/', 'ending this session signs out');
  t.equal((await member.page('/app')).statusCode, 303);

  // An admin ends a viewer's sessions; not an owner's.
  t.equal((await viewer.page('/app')).statusCode, 200);
  const byAdmin = await admin.post(`/app/members/${viewer.userId}/sessions/end`);
  t.equal(byAdmin.statusCode, 303);
  t.equal((await viewer.page('/app')).statusCode, 303, 'the viewer is signed out');
  t.equal((await admin.api('DELETE', `/api/v1/members/${owner.userId}/sessions`)).statusCode, 403, 'an admin may not end an owner’s sessions');
  t.equal((await owner.page('/app')).statusCode, 200, 'the owner is still signed in');
  t.equal((await viewer.api('DELETE', `/api/v1/members/${admin.userId}/sessions`)).statusCode, 403, 'a viewer ends nobody’s');
  t.equal((await owner.api('DELETE', `/api/v1/members/${admin.userId}/sessions`)).statusCode, 204, 'an owner ends an admin’s');
  t.equal((await admin.page('/app')).statusCode, 303, 'the admin is signed out');
  t.equal((await admin.api('GET', '/api/v1/members')).statusCode, 200, 'their key still works: keys are not sessions');
  const entries = await audit(ctx, owner.vendorId, 'session.ended');
  t.same(
    entries.map((e) => [e.target_type, e.target_id]),
    [
      ['session', laptopSid],
      ['session', phoneSid],
      ['member', viewer.userId],
      ['member', admin.userId],
    ],
    'each ending is audited, naming the session or the member',
  );
});

t.test('one person, two workspaces: switching needs a session that proved the address', async (t) => {
  const ctx = await testApp(t);
  const one = asOwner(ctx, await signUpVendor(ctx, { workspace: 'One Corp', name: 'Pat Person', email: 'pat@person.test' }), 'Pat Person');
  const twoOwner = asOwner(ctx, await signUpVendor(ctx, { workspace: 'Two Corp', name: 'Tess Two', email: 'tess@two.test' }), 'Tess Two');
  const inTwo = await inviteMember(ctx, twoOwner, { email: 'pat@person.test', name: 'Pat Person', role: 'member' });
  const stranger = asOwner(ctx, await signUpVendor(ctx, { workspace: 'Three Corp', email: 'sam@three.test' }));

  const account = await one.page('/app/account');
  t.match(account.body, /One Corp/);
  t.match(account.body, /Two Corp/, 'both workspaces are listed');
  t.notMatch(account.body, /Three Corp/, 'not others');
  const oldCookie = one.jar.get('pp_session')!;

  const switched = await one.post('/app/account/switch', { vendor_id: twoOwner.vendorId });
  t.equal(switched.statusCode, 303);
  t.equal(switched.headers.location, '/app');
  const claims = sessionClaims(ctx.app, one.jar);
  t.equal(claims.vid, twoOwner.vendorId, 'the browser is now in the other workspace');
  t.equal(claims.sub, inTwo.userId, 'as the person’s membership there');
  const home = await one.page('/app');
  t.match(home.body, /Pat Person · Two Corp/);
  const row = await ctx.db.selectFrom('user_sessions').select('method').where('id', '=', claims.sid).executeTakeFirstOrThrow();
  t.equal(row.method, 'switch');
  const old = await ctx.app.inject({ method: 'GET', url: '/app', headers: { cookie: `pp_session=${oldCookie}` } });
  t.equal(old.statusCode, 303, 'the session it left has ended');
  t.equal((await one.post('/app/account/switch', { vendor_id: one.vendorId })).statusCode, 303, 'and back');
  t.equal(sessionClaims(ctx.app, one.jar).vid, one.vendorId);

  const notMine = await one.post('/app/account/switch', { vendor_id: stranger.vendorId });
  t.equal(notMine.statusCode, 404, 'a workspace the person is not in is not found');
  t.equal((await one.post('/app/account/switch', { vendor_id: 'nope' })).statusCode, 404);

  // A session from single sign-on proves nothing about the address to another workspace. (This browser's
  // session row is marked as one that SSO started: the cookie is the real one the switch issued.)
  const { sid } = sessionClaims(ctx.app, one.jar);
  const markSession = (method: 'sso' | 'link') => ctx.db.updateTable('user_sessions').set({ method }).where('id', '=', sid).execute();
  await markSession('sso');
  t.match((await one.page('/app')).body, /Pat Person · One Corp/, 'the SSO session works in its own workspace');
  const ssoAccount = await one.page('/app/account');
  t.match(ssoAccount.body, /One Corp/);
  t.notMatch(ssoAccount.body, /Two Corp/, 'an SSO session is not shown the address’s other workspaces');
  const refused = await one.post('/app/account/switch', { vendor_id: twoOwner.vendorId });
  t.equal(refused.statusCode, 303);
  t.equal(refused.headers.location, '/signin', 'but a switch from it goes to the sign-in page');
  t.equal(sessionClaims(ctx.app, one.jar).sid, sid, 'with no new session');
  t.equal(
    (await ctx.db.selectFrom('user_sessions').select('id').where('user_id', '=', inTwo.userId).where('method', '=', 'switch').execute()).length,
    1,
    'none was made in the other workspace',
  );
  await markSession('link');
  const now = ctx.clock.now();

  // A workspace that requires SSO of the member: the switch goes to its SSO sign-in.
  await ctx.db
    .insertInto('sso_configs')
    .values({
      vendor_id: twoOwner.vendorId,
      issuer: 'https://idp.example',
      client_id: 'portal',
      client_secret: 'sealed',
      saved_by_role: 'owner',
      allowed_domains: ['person.test'],
      require_sso: true,
      updated_at: now,
    })
    .execute();
  const toSso = await one.post('/app/account/switch', { vendor_id: twoOwner.vendorId });
  t.equal(toSso.headers.location, `/auth/sso?workspace=${twoOwner.vendorId}`, 'a workspace requiring SSO is entered through it');
  t.equal(sessionClaims(ctx.app, one.jar).vid, one.vendorId, 'the browser stays where it was');

  // And an invitation into it makes the member, then sends them to SSO rather than signing them in.
  await sendInvitation(twoOwner, { email: 'newbie@person.test', name: 'Newbie', role: 'member' });
  const joined = await spendSignInLink(ctx.app, await invitationPath(ctx, 'newbie@person.test'));
  t.equal(joined.statusCode, 303);
  t.equal(joined.headers.location, `/auth/sso?workspace=${twoOwner.vendorId}`);
  t.notMatch(String(joined.headers['set-cookie'] ?? ''), /pp_session=[^;]/, 'no session was started');
  t.ok(
    (await usersOf(ctx, twoOwner.vendorId)).some((u) => u.email === 'newbie@person.test'),
    'but they are a member',
  );
});

t.test('the new forms need their CSRF token', async (t) => {
  const ctx = await testApp(t);
  const { owner, member } = await team(ctx);
  const bare = (url: string, values: Record<string, string>) => ctx.app.inject({ method: 'POST', url, ...form(values, owner.jar.headers()) });
  for (const [url, values] of [
    ['/app/members/invite', { email: 'csrf@acme.test', name: 'C', role: 'viewer' }],
    [`/app/members/${member.userId}/role`, { role: 'viewer' }],
    [`/app/members/${member.userId}/remove`, { new_owner_id: owner.userId }],
    [`/app/members/${member.userId}/sessions/end`, {}],
    ['/app/account/switch', { vendor_id: owner.vendorId }],
    [`/app/account/sessions/${sessionClaims(ctx.app, owner.jar).sid}/end`, {}],
    ['/app/account/leave', {}],
  ] as const) {
    t.equal((await bare(url, values)).statusCode, 403, `${url} without a token is refused`);
  }
  t.equal((await usersOf(ctx, owner.vendorId)).length, 4, 'nobody was removed');
  t.equal((await member.page('/app')).statusCode, 200, 'the member is still signed in');
  t.equal((await ctx.db.selectFrom('member_invitations').select('id').where('email', '=', 'csrf@acme.test').execute()).length, 0);
});

t.test('an invitation is only as good as its sender is now; an admin cannot replace an owner’s invitation', async (t) => {
  const ctx = await testApp(t);
  const { owner, admin } = await team(ctx);
  const joins = async (email: string) => (await spendSignInLink(ctx.app, await invitationPath(ctx, email))).statusCode;

  // A departing admin invites a private address, then is removed: the invitation dies with their membership.
  await sendInvitation(admin, { email: 'back@door.test', name: 'Back Door', role: 'member' });
  const path = await invitationPath(ctx, 'back@door.test');
  const removed = await owner.api('DELETE', `/api/v1/members/${admin.userId}`, { new_owner_id: owner.userId });
  t.equal(removed.statusCode, 200);
  t.equal(removed.json().keys_revoked >= 1, true);
  t.equal((await ctx.app.inject({ method: 'GET', url: path })).statusCode, 404, 'the removed admin’s invitation no longer works');
  await spendSignInLink(ctx.app, path);
  t.notOk(await ctx.db.selectFrom('users').select('id').where('email', '=', 'back@door.test').executeTakeFirst(), 'and nobody joined');

  // An owner who invites an admin, then is demoted to member: the invitation to be admin no longer works.
  const second = await inviteMember(ctx, owner, { email: 'sol@acme.test', name: 'Sol Second', role: 'owner' });
  await sendInvitation(second, { email: 'newadmin@acme.test', name: 'New Admin', role: 'admin' });
  t.equal((await owner.api('PATCH', `/api/v1/members/${second.userId}`, { role: 'member' })).statusCode, 200);
  t.equal(await joins('newadmin@acme.test'), 404, 'an invitation its sender may no longer give is dead');

  // An owner invites someone to be admin; an admin cannot quietly replace that invitation with another.
  const ada = await inviteMember(ctx, owner, { email: 'ada@acme.test', name: 'Ada Admin', role: 'admin' });
  await sendInvitation(owner, { email: 'boss@acme.test', name: 'Boss', role: 'admin' });
  const replaced = await ada.api('POST', '/api/v1/members', { email: 'boss@acme.test', name: 'Boss', role: 'viewer' });
  t.equal(replaced.statusCode, 403, 'an admin cannot replace an invitation to be admin');
  const pending = await ctx.db.selectFrom('member_invitations').select(['role', 'revoked_at']).where('email', '=', 'boss@acme.test').execute();
  t.same(pending, [{ role: 'admin', revoked_at: null }], 'the owner’s invitation stands, alone');
  t.equal(await joins('boss@acme.test'), 303, 'and works');
});
