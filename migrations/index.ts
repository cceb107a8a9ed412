// Every migration, in order. Listed here rather than found by scanning a folder,
// so the same code runs under tsx, tap and a bundler alike.
import type { Migration } from 'kysely';
import * as core from './2026-11-23_001_core.js';
import * as sessionEpoch from './2026-11-23_002_session_epoch.js';
import * as dealTracking from './2026-11-23_003_deal_tracking.js';
import * as delegationBounds from './2026-11-24_004_delegation_bounds.js';
import * as readModel from './2026-12-04_005_read_model.js';
import * as invitationTrust from './2026-12-05_006_invitation_trust.js';
import * as dealStateDirty from './2026-12-05_007_deal_state_dirty.js';
import * as securityTeamRule from './2026-12-05_008_security_team_rule.js';
import * as insights from './2026-12-06_009_insights.js';
import * as webhooks from './2026-12-06_010_webhooks.js';
import * as idempotency from './2026-12-06_011_idempotency.js';
import * as exportIndexes from './2026-12-06_012_export_indexes.js';
import * as team from './2026-12-06_013_team.js';
import * as auditActionIndex from './2026-12-06_014_audit_action_index.js';

export const migrations: Record<string, Migration> = {
  '2026-11-23_001_core': core,
  '2026-11-23_002_session_epoch': sessionEpoch,
  '2026-11-23_003_deal_tracking': dealTracking,
  '2026-11-24_004_delegation_bounds': delegationBounds,
  '2026-12-04_005_read_model': readModel,
  '2026-12-05_006_invitation_trust': invitationTrust,
  '2026-12-05_007_deal_state_dirty': dealStateDirty,
  '2026-12-05_008_security_team_rule': securityTeamRule,
  '2026-12-06_009_insights': insights,
  '2026-12-06_010_webhooks': webhooks,
  '2026-12-06_011_idempotency': idempotency,
  '2026-12-06_012_export_indexes': exportIndexes,
  '2026-12-06_013_team': team,
  '2026-12-06_014_audit_action_index': auditActionIndex,
};
