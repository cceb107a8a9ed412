// Table types for Kysely. Columns the database fills are Generated; nullable
// columns are `| null`. JSON columns are typed by what the code stores in them.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { ClaimValues, FieldChange } from '../concerns/index.js';
import type { DealStage, Industry, MemberRole, StakeholderRole } from '../rules.js';

export type { DealStage, FieldChange, Industry, MemberRole, StakeholderRole };
export type GateCheckpoint = 'ready' | 'overridden';

type Timestamp = ColumnType<Date, Date, Date>;
type Json<T> = ColumnType<T, string, string>;

export interface VendorsTable {
  id: string;
  name: string;
  created_at: Timestamp;
  /** The workspace's web domain ("acme.example"), named in its invitations; null until set on the settings page. */
  web_domain: ColumnType<string | null, string | null | undefined, string | null>;
  /** How many deals must call a profile field a factual error, with the same value, before the profile page suggests it. */
  suggestion_min_deals: ColumnType<number, number | undefined, number>;
}

export interface UsersTable {
  id: string;
  vendor_id: string;
  email: string;
  name: string;
  role: MemberRole;
  created_at: Timestamp;
  session_epoch: ColumnType<number, number | undefined, number>;
  last_sign_in_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface SignupPayload {
  workspace: string;
  name: string;
}

export interface LoginTokensTable {
  id: string;
  purpose: 'signin' | 'signup';
  email: string;
  user_id: string | null;
  payload: Json<SignupPayload | null>;
  token_hash: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface ApiKeysTable {
  id: string;
  vendor_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_by: string | null;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  /** The most the key may do; it acts with the lower of this and its creator's current role. */
  role: MemberRole;
}

export interface AppSecretsTable {
  name: string;
  value: string;
}

export interface ConcernDraft {
  values: ClaimValues;
  narrative: string;
}
export type ProfileClaims = Record<string, ConcernDraft>;

export interface ProfilesTable {
  vendor_id: string;
  draft: Json<ProfileClaims>;
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface ProfileVersionsTable {
  vendor_id: string;
  version: number;
  catalog_version: string;
  claims: Json<ProfileClaims>;
  published_at: Timestamp;
  published_by: string | null;
}

export interface DealsTable {
  id: string;
  vendor_id: string;
  buyer_name: string;
  buyer_domain: string | null;
  /** A calendar date, 'YYYY-MM-DD'. */
  started_on: ColumnType<string, string, string>;
  profile_version: number;
  stage: ColumnType<DealStage, DealStage | undefined, DealStage>;
  created_by: string | null;
  /** The member who owns the deal: its creator unless reassigned. Digests, renewal requests and invitation replies go to them. */
  owner_id: string;
  created_at: Timestamp;
  reminder_days: ColumnType<number[], number[] | undefined, number[]>;
  reminders_paused: ColumnType<boolean, boolean | undefined, boolean>;
  share_corrections: ColumnType<boolean, boolean | undefined, boolean>;
  digest_through: ColumnType<number, number | undefined, number>;
  digest_sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The buyer's industry (rules.INDUSTRIES) and region (the catalogue's REGIONS), for insight segments. */
  industry: ColumnType<Industry | null, Industry | null | undefined, Industry | null>;
  region: ColumnType<string | null, string | null | undefined, string | null>;
  /** How the checkpoint stood when the deal first entered a gated stage. */
  gate_checkpoint: ColumnType<GateCheckpoint | null, GateCheckpoint | null | undefined, GateCheckpoint | null>;
}

export interface DealClaimsTable {
  vendor_id: string;
  deal_id: string;
  concern: string;
  revision: number;
  claim: Json<ClaimValues>;
  narrative: string;
  tailored: boolean;
  created_at: Timestamp;
}

export interface StakeholdersTable {
  id: string;
  vendor_id: string;
  deal_id: string;
  name: string;
  email: string;
  role: StakeholderRole;
  source: ColumnType<'vendor' | 'delegated', 'vendor' | 'delegated' | undefined, never>;
  delegated_by: string | null;
  created_at: Timestamp;
  invited_at: Timestamp | null;
  reminders_paused: ColumnType<boolean, boolean | undefined, boolean>;
  reminders_sent: ColumnType<number, number | undefined, number>;
  /** When the vendor confirmed that this person's answers count (rules.answersCount); set on insert for people the vendor adds. */
  confirmed_at: Timestamp | null;
  /** 0 for people the vendor added, 1 for their delegates, 2 for those delegates' delegates (rules.MAX_DELEGATION_DEPTH). */
  delegation_depth: ColumnType<number, number | undefined, never>;
  /** The vendor's personal note for this person's invitation (plain text, at most 1,000 characters); shown in it and its reminders. */
  invite_note: ColumnType<string | null, string | null | undefined, string | null>;
  /** The first invitation (invited_at restarts with each resend). */
  first_invited_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Every reminder sent (reminders_sent restarts with each resend). */
  reminders_total: ColumnType<number, number | undefined, number>;
}

export interface StakeholderLinksTable {
  id: string;
  vendor_id: string;
  stakeholder_id: string;
  token_hash: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  last_sent_at: Timestamp | null;
}

export type Verdict = 'confirm' | 'correct' | 'not_mine';
export type CorrectionKind = 'factual_error' | 'requirement_gap' | 'not_applicable';

export type SignalType = 'answer' | 'delegation' | 'claim_change' | 'checkpoint_override' | 'stage_change' | 'stakeholder_confirmed';

export interface SignalsTable {
  id: Generated<number>;
  vendor_id: string;
  deal_id: string;
  stakeholder_id: string | null;
  target_stakeholder_id: ColumnType<string | null, string | null | undefined, never>;
  actor_user_id: ColumnType<string | null, string | null | undefined, never>;
  type: SignalType;
  concern: string | null;
  claim_revision: number | null;
  verdict: Verdict | null;
  kind: CorrectionKind | null;
  comment: string | null;
  changes: Json<FieldChange[]>;
  week: number;
  created_at: Timestamp;
}

export interface OutboxTable {
  id: Generated<number>;
  vendor_id: string | null;
  template: string;
  recipient: string;
  params: Json<Record<string, unknown>>;
  status: ColumnType<'pending' | 'sent' | 'failed', 'pending' | undefined, 'pending' | 'sent' | 'failed'>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  sent_at: Timestamp | null;
}

/** Read model: a deal's current state (see server/readmodel). */
export interface DealStateTable {
  vendor_id: string;
  deal_id: string;
  buyer_name: string;
  stage: DealStage;
  started_on: ColumnType<string, string, string>;
  concerns_open: number;
  corrections: number;
  checkpoint: 'ready' | 'open' | 'overridden';
  gaps: Json<{ concern: string; title: string }[]>;
  override: Json<{ reason: string; at: string } | null>;
  no_security_stakeholder: boolean;
  awaiting_confirmation: Json<{ id: string; name: string; role: StakeholderRole }[]>;
  buyer_domains: Json<string[]>;
  first_security_week: number | null;
  first_correction_week: number | null;
  stakeholders: number;
  signals: number;
  last_activity_at: Timestamp;
  industry: Industry | null;
  region: string | null;
  gate_checkpoint: GateCheckpoint | null;
  /** Someone of the buyer's security team whose answers count has been invited. */
  security_invited: boolean;
  /** The week the security team first confirmed or corrected a concern. */
  first_answer_week: number | null;
  /** Per concern, one bit each (concerns: CONCERN_BIT): the security team answered, confirmed, corrected, and with which kinds. */
  team_answered: number;
  team_confirmed: number;
  team_corrected: number;
  team_factual_error: number;
  team_requirement_gap: number;
  team_not_applicable: number;
  /** Taken from deal_state_refresh_seq by each write: the workspace's highest is its read model's version. */
  refresh_seq: ColumnType<number, never, never>;
}

/** Read model: each concern's state on a deal. */
export interface DealConcernStateTable {
  vendor_id: string;
  deal_id: string;
  concern: string;
  claim_revision: number;
  status: 'corrected' | 'confirmed' | 'not_mine' | 'stale' | 'silent';
  substantive: boolean;
  answers: number;
  corrections: number;
}

/** Read model: each field the security team's current corrections change on a deal, once per value it is corrected to. */
export interface DealFieldStateTable {
  vendor_id: string;
  deal_id: string;
  concern: string;
  field: string;
  claimed: Json<unknown>;
  corrected: Json<unknown>;
  kinds: CorrectionKind[];
  /** Exactly one row per deal, concern and field carries true, with the kinds of all of that field's corrections. */
  first_of_field: boolean;
  field_kinds: CorrectionKind[];
}

/** Read model: each person on a deal, for engagement. */
export interface PersonStateTable {
  vendor_id: string;
  deal_id: string;
  stakeholder_id: string;
  role: StakeholderRole;
  first_invited_at: Date | null;
  reminders_total: number;
  /** When they first confirmed or corrected a concern, and how many days after their first invitation. */
  first_answered_at: Date | null;
  answer_days: number | null;
  /** Every concern of theirs (handed to them, or confirmed or corrected by them) has their confirm or correct on its current claim. */
  answered_all: boolean;
}

export interface SuggestionDismissalsTable {
  vendor_id: string;
  key: string;
  /** How many deals were evidence when it was dismissed: it shows again once more are. */
  evidence_deals: number;
  dismissed_at: Date;
}

/** Read model: each person's latest answer on each concern of a deal. */
export interface LatestAnswersTable {
  vendor_id: string;
  deal_id: string;
  stakeholder_id: string;
  concern: string;
  signal_id: number;
  verdict: Verdict;
  kind: CorrectionKind | null;
  claim_revision: number;
  created_at: Timestamp;
  first_week: number;
  first_correction_week: number | null;
  /** When the person first confirmed or corrected the concern. */
  first_answered_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** Read model: deals whose deal_state waits for a refresh (see server/readmodel). */
export interface DealStateDirtyTable {
  vendor_id: string;
  deal_id: string;
  /** The answer that marked the deal: one row per answer. */
  signal_id: number;
  marked_at: Date;
}

/** Read model: one row per corrected field of each correction. */
export interface CorrectionFieldsTable {
  vendor_id: string;
  signal_id: number;
  field: string;
  deal_id: string;
  concern: string;
  stakeholder_id: string;
  kind: CorrectionKind;
  claimed: Json<unknown>;
  corrected: Json<unknown>;
  week: number;
  created_at: Timestamp;
}

export interface IdempotencyKeysTable {
  vendor_id: string;
  api_key_id: string;
  key: string;
  request_hash: string;
  holder: string;
  status_code: number | null;
  content_type: string | null;
  response_body: string | null;
  created_at: Timestamp;
}

export type WebhookKind = 'standard' | 'slack';
export type WebhookDeliveryStatus = 'pending' | 'sent' | 'failed';

/** A workspace's webhook endpoint (server/webhooks). Secrets are sealed (server/lib/crypto.ts), never plain. */
export interface WebhookEndpointsTable {
  id: string;
  vendor_id: string;
  url: string;
  description: string | null;
  kind: ColumnType<WebhookKind, WebhookKind | undefined, WebhookKind>;
  events: string[];
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  disabled_reason: ColumnType<string | null, string | null | undefined, string | null>;
  secret: string;
  previous_secret: ColumnType<string | null, string | null | undefined, string | null>;
  previous_secret_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One event for one endpoint, and how its delivery stands. message_id is the `webhook-id` header. */
export interface WebhookDeliveriesTable {
  id: string;
  seq: ColumnType<number, never, never>;
  vendor_id: string;
  endpoint_id: string;
  event_type: string;
  message_id: string;
  payload: Json<Record<string, unknown>>;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  last_status_code: ColumnType<number | null, number | null | undefined, number | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
  sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** How a session's holder proved who they are: an emailed link, an invitation, SSO, or a switch from a link session. */
export type SessionMethod = 'link' | 'invite' | 'sso' | 'switch';

export interface UserSessionsTable {
  vendor_id: string;
  id: string;
  user_id: string;
  method: SessionMethod;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  ended_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface MemberInvitationsTable {
  vendor_id: string;
  id: string;
  email: string;
  name: string;
  role: MemberRole;
  invited_by: string | null;
  token_hash: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Timestamp;
  expires_at: Timestamp;
  accepted_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** A workspace's OpenID Connect settings. client_secret is sealed (server/lib/crypto.ts). */
export interface SsoConfigsTable {
  vendor_id: string;
  issuer: string;
  client_id: string;
  client_secret: string;
  allowed_domains: string[];
  require_sso: ColumnType<boolean, boolean | undefined, boolean>;
  updated_at: Timestamp;
  updated_by: string | null;
  /** The role of whoever last saved the settings: SSO signs in nobody of a higher role. */
  saved_by_role: MemberRole;
}

/** An SSO sign-in under way. code_verifier is sealed. */
export interface SsoStatesTable {
  state_hash: string;
  vendor_id: string;
  code_verifier: string;
  nonce: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export type AuditActorKind = 'user' | 'api_key' | 'system';

/** The audit trail: append-only (the database refuses UPDATE, DELETE and TRUNCATE). */
export interface AuditLogTable {
  vendor_id: string;
  id: Generated<number>;
  actor_id: string | null;
  actor_name: string;
  actor_kind: AuditActorKind;
  action: string;
  target_type: string;
  target_id: string | null;
  target_name: string | null;
  changes: Json<Record<string, unknown>>;
  ip: string | null;
  created_at: Timestamp;
}

export interface Database {
  vendors: VendorsTable;
  users: UsersTable;
  login_tokens: LoginTokensTable;
  api_keys: ApiKeysTable;
  app_secrets: AppSecretsTable;
  profiles: ProfilesTable;
  profile_versions: ProfileVersionsTable;
  deals: DealsTable;
  deal_claims: DealClaimsTable;
  stakeholders: StakeholdersTable;
  stakeholder_links: StakeholderLinksTable;
  signals: SignalsTable;
  outbox: OutboxTable;
  deal_state: DealStateTable;
  deal_concern_state: DealConcernStateTable;
  correction_fields: CorrectionFieldsTable;
  latest_answers: LatestAnswersTable;
  deal_state_dirty: DealStateDirtyTable;
  deal_field_state: DealFieldStateTable;
  person_state: PersonStateTable;
  suggestion_dismissals: SuggestionDismissalsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  idempotency_keys: IdempotencyKeysTable;
  user_sessions: UserSessionsTable;
  member_invitations: MemberInvitationsTable;
  sso_configs: SsoConfigsTable;
  sso_states: SsoStatesTable;
  audit_log: AuditLogTable;
}

export type Vendor = Selectable<VendorsTable>;
export type User = Selectable<UsersTable>;
export type Deal = Selectable<DealsTable>;
export type Stakeholder = Selectable<StakeholdersTable>;
export type Signal = Selectable<SignalsTable>;
export type NewOutbox = Insertable<OutboxTable>;
export type NewDealState = Insertable<DealStateTable>;
export type NewDealConcernState = Insertable<DealConcernStateTable>;
export type NewCorrectionField = Insertable<CorrectionFieldsTable>;
export type NewDealFieldState = Insertable<DealFieldStateTable>;
export type NewPersonState = Insertable<PersonStateTable>;
