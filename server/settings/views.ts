// Template data for the settings page: the workspace's API keys, and the
// notice or form errors of the request that shows it. No I/O here.

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
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
}

export function settingsPage(keys: ApiKeyRow[], notices: SettingsNotices = {}) {
  return {
    title: 'API keys',
    nav: 'settings',
    keys: keys.map((k) => ({ ...k, created: k.created_at.toISOString().slice(0, 10) })),
    ...notices,
  };
}
