// Errors Fastify raises itself, before any route runs (an over-long path
// parameter, a bad %-escape), still answer the way the portal documents:
// the JSON error shape under /api/v1, and the dead-link page under /r/.
import t from 'tap';
import { testApp } from './helpers/app.js';
import { signUpVendor } from './helpers/vendor.js';

/** Longer than Fastify's default maxParamLength (100). */
const LONG = 'A'.repeat(101);
/** A truncated UTF-8 percent-escape: not a valid URL component. */
const BAD_ESCAPE = '%E0%A4%A';

t.test('under /api/v1, a mangled path parameter is a 4xx with the documented error shape', async (t) => {
  const ctx = await testApp(t);
  const vendor = await signUpVendor(ctx);
  const cases: Record<string, string> = {
    'a path parameter over 100 characters': `/api/v1/deals/${LONG}`,
    'a bad percent-escape': `/api/v1/deals/${BAD_ESCAPE}`,
  };
  for (const [what, url] of Object.entries(cases)) {
    const res = await vendor.api('GET', url);
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: a client error (${res.statusCode})`);
    t.match(res.headers['content-type'], /^application\/json/, `${what}: answered as JSON`);
    let body: unknown;
    try {
      body = res.json();
    } catch {
      body = res.body;
    }
    const keys = body !== null && typeof body === 'object' ? Object.keys(body) : typeof body;
    t.same(keys, ['error'], `${what}: only an "error" member at the top level, no statusCode or code (${res.body.slice(0, 200)})`);
    const error = (body as { error?: Record<string, unknown> }).error;
    t.type(error?.code, 'string', `${what}: error.code is a string`);
    t.type(error?.message, 'string', `${what}: error.message is a string`);
    t.notMatch(String(error?.code), /^FST_/, `${what}: the code is ours, not Fastify's`);
    t.notMatch(res.body, 'FST_ERR', `${what}: no Fastify error code anywhere in the answer`);
  }
});

t.test('under /r/, a mangled token shows the dead-link page, not JSON', async (t) => {
  const ctx = await testApp(t);
  const cases: Record<string, string> = {
    'a token over 100 characters': `/r/${LONG}`,
    'a bad percent-escape': `/r/${BAD_ESCAPE}`,
  };
  for (const [what, url] of Object.entries(cases)) {
    const res = await ctx.app.inject({ method: 'GET', url });
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: a client error (${res.statusCode})`);
    t.match(res.headers['content-type'], /^text\/html/, `${what}: an HTML page (${res.headers['content-type']})`);
    t.match(res.body, '<h1>This link no longer works</h1>', `${what}: the "This link no longer works" page`);
    t.notMatch(res.body, 'FST_ERR', `${what}: no Fastify error code on the page`);
    t.match(res.headers['content-security-policy'], "default-src 'none'", `${what}: the page has the security headers too`);
    t.equal(res.headers['x-content-type-options'], 'nosniff');
  }
});
