// Property: whatever sequence of writes reaches a deal through the real
// routes (answers, revisions, claim changes, hand-overs, revokes, role
// changes, confirmations, stage moves, overrides), after every step the read
// model equals a recomputation from the source tables.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { CONCERN_KEYS } from '../server/concerns/index.js';
import { DEAL_STAGES } from '../server/rules.js';
import { testApp } from './helpers/app.js';
import { form } from './helpers/http.js';
import { readModelAndTruth } from './helpers/read-model.js';
import { linksIn } from './helpers/smtp.js';
import { claimForm, inviteStakeholder, openDeal, signUpVendor } from './helpers/vendor.js';

const ROLES = ['ciso', 'security', 'compliance', 'privacy', 'legal', 'other'] as const;
const concern = fc.constantFrom(...CONCERN_KEYS);
const who = fc.nat(7);

const operation = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('answer' as const), who, concern, verdict: fc.constantFrom('confirm', 'correct', 'not_mine') }), weight: 5 },
  { arbitrary: fc.record({ op: fc.constant('claim' as const), hours: fc.constantFrom(24, 48, 72) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('delegate' as const), who, concern, outside: fc.boolean(), role: fc.constantFrom(...ROLES) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('revoke' as const), who }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('role' as const), who, role: fc.constantFrom(...ROLES) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('confirm' as const), who }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('stage' as const), stage: fc.constantFrom(...DEAL_STAGES), override: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('add' as const), role: fc.constantFrom(...ROLES) }), weight: 1 },
);
type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

t.test('the read model equals the truth after every step of any sequence of writes', async (t) => {
  const ctx = await testApp(t);
  const { app, db, smtp } = ctx;
  const vendor = await signUpVendor(ctx);
  let run = 0;
  let steps = 0;

  await fc.assert(
    fc.asyncProperty(fc.array(operation, { minLength: 4, maxLength: 12 }), async (ops: Operation[]) => {
      run++;
      const dealId = await openDeal(vendor, { buyer_name: `Bank ${run}` });
      const people: { id: string; path: string; email: string }[] = [];
      const add = async (role: string) => {
        const email = `p${people.length}-${run}@bank${run}.example`;
        people.push({ ...(await inviteStakeholder(ctx, vendor, dealId, { name: `Person ${people.length}`, email, role })), email });
      };
      await add('ciso');
      await add('compliance');
      const pick = (i: number) => people[i % people.length];
      const claimOf = async (key: string) => (await vendor.api('GET', `/api/v1/deals/${dealId}`)).json().concerns.find((c: { concern: string }) => c.concern === key).claim;

      for (const o of ops) {
        ctx.clock.advance(1000);
        switch (o.op) {
          case 'answer': {
            const values =
              o.verdict === 'correct' ? { verdict: 'correct', kind: 'factual_error', comment: `step ${steps}`, ...claimForm(await claimOf(o.concern)) } : { verdict: o.verdict };
            await app.inject({ method: 'POST', url: `${pick(o.who).path}/answer/${o.concern}`, ...form(values as never) });
            break;
          }
          case 'claim':
            await vendor.api('PUT', `/api/v1/deals/${dealId}/claims/audit_compliance`, { breach_notification_hours: o.hours });
            break;
          case 'delegate': {
            const email = `d${steps}-${run}@${o.outside ? 'elsewhere' : `bank${run}`}.example`;
            const res = await app.inject({
              method: 'POST',
              url: `${pick(o.who).path}/delegate`,
              ...form({ concerns: [o.concern], name: `Delegate ${steps}`, email, role: o.role }),
            });
            if (res.statusCode === 303) {
              await ctx.drainMail();
              const mail = [...smtp.messages].reverse().find((m) => m.to === email);
              const link = mail && linksIn(mail.text).find((l) => l.includes('/r/'));
              const id = (await db.selectFrom('stakeholders').select('id').where('email', '=', email).executeTakeFirst())?.id;
              if (link && id) people.push({ id, path: new URL(link).pathname, email });
            }
            break;
          }
          case 'revoke':
            await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${pick(o.who).id}/revoke`);
            break;
          case 'role':
            await vendor.api('PATCH', `/api/v1/deals/${dealId}/stakeholders/${pick(o.who).id}`, { role: o.role });
            break;
          case 'confirm':
            await vendor.api('POST', `/api/v1/deals/${dealId}/stakeholders/${pick(o.who).id}/confirm`);
            break;
          case 'stage':
            await vendor.api('POST', `/api/v1/deals/${dealId}/stage`, { stage: o.stage, ...(o.override ? { override_reason: `reason ${steps}` } : {}) });
            break;
          case 'add':
            await add(o.role);
            break;
        }
        steps++;
        const { held, truth } = await readModelAndTruth(db, dealId);
        if (!held || !isDeepStrictEqual(held, truth)) {
          throw new Error(`after ${JSON.stringify(o)} the read model differs:\nheld  ${JSON.stringify(held)}\ntruth ${JSON.stringify(truth)}`);
        }
      }
    }),
    { numRuns: 20, endOnFailure: true },
  );
  t.ok(steps >= 80, `${steps} steps over ${run} random sequences, each followed by a comparison`);
  const kinds = await db.selectFrom('signals').select('type').distinct().execute();
  t.ok(kinds.length >= 3, `the sequences wrote several kinds of signal (${kinds.map((k) => k.type).join(', ')})`);
});
