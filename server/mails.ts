// Every kind of mail by its outbox template name. Each composer lives with
// the feature that owns its data; its templates are
// templates/emails/<name>.{html,txt}.hbs.
import type { Composer } from './mail/compose.js';
import { signinMail, signupMail } from './auth/mails.js';
import { inviteMail, linkRequestMail } from './stakeholders/mails.js';
import { claimChangedMail, digestMail } from './deals/mails.js';
import { receiptMail } from './respond/mails.js';
import { memberInviteMail } from './members/mails.js';

export const MAILS: Readonly<Record<string, Composer>> = {
  signup: signupMail,
  signin: signinMail,
  invite: inviteMail,
  'link-request': linkRequestMail,
  digest: digestMail,
  'claim-changed': claimChangedMail,
  receipt: receiptMail,
  'member-invite': memberInviteMail,
};
