// The role matrix: every vendor route (page and API, from the app's own route
// table) called by each of the four roles. The least role each route needs is
// written down here, independently of the routes' own declarations, so a
// route that drifts fails this test; a route this table does not know fails it
// too, until it is taught.
//   - A role below the route's: 403 `forbidden`, nothing of the workspace in the
//     answer, and nothing changed in the database. The request is one that
//     would be accepted from a role that may make it, so only the role refuses it.
//   - A role that may: anything but 403 (and never a 5xx). The request is made
//     harmless (an invalid body, or an id that does not exist) so the walk can
//     go on; the allowed roles' real work is in each feature's own tests.
//   - "own-deal" routes: a member may change a deal they own and no other; the
//     member is refused on the owner's deal and allowed on her own.
import t from 'tap';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { testApp } from './helpers/app.js';
import { asOwner, inviteMember, sendInvitation, type TeamMember } from './helpers/team.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';
import type { FormValue } from './helpers/http.js';

type Need = 'viewer' | 'member' | 'own-deal' | 'admin';
const ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
type Role = (typeof ROLES)[number];
const RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

/**
 * The least role of every vendor route that is not open to every role. Every
 * other GET is read by viewers; every other route that changes something must
 * be listed (the walk fails on one that is not).
 */
const NEEDS: Record<string, Need> = {
  // Workspace settings, API keys, webhooks, SSO and the audit trail: admins (reads included).
  'GET /app/settings': 'admin',
  'POST /app/settings/workspace': 'admin',
  'POST /app/settings/suggestions': 'admin',
  'POST /app/settings/api-keys': 'admin',
  'POST /app/settings/api-keys/:id/revoke': 'admin',
  'GET /app/settings/webhooks': 'admin',
  'POST /app/settings/webhooks': 'admin',
  'POST /app/settings/webhooks/:id/rotate': 'admin',
  'POST /app/settings/webhooks/:id/test': 'admin',
  'POST /app/settings/webhooks/:id/enable': 'admin',
  'POST /app/settings/webhooks/:id/disable': 'admin',
  'POST /app/settings/webhooks/:id/delete': 'admin',
  'POST /app/settings/webhooks/:id/deliveries/:delivery/resend': 'admin',
  'GET /app/settings/sso': 'admin',
  'POST /app/settings/sso': 'admin',
  'POST /app/settings/sso/remove': 'admin',
  'GET /app/audit': 'admin',
  'GET /app/audit.csv': 'admin',
  'POST /api/v1/webhooks': 'admin',
  'GET /api/v1/webhooks': 'admin',
  'GET /api/v1/webhooks/:id': 'admin',
  'PATCH /api/v1/webhooks/:id': 'admin',
  'DELETE /api/v1/webhooks/:id': 'admin',
  'POST /api/v1/webhooks/:id/rotate': 'admin',
  'POST /api/v1/webhooks/:id/test': 'admin',
  'GET /api/v1/webhooks/:id/deliveries': 'admin',
  'POST /api/v1/webhooks/:id/deliveries/:delivery_id/resend': 'admin',
  'GET /api/v1/sso': 'admin',
  'PUT /api/v1/sso': 'admin',
  'DELETE /api/v1/sso': 'admin',
  'GET /api/v1/audit': 'admin',
  // Members: everyone reads the team; admins change it.
  'POST /app/members/invite': 'admin',
  'POST /app/members/invitations/:id/revoke': 'admin',
  'POST /app/members/:id/role': 'admin',
  'POST /app/members/:id/remove': 'admin',
  'POST /app/members/:id/sessions/end': 'admin',
  'POST /api/v1/members': 'admin',
  'PATCH /api/v1/members/:id': 'admin',
  'DELETE /api/v1/members/:id': 'admin',
  'DELETE /api/v1/members/:id/sessions': 'admin',
  'DELETE /api/v1/invitations/:id': 'admin',
  // One's own account: every role.
  'POST /app/account/sessions/:session/end': 'viewer',
  'POST /app/account/switch': 'viewer',
  'POST /app/account/leave': 'viewer',
  // The posture profile: admins change and publish it.
  'POST /app/profile': 'admin',
  'POST /app/profile/publish': 'admin',
  'POST /app/profile/suggestions/apply': 'admin',
  'POST /app/profile/suggestions/dismiss': 'admin',
  'PUT /api/v1/profile': 'admin',
  'POST /api/v1/profile/publish': 'admin',
  // Deals: members open them and change the ones they own; admins and owners change any.
  'GET /app/deals/new': 'member',
  'POST /app/deals': 'member',
  'POST /api/v1/deals': 'member',
  'POST /app/deals/:id/owner': 'own-deal',
  'POST /app/deals/:id/stakeholders': 'own-deal',
  'POST /app/deals/:id/stakeholders/:sid/invite': 'own-deal',
  'GET /app/deals/:id/stakeholders/:sid/revoke': 'own-deal',
  'POST /app/deals/:id/stakeholders/:sid/revoke': 'own-deal',
  'POST /app/deals/:id/stakeholders/:sid/extend': 'own-deal',
  'POST /app/deals/:id/stakeholders/:sid/confirm': 'own-deal',
  'POST /app/deals/:id/stakeholders/:sid/reminders': 'own-deal',
  'POST /app/deals/:id/settings': 'own-deal',
  'POST /app/deals/:id/segment': 'own-deal',
  'POST /app/deals/:id/stage': 'own-deal',
  'GET /app/deals/:id/claims/:concern': 'own-deal',
  'POST /app/deals/:id/claims/:concern': 'own-deal',
  'POST /app/deals/:id/stakeholders/csv/preview': 'own-deal',
  'POST /app/deals/:id/stakeholders/csv': 'own-deal',
  'PATCH /api/v1/deals/:id': 'own-deal',
  'POST /api/v1/deals/:id/stage': 'own-deal',
  'PUT /api/v1/deals/:id/claims/:concern': 'own-deal',
  'POST /api/v1/deals/:id/stakeholders': 'own-deal',
  'POST /api/v1/deals/:id/stakeholders/batch': 'own-deal',
  'PATCH /api/v1/deals/:id/stakeholders/:sid': 'own-deal',
  'POST /api/v1/deals/:id/stakeholders/:sid/resend': 'own-deal',
  'POST /api/v1/deals/:id/stakeholders/:sid/revoke': 'own-deal',
  'POST /api/v1/deals/:id/stakeholders/:sid/extend': 'own-deal',
  'POST /api/v1/deals/:id/stakeholders/:sid/confirm': 'own-deal',
};

