// Seeds a demo workspace: about 40 deals across industries, regions and
// stages, started over the last twelve weeks, with the answers and
// corrections buyers' security teams typically give (EU buyers moving
// inference to the EU, a third of buyers calling the uncapped indemnity a
// factual error, a slow privacy reviewer, a deal pushed past the checkpoint),
// then prints a sign-in link. Everything goes through the app's own services
// under a clock set to each moment, so the read model and the insights page
// show exactly what the portal would have recorded. The same seed gives the
// same pipeline every time.
//
//   npm run seed-demo                        embedded database (stop `npm start` first: one process owns it)
//   DATABASE_URL=postgres://… npm run seed-demo -- --email you@example.com
//
// Invitations are recorded as sent, but no mail goes out: the people are made up, and reminders are paused.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { sql } from 'kysely';
import { ConfigError, loadConfig } from '../server/config.js';
import { openDatabase } from '../server/runtime.js';
import { DAY, MINUTE, ManualClock, systemClock } from '../server/lib/clock.js';
import { email } from '../server/lib/validate.js';
import { transaction, type DB } from '../server/db/index.js';
import { createApiKey, createWorkspace, issueSigninLink, LOGIN_TTL_MS } from '../server/auth/service.js';
import { publishProfile } from '../server/profiles/service.js';
import { changeStage, createDeal, currentClaims } from '../server/deals/service.js';
import { addStakeholder } from '../server/stakeholders/service.js';
import { systemActor } from '../server/audit/service.js';
import { recordAnswer } from '../server/signals/service.js';
import { CONCERNS, claimSchema, diffClaim, getConcern, type ClaimValues } from '../server/concerns/index.js';
import { rebuildReadModel, refreshDeal } from '../server/readmodel/service.js';
import type { CorrectionKind, DealStage, Industry, StakeholderRole } from '../server/db/schema.js';

/** How the audit trail names what the seed does. */
const SEED = 'seed-demo';

const usage = 'Usage: npm run seed-demo [-- --email you@example.com --workspace "Demo AI"]';

/** A small deterministic generator (a linear congruential one), so every run seeds the same pipeline. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const BUYERS: [string, Industry, string | null][] = [
  ['Northwind Bank', 'financial_services', 'EU_EEA'],
  ['Helvetia Re', 'insurance', 'CH'],
  ['St. Aurelia Health', 'healthcare', 'EU_EEA'],
  ['City of Brookfield', 'public_sector', 'US'],
  ['Quantix Software', 'technology', 'US'],
  ['Marlow Retail Group', 'retail', 'UK'],
  ['Kestrel Manufacturing', 'manufacturing', 'EU_EEA'],
  ['Solara Energy', 'energy', 'AU'],
  ['Fjord Savings', 'financial_services', 'EU_EEA'],
  ['Granite Mutual', 'insurance', 'US'],
  ['Lakeside Clinics', 'healthcare', 'US'],
  ['Ministry of Transport', 'public_sector', 'UK'],
  ['Cobalt Cloud', 'technology', 'EU_EEA'],
  ['Harbor Foods', 'retail', 'US'],
  ['Ironbridge Tools', 'manufacturing', 'US'],
  ['Tidewater Power', 'energy', 'US'],
  ['Aldermoor Capital', 'financial_services', 'UK'],
  ['Meridian Assurance', 'insurance', 'EU_EEA'],
  ['Pinecrest Medical', 'healthcare', 'CA'],
  ['State Revenue Office', 'public_sector', 'AU'],
  ['Vantage Analytics', 'technology', 'SG'],
  ['Bellweather Stores', 'retail', 'EU_EEA'],
  ['Orion Motors', 'manufacturing', 'JP'],
  ['Nordlicht Stadtwerke', 'energy', 'EU_EEA'],
  ['Sterling Trust', 'financial_services', 'US'],
  ['Beacon Life', 'insurance', 'UK'],
  ['Rivermark Hospital', 'healthcare', 'EU_EEA'],
  ['County Health Board', 'public_sector', 'EU_EEA'],
  ['Nimbus Labs', 'technology', 'US'],
  ['Crescent Outfitters', 'retail', 'CA'],
  ['Atlas Components', 'manufacturing', 'IN'],
  ['Greenfield Utilities', 'energy', 'UK'],
  ['Kronos Payments', 'financial_services', 'SG'],
  ['Evergreen Insurance', 'insurance', 'CA'],
  ['Summit Care Network', 'healthcare', 'US'],
  ['Port Authority East', 'public_sector', 'US'],
  ['Lumen Devices', 'technology', 'KR'],
  ['Oakline Markets', 'retail', 'AU'],
  ['Delta Fabrication', 'manufacturing', 'BR'],
  ['Union Gas & Light', 'other', null],
];

const SURNAMES = ['Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Costa', 'Novak', 'Schmidt', 'Reyes', 'Kaur', 'Walsh', 'Haddad', 'Ivanova'];
const FIRST = { ciso: 'Dana', security: 'Sam', compliance: 'Cora', privacy: 'Pia', legal: 'Leo', champion: 'Chris', other: 'Oli' } as const;

/** "Not mine" on every concern but `own`, on `day`: what a person answering only their part says of the rest. */
const notMine = (day: number, own: string): Answer[] => CONCERNS.filter((c) => c.key !== own).map((c) => ({ day, concern: c.key, verdict: 'not_mine' as const }));

