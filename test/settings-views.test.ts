// The settings page's data, built without a database.
import t from 'tap';
import { settingsPage } from '../server/settings/views.js';

t.test('keys are listed with their creation day, and notices pass through', async (t) => {
  const key = {
    id: '6a1f0c1e-0000-4000-8000-000000000001',
    name: 'CRM',
    prefix: 'pp_abcdef',
    created_at: new Date('2026-03-02T23:59:00Z'),
    last_used_at: null,
    revoked_at: null,
    role: 'member' as const,
  };
  const page = settingsPage([key], { newKey: 'pp_secret', newKeyName: 'CRM' });
  t.equal(page.title, 'Settings', 'the page holds the workspace settings and the API keys');
  t.equal(page.nav, 'settings');
  t.equal(page.keys[0].created, '2026-03-02');
  t.equal(page.keys[0].prefix, 'pp_abcdef');
  t.equal(page.newKey, 'pp_secret');
  t.same(settingsPage([]).keys, []);
  t.equal(settingsPage([], { revoked: true }).revoked, true);
});