const MISSING = '00000000-0000-4000-8000-00000000abcd';

t.test('every route × every role: allowed, or 403 with nothing leaked and nothing changed', async (t) => {
  const ctx = await testApp(t);
  const { app, db, clock } = ctx;
  const owner = asOwner(ctx, await signUpVendor(ctx, { workspace: 'Acme AI', email: 'olga@acme.test', name: 'Olga Owner' }), 'Olga Owner');
  const team: Record<Role, TeamMember> = {
    owner,
    admin: await inviteMember(ctx, owner, { email: 'ada@acme.test', name: 'Ada Admin', role: 'admin' }),
    member: await inviteMember(ctx, owner, { email: 'mia@acme.test', name: 'Mia Member', role: 'member' }),
    viewer: await inviteMember(ctx, owner, { email: 'vic@acme.test', name: 'Vic Viewer', role: 'viewer' }),
  };
  // Someone to manage in the member routes, and an invitation still pending.
  const target = await inviteMember(ctx, owner, { email: 'tom@acme.test', name: 'Tom Target', role: 'member' });
  await sendInvitation(owner, { email: 'pat@acme.test', name: 'Pat Pending', role: 'viewer' });
  const invitation = await db.selectFrom('member_invitations').select('id').where('email', '=', 'pat@acme.test').executeTakeFirstOrThrow();

  const ownersDeal = await openDeal(owner, { buyer_name: 'Olgabank Secret' });
  const carla = await inviteStakeholder(ctx, owner, ownersDeal, { name: 'Carla Hidden', email: 'carla@olgabank.example', role: 'ciso' });
  const membersDeal = (await team.member.api('POST', '/api/v1/deals', { buyer_name: 'Miabank Secret' })).json().id as string;
  const maria = await inviteStakeholder(ctx, team.member, membersDeal, { name: 'Maria Hidden', email: 'maria@miabank.example', role: 'ciso' });
  const hook = (await owner.api('POST', '/api/v1/webhooks', { url: 'https://93.184.216.34/secret-hook', events: ['deal.stage_changed'] })).json();
  const delivery = (await owner.api('POST', `/api/v1/webhooks/${hook.id}/test`)).json().delivery_id as string;
  const pageHook = (await owner.api('POST', '/api/v1/webhooks', { url: 'https://93.184.216.34/secret-page-hook', events: ['deal.stage_changed'] })).json();
  const pageDelivery = (await owner.api('POST', `/api/v1/webhooks/${pageHook.id}/test`)).json().delivery_id as string;
  const key = await db.selectFrom('api_keys').select('id').where('name', '=', 'tests').where('created_by', '=', owner.userId).executeTakeFirstOrThrow();
  const LEAKS = /Olgabank|Miabank|Carla Hidden|Maria Hidden|olgabank\.example|secret-hook|secret-page-hook|whsec_/;

  /** A fingerprint of everything a request could change. */
  const TABLES = [
    'vendors',
    'users',
    'api_keys',
    'profiles',
    'profile_versions',
    'deals',
    'deal_claims',
    'stakeholders',
    'stakeholder_links',
    'webhook_endpoints',
    'member_invitations',
    'sso_configs',
    'suggestion_dismissals',
  ];
  const fingerprint = async () => {
    const parts: string[] = [];
    for (const table of TABLES) {
      // A key's last use is recorded as it is used (refused or not): that is not a change the request made.
      const source = table === 'api_keys' ? sql`(select id, name, role, created_by, revoked_at from api_keys)` : sql.table(table);
      const { rows } = await sql<{ h: string | null }>`select md5(string_agg(x::text, '|' order by x::text)) as h from ${source} x`.execute(db);
      parts.push(`${table}:${rows[0].h}`);
    }
    const counts = await sql<{ n: string }>`select (select count(*) from signals) || '/' || (select count(*) from outbox) || '/' || (select count(*) from audit_log)
      || '/' || (select count(*) from webhook_deliveries) || '/' || (select count(*) from user_sessions where ended_at is null) as n`.execute(db);
    return `${parts.join(',')};${counts.rows[0].n}`;
  };

  // The ids a route's parameters take: the real ones (for a refused request), or ones that do not exist (for a harmless one).
  const dealOf = (role: Role, allowed: boolean) => (role === 'member' && allowed ? membersDeal : ownersDeal);
  const ids = (url: string, role: Role, allowed: boolean): Record<string, string> => {
    const real = !allowed;
    const deal = dealOf(role, allowed);
    const isPage = url.startsWith('/app/');
    return {
      id: url.includes('/deals/')
        ? deal
        : url.includes('/webhooks/')
          ? real
            ? isPage
              ? pageHook.id
              : hook.id
            : MISSING
          : url.includes('/api-keys/')
            ? real
              ? key.id
              : MISSING
            : url.includes('/invitations/')
              ? real
                ? invitation.id
                : MISSING
              : real
                ? target.userId
                : MISSING,
      sid: real ? (deal === ownersDeal ? carla.id : maria.id) : MISSING,
      concern: 'data_residency',
      delivery: real ? pageDelivery : MISSING,
      delivery_id: real ? delivery : MISSING,
      session: MISSING,
    };
  };

  /** Bodies a role that may make the request would have accepted. */
  const valid: Record<string, Record<string, unknown>> = {
    'POST /app/settings/workspace': { web_domain: 'acme.example' },
    'POST /app/settings/suggestions': { suggestion_min_deals: '4' },
    'POST /app/settings/api-keys': { name: 'refused', role: 'viewer' },
    'POST /app/settings/webhooks': { url: 'https://93.184.216.34/other', events: 'deal.stage_changed' },
    'POST /app/settings/sso': { issuer: 'https://idp.example', client_id: 'portal', client_secret: 's3cret', allowed_domains: 'acme.test' },
    'POST /app/members/invite': { email: 'new@acme.test', name: 'New Person', role: 'viewer' },
    'POST /app/members/:id/role': { role: 'viewer' },
    'POST /app/members/:id/remove': { new_owner_id: owner.userId },
    'POST /app/deals': { buyer_name: 'Refused Bank' },
    'POST /app/deals/:id/owner': { owner_id: owner.userId },
    'POST /app/deals/:id/stakeholders': { name: 'Mallory', email: 'm@evil.example', role: 'ciso', invite: 'yes' },
    'POST /app/deals/:id/stage': { stage: 'evaluation' },
    'POST /app/deals/:id/settings': { reminder_days: '3, 7', reminders_paused: 'yes' },
    'POST /app/deals/:id/segment': { industry: 'insurance', region: 'EU_EEA' },
    'POST /app/deals/:id/stakeholders/:sid/reminders': { paused: 'yes' },
    'POST /app/deals/:id/claims/:concern': { 'v.inference_scope': 'global_routing' },
    'POST /app/deals/:id/stakeholders/csv/preview': { csv: 'name,email,role\nMallory,m4@evil.example,ciso' },
    'POST /app/deals/:id/stakeholders/csv': { csv: 'name,email,role\nMallory,m5@evil.example,ciso' },
    'PUT /api/v1/profile': { concerns: { data_residency: { narrative: 'Refused.' } } },
    'POST /api/v1/deals': { buyer_name: 'Refused Bank' },
    'PATCH /api/v1/deals/:id': { reminders_paused: true },
    'POST /api/v1/deals/:id/stage': { stage: 'evaluation' },
    'PUT /api/v1/deals/:id/claims/:concern': { inference_scope: 'global_routing' },
    'POST /api/v1/deals/:id/stakeholders': { name: 'Mallory', email: 'm2@evil.example', role: 'ciso' },
    'POST /api/v1/deals/:id/stakeholders/batch': { stakeholders: [{ name: 'Mallory', email: 'm3@evil.example', role: 'ciso' }] },
    'PATCH /api/v1/deals/:id/stakeholders/:sid': { reminders_paused: true },
    'POST /api/v1/webhooks': { url: 'https://93.184.216.34/other', events: ['deal.stage_changed'] },
    'PATCH /api/v1/webhooks/:id': { description: 'changed' },
    'PUT /api/v1/sso': { issuer: 'https://idp.example', client_id: 'portal', client_secret: 's3cret', allowed_domains: ['acme.test'], require_sso: false },
    'POST /api/v1/members': { email: 'new@acme.test', name: 'New Person', role: 'viewer' },
    'PATCH /api/v1/members/:id': { role: 'viewer' },
    'DELETE /api/v1/members/:id': { new_owner_id: owner.userId },
  };
  /** Bodies that fail validation after the role check, so an allowed request changes nothing. */
  const harmless: Record<string, Record<string, unknown>> = {
    'POST /app/settings/workspace': { web_domain: 'https://not a domain' },
    'POST /app/settings/suggestions': { suggestion_min_deals: 'many' },
    'POST /app/settings/api-keys': { name: '' },
    'POST /app/settings/webhooks': { url: 'not a url' },
    'POST /app/settings/sso': { issuer: 'not a url' },
    'POST /app/members/invite': { email: 'not an address', name: 'X', role: 'viewer' },
    'POST /app/account/switch': { vendor_id: MISSING },
    'POST /app/profile': { 'data_residency.retention_days': 'forever' },
    'POST /app/profile/suggestions/apply': { key: 'nothing' },
    'POST /app/profile/suggestions/dismiss': { key: 'nothing' },
    'POST /app/deals': { buyer_name: '' },
    'POST /app/deals/:id/owner': { owner_id: 'nobody' },
    'POST /app/deals/:id/stakeholders': { name: '', email: 'x', role: 'ciso' },
    'POST /app/deals/:id/stage': { stage: 'nowhere' },
    'POST /app/deals/:id/settings': { reminder_days: 'often' },
    'POST /app/deals/:id/segment': { industry: 'nothing' },
    'POST /app/deals/:id/claims/:concern': { 'v.inference_scope': 'nowhere' },
    'POST /app/deals/:id/stakeholders/csv/preview': { csv: '' },
    'POST /app/deals/:id/stakeholders/csv': { csv: '' },
    'PUT /api/v1/profile': { concerns: { no_such_concern: {} } },
    'POST /api/v1/deals': { buyer_name: '' },
    'PATCH /api/v1/deals/:id': { reminder_days: 'often' },
    'POST /api/v1/deals/:id/stage': { stage: 'nowhere' },
    'PUT /api/v1/deals/:id/claims/:concern': { inference_scope: 42 },
    'POST /api/v1/deals/:id/stakeholders': { name: '' },
    'POST /api/v1/deals/:id/stakeholders/batch': { stakeholders: [] },
    'PATCH /api/v1/deals/:id/stakeholders/:sid': { reminders_paused: true },
    'POST /api/v1/webhooks': { url: 'not a url', events: [] },
    'PATCH /api/v1/webhooks/:id': { description: 'changed' },
    'PUT /api/v1/sso': { issuer: 'not a url' },
    'POST /api/v1/members': { email: 'not an address', name: 'X', role: 'viewer' },
    'PATCH /api/v1/members/:id': { role: 'viewer' },
    'DELETE /api/v1/members/:id': { new_owner_id: owner.userId },
  };
  // Publishing and the SSO removal have no body to get wrong: allowed, they run (harmlessly: nothing depends on them here).

  const call = (who: TeamMember, method: string, url: string, body: Record<string, unknown> | undefined): Promise<LightMyRequestResponse> => {
    if (url.startsWith('/api/')) return who.api(method as 'GET', url, method === 'GET' ? undefined : (body ?? (method === 'DELETE' ? undefined : {})));
    return method === 'GET' ? who.page(url) : who.post(url, (body ?? {}) as Record<string, FormValue>);
  };

  const routes = app.routeTable
    .filter((r) => (r.url.startsWith('/app') || r.url.startsWith('/api/v1/')) && r.method !== 'HEAD' && r.url !== '/api/v1/openapi.json')
    // Leaving the workspace comes last: once a role has left, it makes no more calls.
    .sort((a, b) => Number(a.url === '/app/account/leave') - Number(b.url === '/app/account/leave'));
  t.ok(routes.length >= 100, `${routes.length} vendor routes to walk`);
  const counts = { refused: 0, allowed: 0 };
  for (const r of routes) {
    const route = `${r.method} ${r.url}`;
    const need: Need | undefined = NEEDS[route] ?? (r.method === 'GET' ? 'viewer' : undefined);
    if (!need) {
      t.fail(`${route} is not in the role matrix: teach NEEDS its least role`);
      continue;
    }
    for (const role of ROLES) {
      const who = team[role];
      // An own-deal route is the member's on her own deal; on the owner's deal it is refused.
      const least: Role = need === 'own-deal' ? 'member' : need;
      const mayAtAll = RANK[role] >= RANK[least];
      // The member is walked twice on own-deal routes: refused on the owner's deal, allowed on her own.
      const cases = need === 'own-deal' && role === 'member' ? [false, true] : [mayAtAll];
      for (const allowed of cases) {
        const params = ids(r.url, role, allowed);
        const url = r.url.replace(/:([a-z_]+)/g, (_m, p: string) => {
          if (!(p in params)) throw new Error(`${route}: the walk knows no value for :${p}`);
          return params[p];
        });
        // Invitations are rate-limited per minute: a fresh window for each.
        if (/invite$|\/members$/.test(r.url) && r.method === 'POST') clock.advance(61_000);
        if (!allowed) {
          const before = await fingerprint();
          const res = await call(who, r.method, url, valid[route]);
          t.equal(res.statusCode, 403, `${route} refuses a ${role}${need === 'own-deal' ? ' (not her deal)' : ''}`);
          if (url.startsWith('/api/')) t.equal(res.json().error?.code, 'forbidden', `${route}: a ${role} is told why`);
          t.notMatch(res.body, LEAKS, `${route} leaks nothing to a ${role}`);
          t.equal(await fingerprint(), before, `${route}: a refused ${role} changed nothing`);
          counts.refused++;
        } else {
          const res = await call(who, r.method, url, harmless[route]);
          t.ok(res.statusCode !== 403 && res.statusCode < 500, `${route} lets a ${role} through (${res.statusCode})`);
          counts.allowed++;
        }
      }
    }
  }
  t.ok(counts.refused > 140 && counts.allowed > 250, `${counts.refused} refusals and ${counts.allowed} allowed calls`);
});