interface Answer {
  day: number;
  concern: string;
  verdict: 'confirm' | 'correct' | 'not_mine';
  kind?: CorrectionKind;
  changes?: ClaimValues;
  comment?: string;
}

async function run() {
  const { values } = parseArgs({ options: { email: { type: 'string' }, workspace: { type: 'string' } } });
  const input = z
    .object({ email, workspace: z.string().trim().min(1).max(120) })
    .safeParse({ email: values.email ?? 'demo@example.com', workspace: values.workspace ?? 'Demo AI' });
  if (!input.success) {
    console.error(`${input.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n')}\n${usage}`);
    process.exit(2);
  }
  const config = loadConfig();
  const handle = await openDatabase(config);
  try {
    const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z').getTime();
    const clock = new ManualClock(new Date(today - 90 * DAY));
    const db = handle.db;
    const ws = await transaction(db, (trx) => createWorkspace(trx, clock, { workspace: input.data.workspace, name: 'Demo Admin', email: input.data.email }));
    await transaction(db, (trx) => publishProfile(trx, clock, systemActor(ws.vendorId, SEED, ws.userId)));
    const counts = await seedDeals(db, clock, ws.vendorId, ws.userId, today, config.LINK_TTL_DAYS);
    // The seed's invitations and reminders are on record as sent; no mail goes to these made-up people.
    await sql`update outbox set status = 'sent', sent_at = created_at where vendor_id = ${ws.vendorId} and status = 'pending'`.execute(db);
    // Nor later: reminders are paused on the demo's deals (a deal's settings resume them).
    await sql`update deals set reminders_paused = true where vendor_id = ${ws.vendorId}`.execute(db);
    await rebuildReadModel(db, { onlyMissing: true });
    const { token, key } = await transaction(db, async (trx) => ({
      token: await issueSigninLink(trx, systemClock, { userId: ws.userId, email: input.data.email }),
      key: await createApiKey(trx, systemClock, ws.vendorId, ws.userId, 'Created by seed-demo', 'owner'),
    }));
    console.log(`Workspace "${input.data.workspace}" seeded: ${counts.deals} deals, ${counts.people} people, ${counts.answers} answers (${counts.corrections} corrections).`);
    console.log(`Start the portal (npm start), then sign in within ${LOGIN_TTL_MS / MINUTE} minutes: ${config.PUBLIC_URL}/auth/link/${token}`);
    console.log(`Insights: ${config.PUBLIC_URL}/app/insights`);
    console.log(`API key (shown once): ${key}`);
  } finally {
    await handle.close();
  }
}

