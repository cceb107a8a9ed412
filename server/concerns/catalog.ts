// The catalogue of security concerns, as plain data (see /work/shared/design/concerns.md).
// Forms, validation, claim sentences, diffs and warnings are all derived from it.
// Keys of concerns, fields and options are stored in claims and signals: never rename them.

import type { ClaimValues, ConcernDef, Option } from './types.js';

/** Bump when fields or options change, and store it next to every saved claim. */
export const CATALOG_VERSION = '2026-11-23';

export const REGIONS: readonly Option[] = [
  { value: 'US', label: 'United States' },
  { value: 'CA', label: 'Canada' },
  { value: 'EU_EEA', label: 'EU/EEA' },
  { value: 'UK', label: 'United Kingdom' },
  { value: 'CH', label: 'Switzerland' },
  { value: 'JP', label: 'Japan' },
  { value: 'KR', label: 'South Korea' },
  { value: 'SG', label: 'Singapore' },
  { value: 'IN', label: 'India' },
  { value: 'AU', label: 'Australia' },
  { value: 'AE', label: 'United Arab Emirates' },
  { value: 'BR', label: 'Brazil' },
  { value: 'APAC_OTHER', label: 'Other Asia-Pacific' },
  { value: 'GLOBAL', label: 'Global (any region)' },
];

export const CORRECTION_KINDS: readonly Option[] = [
  { value: 'factual_error', label: 'Factual error — the claim is wrong about the vendor' },
  { value: 'requirement_gap', label: 'Requirement gap — the claim may be right, but we need something else' },
  { value: 'not_applicable', label: 'Not applicable to us' },
];

export const CERTIFICATIONS: readonly Option[] = [
  { value: 'soc2_type1', label: 'SOC 2 Type I' },
  { value: 'soc2_type2', label: 'SOC 2 Type II' },
  { value: 'iso27001', label: 'ISO/IEC 27001' },
  { value: 'iso27017', label: 'ISO/IEC 27017' },
  { value: 'iso27018', label: 'ISO/IEC 27018' },
  { value: 'iso27701', label: 'ISO/IEC 27701' },
  { value: 'iso42001', label: 'ISO/IEC 42001' },
  { value: 'csa_star_ai', label: 'CSA STAR for AI' },
  { value: 'fedramp_moderate', label: 'FedRAMP Moderate' },
  { value: 'fedramp_high', label: 'FedRAMP High' },
  { value: 'hipaa_baa', label: 'HIPAA BAA' },
  { value: 'pci_dss', label: 'PCI DSS' },
  { value: 'bsi_c5', label: 'BSI C5' },
];

const CSA_AICM = 'CSA AI Controls Matrix v1.0 (2025)';
const EU_AI_ACT = 'EU AI Act (Regulation (EU) 2024/1689)';

// ---------------------------------------------------------------------------
// Small helpers for the sentence builders. They read values defensively so a
// sentence never shows "undefined", even for a value that failed validation.

function str(values: ClaimValues, key: string): string {
  const v = values[key];
  return typeof v === 'string' ? v : '';
}

function list(values: ClaimValues, key: string): string[] {
  const v = values[key];
  return Array.isArray(v) ? v : [];
}

