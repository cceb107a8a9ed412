// The sign-up and sign-in mails. Each mints its link's secret at send time, so
// a raw token exists only in memory and in the mail itself.
import { transaction } from '../db/index.js';
import { MINUTE } from '../lib/clock.js';
import { oneLine } from '../lib/text.js';
import type { Composer } from '../mail/compose.js';
import { LOGIN_TTL_MS, mintLoginToken, mintSigninLinks } from './service.js';

const MINUTES = LOGIN_TTL_MS / MINUTE;

/** Confirms a new workspace; cancelled when the link was spent before the mail went out. */
export const signupMail: Composer = async (row, { db, clock, views, config }) => {
  const minted = await mintLoginToken(db, clock, String(row.params.loginId));
  if (!minted) return null;
  // Anyone can ask for a sign-up mail to any address, so it carries no text they chose (not even the
  // workspace name, shown on the confirmation page instead): our mail must not relay a stranger's words.
  const body = views.email('signup', { url: `${config.PUBLIC_URL}/auth/link/${minted.token}`, minutes: MINUTES });
  return { to: row.recipient, subject: 'Confirm your new Posture Portal workspace', ...body };
};

/** One link per workspace the address belongs to; nothing is sent to an unknown address. */
export const signinMail: Composer = async (row, { db, clock, views, config }) => {
  // The composer plays the route handler's part for mail: it owns the transaction.
  const links = await transaction(db, (trx) => mintSigninLinks(trx, clock, row.recipient));
  if (links.length === 0) return null;
  // A workspace that requires single sign-on gets its provider's start address instead of a link.
  const workspaces = links.map((l) => ({ name: l.workspace, sso: !l.token, url: l.token ? `${config.PUBLIC_URL}/auth/link/${l.token}` : `${config.PUBLIC_URL}${l.ssoPath}` }));
  const body = views.email('signin', { workspaces, single: workspaces.length === 1, minutes: MINUTES });
  const subject = workspaces.length === 1 ? `Your sign-in link for ${workspaces[0].name}` : 'Your Posture Portal sign-in links';
  return { to: row.recipient, subject: oneLine(subject), ...body };
};
