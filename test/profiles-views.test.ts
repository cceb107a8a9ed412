// The profile editor's page data, built without a database.
import t from 'tap';
import { CONCERNS } from '../server/concerns/index.js';
import { defaultDraft } from '../server/profiles/service.js';
import { editorPage } from '../server/profiles/views.js';

t.test('a fresh draft with nothing published', async (t) => {
  const page = editorPage({ draft: defaultDraft(), versions: [], latestClaims: undefined });
  t.equal(page.concerns.length, CONCERNS.length, 'one card per concern');
  t.equal(page.nextVersion, 1);
  t.equal(page.invalid, false);
  t.equal(page.unpublished, true, 'nothing published yet');
  t.equal(page.saved, false);
  t.equal(page.published, undefined);
  for (const c of page.concerns) {
    t.ok(c.sentence, `${c.key} reads as a sentence`);
    t.equal(c.hasError, false);
  }
});

t.test('a draft equal to the latest version has nothing to publish', async (t) => {
  const draft = defaultDraft();
  const latest = structuredClone(draft);
  const page = editorPage({ draft, versions: [{ version: 3 }, { version: 2 }], latestClaims: latest, saved: true, published: '3' });
  t.equal(page.unpublished, false);
  t.equal(page.nextVersion, 4);
  t.equal(page.saved, true);
  t.equal(page.published, '3');

  // A list field in another order says the same thing.
  const regions = { ...draft, data_residency: { ...draft.data_residency, values: { ...draft.data_residency.values, storage_regions: ['EU_EEA', 'US'] } } };
  const reordered = { ...draft, data_residency: { ...draft.data_residency, values: { ...draft.data_residency.values, storage_regions: ['US', 'EU_EEA'] } } };
  t.equal(editorPage({ draft: regions, versions: [{ version: 1 }], latestClaims: reordered }).unpublished, false, 'arrays compare as sets');
  const narrated = { ...draft, data_residency: { ...draft.data_residency, narrative: 'Frankfurt.' } };
  t.equal(editorPage({ draft: narrated, versions: [{ version: 1 }], latestClaims: latest }).unpublished, true, 'a new narrative is a change');
});

t.test('contradictions are warned about on the concerns they involve', async (t) => {
  const draft = defaultDraft();
  draft.data_residency = { ...draft.data_residency, values: { ...draft.data_residency.values, storage_regions: ['EU_EEA'], inference_scope: 'global_routing' } };
  const page = editorPage({ draft, versions: [], latestClaims: undefined });
  t.ok(page.warnings.some((w) => w.code === 'eu_storage_global_inference'));
  t.equal(page.concerns.find((c) => c.key === 'data_residency')?.hasWarning, true);
});

t.test('a refused form keeps what was typed and marks the errors', async (t) => {
  const draft = { ...defaultDraft(), audit_compliance: { values: { ...defaultDraft().audit_compliance.values, breach_notification_hours: 'soon' }, narrative: 'x' } };
  const errors = { audit_compliance: { breach_notification_hours: 'must be a number', narrative: 'too long' } };
  const page = editorPage({ draft, errors, versions: [], latestClaims: undefined });
  t.equal(page.invalid, true);
  t.same(page.warnings, [], 'no warnings for an invalid draft');
  t.equal(page.unpublished, false);
  const card = page.concerns.find((c) => c.key === 'audit_compliance')!;
  t.equal(card.hasError, true);
  t.equal(card.sentence, undefined, 'no sentence from invalid values');
  t.equal(card.narrativeError, 'too long');
  const field = card.fields.find((f) => f.name === 'audit_compliance.breach_notification_hours')!;
  t.equal(field.value, 'soon', 'the bad value stays on screen');
  t.equal(field.error, 'must be a number');
});
