import t from 'tap';
import { z } from 'zod';
import {
  CATALOG_VERSION,
  CONCERN_KEYS,
  CONCERNS,
  CORRECTION_KINDS,
  REGIONS,
  claimSchema,
  crossFieldWarnings,
  defaultClaims,
  diffClaim,
  fieldSchema,
  formatValue,
  getConcern,
  getField,
  parseFormValue,
  partialClaimSchema,
  type ClaimValues,
  type ConcernDef,
  type FieldDef,
} from '../server/concerns/index.js';

function concern(key: string): ConcernDef {
  const def = getConcern(key);
  if (!def) throw new Error(`no concern ${key}`);
  return def;
}

function field(concernKey: string, fieldKey: string): FieldDef {
  const def = getField(concern(concernKey), fieldKey);
  if (!def) throw new Error(`no field ${concernKey}.${fieldKey}`);
  return def;
}

/** Every any_of empty, every integer at its minimum, the last option of every one_of, false, empty text. */
function minimalClaim(def: ConcernDef): ClaimValues {
  const values: ClaimValues = {};
  for (const f of def.fields) {
    if (f.type === 'any_of') values[f.key] = [];
    else if (f.type === 'integer') values[f.key] = f.min;
    else if (f.type === 'one_of') values[f.key] = f.options[f.options.length - 1].value;
    else if (f.type === 'boolean') values[f.key] = false;
    else values[f.key] = '';
  }
  return values;
}

t.test('catalogue shape', async (t) => {
  t.equal(CATALOG_VERSION, '2026-11-23');
  t.same(
    REGIONS.map((r) => r.value),
    ['US', 'CA', 'EU_EEA', 'UK', 'CH', 'JP', 'KR', 'SG', 'IN', 'AU', 'AE', 'BR', 'APAC_OTHER', 'GLOBAL'],
  );
  t.same(
    CORRECTION_KINDS.map((k) => k.value),
    ['factual_error', 'requirement_gap', 'not_applicable'],
  );
  t.same(CONCERN_KEYS, ['data_residency', 'model_access_controls', 'training_data_provenance', 'ai_governance', 'adversarial_risk', 'audit_compliance']);
  t.equal(getConcern('nope'), undefined);
  for (const def of CONCERNS) {
    t.ok(def.frameworks.length > 0, `${def.key} lists frameworks`);
    const keys = def.fields.map((f) => f.key);
    t.equal(new Set(keys).size, keys.length, `${def.key} field keys are unique`);
    t.ok(
      def.fields.some((f) => f.critical),
      `${def.key} has a critical field`,
    );
    for (const f of def.fields) {
      if (f.type === 'one_of' || f.type === 'any_of') {
        const values = f.options.map((o) => o.value);
        t.equal(new Set(values).size, values.length, `${def.key}.${f.key} option values are unique`);
      }
    }
  }
});

t.test('every default passes its own schema unchanged', async (t) => {
  for (const def of CONCERNS) {
    const result = claimSchema(def).safeParse(def.defaults);
    t.ok(result.success, `${def.key} defaults are valid`);
    t.same(result.data, def.defaults, `${def.key} defaults are already normalised`);
    t.same(Object.keys(def.defaults).sort(), def.fields.map((f) => f.key).sort(), `${def.key} defaults cover every field`);
  }
});

t.test('defaultClaims returns deep copies', async (t) => {
  const a = defaultClaims();
  const b = defaultClaims();
  t.same(Object.keys(a), CONCERN_KEYS);
  (a.data_residency.storage_regions as string[]).push('EU_EEA');
  a.data_residency.prompt_retention_days = 1;
  t.same(b.data_residency.storage_regions, ['US']);
  t.same(concern('data_residency').defaults.storage_regions, ['US']);
  t.equal(concern('data_residency').defaults.prompt_retention_days, 30);
});

