// Template data for the settings page: the workspace's own settings, its API
// keys, and the notice or form errors of the request that shows it. No I/O here.
import { atLeast, MEMBER_ROLE_LABELS, MEMBER_ROLES, type MemberRole } from '../rules.js';
import { SUGGESTION_MIN_DEALS, type WorkspaceSettings } from './service.js';

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  role: MemberRole;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface SettingsNotices {
  /** A key was just revoked. */
  revoked?: boolean;
  /** Field errors of a refused "create key" form. */
  errors?: Record<string, string>;
  /** A key just created: shown once, on this response only. */
  newKey?: string;
  newKeyName?: string;
  /** The workspace settings were just saved. */
  workspaceSaved?: boolean;
  /** Field errors of a refused workspace form, and what it sent (shown back to correct). */
  workspaceErrors?: Record<string, string>;
  workspaceValues?: { web_domain: string };
  /** The suggestion threshold was just saved. */
  suggestionsSaved?: boolean;
  /** Field errors of a refused threshold form, and what it sent. */
  suggestionsErrors?: Record<string, string>;
  suggestionsValues?: { suggestion_min_deals: string };
}

export function settingsPage(keys: ApiKeyRow[], notices: SettingsNotices = {}, workspace: WorkspaceSettings | null = null, role: MemberRole = 'viewer') {
  return {
    title: 'Settings',
    nav: 'settings',
    // A key can be given any role up to its creator's own.
    keyRoles: MEMBER_ROLES.filter((r) => atLeast(role, r)).map((r) => ({ value: r, label: MEMBER_ROLE_LABELS[r], selected: r === 'member' })),
    keys: keys.map((k) => ({ ...k, created: k.created_at.toISOString().slice(0, 10) })),
    ...notices,
    workspace: {
      webDomain: workspace?.webDomain ?? null,
      // A refused value is shown back as typed; otherwise the saved one.
      value: notices.workspaceValues?.web_domain ?? workspace?.webDomain ?? '',
      errors: notices.workspaceErrors ?? {},
    },
    suggestions: {
      minDeals: workspace?.suggestionMinDeals ?? SUGGESTION_MIN_DEALS.default,
      value: notices.suggestionsValues?.suggestion_min_deals ?? String(workspace?.suggestionMinDeals ?? SUGGESTION_MIN_DEALS.default),
      errors: notices.suggestionsErrors ?? {},
    },
  };
}
