// The respondent pages' reads: the deal's current claims, this person's
// latest answer on each concern (through the read model's latest_answers, so
// a long history costs nothing), and the hand-overs to and from them, as one
// JSON value. The main page asks for it inside the link's own query, so a
// page view is one statement; and the answer's lock and reads, one more.
import { sql } from 'kysely';
import type { Executor, SqlFragment } from '../db/index.js';
import type { ClaimValues } from '../concerns/index.js';
import type { CorrectionKind, FieldChange, Verdict } from '../db/schema.js';

export interface PageClaim {
  concern: string;
  revision: number;
  claim: ClaimValues;
  narrative: string;
}

export interface PageAnswer {
  id: number;
  concern: string;
  verdict: Verdict;
  kind: CorrectionKind | null;
  comment: string | null;
  changes: FieldChange[];
  claim_revision: number;
  created_at: string;
  answered_claim: ClaimValues | null;
}

export interface PageHandover {
  concern: string;
  stakeholder_id: string;
  target_stakeholder_id: string;
  from_name: string;
  to_name: string;
}

export interface PageRows {
  claims: PageClaim[];
  answers: PageAnswer[];
  handovers: PageHandover[];
}

/** The page's data as one JSON value, for a workspace, deal and person given as values or as column references. */
function pageData(vendorId: unknown, dealId: unknown, stakeholderId: unknown): SqlFragment<PageRows> {
  return sql<PageRows>`(SELECT json_build_object(
      'claims', (SELECT coalesce(json_agg(c), '[]') FROM (
         SELECT DISTINCT ON (concern) concern, revision, claim, narrative
           FROM deal_claims WHERE vendor_id = ${vendorId} AND deal_id = ${dealId}
          ORDER BY concern, revision DESC) c),
      'answers', (SELECT coalesce(json_agg(a), '[]') FROM (
         SELECT g.id, g.concern, g.verdict, g.kind, g.comment, g.changes, g.claim_revision, g.created_at,
                -- The claim as it stood when they answered, to show what changed since.
                (SELECT dc.claim FROM deal_claims dc
                  WHERE dc.vendor_id = la.vendor_id AND dc.deal_id = la.deal_id AND dc.concern = la.concern AND dc.revision = la.claim_revision) AS answered_claim
           FROM latest_answers la
           JOIN signals g ON g.id = la.signal_id AND g.vendor_id = la.vendor_id
          WHERE la.vendor_id = ${vendorId} AND la.deal_id = ${dealId} AND la.stakeholder_id = ${stakeholderId}) a),
      'handovers', (SELECT coalesce(json_agg(h ORDER BY h.id), '[]') FROM (
         SELECT g.id, g.concern, g.stakeholder_id, g.target_stakeholder_id, f.name AS from_name, t.name AS to_name
           FROM signals g
           JOIN stakeholders f ON f.id = g.stakeholder_id AND f.vendor_id = g.vendor_id
           JOIN stakeholders t ON t.id = g.target_stakeholder_id AND t.vendor_id = g.vendor_id
          WHERE g.vendor_id = ${vendorId} AND g.deal_id = ${dealId} AND g.type = 'delegation'
            AND (g.stakeholder_id = ${stakeholderId} OR g.target_stakeholder_id = ${stakeholderId})) h)))`;
}

/** The page's data for the link being resolved (stakeholders' link query names the link l and the person s). */
export const PAGE_DATA_OF_LINK = { key: 'respondent-page', sql: pageData(sql.ref('l.vendor_id'), sql.ref('s.deal_id'), sql.ref('s.id')) };

export async function respondentPageRows(db: Executor, vendorId: string, dealId: string, stakeholderId: string): Promise<PageRows> {
  const { rows } = await sql<{ data: PageRows }>`SELECT ${pageData(vendorId, dealId, stakeholderId)} AS data`.execute(db);
  return rows[0].data;
}

/** Who a receipt goes to, and the deal and vendor it is about. */
export async function receiptPerson(db: Executor, vendorId: string, stakeholderId: string) {
  return db
    .selectFrom('stakeholders as s')
    .innerJoin('deals as d', (j) => j.onRef('d.id', '=', 's.deal_id').onRef('d.vendor_id', '=', 's.vendor_id'))
    .innerJoin('vendors as v', 'v.id', 's.vendor_id')
    .leftJoin('users as o', (j) => j.onRef('o.id', '=', 'd.owner_id').onRef('o.vendor_id', '=', 'd.vendor_id'))
    .select(['s.id', 's.name', 's.email', 's.role', 'd.id as deal_id', 'd.buyer_name', 'v.name as vendor_name', 'o.name as owner_name', 'o.email as owner_email'])
    .where('s.vendor_id', '=', vendorId)
    .where('s.id', '=', stakeholderId)
    .executeTakeFirst();
}

export interface AnswerBasis {
  /** The concern's current claim, or null when the deal has none for it. */
  claim: { revision: number; claim: ClaimValues } | null;
  /** This person's latest answer on the concern, if any. */
  last: { id: number; verdict: Verdict; kind: CorrectionKind | null; comment: string | null; changes: FieldChange[]; claim_revision: number } | null;
}

/**
 * What saving an answer needs, asked inside the link's own query (the
 * concern is its $3), which also locks the respondent's row for the rest of
 * the transaction (their answers go one at a time, so the duplicate check is
 * reliable): the concern's current claim, and their latest answer on it.
 */
export const ANSWER_BASIS_OF_LINK = {
  key: 'answer-basis',
  lock: true,
  sql: sql<AnswerBasis>`json_build_object(
      'claim', (SELECT json_build_object('revision', c.revision, 'claim', c.claim) FROM deal_claims c
                 WHERE c.vendor_id = l.vendor_id AND c.deal_id = s.deal_id AND c.concern = $3
                 ORDER BY c.revision DESC LIMIT 1),
      'last', (SELECT json_build_object('id', g.id, 'verdict', g.verdict, 'kind', g.kind, 'comment', g.comment, 'changes', g.changes, 'claim_revision', g.claim_revision)
                 FROM latest_answers la JOIN signals g ON g.id = la.signal_id AND g.vendor_id = la.vendor_id
                WHERE la.vendor_id = l.vendor_id AND la.deal_id = s.deal_id AND la.stakeholder_id = s.id AND la.concern = $3))`,
};