t.test('claimSchema', async (t) => {
  const def = concern('data_residency');
  const schema = claimSchema(def);

  const unknown = schema.safeParse({ ...def.defaults, surprise: 1 });
  t.notOk(unknown.success, 'unknown field rejected');
  t.ok(unknown.error?.issues.some((i) => i.code === 'unrecognized_keys'));

  const missing: ClaimValues = { ...def.defaults };
  delete missing.inference_scope;
  t.notOk(schema.safeParse(missing).success, 'every field is required');

  const badEnum = schema.safeParse({ ...def.defaults, inference_scope: 'moon_base' });
  t.notOk(badEnum.success, 'bad enum rejected');
  t.same(
    badEnum.error?.issues.map((i) => i.path),
    [['inference_scope']],
  );
  t.match(z.prettifyError(badEnum.error!), /inference_scope/, 'the message names the field path');

  const badRegion = schema.safeParse({ ...def.defaults, storage_regions: ['US', 'MARS'] });
  t.notOk(badRegion.success);
  t.same(badRegion.error?.issues[0].path, ['storage_regions', 1]);

  const normalised = schema.parse({ ...def.defaults, storage_regions: ['GLOBAL', 'US', 'EU_EEA', 'US'] });
  t.same(normalised.storage_regions, ['US', 'EU_EEA', 'GLOBAL'], 'any_of: unique, catalogue order');

  t.notOk(schema.safeParse({ ...def.defaults, prompt_retention_days: 3651 }).success, 'integer max');
  t.notOk(schema.safeParse({ ...def.defaults, prompt_retention_days: -1 }).success, 'integer min');
  t.notOk(schema.safeParse({ ...def.defaults, prompt_retention_days: 1.5 }).success, 'integer only');
  t.notOk(schema.safeParse({ ...def.defaults, prompt_retention_days: '30' }).success, 'no strings for numbers');

  const exclusions = schema.safeParse({ ...def.defaults, residency_exclusions: ['none', 'telemetry'] });
  t.notOk(exclusions.success, '"none" cannot be combined with other choices');
  t.ok(schema.safeParse({ ...def.defaults, residency_exclusions: ['none'] }).success, '"none" alone is fine');
});

t.test('partialClaimSchema', async (t) => {
  const def = concern('data_residency');
  const schema = partialClaimSchema(def);
  t.same(schema.parse({}), {});
  t.same(schema.parse({ inference_regions: ['EU_EEA'] }), { inference_regions: ['EU_EEA'] });
  t.notOk(schema.safeParse({ surprise: true }).success, 'still strict');
  t.notOk(schema.safeParse({ inference_scope: 'nowhere' }).success, 'still validates values');
});

t.test('text fields', async (t) => {
  const name = fieldSchema(field('training_data_provenance', 'upstream_model_name'));
  t.equal(name.parse(''), '', 'empty is allowed');
  t.equal(name.parse('  Acme Model 3  '), 'Acme Model 3', 'trimmed');
  t.notOk(name.safeParse('x'.repeat(121)).success, 'max length');
  for (const bad of ['line\nbreak', '\nleading', 'carriage\r', 'tab\there', 'nul\u0000', 'c1\u0085', 'evil\u202Etxt', 'iso\u2066late', 'sep\u2028']) {
    const result = name.safeParse(bad);
    // Name the test with escaped code points: raw line separators would break the TAP output.
    const shown = [...bad].map((ch) => (/[\w ]/.test(ch) ? ch : `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`)).join('');
    t.notOk(result.success, `refuses ${shown}`);
    t.match(result.error?.issues[0].message, /single line of plain text/);
  }
  t.ok(name.safeParse('Modèle – 東京 ✓').success, 'ordinary Unicode is fine');
});

t.test('diffClaim', async (t) => {
  const def = concern('data_residency');
  const claimed = defaultClaims().data_residency;
  const corrected = { ...claimed, inference_regions: ['EU_EEA'] };
  t.same(diffClaim(def, claimed, corrected), [{ field: 'inference_regions', claimed: ['US'], corrected: ['EU_EEA'] }]);

  t.same(diffClaim(def, claimed, { ...claimed }), [], 'no change, no diff');
  t.same(diffClaim(def, claimed, { ...claimed, remote_access_jurisdictions: ['IN', 'US', 'EU_EEA'] }), [], 'arrays compare as sets');
  t.same(diffClaim(def, { ...claimed, storage_regions: ['US', 'US'] }, claimed), [], 'duplicates do not count as a change');

  const several = diffClaim(def, claimed, {
    ...claimed,
    transfer_mechanisms: ['eu_sccs'],
    prompt_retention_days: 0,
    storage_regions: ['EU_EEA'],
  });
  t.same(
    several.map((c) => c.field),
    ['storage_regions', 'prompt_retention_days', 'transfer_mechanisms'],
    'catalogue field order',
  );

  const access = concern('model_access_controls');
  const before = defaultClaims().model_access_controls;
  t.same(diffClaim(access, before, { ...before, mfa_enforced: false }), [{ field: 'mfa_enforced', claimed: true, corrected: false }]);
});

