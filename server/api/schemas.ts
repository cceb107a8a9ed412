// The contract of /api/v1 (routes.ts), as zod schemas: what each route takes
// and what it answers. Responses go out through these schemas, so a key not
// declared here never reaches a client, and the OpenAPI document
// (/api/v1/openapi.json) is generated from them. They describe exactly what
// api/views.ts builds; change both together, and the README's API table.
import { z } from 'zod';
import { CONCERN_KEYS, CONCERNS, CORRECTION_KINDS, REGIONS, type FieldDef } from '../concerns/index.js';
import type { SignalType, Stakeholder } from '../db/schema.js';
import type { ConcernStatus } from '../deals/tracking.js';
import type { DealDetail as LoadedDeal } from '../deals/detail.js';
import { date, timestamp } from '../lib/api-schema.js';
import { pageLimit } from '../lib/validate.js';
import { CHECKPOINT_LABELS, DEAL_STAGES, INDUSTRIES, LINK_LABELS, STAKEHOLDER_ROLES, STATUS_LABELS, VERDICT_LABELS } from '../rules.js';

// --- Enums, from the rule book and the catalogue -------------------------------------------------

type Tuple<T extends string> = readonly [T, ...T[]];
/** The keys of a record as a list for z.enum. */
const keysOf = <K extends string>(o: Record<K, unknown>) => Object.keys(o) as unknown as Tuple<K>;
/** Every value of a string union, written out once: the compiler refuses a list that misses one or adds another. */
const allOf =
  <T extends string>() =>
  <const L extends Tuple<T>>(values: L & ([T] extends [L[number]] ? unknown : never)) =>
    values;

export const Stage = z.enum(DEAL_STAGES).describe('The deal stage');
export const Industry = z.enum(INDUSTRIES).describe("The buyer's industry");
export const Region = z.enum(REGIONS.map((r) => r.value) as unknown as Tuple<string>).describe("The buyer's region, from the concern catalogue");
export const Role = z.enum(STAKEHOLDER_ROLES).describe("The person's role on the buyer's side");
export const ConcernKey = z.enum(CONCERN_KEYS as unknown as Tuple<string>).describe('A concern of the catalogue');
export const CheckpointState = z
  .enum(keysOf(CHECKPOINT_LABELS))
  .describe("ready: the buyer's security team confirmed or corrected every concern; open: not yet; overridden: moved past the checkpoint with a written reason");
const ConcernStatusEnum = z
  .enum(allOf<ConcernStatus>()(keysOf(STATUS_LABELS)))
  .describe('By the latest answers on the current claim: corrected, confirmed, not_mine; stale when only an earlier claim was answered; silent when nobody answered');
const LinkStateEnum = z
  .enum(allOf<LoadedDeal['stakeholders'][number]['link_state']>()(keysOf(LINK_LABELS)))
  .describe("The best state among the person's links; none when no link was sent");
const VerdictEnum = z.enum(['confirm', 'correct', 'not_mine'] as const satisfies readonly Exclude<keyof typeof VERDICT_LABELS, 'none'>[]);
export const CorrectionKind = z.enum(CORRECTION_KINDS.map((k) => k.value) as unknown as Tuple<string>).describe('What kind of correction');
const SignalTypeEnum = z.enum(allOf<SignalType>()(['answer', 'delegation', 'claim_change', 'checkpoint_override', 'stage_change', 'stakeholder_confirmed']));
const SourceEnum = z.enum(allOf<Stakeholder['source']>()(['vendor', 'delegated'])).describe('vendor: added by the vendor; delegated: handed a concern by another respondent');

const count = z.number().int().min(0);
const week = z.number().int().min(1).describe('A deal week: 1 is the first seven days from the start date');

// --- Claims: field values, from the catalogue ------------------------------------------------------

/** Any field's value: one option, a list of options, a whole number, yes or no, or text. */
export const FieldValue = z.union([z.string(), z.array(z.string()), z.number(), z.boolean()]).describe("A field's value, as the catalogue defines the field");
const ClaimValues = z.record(z.string(), FieldValue).describe("A claim's values by field key (see the concern catalogue)");
export const FieldChange = z.object({
  field: z.string().describe("The field's key"),
  claimed: FieldValue.optional().describe('The value before (or as claimed)'),
  corrected: FieldValue.optional().describe('The value after (or as corrected)'),
});

function fieldValueSchema(field: FieldDef): z.ZodType {
  const about = `${field.label}${field.help ? `: ${field.help}` : ''}`;
  switch (field.type) {
    case 'one_of':
      return z.enum(field.options.map((o) => o.value) as unknown as Tuple<string>).describe(about);
    case 'any_of':
      return z.array(z.enum(field.options.map((o) => o.value) as unknown as Tuple<string>)).describe(`${about} (any of the options, in catalogue order)`);
    case 'integer':
      return z.number().int().min(field.min).max(field.max).describe(`${about} (${field.unit})`);
    case 'boolean':
      return z.boolean().describe(about);
    case 'text':
      return z.string().max(field.maxLength).describe(about);
  }
}

