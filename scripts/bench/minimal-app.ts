// The least work a respondent's page and answer can be, as a baseline for
// `npm run bench -- --side-by-side`: Fastify, one query per request, nothing
// else. No logging, no CSRF, no rate limit, no read model, no sessions.
//
//   GET  /r/:token                   one indexed lookup by the token's SHA-256, joined to the
//                                    deal's six claims (ONE query), rendered by a Handlebars
//                                    template compiled at start-up, text/html
//   POST /r/:token/answer/:concern   ONE INSERT … SELECT that folds in the token lookup, 303
//
// Its tables live in their own schema (bench_minimal) next to the portal's, in
// the benchmark's throwaway database. The bench copies the portal's current
// claims for the seeded deal into them, so both pages carry the same text.
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import Handlebars from 'handlebars';

/** What the app needs of a database: pg's pool.query (or anything shaped like it). */
export type Query = (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** One statement each: PGlite (the tests) takes a single statement per query. */
export const MINIMAL_SCHEMA = [
  'create schema if not exists bench_minimal',
  `create table if not exists bench_minimal.links (
     token_hash text primary key,
     stakeholder_id uuid not null,
     deal_id uuid not null,
     name text not null,
     buyer_name text not null,
     vendor_name text not null)`,
  `create table if not exists bench_minimal.claims (
     deal_id uuid not null,
     position int not null,
     concern text not null,
     title text not null,
     revision int not null,
     claim jsonb not null,
     narrative text not null,
     primary key (deal_id, position))`,
  `create table if not exists bench_minimal.answers (
     id bigserial primary key,
     stakeholder_id uuid not null,
     deal_id uuid not null,
     concern text not null,
     revision int,
     verdict text not null,
     created_at timestamptz not null default now())`,
];

export interface MinimalSeed {
  dealId: string;
  vendorName: string;
  buyerName: string;
  /** The deal's claims, in the order the page shows them. */
  claims: { concern: string; title: string; revision: number; claim: unknown; narrative: string }[];
  links: { token: string; stakeholderId: string; name: string }[];
}

export const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export async function seedMinimal(query: Query, seed: MinimalSeed): Promise<void> {
  for (const statement of MINIMAL_SCHEMA) await query(statement);
  for (const [position, c] of seed.claims.entries()) {
    await query('insert into bench_minimal.claims (deal_id, position, concern, title, revision, claim, narrative) values ($1, $2, $3, $4, $5, $6, $7)', [
      seed.dealId,
      position,
      c.concern,
      c.title,
      c.revision,
      JSON.stringify(c.claim),
      c.narrative,
    ]);
  }
  for (let i = 0; i < seed.links.length; i += 500) {
    const part = seed.links.slice(i, i + 500);
    await query(
      `insert into bench_minimal.links (token_hash, stakeholder_id, deal_id, name, buyer_name, vendor_name)
       select h, s, $1, n, $2, $3 from unnest($4::text[], $5::uuid[], $6::text[]) as t(h, s, n)`,
      [seed.dealId, seed.buyerName, seed.vendorName, part.map((l) => hashToken(l.token)), part.map((l) => l.stakeholderId), part.map((l) => l.name)],
    );
  }
  await query('analyze bench_minimal.links');
  await query('analyze bench_minimal.claims');
}

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{vendorName}} for {{buyerName}}</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><main>
<h1>{{vendorName}}'s security posture for {{buyerName}}</h1>
<p class="lead">Hello {{name}}. Please confirm each claim, correct what is wrong, or mark a concern as not yours.</p>
{{#each claims}}
<section class="card concern" id="{{concern}}">
  <h2>{{title}}</h2>
  <p class="narrative">{{narrative}}</p>
  <dl class="claimed">{{#each claim}}<dt>{{@key}}</dt><dd>{{this}}</dd>{{/each}}</dl>
  <form method="post" action="/r/{{@root.token}}/answer/{{concern}}" class="answer">
    <input type="hidden" name="revision" value="{{revision}}">
    <label><input type="radio" name="verdict" value="confirm"> Yes, this is right</label>
    <label><input type="radio" name="verdict" value="correct"> No, I will correct it</label>
    <label><input type="radio" name="verdict" value="not_mine"> Not mine to answer</label>
    <button type="submit">Save answer on {{title}}</button>
  </form>
</section>
{{/each}}
</main></body>
</html>
`;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const CONCERN = /^[a-z_]{1,64}$/;
const VERDICTS = new Set(['confirm', 'correct', 'not_mine']);

export async function buildMinimalApp(query: Query): Promise<FastifyInstance> {
  const page = Handlebars.create().compile(PAGE);
  page({ claims: [] }); // Handlebars compiles on first use: do it now, at start-up.
  const app = Fastify({ logger: false });
  await app.register(formbody);

  app.get<{ Params: { token: string } }>('/r/:token', async (req, reply) => {
    const { token } = req.params;
    if (!TOKEN.test(token)) return reply.code(404).type('text/plain').send('not found');
    const { rows } = await query(
      `select l.name, l.buyer_name, l.vendor_name, c.concern, c.title, c.revision, c.claim, c.narrative
         from bench_minimal.links l join bench_minimal.claims c on c.deal_id = l.deal_id
        where l.token_hash = $1 order by c.position`,
      [hashToken(token)],
    );
    if (rows.length === 0) return reply.code(404).type('text/plain').send('not found');
    const first = rows[0];
    const html = page({ token, name: first.name, buyerName: first.buyer_name, vendorName: first.vendor_name, claims: rows });
    return reply.type('text/html; charset=utf-8').send(html);
  });

  app.post<{ Params: { token: string; concern: string }; Body: Record<string, string | undefined> }>('/r/:token/answer/:concern', async (req, reply) => {
    const { token, concern } = req.params;
    const verdict = req.body?.verdict;
    const revision = Number(req.body?.revision);
    if (!TOKEN.test(token) || !CONCERN.test(concern)) return reply.code(404).type('text/plain').send('not found');
    if (!verdict || !VERDICTS.has(verdict) || !Number.isInteger(revision)) return reply.code(400).type('text/plain').send('bad answer');
    const { rows } = await query(
      `insert into bench_minimal.answers (stakeholder_id, deal_id, concern, revision, verdict)
       select stakeholder_id, deal_id, $2, $3, $4 from bench_minimal.links where token_hash = $1 returning id`,
      [hashToken(token), concern, revision, verdict],
    );
    if (rows.length === 0) return reply.code(404).type('text/plain').send('not found');
    return reply.code(303).header('location', `/r/${token}#${concern}`).send();
  });
  return app;
}