t.test('formatValue', async (t) => {
  t.equal(formatValue(field('data_residency', 'inference_scope'), 'global_routing'), 'Global routing');
  t.equal(formatValue(field('data_residency', 'storage_regions'), ['EU_EEA', 'US']), 'United States, EU/EEA');
  t.equal(formatValue(field('data_residency', 'storage_regions'), []), 'None');
  t.equal(formatValue(field('data_residency', 'prompt_retention_days'), 30), '30 days');
  t.equal(formatValue(field('data_residency', 'prompt_retention_days'), 1), '1 day');
  t.equal(formatValue(field('audit_compliance', 'breach_notification_hours'), 72), '72 hours');
  t.equal(formatValue(field('model_access_controls', 'mfa_enforced'), true), 'Yes');
  t.equal(formatValue(field('model_access_controls', 'mfa_enforced'), false), 'No');
  t.equal(formatValue(field('model_access_controls', 'user_provisioning'), 'scim2'), 'SCIM 2.0');
  t.equal(formatValue(field('training_data_provenance', 'upstream_model_name'), ''), '—');
  t.equal(formatValue(field('training_data_provenance', 'upstream_model_name'), 'Acme 3'), 'Acme 3');
  t.equal(formatValue(field('data_residency', 'inference_scope'), undefined), '—');
});

t.test('parseFormValue', async (t) => {
  const regions = field('data_residency', 'storage_regions');
  t.same(parseFormValue(regions, undefined), []);
  t.same(parseFormValue(regions, 'US'), ['US']);
  t.same(parseFormValue(regions, ['US', 'EU_EEA']), ['US', 'EU_EEA']);

  const days = field('data_residency', 'prompt_retention_days');
  t.equal(parseFormValue(days, '30'), 30);
  t.equal(parseFormValue(days, ' 7 '), 7);
  t.equal(parseFormValue(days, '0'), 0);
  t.equal(parseFormValue(days, ''), '', 'empty string is returned as is');
  t.equal(parseFormValue(days, 'abc'), 'abc');
  t.equal(parseFormValue(days, undefined), undefined);
  const empty = fieldSchema(days).safeParse(parseFormValue(days, ''));
  t.notOk(empty.success);
  t.equal(empty.error?.issues[0].message, 'Enter a whole number of days from 0 to 3650.', 'a message for a person, from the field’s unit and bounds');
  const fraction = fieldSchema(days).safeParse(parseFormValue(days, '1.5'));
  t.notOk(fraction.success, '1.5 is a number but not an integer');

  const mfa = field('model_access_controls', 'mfa_enforced');
  t.equal(parseFormValue(mfa, 'yes'), true);
  t.equal(parseFormValue(mfa, 'true'), true);
  t.equal(parseFormValue(mfa, 'no'), false);
  t.equal(parseFormValue(mfa, undefined), false);
  t.equal(parseFormValue(mfa, ['no', 'yes']), true, 'hidden input plus ticked checkbox');

  const scope = field('data_residency', 'inference_scope');
  t.equal(parseFormValue(scope, 'data_zone'), 'data_zone');
  t.equal(parseFormValue(scope, undefined), undefined);
  t.equal(parseFormValue(field('training_data_provenance', 'upstream_model_name'), 'Acme'), 'Acme');

  // A whole form round trip.
  const def = concern('data_residency');
  const form: Record<string, string | string[] | undefined> = {
    storage_regions: 'EU_EEA',
    inference_scope: 'data_zone',
    inference_regions: ['EU_EEA'],
    residency_exclusions: undefined,
    prompt_retention: 'zero_data_retention',
    prompt_retention_days: '0',
    remote_access_jurisdictions: ['EU_EEA', 'UK'],
    transfer_mechanisms: 'adequacy',
  };
  const raw: Record<string, unknown> = {};
  for (const f of def.fields) raw[f.key] = parseFormValue(f, form[f.key]);
  const parsed = claimSchema(def).safeParse(raw);
  t.ok(parsed.success, 'a parsed form validates');
  t.same(parsed.data?.residency_exclusions, []);
});

