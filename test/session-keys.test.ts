// The key that signs sessions: SESSION_SECRET, never kept in the database
// once set, and rotated without signing anyone out before the time allowed.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { sessionSecrets } from '../server/runtime.js';
import { testApp } from './helpers/app.js';
import { csrfFrom, form } from './helpers/http.js';
import { signUpVendor } from './helpers/vendor.js';

t.test('a rotated secret keeps old cookies working until the set time, and no longer', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const oldCookies = vendor.jar.header();
  const oldCsrf = csrfFrom((await vendor.page('/app')).body);
  const newSecret = randomBytes(24).toString('hex');
  const until = new Date(ctx.clock.now().getTime() + 3_600_000);
  const rotated = await buildApp({
    config: ctx.config,
    db: ctx.db,
    clock: ctx.clock,
    mail: ctx.mail,
    sessionSecret: newSecret,
    previousSessionSecret: { secret: ctx.sessionSecret, until },
    logger: false,
  });
  t.teardown(() => rotated.close());
  const strict = await buildApp({ config: ctx.config, db: ctx.db, clock: ctx.clock, mail: ctx.mail, sessionSecret: newSecret, logger: false });
  t.teardown(() => strict.close());

  const open = (app: typeof rotated) => app.inject({ method: 'GET', url: '/app', headers: { cookie: oldCookies } });
  t.equal((await open(rotated)).statusCode, 200, 'a session signed with the previous secret still opens the app');
  const posted = await rotated.inject({ method: 'POST', url: '/app/settings/api-keys', ...form({ _csrf: oldCsrf, name: 'after rotation' }, { cookie: oldCookies }) });
  t.equal(posted.statusCode, 200, 'and its signed CSRF cookie still verifies');
  t.match(posted.body, 'after rotation');
  t.equal((await open(strict)).statusCode, 303, 'without the previous secret the old cookie is refused');

  ctx.clock.advance(3_600_000 + 1000);
  t.equal((await open(rotated)).statusCode, 303, 'past the set time the previous secret is refused too');
  const late = await rotated.inject({ method: 'POST', url: '/app/settings/api-keys', ...form({ _csrf: oldCsrf, name: 'late' }, { cookie: oldCookies }) });
  t.equal(late.statusCode, 401, 'a form with the old cookies is refused');
});

t.test('with SESSION_SECRET set, no signing key rests in the database', async (t) => {
  const ctx = await testApp(t);
  const local = await sessionSecrets(loadConfig({}), ctx.db);
  t.equal(local.stored, true, 'local use: a key is generated and kept, and the caller is told to warn');
  t.equal((await sessionSecrets(loadConfig({}), ctx.db)).sessionSecret, local.sessionSecret, 'the same key for every instance');
  const rows = () => ctx.db.selectFrom('app_secrets').select('name').where('name', '=', 'session').execute();
  t.equal((await rows()).length, 1);

  const secret = 'k'.repeat(48);
  const configured = await sessionSecrets(loadConfig({ SESSION_SECRET: secret }), ctx.db);
  t.same(configured, { sessionSecret: secret, previousSessionSecret: undefined, stored: false });
  t.same(await rows(), [], 'the key kept for local use is dropped once SESSION_SECRET is set');

  const rotating = await sessionSecrets(
    loadConfig({ SESSION_SECRET: secret, SESSION_SECRET_PREVIOUS: 'p'.repeat(48), SESSION_SECRET_PREVIOUS_UNTIL: '2026-12-06T12:00:00+01:00' }),
    ctx.db,
  );
  t.same(rotating.previousSessionSecret, { secret: 'p'.repeat(48), until: new Date('2026-12-06T11:00:00Z') });
});