/** The draft's concerns, each with the catalogue's fields and its narrative. */
const ProfileConcerns = z
  .object(
    Object.fromEntries(
      CONCERNS.map((c) => [
        c.key,
        z
          .object({
            ...Object.fromEntries(c.fields.map((f) => [f.key, fieldValueSchema(f)])),
            narrative: z.string().describe("The vendor's own words beside the claim"),
          })
          .describe(c.title),
      ]),
    ),
  )
  .describe('Per concern, its field values and narrative');

// --- Profile -----------------------------------------------------------------------------------------

export const profileBody = z.object({
  concerns: z
    .unknown()
    .describe(
      'Per concern, the fields to change and optionally its narrative: { "<concern>": { "<field>": value, "narrative"?: text } }. Fields not given keep their value; an unknown concern or field is a 400',
    ),
});

const ProfileWarning = z.object({
  code: z.string().describe('A stable code, e.g. zdr_with_prompt_logging'),
  message: z.string(),
  fields: z
    .array(z.object({ concern: z.string(), field: z.string() }))
    .readonly()
    .describe('The fields involved'),
});

export const ProfileDraft = z
  .object({
    concerns: ProfileConcerns,
    warnings: z.array(ProfileWarning).describe('Fields that contradict one another across concerns (publishing is still allowed)'),
  })
  .meta({ id: 'ProfileDraft' });

export const Profile = ProfileDraft.extend({
  versions: z
    .array(z.object({ version: z.number().int().min(1), catalog_version: z.string().describe('The concern catalogue it was published under'), published_at: timestamp }))
    .describe('Published versions, newest first'),
}).meta({ id: 'Profile' });

export const Published = z.object({ version: z.number().int().min(1).describe('The number of the version just published') });

// --- Deals ---------------------------------------------------------------------------------------------

export const Deal = z
  .object({
    id: z.string(),
    buyer_name: z.string(),
    buyer_domain: z.string().nullable(),
    started_on: date.describe('When the deal started; its weeks count from here'),
    week: week.describe("The deal's current week"),
    stage: Stage,
    industry: Industry.nullable(),
    region: Region.nullable(),
    profile_version: z.number().int().describe('The published profile version the deal was opened on'),
    owner_id: z.string().describe('The member who owns the deal: its digests, renewal requests and invitation replies go to them'),
    reminder_days: z.array(z.number().int()).describe('Days after the invitation on which a silent person is reminded'),
    reminders_paused: z.boolean(),
    share_corrections: z.boolean().describe("Whether the champion's page shows the security team's corrections"),
    created_at: timestamp,
  })
  .meta({ id: 'Deal' });

const Checkpoint = z.object({
  state: CheckpointState,
  gaps: z.array(z.object({ concern: z.string(), title: z.string() })).describe("Concerns the buyer's security team has not yet confirmed or corrected"),
  override: z.object({ reason: z.string(), at: timestamp }).optional().describe('The written reason, when overridden'),
});

/** What trackingJson adds to a deal in the list and on its own. */
const Tracking = {
  checkpoint: Checkpoint,
  risk: z.object({ no_security_stakeholder: z.boolean().describe("No one of the buyer's security team whose answers count is on the deal") }),
  concerns_open: count.describe('Concerns still open at the checkpoint'),
  corrections: count.describe('Corrections on the current claims'),
  first_security_signal_week: week.nullable().describe("The week the buyer's security team first answered; null until then"),
  first_security_correction_week: week.nullable().describe("The week the buyer's security team first corrected; null until then"),
  awaiting_confirmation: z
    .array(z.object({ stakeholder_id: z.string(), name: z.string(), role: Role }))
    .describe('Delegates who answered but whose answers count only once the vendor confirms them (POST …/confirm)'),
};

export const DealListItem = z
  .object({
    id: z.string(),
    buyer_name: z.string(),
    buyer_domain: z.string().nullable(),
    started_on: date,
    week,
    stage: Stage,
    industry: Industry.nullable(),
    region: Region.nullable(),
    profile_version: z.number().int(),
    owner_id: z.string().describe('The member who owns the deal'),
    created_at: timestamp,
    last_activity_at: timestamp,
    stakeholders: count.describe('People on the deal'),
    signals: count.describe('Signals recorded on the deal'),
    ...Tracking,
  })
  .meta({ id: 'DealListItem' });

export const DealList = z.object({
  deals: z.array(DealListItem),
  next_cursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page'),
});

const DealStakeholder = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  role: Role,
  source: SourceEnum,
  delegated_by: z.object({ id: z.string(), name: z.string() }).nullable().describe('Who handed them a concern; null for people the vendor added'),
  delegation_depth: z.number().int().min(0).describe('0 for people the vendor added, 1 for their delegates, 2 for those delegates’ delegates'),
  confirmed_at: timestamp.nullable().describe('When their answers started to count; null for a delegate awaiting confirmation'),
  counts: z.boolean().describe('Whether their answers count (confirmed)'),
  engaged: z.boolean().describe('Whether they answered and count'),
  invited_at: timestamp.nullable().describe('When the latest invitation was sent; null if never'),
  link: z.object({ state: LinkStateEnum, expires_at: timestamp.nullable() }),
  reminders_paused: z.boolean(),
  reminders_sent: count.describe('Reminders sent since the latest invitation'),
});