t.test('cross-field warnings', async (t) => {
  t.same(crossFieldWarnings(defaultClaims()), [], 'defaults produce no warnings');
  t.same(crossFieldWarnings({}), [], 'no claims, no warnings');

  const codes = (claims: Record<string, ClaimValues>) => crossFieldWarnings(claims).map((w) => w.code);

  const a = defaultClaims();
  a.data_residency.prompt_retention = 'zero_data_retention';
  t.same(codes(a), ['zdr_with_prompt_logging'], '(a) fires');
  a.audit_compliance.ai_event_logging = ['metadata_only'];
  t.same(codes(a), [], '(a) quiet once prompts are not logged');

  const b = defaultClaims();
  b.adversarial_risk.guardrail_configurability = 'customer_can_disable';
  t.same(codes(b), ['disableable_guardrails_void_indemnity'], '(b) fires');
  b.training_data_provenance.indemnity_conditions = ['paid_tier'];
  t.same(codes(b), [], '(b) quiet without the safety-filter condition');

  const c = defaultClaims();
  c.data_residency.storage_regions = ['EU_EEA'];
  c.data_residency.inference_scope = 'global_routing';
  t.same(codes(c), ['eu_storage_global_inference'], '(c) fires');
  c.data_residency.storage_regions = ['EU_EEA', 'US'];
  t.same(codes(c), [], '(c) quiet when storage is not EU-only');
  c.data_residency.storage_regions = [];
  t.same(codes(c), [], '(c) quiet when storage is empty');

  const d = defaultClaims();
  d.data_residency.storage_regions = ['EU_EEA'];
  d.data_residency.remote_access_jurisdictions = ['EU_EEA', 'IN'];
  d.data_residency.transfer_mechanisms = ['none_needed'];
  const dWarnings = crossFieldWarnings(d);
  t.same(
    dWarnings.map((w) => w.code),
    ['foreign_access_without_transfer_mechanism'],
    '(d) fires',
  );
  t.match(dWarnings[0].message, /India/, '(d) names the jurisdiction');
  d.data_residency.remote_access_jurisdictions = ['EU_EEA'];
  t.same(codes(d), [], '(d) quiet when access stays in the EU/EEA');

  const e = defaultClaims();
  e.audit_compliance.certifications_covering_ai = ['soc2_type2', 'iso42001'];
  const eWarnings = crossFieldWarnings(e);
  t.same(
    eWarnings.map((w) => w.code),
    ['ai_certification_not_held'],
    '(e) fires',
  );
  t.match(eWarnings[0].message, /ISO\/IEC 42001/);
  t.same(eWarnings[0].fields, [
    { concern: 'audit_compliance', field: 'certifications' },
    { concern: 'audit_compliance', field: 'certifications_covering_ai' },
  ]);

  for (const w of [...crossFieldWarnings(a), ...dWarnings, ...eWarnings]) {
    t.notMatch(w.message, /undefined|\[object/);
  }
});

t.test('sentences', async (t) => {
  for (const def of CONCERNS) {
    const claims: [string, ClaimValues][] = [
      ['defaults', def.defaults],
      ['minimal', minimalClaim(def)],
    ];
    for (const [name, values] of claims) {
      t.ok(claimSchema(def).safeParse(values).success, `${def.key} ${name} claim is valid`);
      const text = def.sentence(values);
      t.ok(text.length > 20, `${def.key} ${name}: non-empty`);
      t.notMatch(text, /undefined|\[object|NaN|<|>/, `${def.key} ${name}: clean plain text`);
      t.match(text, /^[A-Z].*\.$/, `${def.key} ${name}: reads as sentences`);
      // A sentence ends with a period after a lower-case letter or digit ("U.S." does not end one).
      const count = text.split(/(?<=[a-z0-9)]\.)\s+(?=[A-Z])/).length;
      t.ok(count >= 1 && count <= 3, `${def.key} ${name}: one to three sentences (${count})`);
    }
  }
  const residency = concern('data_residency');
  t.match(residency.sentence(residency.defaults), /^We store prompts, files and vector stores in the United States.*Inference runs within a data zone covering the United States/);
});

t.test('sentences read cleanly for every single option of every field', async (t) => {
  let checked = 0;
  for (const def of CONCERNS) {
    for (const base of [def.defaults, minimalClaim(def)]) {
      for (const f of def.fields) {
        const variants: ClaimValues[typeof f.key][] = [];
        if (f.type === 'one_of') for (const o of f.options) variants.push(o.value);
        if (f.type === 'any_of') {
          variants.push([]);
          for (const o of f.options) variants.push([o.value]);
          variants.push(f.options.filter((o) => o.value !== 'none').map((o) => o.value));
        }
        if (f.type === 'integer') variants.push(f.min, 1, f.max);
        if (f.type === 'boolean') variants.push(true, false);
        if (f.type === 'text') variants.push('', 'Acme Model 3');
        for (const value of variants) {
          const values = { ...base, [f.key]: value };
          // Zero data retention keeps prompts for 0 days (the concern's own check): vary the other fields with a consistent pair.
          if (values.prompt_retention === 'zero_data_retention' && f.key !== 'prompt_retention_days') values.prompt_retention_days = 0;
          if (!claimSchema(def).safeParse(values).success) t.fail(`${def.key}.${f.key} = ${JSON.stringify(value)} is not valid`);
          const text = def.sentence(values);
          checked++;
          if (/undefined|\[object|NaN|\s[,;.]|\.\.|,,|^\s|\s$/.test(text) || !/^[A-Z].*\.$/.test(text)) {
            t.fail(`${def.key}.${f.key} = ${JSON.stringify(value)}: ${text}`);
          }
        }
      }
    }
  }
  t.ok(checked > 300, `checked ${checked} sentences`);
});

t.test('sentences survive values that never passed validation', async (t) => {
  for (const def of CONCERNS) {
    const text = def.sentence({});
    t.notMatch(text, /undefined|\[object|NaN/, `${def.key} with no values`);
    const odd = def.sentence(Object.fromEntries(def.fields.map((f) => [f.key, f.type === 'any_of' ? ['retired'] : 'retired'])));
    t.notMatch(odd, /undefined|\[object|NaN/, `${def.key} with unknown values`);
  }
});

t.test('formatValue with values from an older catalogue or of the wrong type', async (t) => {
  t.equal(formatValue(field('data_residency', 'storage_regions'), ['US', 'ATLANTIS']), 'United States, ATLANTIS');
  t.equal(formatValue(field('data_residency', 'inference_scope'), 'retired_scope'), 'retired_scope');
  t.equal(formatValue(field('data_residency', 'inference_scope'), 3), '3');
  t.equal(formatValue(field('data_residency', 'storage_regions'), 'US'), 'US');
  t.equal(formatValue(field('data_residency', 'prompt_retention_days'), '30'), '30');
  t.equal(formatValue(field('model_access_controls', 'mfa_enforced'), 'maybe'), 'maybe');
  t.equal(formatValue(field('training_data_provenance', 'upstream_model_name'), 7), '—');
  t.equal(formatValue({ key: 'n', label: 'N', type: 'integer', min: 0, max: 9, unit: '' }, 4), '4');
});

t.test('a choice field needs options', async (t) => {
  t.throws(() => fieldSchema({ key: 'x', label: 'X', type: 'one_of', options: [] }));
});

t.test('sentence wording for a few specific claims', async (t) => {
  const training = concern('training_data_provenance');
  t.match(
    training.sentence({ ...training.defaults, upstream_model: 'named_third_party', upstream_model_name: 'Acme Model 3' }),
    /The model is built on the third-party model Acme Model 3\./,
  );
  t.match(training.sentence({ ...training.defaults, ip_indemnity_scope: 'none' }), /We offer no intellectual-property indemnity\.$/);

  const audit = concern('audit_compliance');
  t.match(audit.sentence({ ...audit.defaults, certifications: ['iso27001'], certifications_covering_ai: ['iso27001'] }), /^We hold ISO\/IEC 27001, which covers the AI service\./);
  t.match(
    audit.sentence({ ...audit.defaults, certifications: ['soc2_type2', 'iso27001'], certifications_covering_ai: [] }),
    /^We hold SOC 2 Type II and ISO\/IEC 27001, but none of them covers the AI service\./,
  );
  t.match(
    audit.sentence({ ...audit.defaults, certifications: ['soc2_type2', 'iso27001'], certifications_covering_ai: ['iso27001', 'soc2_type2'] }),
    /all of which cover the AI service/,
  );
  t.match(audit.sentence({ ...audit.defaults, breach_notification_hours: 24 }), /within 24 hours/);

  const residency = concern('data_residency');
  t.match(residency.sentence({ ...residency.defaults, prompt_retention: 'zero_data_retention' }), /zero data retention/);
  t.match(
    residency.sentence({ ...residency.defaults, remote_access_jurisdictions: ['US'], transfer_mechanisms: ['none_needed'] }),
    /from the United States; we consider no transfer mechanism necessary\./,
  );
});