function int(values: ClaimValues, key: string): number {
  const v = values[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** The selected values without the explicit "none" choice. */
function withoutNone(items: string[]): string[] {
  return items.filter((v) => v !== 'none');
}

/** "a", "a and b", "a, b and c" (or "or"). */
function joinWords(items: string[], conjunction = 'and'): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items[items.length - 1]}`;
}

/** Map each value to its phrase; unknown values fall back to the raw value. */
function phrases(map: Record<string, string>, items: string[]): string[] {
  return items.map((v) => map[v] ?? v);
}

function phrase(map: Record<string, string>, value: string): string {
  return map[value] ?? value;
}

function count(n: number, unit: string): string {
  return `${n} ${n === 1 ? unit.replace(/s$/, '') : unit}`;
}

const REGION_NAMES: Record<string, string> = {
  US: 'the United States',
  CA: 'Canada',
  EU_EEA: 'the EU/EEA',
  UK: 'the United Kingdom',
  CH: 'Switzerland',
  JP: 'Japan',
  KR: 'South Korea',
  SG: 'Singapore',
  IN: 'India',
  AU: 'Australia',
  AE: 'the United Arab Emirates',
  BR: 'Brazil',
  APAC_OTHER: 'other Asia-Pacific countries',
  GLOBAL: 'any region worldwide',
};

function regions(items: string[]): string {
  return joinWords(phrases(REGION_NAMES, items));
}

function optionLabels(options: readonly Option[], items: string[]): string[] {
  return items.map((v) => options.find((o) => o.value === v)?.label ?? v);
}

// ---------------------------------------------------------------------------
// 1. Data residency

const EXCLUSION_PHRASES: Record<string, string> = {
  system_metadata: 'system metadata',
  abuse_monitoring_logs: 'abuse-monitoring logs',
  support_tickets: 'support tickets',
  telemetry: 'telemetry',
  billing: 'billing data',
};

const TRANSFER_PHRASES: Record<string, string> = {
  adequacy: 'adequacy decisions',
  eu_us_dpf: 'the EU-U.S. Data Privacy Framework',
  eu_sccs: 'the EU Standard Contractual Clauses',
  uk_idta: 'the UK IDTA or Addendum',
  bcr: 'Binding Corporate Rules',
};

function dataResidencySentence(values: ClaimValues): string {
  const sentences: string[] = [];

  // Storage, and what is kept elsewhere.
  const storage = list(values, 'storage_regions');
  const exclusions = withoutNone(list(values, 'residency_exclusions'));
  let storageText =
    storage.length > 0 ? `We store prompts, files and vector stores in ${regions(storage)}` : 'We have not stated where prompts, files and vector stores are stored';
  if (exclusions.length > 0) {
    storageText += `; ${joinWords(phrases(EXCLUSION_PHRASES, exclusions))} may be kept elsewhere`;
  }
  sentences.push(`${storageText}.`);

  // Inference and prompt retention.
  const inference = list(values, 'inference_regions');
  const where = inference.length > 0 ? regions(inference) : 'regions not stated';
  let inferenceText: string;
  switch (str(values, 'inference_scope')) {
    case 'single_region':
      inferenceText = `Inference runs in a single region in ${where}`;
      break;
    case 'in_country':
      inferenceText = `Inference stays in-country, in ${where}`;
      break;
    case 'global_routing':
      inferenceText = inference.length > 0 ? `Inference may be routed globally, including to ${where}` : 'Inference may be routed globally';
      break;
    default: // data_zone
      inferenceText = `Inference runs within a data zone covering ${where}`;
  }
  const days = int(values, 'prompt_retention_days');
  let retentionText: string;
  switch (str(values, 'prompt_retention')) {
    case 'zero_data_retention':
      retentionText = 'we keep no prompts or outputs after a request (zero data retention)';
      break;
    case 'modified_abuse_monitoring':
      retentionText =
        days > 0
          ? `under modified abuse monitoring, prompts are kept for at most ${count(days, 'days')} and not reviewed by people`
          : 'under modified abuse monitoring, prompts are not kept or reviewed by people';
      break;
    case 'customer_configurable':
      retentionText = days > 0 ? `you choose how long prompts are kept (by default ${count(days, 'days')})` : 'you choose how long prompts are kept (by default not at all)';
      break;
    default: // standard_abuse_logs
      retentionText = days > 0 ? `prompts are kept in abuse-monitoring logs for ${count(days, 'days')}` : 'prompts are checked for abuse but not kept';
  }
  sentences.push(`${inferenceText}; ${retentionText}.`);

  // Remote access and transfers.
  const remote = list(values, 'remote_access_jurisdictions');
  const transfers = list(values, 'transfer_mechanisms');
  const named = transfers.filter((v) => v !== 'none_needed');
  if (remote.length === 0) {
    sentences.push('Our staff and sub-processors have no declared remote access to the data.');
  } else {
    let accessText = `Our staff and sub-processors can reach the data from ${regions(remote)}`;
    if (named.length > 0) {
      accessText += `, under ${joinWords(phrases(TRANSFER_PHRASES, named))}`;
    } else if (transfers.includes('none_needed')) {
      accessText += '; we consider no transfer mechanism necessary';
    } else {
      accessText += '; no transfer mechanism is stated';
    }
    sentences.push(`${accessText}.`);
  }
  return sentences.join(' ');
}

const dataResidency: ConcernDef = {
  key: 'data_residency',
  title: 'Data residency',
  severity: 'critical',
  summary: 'Where customer data is stored and processed, how long prompts are kept, and who can reach the data from where.',
  frameworks: [
    'GDPR Chapter V (Regulation (EU) 2016/679)',
    'EU Standard Contractual Clauses (Commission Implementing Decision (EU) 2021/914)',
    'EU-U.S. Data Privacy Framework (adequacy decision, 2023)',
    'UK International Data Transfer Agreement and Addendum (2022)',
    CSA_AICM,
  ],
  fields: [
    {
      key: 'storage_regions',
      label: 'Storage regions',
      type: 'any_of',
      options: REGIONS,
      help: 'Where prompts, files, fine-tuned models and vector stores are kept at rest.',
    },
    {
      key: 'inference_scope',
      label: 'Inference scope',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'single_region', label: 'Single region' },
        { value: 'in_country', label: 'In-country' },
        { value: 'data_zone', label: 'Data zone (e.g. US or EU)' },
        { value: 'global_routing', label: 'Global routing' },
      ],
      help: 'How far a request may travel to find model capacity.',
    },
    {
      key: 'inference_regions',
      label: 'Inference regions',
      type: 'any_of',
      critical: true,
      options: REGIONS,
      help: 'Where inference may run under that scope.',
    },
    {
      key: 'residency_exclusions',
      label: 'Kept outside those regions',
      type: 'any_of',
      options: [
        { value: 'system_metadata', label: 'System metadata' },
        { value: 'abuse_monitoring_logs', label: 'Abuse-monitoring logs' },
        { value: 'support_tickets', label: 'Support tickets' },
        { value: 'telemetry', label: 'Telemetry' },
        { value: 'billing', label: 'Billing data' },
        { value: 'none', label: 'None' },
      ],
      help: 'Data that the residency commitment does not cover.',
    },
    {
      key: 'prompt_retention',
      label: 'Prompt retention',
      type: 'one_of',
      options: [
        { value: 'zero_data_retention', label: 'Zero data retention' },
        { value: 'modified_abuse_monitoring', label: 'Modified abuse monitoring (no human review)' },
        { value: 'standard_abuse_logs', label: 'Standard abuse-monitoring logs' },
        { value: 'customer_configurable', label: 'Configurable by the customer' },
      ],
    },
    {
      key: 'prompt_retention_days',
      label: 'Prompt retention period',
      type: 'integer',
      min: 0,
      max: 3650,
      unit: 'days',
      help: 'How long prompts are kept under that policy (the default, if configurable).',
    },
    {
      key: 'remote_access_jurisdictions',
      label: 'Remote access from',
      type: 'any_of',
      options: REGIONS,
      help: 'Where vendor staff and sub-processors can reach the data from, e.g. for support.',
    },
    {
      key: 'transfer_mechanisms',
      label: 'Transfer mechanisms',
      type: 'any_of',
      options: [
        { value: 'adequacy', label: 'Adequacy decision' },
        { value: 'eu_us_dpf', label: 'EU-U.S. Data Privacy Framework' },
        { value: 'eu_sccs', label: 'EU Standard Contractual Clauses' },
        { value: 'uk_idta', label: 'UK IDTA / Addendum' },
        { value: 'bcr', label: 'Binding Corporate Rules' },
        { value: 'none_needed', label: 'None needed (no transfer)' },
      ],
    },
  ],
  defaults: {
    storage_regions: ['US'],
    inference_scope: 'data_zone',
    inference_regions: ['US'],
    residency_exclusions: ['system_metadata', 'billing'],
    prompt_retention: 'standard_abuse_logs',
    prompt_retention_days: 30,
    remote_access_jurisdictions: ['US', 'EU_EEA', 'IN'],
    transfer_mechanisms: ['eu_us_dpf', 'eu_sccs'],
  },
  sentence: dataResidencySentence,
  checks: [
    {
      // Zero data retention keeps nothing, so a retention period above 0 days contradicts it.
      needs: ['prompt_retention', 'prompt_retention_days'],
      field: 'prompt_retention_days',
      problem: (v) =>
        v.prompt_retention === 'zero_data_retention' && typeof v.prompt_retention_days === 'number' && v.prompt_retention_days > 0
          ? `Zero data retention keeps no prompts, so the retention period must be 0 days (it says ${count(v.prompt_retention_days, 'days')}). Set it to 0, or choose another retention policy.`
          : undefined,
    },
  ],
};

// ---------------------------------------------------------------------------
// 2. Model access controls

const SSO_OPTIONS: readonly Option[] = [
  { value: 'saml2', label: 'SAML 2.0' },
  { value: 'oidc', label: 'OpenID Connect' },
  { value: 'none', label: 'None' },
];

const PROVISIONING_PHRASES: Record<string, string> = {
  manual: 'are added manually',
  jit_via_sso: 'are created at their first single sign-on',
  scim2: 'are provisioned through SCIM 2.0',
};

const AUTHZ_PHRASES: Record<string, string> = {
  org_only: 'Access is all-or-nothing for the whole organisation',
  workspace_roles: 'Access is controlled by workspace roles',
  per_model_feature_policy: 'Access is controlled by policies per model and feature',
  attribute_based: 'Access is controlled by attribute-based policies',
};

const TOOL_PHRASES: Record<string, string> = {
  no_tools: 'agents cannot call tools',
  read_only: 'agents can only read through tools',
  scoped_write_human_approval: 'agents write only within scoped permissions and with human approval',
  autonomous_write: 'agents can write through tools on their own',
};

const RETRIEVAL_PHRASES: Record<string, string> = {
  source_acl_at_query: 'retrieval applies source-system permissions at query time',
  index_level_only: 'retrieval applies permissions only per index',
  none: 'retrieval does not apply document permissions',
};

const PERSONNEL_PHRASES: Record<string, string> = {
  none: 'Our staff have no access to your data.',
  jit_customer_approved: 'Our staff get temporary access to your data only with your approval.',
  jit_vendor_approved: 'Our staff get temporary access to your data when we approve it internally.',
  standing: 'Some of our staff have standing access to your data.',
};

function modelAccessSentence(values: ClaimValues): string {
  const protocols = withoutNone(list(values, 'sso_protocols'));
  const sso = protocols.length > 0 ? `Users sign in through ${joinWords(optionLabels(SSO_OPTIONS, protocols), 'or')} single sign-on` : 'Users sign in without single sign-on';
  const provisioning = phrase(PROVISIONING_PHRASES, str(values, 'user_provisioning'));
  const mfa = values['mfa_enforced'] === true ? 'multi-factor authentication is enforced' : 'multi-factor authentication is not enforced';
  const first = `${sso} and ${provisioning}; ${mfa}.`;

  const authz = phrase(AUTHZ_PHRASES, str(values, 'authz_granularity'));
  const tools = phrase(TOOL_PHRASES, str(values, 'agent_tool_permissions'));
  const retrieval = phrase(RETRIEVAL_PHRASES, str(values, 'retrieval_acl_enforcement'));
  const second = `${authz}, ${tools}, and ${retrieval}.`;

  const third = phrase(PERSONNEL_PHRASES, str(values, 'vendor_personnel_access'));
  return `${first} ${second} ${third}`;
}

const modelAccessControls: ConcernDef = {
  key: 'model_access_controls',
  title: 'Model access controls',
  severity: 'critical',
  summary: 'Who can use which models and features, what AI agents may do, and when vendor staff can reach customer data.',
  frameworks: [
    'ISO/IEC 42001:2023 Annex A',
    'OWASP Top 10 for LLM Applications 2025 (LLM06 Excessive Agency, LLM08 Vector and Embedding Weaknesses)',
    'SOC 2 (AICPA TSC 2017), CC6 Logical and Physical Access Controls',
    'SCIM 2.0 (RFC 7643 and RFC 7644, 2015)',
    CSA_AICM,
  ],
  fields: [
    {
      key: 'sso_protocols',
      label: 'Single sign-on',
      type: 'any_of',
      options: SSO_OPTIONS,
    },
    {
      key: 'mfa_enforced',
      label: 'MFA enforced',
      type: 'boolean',
      help: 'Whether multi-factor authentication is enforced for every user.',
    },
    {
      key: 'user_provisioning',
      label: 'User provisioning',
      type: 'one_of',
      options: [
        { value: 'manual', label: 'Manual' },
        { value: 'jit_via_sso', label: 'Just-in-time via SSO' },
        { value: 'scim2', label: 'SCIM 2.0' },
      ],
    },
    {
      key: 'authz_granularity',
      label: 'Authorisation granularity',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'org_only', label: 'Organisation only' },
        { value: 'workspace_roles', label: 'Workspace roles' },
        { value: 'per_model_feature_policy', label: 'Policy per model and feature' },
        { value: 'attribute_based', label: 'Attribute-based (ABAC)' },
      ],
      help: 'How finely an administrator can limit who uses which model or feature.',
    },
    {
      key: 'agent_tool_permissions',
      label: 'Agent tool permissions',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'no_tools', label: 'No tools' },
        { value: 'read_only', label: 'Read-only' },
        { value: 'scoped_write_human_approval', label: 'Scoped write with human approval' },
        { value: 'autonomous_write', label: 'Autonomous write' },
      ],
      help: 'What an AI agent may do in connected systems.',
    },
    {
      key: 'retrieval_acl_enforcement',
      label: 'Retrieval permissions',
      type: 'one_of',
      options: [
        { value: 'source_acl_at_query', label: 'Source permissions checked at query time' },
        { value: 'index_level_only', label: 'Per index only' },
        { value: 'none', label: 'None' },
      ],
      help: 'Whether retrieval (RAG) only returns documents the user may see.',
    },
    {
      key: 'vendor_personnel_access',
      label: 'Vendor staff access',
      type: 'one_of',
      options: [
        { value: 'none', label: 'None' },
        { value: 'jit_customer_approved', label: 'Just-in-time, approved by the customer' },
        { value: 'jit_vendor_approved', label: 'Just-in-time, approved by the vendor' },
        { value: 'standing', label: 'Standing access' },
      ],
    },
  ],
  defaults: {
    sso_protocols: ['saml2', 'oidc'],
    mfa_enforced: true,
    user_provisioning: 'scim2',
    authz_granularity: 'per_model_feature_policy',
    agent_tool_permissions: 'scoped_write_human_approval',
    retrieval_acl_enforcement: 'source_acl_at_query',
    vendor_personnel_access: 'jit_customer_approved',
  },
  sentence: modelAccessSentence,
};

// ---------------------------------------------------------------------------
// 3. Training data provenance

const TRAINING_USE_PHRASES: Record<string, string> = {
  never: 'We never train models on your data',
  opt_in_only: 'We train models on your data only if you opt in',
  opt_out_available: 'We may train models on your data unless you opt out',
  default_on: 'We train models on your data by default',
};

const SOURCE_PHRASES: Record<string, string> = {
  public_datasets: 'public datasets',
  licensed_commercial: 'licensed commercial data',
  web_crawled: 'web-crawled data',
  user_data: 'user data',
  synthetic: 'synthetic data',
  other: 'other sources',
};

const INDEMNITY_SCOPE_PHRASES: Record<string, string> = {
  output_copyright: 'copyright claims over outputs',
  output_ip_all: 'all intellectual-property claims over outputs',
  output_plus_training_claims: 'intellectual-property claims over outputs and over our training data',
};

const INDEMNITY_CAP_PHRASES: Record<string, string> = {
  uncapped: 'without a cap',
  super_cap: 'up to a super-cap',
  capped_at_fees: 'capped at the fees paid',
};

const INDEMNITY_CONDITION_PHRASES: Record<string, string> = {
  safety_filters_on: 'safety filters stay on',
  paid_tier: 'you are on a paid tier',
  documented_mitigations: 'you follow our documented mitigations',
  input_rights: 'you have the rights to your inputs',
  no_knowing_infringement: 'you do not knowingly infringe',
};

function trainingDataSentence(values: ClaimValues): string {
  const use = phrase(TRAINING_USE_PHRASES, str(values, 'customer_data_training_use'));
  const sources = list(values, 'training_data_sources');
  const sourcesText = sources.length > 0 ? `our training data comes from ${joinWords(phrases(SOURCE_PHRASES, sources))}` : 'we do not disclose our training data sources';
  const first = `${use}; ${sourcesText}.`;

  const name = str(values, 'upstream_model_name');
  let second: string;
  switch (str(values, 'upstream_model')) {
    case 'first_party':
      second = name ? `The model (${name}) is our own.` : 'The model is our own.';
      break;
    case 'named_third_party':
      second = name ? `The model is built on the third-party model ${name}.` : 'The model is built on a third-party model.';
      break;
    default: // undisclosed
      second = 'The model is built on an upstream model we do not disclose.';
  }

  const scope = str(values, 'ip_indemnity_scope');
  let third: string;
  if (scope === 'none' || scope === '') {
    third = 'We offer no intellectual-property indemnity.';
  } else {
    const cap = phrase(INDEMNITY_CAP_PHRASES, str(values, 'indemnity_cap'));
    const conditions = list(values, 'indemnity_conditions');
    third = `We indemnify you against ${phrase(INDEMNITY_SCOPE_PHRASES, scope)}, ${cap}`;
    if (conditions.length > 0) {
      third += `, provided ${joinWords(phrases(INDEMNITY_CONDITION_PHRASES, conditions))}`;
    }
    third += '.';
  }
  return `${first} ${second} ${third}`;
}

const trainingDataProvenance: ConcernDef = {
  key: 'training_data_provenance',
  title: 'Training data provenance',
  severity: 'critical',
  summary: 'Whether customer data trains models, where the model and its training data come from, and the IP indemnity behind it.',
  frameworks: [
    `${EU_AI_ACT}, Article 53 (obligations of general-purpose AI model providers)`,
    'ISO/IEC 42001:2023 Annex A (A.7 Data for AI systems)',
    'NIST AI 600-1 (2024), Generative AI Profile',
    'OWASP Top 10 for LLM Applications 2025 (LLM03 Supply Chain, LLM04 Data and Model Poisoning)',
    CSA_AICM,
  ],
  fields: [
    {
      key: 'customer_data_training_use',
      label: 'Training on customer data',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'never', label: 'Never' },
        { value: 'opt_in_only', label: 'Only with opt-in' },
        { value: 'opt_out_available', label: 'On unless opted out' },
        { value: 'default_on', label: 'Always on' },
      ],
    },
    {
      key: 'training_data_sources',
      label: 'Training data sources',
      type: 'any_of',
      options: [
        { value: 'public_datasets', label: 'Public datasets' },
        { value: 'licensed_commercial', label: 'Licensed commercial data' },
        { value: 'web_crawled', label: 'Web-crawled data' },
        { value: 'user_data', label: 'User data' },
        { value: 'synthetic', label: 'Synthetic data' },
        { value: 'other', label: 'Other' },
      ],
    },
    {
      key: 'upstream_model',
      label: 'Upstream model',
      type: 'one_of',
      options: [
        { value: 'first_party', label: 'Our own model' },
        { value: 'named_third_party', label: 'Named third-party model' },
        { value: 'undisclosed', label: 'Undisclosed' },
      ],
    },
    {
      key: 'upstream_model_name',
      label: 'Upstream model name',
      type: 'text',
      maxLength: 120,
      help: 'Optional, e.g. the provider and model family.',
    },
    {
      key: 'ip_indemnity_scope',
      label: 'IP indemnity',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'none', label: 'None' },
        { value: 'output_copyright', label: 'Copyright in outputs' },
        { value: 'output_ip_all', label: 'All IP in outputs' },
        { value: 'output_plus_training_claims', label: 'Outputs and training data claims' },
      ],
    },
    {
      key: 'indemnity_conditions',
      label: 'Indemnity conditions',
      type: 'any_of',
      options: [
        { value: 'safety_filters_on', label: 'Safety filters left on' },
        { value: 'paid_tier', label: 'Paid tier' },
        { value: 'documented_mitigations', label: 'Documented mitigations followed' },
        { value: 'input_rights', label: 'Customer has rights to its inputs' },
        { value: 'no_knowing_infringement', label: 'No knowing infringement' },
      ],
      help: 'What the customer must do for the indemnity to apply.',
    },
    {
      key: 'indemnity_cap',
      label: 'Indemnity cap',
      type: 'one_of',
      options: [
        { value: 'uncapped', label: 'Uncapped' },
        { value: 'super_cap', label: 'Super-cap' },
        { value: 'capped_at_fees', label: 'Capped at fees paid' },
      ],
    },
  ],
  defaults: {
    customer_data_training_use: 'never',
    training_data_sources: ['public_datasets', 'licensed_commercial', 'synthetic'],
    upstream_model: 'first_party',
    upstream_model_name: '',
    ip_indemnity_scope: 'output_ip_all',
    indemnity_conditions: ['safety_filters_on', 'no_knowing_infringement'],
    indemnity_cap: 'uncapped',
  },
  sentence: trainingDataSentence,
};

// ---------------------------------------------------------------------------
// 4. AI governance framework

const AIMS_PHRASES: Record<string, string> = {
  iso42001_certified: 'Our AI management system is certified to ISO/IEC 42001',
  iso42001_aligned: 'Our AI management system follows ISO/IEC 42001 but is not certified',
  nist_ai_rmf_aligned: 'Our AI management system follows the NIST AI Risk Management Framework',
  internal_policy: 'We govern AI under an internal policy',
  none: 'We have no formal AI management system',
};

const AI_ACT_ROLE_PHRASES: Record<string, string> = {
  gpai_provider: 'under the EU AI Act we are a provider of a general-purpose AI model',
  gpai_systemic_provider: 'under the EU AI Act we are a provider of a general-purpose AI model with systemic risk',
  high_risk_provider: 'under the EU AI Act we are a provider of a high-risk AI system',
  downstream_provider: "under the EU AI Act we are a downstream provider building on another provider's model",
  deployer: 'under the EU AI Act we are a deployer',
  out_of_scope: 'we consider ourselves outside the scope of the EU AI Act',
};

const VERSION_POLICY_PHRASES: Record<string, string> = {
  pinned_customer_controlled: 'You pin the model version and choose when to upgrade',
  auto_upgrade_with_notice: 'We upgrade the model automatically after giving notice',
  upgrade_on_retirement: 'We move you to a newer model when your version is retired',
  silent_swap: 'We may change the model without telling you',
};

const CHANNEL_PHRASES: Record<string, string> = {
  email: 'email',
  changelog: 'our changelog',
  status_page: 'our status page',
  api_field: 'a field in API responses',
  contractual_notice: 'formal contractual notice',
};

const DOCUMENTATION_PHRASES: Record<string, string> = {
  model_card: 'a model card',
  system_card: 'a system card',
  eu_ai_act_downstream_doc: 'EU AI Act documentation for downstream providers',
  training_summary: 'a summary of training content',
  eval_results: 'evaluation results',
};

function governanceSentence(values: ClaimValues): string {
  const aims = phrase(AIMS_PHRASES, str(values, 'ai_management_system'));
  const role = phrase(AI_ACT_ROLE_PHRASES, str(values, 'eu_ai_act_role'));
  const first = `${aims}, and ${role}.`;

  const policy = phrase(VERSION_POLICY_PHRASES, str(values, 'model_version_policy'));
  const days = int(values, 'deprecation_notice_days');
  const channels = list(values, 'change_channels');
  let notice = days > 0 ? `we announce deprecations ${count(days, 'days')} ahead` : 'deprecations may take effect without advance notice';
  if (channels.length > 0) {
    notice += days > 0 ? ' through ' : ', announced through ';
    notice += joinWords(phrases(CHANNEL_PHRASES, channels));
  }
  const second = `${policy}; ${notice}.`;

  const docs = withoutNone(list(values, 'model_documentation'));
  const third = docs.length > 0 ? `We publish ${joinWords(phrases(DOCUMENTATION_PHRASES, docs))}.` : 'We publish no model documentation.';
  return `${first} ${second} ${third}`;
}

const aiGovernance: ConcernDef = {
  key: 'ai_governance',
  title: 'AI governance framework',
  severity: 'high',
  summary: 'How the vendor manages AI risk, changes and retires models, documents them, and where it sits under the EU AI Act.',
  frameworks: ['ISO/IEC 42001:2023 (AI management systems)', 'NIST AI RMF 1.0 (NIST AI 100-1, 2023)', 'NIST AI 600-1 (2024), Generative AI Profile', EU_AI_ACT, CSA_AICM],
  fields: [
    {
      key: 'ai_management_system',
      label: 'AI management system',
      type: 'one_of',
      options: [
        { value: 'iso42001_certified', label: 'ISO/IEC 42001 certified' },
        { value: 'iso42001_aligned', label: 'Aligned with ISO/IEC 42001 (not certified)' },
        { value: 'nist_ai_rmf_aligned', label: 'Aligned with NIST AI RMF' },
        { value: 'internal_policy', label: 'Internal policy' },
        { value: 'none', label: 'None' },
      ],
    },
    {
      key: 'model_version_policy',
      label: 'Model version policy',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'pinned_customer_controlled', label: 'Pinned, upgraded by the customer' },
        { value: 'auto_upgrade_with_notice', label: 'Automatic upgrade after notice' },
        { value: 'upgrade_on_retirement', label: 'Upgraded when the version is retired' },
        { value: 'silent_swap', label: 'Changed without notice' },
      ],
      help: 'What happens to the model behind the product when a new version ships.',
    },
    {
      key: 'deprecation_notice_days',
      label: 'Deprecation notice',
      type: 'integer',
      critical: true,
      min: 0,
      max: 1095,
      unit: 'days',
      help: 'Notice before a model version is retired; public practice ranges from 14 to 365 days.',
    },
    {
      key: 'change_channels',
      label: 'Change channels',
      type: 'any_of',
      options: [
        { value: 'email', label: 'Email' },
        { value: 'changelog', label: 'Changelog' },
        { value: 'status_page', label: 'Status page' },
        { value: 'api_field', label: 'API response field' },
        { value: 'contractual_notice', label: 'Contractual notice' },
      ],
    },
    {
      key: 'model_documentation',
      label: 'Model documentation',
      type: 'any_of',
      options: [
        { value: 'model_card', label: 'Model card' },
        { value: 'system_card', label: 'System card' },
        { value: 'eu_ai_act_downstream_doc', label: 'EU AI Act downstream documentation' },
        { value: 'training_summary', label: 'Training content summary' },
        { value: 'eval_results', label: 'Evaluation results' },
        { value: 'none', label: 'None' },
      ],
    },
    {
      key: 'eu_ai_act_role',
      label: 'EU AI Act role',
      type: 'one_of',
      options: [
        { value: 'gpai_provider', label: 'General-purpose AI model provider' },
        { value: 'gpai_systemic_provider', label: 'General-purpose AI model provider with systemic risk' },
        { value: 'high_risk_provider', label: 'High-risk AI system provider' },
        { value: 'downstream_provider', label: 'Downstream provider' },
        { value: 'deployer', label: 'Deployer' },
        { value: 'out_of_scope', label: 'Out of scope' },
      ],
    },
  ],
  defaults: {
    ai_management_system: 'iso42001_aligned',
    model_version_policy: 'pinned_customer_controlled',
    deprecation_notice_days: 180,
    change_channels: ['email', 'changelog'],
    model_documentation: ['model_card', 'eu_ai_act_downstream_doc', 'training_summary'],
    eu_ai_act_role: 'gpai_provider',
  },
  sentence: governanceSentence,
};

// ---------------------------------------------------------------------------
// 5. Adversarial risk

const INPUT_GUARDRAIL_PHRASES: Record<string, string> = {
  direct_injection: 'direct prompt injection',
  indirect_injection_docs: 'injection hidden in documents',
  jailbreak: 'jailbreaks',
  prompt_leakage: 'system-prompt leakage',
  secrets_pii_redaction: 'secrets and personal data (redacted)',
};

const OUTPUT_CONTROL_PHRASES: Record<string, string> = {
  content_filter: 'a content filter',
  pii_dlp: 'personal-data loss prevention',
  schema_validation: 'schema validation',
  grounding_check: 'grounding checks',
};

const CONFIGURABILITY_PHRASES: Record<string, string> = {
  vendor_fixed: 'we set these controls and you cannot change them',
  thresholds_configurable: 'you can tune their thresholds',
  customer_can_disable: 'you can switch them off',
};

const RED_TEAM_PARTY_PHRASES: Record<string, string> = {
  internal: 'Our own team red-teams the model',
  independent: 'An independent firm red-teams the model',
  both: 'Our own team and an independent firm red-team the model',
};

const RED_TEAM_CADENCE_PHRASES: Record<string, string> = {
  pre_release: 'before each release',
  annual: 'every year',
  quarterly: 'every quarter',
  continuous: 'continuously',
};

const RED_TEAM_EVIDENCE_PHRASES: Record<string, string> = {
  none: 'we share no report',
  summary_nda: 'we share a summary under NDA',
  full_report_nda: 'we share the full report under NDA',
  public: 'the results are public',
};

const ABUSE_PHRASES: Record<string, string> = {
  per_user_rate_limit: 'per-user rate limits',
  token_quota: 'token quotas',
  anomaly_detection: 'anomaly detection',
};

const TENANT_PHRASES: Record<string, string> = {
  dedicated: 'on dedicated infrastructure',
  per_tenant_index: 'in a separate index per customer',
  shared_index_app_filter: 'in a shared index, separated by application filters',
};

function adversarialSentence(values: ClaimValues): string {
  const inputs = withoutNone(list(values, 'input_guardrails'));
  const outputs = withoutNone(list(values, 'output_controls'));
  const inputText = inputs.length > 0 ? `Our input guardrails cover ${joinWords(phrases(INPUT_GUARDRAIL_PHRASES, inputs))}` : 'We run no input guardrails';
  const outputText = outputs.length > 0 ? `outputs pass through ${joinWords(phrases(OUTPUT_CONTROL_PHRASES, outputs))}` : 'outputs are not filtered';
  let first = `${inputText}, and ${outputText}`;
  if (inputs.length > 0 || outputs.length > 0) {
    first += `; ${phrase(CONFIGURABILITY_PHRASES, str(values, 'guardrail_configurability'))}`;
  }
  first += '.';

  const cadence = str(values, 'red_team_cadence');
  const second =
    cadence === 'none' || cadence === ''
      ? 'We do not red-team the model.'
      : `${phrase(RED_TEAM_PARTY_PHRASES, str(values, 'red_team_party'))} ${phrase(RED_TEAM_CADENCE_PHRASES, cadence)}, and ${phrase(RED_TEAM_EVIDENCE_PHRASES, str(values, 'red_team_evidence'))}.`;

  const abuse = withoutNone(list(values, 'abuse_controls'));
  const abuseText = abuse.length > 0 ? `We limit abuse with ${joinWords(phrases(ABUSE_PHRASES, abuse))}` : 'We apply no abuse controls';
  const third = `${abuseText}, and keep your indexed data ${phrase(TENANT_PHRASES, str(values, 'tenant_isolation'))}.`;
  return `${first} ${second} ${third}`;
}

const adversarialRisk: ConcernDef = {
  key: 'adversarial_risk',
  title: 'Adversarial risk',
  severity: 'high',
  summary: 'How the product resists prompt injection, jailbreaks and abuse, how it is red-teamed, and how tenants are kept apart.',
  frameworks: [
    'OWASP Top 10 for LLM Applications 2025 (LLM01 Prompt Injection, LLM05 Improper Output Handling, LLM07 System Prompt Leakage, LLM10 Unbounded Consumption)',
    'MITRE ATLAS (adversarial threat matrix, 2025 edition)',
    'NIST AI 100-2 E2025 (Adversarial Machine Learning: taxonomy and terminology)',
    'NIST AI 600-1 (2024), Generative AI Profile',
    CSA_AICM,
  ],
  fields: [
    {
      key: 'input_guardrails',
      label: 'Input guardrails',
      type: 'any_of',
      critical: true,
      options: [
        { value: 'direct_injection', label: 'Direct prompt injection' },
        { value: 'indirect_injection_docs', label: 'Indirect injection via documents' },
        { value: 'jailbreak', label: 'Jailbreaks' },
        { value: 'prompt_leakage', label: 'System-prompt leakage' },
        { value: 'secrets_pii_redaction', label: 'Secrets and PII redaction' },
        { value: 'none', label: 'None' },
      ],
    },
    {
      key: 'output_controls',
      label: 'Output controls',
      type: 'any_of',
      options: [
        { value: 'content_filter', label: 'Content filter' },
        { value: 'pii_dlp', label: 'PII / DLP' },
        { value: 'schema_validation', label: 'Schema validation' },
        { value: 'grounding_check', label: 'Grounding check' },
        { value: 'none', label: 'None' },
      ],
    },
    {
      key: 'guardrail_configurability',
      label: 'Guardrail configurability',
      type: 'one_of',
      options: [
        { value: 'vendor_fixed', label: 'Fixed by the vendor' },
        { value: 'thresholds_configurable', label: 'Thresholds configurable' },
        { value: 'customer_can_disable', label: 'Customer can disable' },
      ],
    },
    {
      key: 'red_team_cadence',
      label: 'Red-team cadence',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'none', label: 'None' },
        { value: 'pre_release', label: 'Before each release' },
        { value: 'annual', label: 'Annual' },
        { value: 'quarterly', label: 'Quarterly' },
        { value: 'continuous', label: 'Continuous' },
      ],
    },
    {
      key: 'red_team_party',
      label: 'Red team',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'internal', label: 'Internal' },
        { value: 'independent', label: 'Independent' },
        { value: 'both', label: 'Internal and independent' },
      ],
    },
    {
      key: 'red_team_evidence',
      label: 'Red-team evidence',
      type: 'one_of',
      critical: true,
      options: [
        { value: 'none', label: 'None' },
        { value: 'summary_nda', label: 'Summary under NDA' },
        { value: 'full_report_nda', label: 'Full report under NDA' },
        { value: 'public', label: 'Public' },
      ],
    },
    {
      key: 'abuse_controls',
      label: 'Abuse controls',
      type: 'any_of',
      options: [
        { value: 'per_user_rate_limit', label: 'Per-user rate limit' },
        { value: 'token_quota', label: 'Token quota' },
        { value: 'anomaly_detection', label: 'Anomaly detection' },
        { value: 'none', label: 'None' },
      ],
    },
    {
      key: 'tenant_isolation',
      label: 'Tenant isolation',
      type: 'one_of',
      options: [
        { value: 'dedicated', label: 'Dedicated' },
        { value: 'per_tenant_index', label: 'Index per tenant' },
        { value: 'shared_index_app_filter', label: 'Shared index, application filter' },
      ],
      help: 'How one customer’s indexed data is kept from another’s.',
    },
  ],
  defaults: {
    input_guardrails: ['direct_injection', 'indirect_injection_docs', 'jailbreak'],
    output_controls: ['content_filter', 'pii_dlp'],
    guardrail_configurability: 'thresholds_configurable',
    red_team_cadence: 'annual',
    red_team_party: 'both',
    red_team_evidence: 'summary_nda',
    abuse_controls: ['per_user_rate_limit', 'token_quota'],
    tenant_isolation: 'per_tenant_index',
  },
  sentence: adversarialSentence,
};

// ---------------------------------------------------------------------------
// 6. Audit and compliance

const LOGGING_PHRASES: Record<string, string> = {
  prompts: 'prompts',
  outputs: 'outputs',
  model_version: 'model versions',
  retrieved_sources: 'retrieved sources',
  tool_calls: 'tool calls',
  user_id: 'user IDs',
  guardrail_decisions: 'guardrail decisions',
  metadata_only: 'metadata only',
};

const LOG_ACCESS_PHRASES: Record<string, string> = {
  none: 'you have no access to them',
  ui: 'you can view them in our interface',
  api_export: 'you can export them through an API',
  siem_stream: 'you can stream them to your SIEM',
};

const INCIDENT_SCOPE_PHRASES: Record<string, string> = {
  security_only: 'a security incident',
  plus_harmful_output: 'a security incident or harmful output',
  plus_ai_act_serious_incident: 'a security incident, harmful output or serious incident under the EU AI Act',
};

const AUDIT_RIGHTS_PHRASES: Record<string, string> = {
  reports_only: 'you receive our audit reports',
  questionnaire: 'you may send us security questionnaires',
  remote_audit: 'you may audit us remotely',
  onsite_audit: 'you may audit us on site',
};

function auditSentence(values: ClaimValues): string {
  const certs = list(values, 'certifications');
  const coveringAi = list(values, 'certifications_covering_ai');
  let first: string;
  if (certs.length === 0) {
    first = 'We hold no certifications.';
  } else {
    const held = joinWords(optionLabels(CERTIFICATIONS, certs));
    const coversAll = certs.length === coveringAi.length && certs.every((c) => coveringAi.includes(c));
    if (coveringAi.length === 0) {
      first = certs.length === 1 ? `We hold ${held}, which does not cover the AI service.` : `We hold ${held}, but none of them covers the AI service.`;
    } else if (coversAll) {
      first = certs.length === 1 ? `We hold ${held}, which covers the AI service.` : `We hold ${held}, all of which cover the AI service.`;
    } else {
      const verb = coveringAi.length === 1 ? 'covers' : 'cover';
      first = `We hold ${held}; ${joinWords(optionLabels(CERTIFICATIONS, coveringAi))} ${verb} the AI service.`;
    }
  }

  const logged = list(values, 'ai_event_logging');
  let second: string;
  if (logged.length === 0) {
    second = 'We keep no AI event logs.';
  } else {
    const days = int(values, 'log_retention_days');
    const what = joinWords(phrases(LOGGING_PHRASES, logged));
    const kept = days > 0 ? `keep the logs for ${count(days, 'days')}` : 'do not keep the logs after processing';
    second = `We log ${what} and ${kept}; ${phrase(LOG_ACCESS_PHRASES, str(values, 'log_access'))}.`;
  }

  const hours = int(values, 'breach_notification_hours');
  const incident = phrase(INCIDENT_SCOPE_PHRASES, str(values, 'ai_incident_scope'));
  const audit = phrase(AUDIT_RIGHTS_PHRASES, str(values, 'audit_rights'));
  const third = `We notify you within ${count(hours, 'hours')} of ${incident}, and ${audit}.`;
  return `${first} ${second} ${third}`;
}

const auditCompliance: ConcernDef = {
  key: 'audit_compliance',
  title: 'Audit and compliance',
  severity: 'high',
  summary: 'Which certifications cover the AI service, what is logged and for how long, how fast incidents are reported, and audit rights.',
  frameworks: [
    'SOC 2 (AICPA TSC 2017, points of focus revised 2022)',
    'ISO/IEC 27001:2022',
    'ISO/IEC 42001:2023',
    `${EU_AI_ACT}, Article 73 (reporting of serious incidents)`,
    'GDPR Articles 33 and 34 (Regulation (EU) 2016/679)',
    'DORA (Regulation (EU) 2022/2554)',
  ],
  fields: [
    {
      key: 'certifications',
      label: 'Certifications',
      type: 'any_of',
      critical: true,
      options: CERTIFICATIONS,
      help: 'Certifications and attestations the vendor currently holds.',
    },
    {
      key: 'certifications_covering_ai',
      label: 'Certifications covering the AI service',
      type: 'any_of',
      critical: true,
      options: CERTIFICATIONS,
      help: 'Which of those certifications include the AI service in their scope.',
    },
    {
      key: 'ai_event_logging',
      label: 'AI event logging',
      type: 'any_of',
      options: [
        { value: 'prompts', label: 'Prompts' },
        { value: 'outputs', label: 'Outputs' },
        { value: 'model_version', label: 'Model version' },
        { value: 'retrieved_sources', label: 'Retrieved sources' },
        { value: 'tool_calls', label: 'Tool calls' },
        { value: 'user_id', label: 'User ID' },
        { value: 'guardrail_decisions', label: 'Guardrail decisions' },
        { value: 'metadata_only', label: 'Metadata only' },
      ],
    },
    {
      key: 'log_retention_days',
      label: 'Log retention',
      type: 'integer',
      min: 0,
      max: 3650,
      unit: 'days',
    },
    {
      key: 'log_access',
      label: 'Log access',
      type: 'one_of',
      options: [
        { value: 'none', label: 'None' },
        { value: 'ui', label: 'In the product UI' },
        { value: 'api_export', label: 'API export' },
        { value: 'siem_stream', label: 'Stream to SIEM' },
      ],
    },
    {
      key: 'breach_notification_hours',
      label: 'Breach notification',
      type: 'integer',
      critical: true,
      min: 1,
      max: 720,
      unit: 'hours',
      help: 'Contracts commonly say 24, 48 or 72 hours.',
    },
    {
      key: 'ai_incident_scope',
      label: 'Incidents reported',
      type: 'one_of',
      options: [
        { value: 'security_only', label: 'Security incidents only' },
        { value: 'plus_harmful_output', label: 'Security incidents and harmful outputs' },
        { value: 'plus_ai_act_serious_incident', label: 'Security, harmful outputs and EU AI Act serious incidents' },
      ],
    },
    {
      key: 'audit_rights',
      label: 'Audit rights',
      type: 'one_of',
      options: [
        { value: 'reports_only', label: 'Audit reports only' },
        { value: 'questionnaire', label: 'Security questionnaire' },
        { value: 'remote_audit', label: 'Remote audit' },
        { value: 'onsite_audit', label: 'On-site audit' },
      ],
    },
  ],
  defaults: {
    certifications: ['soc2_type2', 'iso27001', 'iso27701'],
    certifications_covering_ai: ['soc2_type2', 'iso27001'],
    ai_event_logging: ['prompts', 'outputs', 'model_version', 'user_id'],
    log_retention_days: 90,
    log_access: 'api_export',
    breach_notification_hours: 72,
    ai_incident_scope: 'plus_harmful_output',
    audit_rights: 'questionnaire',
  },
  sentence: auditSentence,
};

export const CONCERNS: readonly ConcernDef[] = [dataResidency, modelAccessControls, trainingDataProvenance, aiGovernance, adversarialRisk, auditCompliance];