const DealConcern = z.object({
  concern: z.string(),
  status: ConcernStatusEnum,
  claim_revision: z.number().int().min(1),
  claim: ClaimValues,
  tailored: z.boolean().describe("Whether the deal's claim differs from the published profile"),
  answers: z
    .array(
      z.object({
        stakeholder_id: z.string(),
        verdict: VerdictEnum.nullable().describe('Their latest answer; null when they have not answered'),
        kind: CorrectionKind.nullable(),
        stale: z.boolean().describe('Given to an earlier revision of the claim'),
        answered_at: timestamp.nullable(),
        handed_to: z.string().nullable().describe('The name of the colleague they handed this concern to'),
      }),
    )
    .describe('One per respondent (everyone but the champion)'),
});

export const DealDetail = Deal.extend({
  ...Tracking,
  stakeholders: z.array(DealStakeholder),
  concerns: z.array(DealConcern),
}).meta({ id: 'DealDetail' });

export const StageChanged = Deal.extend({ overridden: z.boolean().describe('Whether the move overrode an open checkpoint') });

export const ClaimChanged = z.object({
  concern: z.string(),
  claim_revision: z.number().int().min(1).describe('The current revision (unchanged when nothing changed)'),
  changes: z.array(FieldChange),
});

export const claimBody = z
  // The concern decides the fields: the service checks them (changeClaim); here only that it is an object, in its words.
  .record(z.string(), z.unknown(), { error: 'Expected an object of field values.' })
  .describe('The fields to change, by key: { "<field>": value, … }; validated against the concern\'s fields in the catalogue (an unknown field or a bad value is a 400)');

// --- Stakeholders --------------------------------------------------------------------------------------

export const personPatch = z
  .object({
    reminders_paused: z.boolean().optional(),
    role: z
      .enum(STAKEHOLDER_ROLES, { message: `must be one of ${STAKEHOLDER_ROLES.join(', ')}` })
      .optional()
      .describe('A role never changes to or from champion'),
  })
  .strict()
  .refine((b) => b.reminders_paused !== undefined || b.role !== undefined, { message: 'give reminders_paused or role', path: ['reminders_paused'] });

export const StakeholderAdded = z.object({
  id: z.string(),
  deal_id: z.string(),
  name: z.string(),
  email: z.string(),
  role: Role,
  invited: z.boolean().describe('Whether their invitation was queued'),
});

export const BatchAdded = z.object({
  stakeholders: z.array(z.object({ id: z.string(), name: z.string(), email: z.string(), role: Role })).describe('In the order given'),
  invited: count.describe('How many invitations were queued'),
});

export const PersonChanged = z.object({ id: z.string(), reminders_paused: z.boolean().optional(), role: Role.optional() }).describe('The id and what changed');
export const Resent = z.object({ id: z.string(), resent: z.literal(true) });
export const Revoked = z.object({ id: z.string(), revoked: z.literal(true) });
export const Extended = z.object({ id: z.string(), extended_days: z.number().int().min(1).describe('Every link not revoked works at least this many more days') });
export const Confirmed = z.object({ id: z.string(), confirmed_at: timestamp.describe('When their answers started to count') });

// --- Signals -------------------------------------------------------------------------------------------

/** A deal's signals, newest first: the cursor is the id of the last signal of the previous page. */
export const signalListParams = z
  .object({
    limit: pageLimit,
    cursor: z.coerce
      .number({ message: 'is not a cursor from this list' })
      .int('is not a cursor from this list')
      .positive('is not a cursor from this list')
      .max(Number.MAX_SAFE_INTEGER, 'is not a cursor from this list')
      .optional()
      .describe("The previous page's next_cursor"),
  })
  .strict();

const Person = z.object({ id: z.string(), name: z.string(), role: Role });

export const Signal = z
  .object({
    id: z.number().int(),
    type: SignalTypeEnum,
    concern: z.string().nullable(),
    claim_revision: z.number().int().nullable().describe('The revision of the claim answered or made'),
    verdict: VerdictEnum.nullable(),
    kind: CorrectionKind.nullable(),
    comment: z.string().nullable(),
    changes: z.array(FieldChange).describe('Corrected fields, a claim change, or a stage change (field "stage")'),
    stakeholder: Person.nullable().describe('Who gave it; null for the vendor'),
    target_stakeholder: Person.nullable().describe('Whom it concerns (a delegate, a confirmed person)'),
    week,
    created_at: timestamp,
  })
  .meta({ id: 'Signal' });

export const SignalList = z.object({
  signals: z.array(Signal).describe('Newest first'),
  next_cursor: z.string().nullable().describe('Pass as ?cursor= for the next page; null on the last page'),
});
