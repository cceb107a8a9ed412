// API keys: when each was last used is recorded (at most once a minute), and a
// bad key gets the documented 401.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { signUpVendor } from './helpers/vendor.js';

t.test('a key records when it was last used, at most once a minute', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const lastUsed = async () => (await ctx.db.selectFrom('api_keys').select('last_used_at').executeTakeFirstOrThrow()).last_used_at;

  t.equal(await lastUsed(), null, 'a new key has not been used');
  const first = ctx.clock.now();
  t.equal((await vendor.api('GET', '/api/v1/deals')).statusCode, 200);
  t.same(await lastUsed(), first, 'the first call records the time, by the injected clock');

  ctx.clock.advance(30_000);
  await vendor.api('GET', '/api/v1/deals');
  t.same(await lastUsed(), first, 'a call 30 s later writes nothing');

  ctx.clock.advance(31_000);
  const later = ctx.clock.now();
  await vendor.api('GET', '/api/v1/deals');
  t.same(await lastUsed(), later, 'a call over a minute later records the new time');

  const bad = await ctx.app.inject({ method: 'GET', url: '/api/v1/deals', headers: { authorization: 'Bearer pp_nope' } });
  t.equal(bad.statusCode, 401);
  t.equal(bad.json().error.code, 'unauthorized');
  t.same(await lastUsed(), later, 'a bad key touches nothing');
});
