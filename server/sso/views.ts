// What single sign-on looks like to people: the settings page and the
// sign-in page's choices. Pure functions of the data given; no I/O here.
import type { SsoSettings } from './service.js';

/** What the settings form sent, as text, to show back when it is refused. */
export interface SsoFormValues {
  issuer: string;
  client_id: string;
  allowed_domains: string;
  require_sso: boolean;
}

export interface SsoNotices {
  done?: string;
  errors?: Record<string, string>;
  values?: SsoFormValues;
  message?: string;
}

const DONE: Record<string, string> = {
  saved: 'Saved. The identity provider answered, and its settings are in use from now on.',
  removed: 'Single sign-on was removed. Members sign in by emailed link again.',
};

const FIELD_LABELS: Record<string, string> = {
  issuer: 'Issuer URL',
  client_id: 'Client ID',
  client_secret: 'Client secret',
  allowed_domains: 'Allowed email domains',
  require_sso: 'Require single sign-on',
};

export function ssoSettingsPage(settings: SsoSettings | undefined, urls: { redirectUri: string; signinUrl: string }, notices: SsoNotices = {}) {
  const values: SsoFormValues = notices.values ?? {
    issuer: settings?.issuer ?? '',
    client_id: settings?.client_id ?? '',
    allowed_domains: settings?.allowed_domains.join(', ') ?? '',
    require_sso: settings?.require_sso ?? false,
  };
  const errors = notices.errors ?? {};
  return {
    title: 'Single sign-on',
    configured: Boolean(settings),
    settings,
    redirectUri: urls.redirectUri,
    signinUrl: urls.signinUrl,
    values,
    errors,
    secretSet: Boolean(settings),
    done: notices.done ? DONE[notices.done] : undefined,
    message: notices.message,
    errorSummary: Object.entries(errors).map(([field, text]) => ({ href: `#in-${field}`, text: `${FIELD_LABELS[field] ?? field}: ${text}` })),
  };
}

/** The sign-in page after an address was sent: the emailed link, and the workspaces that sign its domain in through SSO. */
export function ssoChoicePage(address: string, choices: { name: string; url: string }[]) {
  return { title: 'Check your email', email: address, choices, several: choices.length > 1 };
}