async function seedDeals(db: DB, clock: ManualClock, vendorId: string, userId: string, today: number, ttlDays: number) {
  // The seed acts for the workspace's owner: the deals are theirs, the audit trail says the seed did it.
  const actor = systemActor(vendorId, SEED, userId);
  const rand = random(20261206);
  const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)];
  const counts = { deals: 0, people: 0, answers: 0, corrections: 0 };
  for (const [i, [buyer, industry, region]] of BUYERS.entries()) {
    // Start dates spread over twelve weeks; the oldest deals are furthest along.
    const startedDaysAgo = 84 - Math.floor((i * 84) / BUYERS.length);
    const start = today - startedDaysAgo * DAY;
    const startedOn = new Date(start).toISOString().slice(0, 10);
    const at = (day: number, hour = 10) => clock.set(new Date(start + day * DAY + hour * 60 * MINUTE));
    at(0, 9);
    const dealId = await transaction(db, (trx) =>
      createDeal(trx, clock, actor, userId, { buyer_name: buyer, started_on: startedOn, industry, region: (region ?? undefined) as never }),
    );
    counts.deals++;
    const domain = `${buyer.toLowerCase().replace(/[^a-z]+/g, '')}.example`;
    // Most buyers name a CISO or a security lead; about one in eight names nobody from security at first.
    const roles: StakeholderRole[] =
      i % 8 === 5 ? ['champion', 'legal'] : ['champion', i % 3 === 0 ? 'ciso' : 'security', ...(i % 2 === 0 ? (['privacy'] as const) : []), 'compliance'];
    const people = new Map<StakeholderRole, string>();
    for (const role of roles) {
      at(rand() < 0.7 ? 0 : 1, 11);
      const name = `${FIRST[role as keyof typeof FIRST]} ${pick(SURNAMES)}`;
      const id = await transaction(db, (trx) => addStakeholder(trx, clock, ttlDays, actor, dealId, { name, email: `${role}@${domain}`, role, invite: true }));
      people.set(role, id);
      counts.people++;
    }

    const claims = new Map((await currentClaims(db, vendorId, dealId)).map((c) => [c.concern, c]));
    const eu = region === 'EU_EEA' || region === 'CH' || region === 'UK';
    const regulated = industry === 'financial_services' || industry === 'insurance' || industry === 'healthcare';
    // The portal's effect: most security teams speak in weeks 1 to 3; a few only late.
    const firstDay = rand() < 0.75 ? 2 + Math.floor(rand() * 14) : 20 + Math.floor(rand() * 40);
    const plan = new Map<StakeholderRole, Answer[]>();
    const lead = people.has('ciso') ? 'ciso' : people.has('security') ? 'security' : undefined;
    if (lead) {
      const answers: Answer[] = [];
      let day = firstDay;
      for (const c of CONCERNS) {
        day += Math.floor(rand() * 3);
        if (c.key === 'data_residency' && (eu || (regulated && rand() < 0.4))) {
          answers.push({
            day,
            concern: c.key,
            verdict: 'correct',
            kind: eu ? 'factual_error' : 'requirement_gap',
            changes: { inference_regions: ['EU_EEA'], ...(rand() < 0.5 ? { storage_regions: ['EU_EEA'] } : {}) },
            comment: eu ? 'Inference for our tenant must stay in the EU/EEA.' : 'Our regulator expects EU processing for this data.',
          });
        } else if (c.key === 'training_data_provenance' && i % 3 === 1) {
          answers.push({
            day,
            concern: c.key,
            verdict: 'correct',
            kind: 'factual_error',
            changes: { indemnity_cap: 'capped_at_fees' },
            comment: 'Your MSA caps the indemnity at fees paid.',
          });
        } else if (c.key === 'model_access_controls' && rand() < 0.25) {
          answers.push({ day, concern: c.key, verdict: 'correct', kind: 'requirement_gap', changes: { user_provisioning: pick(['scim2', 'manual']) } });
        } else if (c.key === 'audit_compliance' && people.has('compliance')) {
          answers.push({ day, concern: c.key, verdict: 'not_mine' }); // compliance answers this one
        } else if (rand() < 0.85 || startedDaysAgo > 40) {
          answers.push({ day, concern: c.key, verdict: 'confirm' });
        }
      }
      plan.set(lead, answers);
    }
    if (people.has('compliance') && rand() < 0.8) {
      plan.set('compliance', [
        {
          day: firstDay + 3 + Math.floor(rand() * 10),
          concern: 'audit_compliance',
          verdict: rand() < 0.3 ? 'correct' : 'confirm',
          kind: 'requirement_gap',
          changes: { audit_rights: 'remote_audit' },
        },
        // The rest is not compliance's to answer.
        ...notMine(firstDay + 4, 'audit_compliance'),
      ]);
    }
    if (people.has('privacy') && rand() < 0.5) {
      const day = firstDay + 10 + Math.floor(rand() * 20);
      plan.set('privacy', [{ day, concern: 'data_residency', verdict: 'confirm' }, ...notMine(day, 'data_residency')]);
    }
    if (people.has('legal'))
      plan.set('legal', [{ day: 6, concern: 'training_data_provenance', verdict: 'correct', kind: 'factual_error', changes: { indemnity_cap: 'capped_at_fees' } }]);

    for (const [role, answers] of plan) {
      for (const a of answers.filter((x) => x.day < startedDaysAgo)) {
        at(a.day, 10 + Math.floor(rand() * 7));
        const claim = claims.get(a.concern)!;
        const concern = getConcern(a.concern)!;
        const verdict = a.verdict === 'correct' && a.changes ? 'correct' : a.verdict === 'correct' ? 'confirm' : a.verdict;
        // Corrected values pass the catalogue's own schema, as a respondent's do.
        const corrected = verdict === 'correct' ? diffClaim(concern, claim.claim, claimSchema(concern).parse({ ...claim.claim, ...a.changes })) : [];
        if (verdict === 'correct' && corrected.length === 0) continue;
        await transaction(db, (trx) =>
          recordAnswer(
            trx,
            clock,
            { vendorId, dealId, startedOn },
            {
              stakeholderId: people.get(role)!,
              concern: a.concern,
              claimRevision: claim.revision,
              verdict,
              kind: verdict === 'correct' ? a.kind! : null,
              comment: verdict === 'correct' ? (a.comment ?? null) : null,
              changes: corrected,
            },
          ),
        );
        counts.answers++;
        if (verdict === 'correct') counts.corrections++;
      }
    }
    // People still silent after a week were reminded once or twice.
    await sql`update stakeholders s set reminders_sent = least(2, ${Math.floor(startedDaysAgo / 7)}), reminders_total = least(2, ${Math.floor(startedDaysAgo / 7)})
               where s.vendor_id = ${vendorId} and s.deal_id = ${dealId} and s.role <> 'champion'
                 and not exists (select 1 from signals x where x.vendor_id = s.vendor_id and x.stakeholder_id = s.id and x.type = 'answer' and x.created_at < s.invited_at + interval '7 days')`.execute(
      db,
    );
    await transaction(db, (trx) => refreshDeal(trx, vendorId, dealId));

    // Stages: deals older than four weeks move on; the gate needs the checkpoint ready, or a written override.
    const moves: DealStage[] =
      startedDaysAgo > 70
        ? ['evaluation', 'negotiation', i % 3 === 2 ? 'closed_lost' : 'closed_won']
        : startedDaysAgo > 50
          ? ['evaluation', 'negotiation', ...(i % 2 === 0 ? (['closed_won'] as const) : i % 5 === 1 ? (['closed_lost'] as const) : [])]
          : startedDaysAgo > 28
            ? ['evaluation', ...(i % 2 === 1 ? (['business_case'] as const) : [])]
            : [];
    for (const [n, stage] of moves.entries()) {
      at(Math.min(startedDaysAgo - 1, 28 + n * 14), 15);
      await transaction(db, (trx) => changeStage(trx, clock, actor, dealId, { stage, override_reason: 'Security review continues in parallel; the buyer asked us to proceed.' }));
    }
  }
  return counts;
}

run().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `Could not seed the demo: ${(err as Error).stack ?? (err as Error).message}`);
  process.exit(1);
});
