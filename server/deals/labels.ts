// How states read to people, in one place for the vendor's pages, the
// respondent's and champion's pages, and mail.
import type { DealStage, StakeholderRole } from '../db/schema.js';
import { CORRECTION_KINDS } from '../concerns/index.js';

export const ROLE_LABELS: Record<StakeholderRole, string> = {
  ciso: 'CISO',
  security: 'Security',
  compliance: 'Compliance',
  privacy: 'Privacy',
  legal: 'Legal',
  champion: 'Champion',
  other: 'Other',
};

export const VERDICT_LABELS = { confirm: 'Confirmed', correct: 'Corrected', not_mine: 'Not mine', none: 'No answer' } as const;
export const STATUS_LABELS = { confirmed: 'Confirmed', corrected: 'Corrected', not_mine: 'Not mine', stale: 'Needs re-confirmation', silent: 'Silent' } as const;
export const STAGE_LABELS: Record<DealStage, string> = {
  discovery: 'Discovery',
  evaluation: 'Evaluation',
  business_case: 'Business case',
  negotiation: 'Negotiation',
  closed_won: 'Closed won',
  closed_lost: 'Closed lost',
};
export const CHECKPOINT_LABELS = { ready: 'Ready for negotiation', open: 'Security not yet aligned', overridden: 'Overridden' } as const;
export const LINK_LABELS = { active: 'Link active', expired: 'Link expired', revoked: 'Link revoked', none: 'No link sent' } as const;
/** Short kind names for tables ("requirement gap"). */
export const KIND_SHORT = { factual_error: 'factual error', requirement_gap: 'requirement gap', not_applicable: 'not applicable' } as const;
/** The kind as the respondent chose it, in full. */
export const KIND_LONG: Record<string, string> = Object.fromEntries(CORRECTION_KINDS.map((k) => [k.value, k.label]));
