// The log of a full run holds no token, API key, cookie or mail body.
import t from 'tap';
import { Writable } from 'node:stream';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { linksIn } from './helpers/smtp.js';
import { inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

t.test('secrets never reach the log, however the path is encoded', async (t) => {
  let log = '';
  const logStream = new Writable({
    write(chunk, _enc, done) {
      log += chunk.toString();
      done();
    },
  });
  const ctx = await testApp(t, { env: { LOG_LEVEL: 'debug' }, logStream });
  const { app, smtp } = ctx;
  const vendor = await signUpVendor(ctx, { email: 'ada@vendor.test' });
  const dealId = await openDeal(vendor);
  const { path } = await inviteStakeholder(ctx, vendor, dealId, { email: 'carla@bank.example' });
  const token = path.split('/').pop()!;
  await app.inject({ method: 'GET', url: path });
  await app.inject({ method: 'GET', url: `/%72/${token}` });
  await app.inject({ method: 'GET', url: `/r/${token}/nothing-here?x=${token}` });
  await app.inject({ method: 'POST', url: `${path}/answer/data_residency`, ...form({ verdict: 'confirm', comment: 'private remark' }) });
  await app.inject({ method: 'POST', url: '/signin', ...form({ email: 'ada@vendor.test' }) });
  await ctx.drainMail();

  t.ok(log.split('\n').length > 10, `the run was logged (${log.split('\n').length} lines)`);
  t.equal(
    log.split('\n').filter((l) => l.includes('"url":"/r/:token"') && l.includes('"method":"GET"')).length,
    2,
    'one line per request (the page was opened twice, once by an encoded path)',
  );
  t.match(log, '/r/:token', 'requests show the route pattern');
  const secrets = [...smtp.messages.flatMap((m) => linksIn(m.text)).map((l) => l.split('/').pop()!), vendor.apiKey, vendor.jar.get('pp_session')!];
  for (const secret of secrets) t.notOk(log.includes(secret), `${secret.slice(0, 6)}… is not in the log`);
  t.notMatch(log, 'private remark', 'no answer content');
  t.notMatch(log, 'Hello Carla', 'no mail body');
  t.notMatch(log, /carla@bank\.example/, 'no recipient address');
});
