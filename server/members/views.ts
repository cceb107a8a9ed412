// Template data for the Team page, the account page and the invitation's
// confirmation page. Which controls a person sees follows the same rules the
// routes enforce (rules.ts mayManageRole); hiding them is only a courtesy.
// No I/O here.
import type { SessionMethod } from '../db/schema.js';
import { capitalise } from '../lib/text.js';
import { atLeast, mayManageRole, MEMBER_ROLE_LABELS, MEMBER_ROLES, type MemberRole } from '../rules.js';
import { assignableRoles, INVITATIONS_PER_WINDOW, MAX_MEMBERS } from './service.js';

/** "2026-03-02 09:00 UTC" */
export const when = (d: Date): string => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const roleName = (role: MemberRole): string => capitalise(role);

/** The browser and system a user agent names, briefly ("Firefox on macOS"); the raw text, cut, when it names neither. */
export function shortUserAgent(ua: string | null): string {
  if (!ua) return 'Unknown browser';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /OPR\//.test(ua)
      ? 'Opera'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /Chrome\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : /curl\//i.test(ua)
              ? 'curl'
              : undefined;
  const system = /iPhone|iPad/.test(ua)
    ? 'iOS'
    : /Android/.test(ua)
      ? 'Android'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : undefined;
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? (ua.length > 40 ? `${ua.slice(0, 40)}…` : ua);
}

const METHOD_LABELS: Record<SessionMethod, string> = {
  link: 'Emailed sign-in link',
  invite: 'Invitation link',
  sso: 'Single sign-on',
  switch: 'Switched from another workspace',
};

// ---------------------------------------------------------------------------
// The Team page

export interface TeamMemberRow {
  id: string;
  name: string;
  email: string;
  role: MemberRole;
  last_sign_in_at: Date | null;
}

export interface TeamInvitationRow {
  id: string;
  email: string;
  name: string;
  role: MemberRole;
  expires_at: Date;
}

/** Which form a notice belongs to, so it shows next to it. */
export interface MembersNotices {
  done?: string;
  /** A refused action's message, and the member or form it was about ("invite", or a member's id). */
  problem?: { about: string; message: string };
  inviteErrors?: Record<string, string>;
  inviteValues?: { email?: string; name?: string; role?: string };
}

const DONE: Record<string, string> = {
  invited: 'Invitation sent. The link in it works once, for seven days.',
  revoked: 'Invitation revoked. Its link no longer works.',
  role: 'Role changed. It applies to their next request.',
  removed: 'Member removed. Their deals were handed over, their API keys revoked and their sessions ended.',
  sessions: 'Their sessions were ended: they must sign in again.',
};

export function membersPage(
  viewer: { userId: string | null; role: MemberRole },
  team: { members: TeamMemberRow[]; invitations: TeamInvitationRow[] },
  notices: MembersNotices = {},
) {
  const admin = atLeast(viewer.role, 'admin');
  const giveable = assignableRoles(viewer.role);
  const mayOwnDeals = team.members.filter((m) => atLeast(m.role, 'member'));
  const members = team.members.map((m) => {
    const you = m.id === viewer.userId;
    const manage = admin && !you && mayManageRole(viewer.role, m.role);
    return {
      id: m.id,
      name: m.name,
      email: m.email,
      role: roleName(m.role),
      lastSignIn: m.last_sign_in_at ? when(m.last_sign_in_at) : 'Never',
      you,
      manage,
      roleOptions: giveable.map((r) => ({ value: r, label: roleName(r), selected: r === m.role })),
      heirs: mayOwnDeals.filter((h) => h.id !== m.id).map((h) => ({ value: h.id, label: `${h.name} (${roleName(h.role)})` })),
      problem: notices.problem?.about === m.id ? notices.problem.message : undefined,
    };
  });
  const chosenRole = notices.inviteValues?.role ?? 'member';
  return {
    title: 'Team',
    nav: 'members',
    done: notices.done ? DONE[notices.done] : undefined,
    members,
    invitations: team.invitations.map((i) => ({
      id: i.id,
      email: i.email,
      name: i.name,
      role: roleName(i.role),
      expires: when(i.expires_at),
      revoke: admin && mayManageRole(viewer.role, i.role),
    })),
    invite: admin
      ? {
          roles: giveable.map((r) => ({ value: r, label: MEMBER_ROLE_LABELS[r], selected: r === chosenRole })),
          values: notices.inviteValues ?? {},
          errors: notices.inviteErrors ?? {},
          problem: notices.problem?.about === 'invite' ? notices.problem.message : undefined,
          limits: `A workspace has at most ${MAX_MEMBERS} members and sends at most ${INVITATIONS_PER_WINDOW} invitations a day.`,
        }
      : undefined,
    problem: notices.problem && notices.problem.about !== 'invite' && !members.some((m) => m.id === notices.problem?.about) ? notices.problem.message : undefined,
    roleLegend: [...MEMBER_ROLES].reverse().map((r) => MEMBER_ROLE_LABELS[r]),
  };
}

// ---------------------------------------------------------------------------
// The account page

export interface AccountSessionRow {
  id: string;
  method: SessionMethod;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  last_seen_at: Date;
}

export interface AccountNotices {
  done?: string;
}

const ACCOUNT_DONE: Record<string, string> = {
  ended: 'That session was ended: the browser that used it must sign in again.',
};

export function accountPage(
  viewer: { name: string; email: string; role: MemberRole; vendorId: string; vendorName: string; sessionId?: string },
  workspaces: { vendor_id: string; workspace: string; role: MemberRole }[],
  sessions: AccountSessionRow[],
  notices: AccountNotices = {},
) {
  return {
    title: 'Your account',
    nav: 'account',
    name: viewer.name,
    email: viewer.email,
    workspace: viewer.vendorName,
    role: MEMBER_ROLE_LABELS[viewer.role],
    done: notices.done ? ACCOUNT_DONE[notices.done] : undefined,
    workspaces: workspaces.map((w) => ({ id: w.vendor_id, name: w.workspace, role: roleName(w.role), current: w.vendor_id === viewer.vendorId })),
    several: workspaces.length > 1,
    sessions: sessions.map((s) => ({
      id: s.id,
      browser: shortUserAgent(s.user_agent),
      ip: s.ip ?? 'Unknown',
      how: METHOD_LABELS[s.method],
      started: when(s.created_at),
      lastSeen: when(s.last_seen_at),
      current: s.id === viewer.sessionId,
    })),
    owner: viewer.role === 'owner',
  };
}

// ---------------------------------------------------------------------------
// The invitation's confirmation page

export function invitePage(invitation: { email: string; name: string; role: MemberRole; workspace: string; inviter_name: string | null }, nonce: string) {
  return {
    title: `Join ${invitation.workspace}`,
    workspace: invitation.workspace,
    inviter: invitation.inviter_name,
    name: invitation.name,
    email: invitation.email,
    role: MEMBER_ROLE_LABELS[invitation.role],
    nonce,
  };
}
