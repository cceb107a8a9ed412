// A respondent hands concerns to a colleague. The colleague becomes a
// stakeholder with a link of their own (or, if already on the deal, gets a new
// link next to their existing one); each handed concern is a signal, so the
// vendor sees who handed what to whom, and when.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../lib/clock.js';
import { badRequest } from '../lib/errors.js';
import { email, line } from '../lib/validate.js';
import type { DB } from '../db/index.js';
import { CONCERN_KEYS } from '../concerns/index.js';
import { issueLink } from '../deals/links.js';
import { weekOfDeal } from '../deals/service.js';
import { lockStakeholder, type LinkContext } from './service.js';

/** How many colleagues one respondent may add to a deal. */
export const MAX_DELEGATES = 5;

export const DELEGATE_ROLES = ['ciso', 'security', 'compliance', 'privacy', 'legal', 'other'] as const;

export const delegationInput = z.object({
  concerns: z
    .array(z.string())
    .min(1, 'choose at least one concern to hand over')
    .refine((keys) => keys.every((k) => CONCERN_KEYS.includes(k)), 'contains an unknown concern')
    .transform((keys) => CONCERN_KEYS.filter((k) => keys.includes(k))),
  name: line(120),
  email,
  role: z.enum(DELEGATE_ROLES, { message: 'choose the colleague’s role' }),
});
export type DelegationInput = z.infer<typeof delegationInput>;

export async function delegate(db: DB, clock: Clock, ttlDays: number, ctx: LinkContext, input: DelegationInput) {
  if (input.email === ctx.stakeholder.email) {
    throw badRequest('That is your own address: hand the concern to a colleague.', [{ field: 'email', message: 'is your own address' }]);
  }
  return db.transaction().execute(async (trx) => {
    // Serialise this respondent's delegations so the limit and the duplicate check hold.
    await lockStakeholder(trx, ctx);
    const onDeal = () =>
      trx
        .selectFrom('stakeholders')
        .select(['id', 'role'])
        .where('vendor_id', '=', ctx.vendorId)
        .where('deal_id', '=', ctx.deal.id)
        .where('email', '=', input.email)
        .executeTakeFirst();
    let existing = await onDeal();
    if (existing?.role === 'champion') {
      throw badRequest('That address cannot take over concerns on this deal. Choose someone on the security team.', [
        { field: 'email', message: 'choose someone on the security team' },
      ]);
    }
    const now = clock.now();
    let created = false;
    if (!existing) {
      const added = await trx
        .selectFrom('stakeholders')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('vendor_id', '=', ctx.vendorId)
        .where('delegated_by', '=', ctx.stakeholder.id)
        .executeTakeFirstOrThrow();
      if (added.n >= MAX_DELEGATES) {
        throw badRequest(`You have already handed concerns to ${MAX_DELEGATES} colleagues on this deal, the most one person can add.`, [
          { field: 'email', message: 'too many colleagues added' },
        ]);
      }
      // Another respondent may add the same address at this moment: the unique key decides, and we reuse theirs.
      const inserted = await trx
        .insertInto('stakeholders')
        .values({
          id: randomUUID(),
          vendor_id: ctx.vendorId,
          deal_id: ctx.deal.id,
          name: input.name,
          email: input.email,
          role: input.role,
          source: 'delegated',
          delegated_by: ctx.stakeholder.id,
          created_at: now,
          invited_at: null,
        })
        .onConflict((oc) => oc.columns(['vendor_id', 'deal_id', 'email']).doNothing())
        .returning(['id', 'role'])
        .executeTakeFirst();
      created = Boolean(inserted);
      existing = inserted ?? (await onDeal());
    }
    const delegateId = existing!.id;

    // Concerns already handed from this person to that one are not handed again (a double click adds nothing).
    const already = new Set(
      (
        await trx
          .selectFrom('signals')
          .select('concern')
          .where('vendor_id', '=', ctx.vendorId)
          .where('type', '=', 'delegation')
          .where('stakeholder_id', '=', ctx.stakeholder.id)
          .where('target_stakeholder_id', '=', delegateId)
          .execute()
      ).map((r) => r.concern),
    );
    const fresh = input.concerns.filter((c) => !already.has(c));
    if (fresh.length === 0) return { delegateId, reused: !created, handed: [] as string[] };

    const week = weekOfDeal(ctx.deal.startedOn, now);
    await trx
      .insertInto('signals')
      .values(
        fresh.map((concern) => ({
          vendor_id: ctx.vendorId,
          deal_id: ctx.deal.id,
          stakeholder_id: ctx.stakeholder.id,
          target_stakeholder_id: delegateId,
          type: 'delegation' as const,
          concern,
          claim_revision: null,
          verdict: null,
          kind: null,
          comment: null,
          changes: JSON.stringify([]),
          week,
          created_at: now,
        })),
      )
      .execute();

    // Someone the vendor cut off stays cut off: the hand-over is recorded, but no link is sent.
    const links = await trx
      .selectFrom('stakeholder_links')
      .select((eb) => [eb.fn.countAll<number>().as('all'), eb.fn.count<number>('revoked_at').as('revoked')])
      .where('vendor_id', '=', ctx.vendorId)
      .where('stakeholder_id', '=', delegateId)
      .executeTakeFirstOrThrow();
    const cutOff = links.all > 0 && links.all === links.revoked;
    if (!cutOff) {
      await issueLink(trx, clock, {
        vendorId: ctx.vendorId,
        stakeholderId: delegateId,
        recipient: input.email,
        ttlDays,
        // A new colleague's first link starts their reminder cadence; someone already on the deal keeps theirs.
        reason: created ? 'invite' : 'delegation',
        replace: false,
        params: { delegatedBy: ctx.stakeholder.id, concerns: fresh },
      });
    }
    return { delegateId, reused: !created, handed: fresh };
  });
}

/** Concerns handed to this person (by whom) and handed away by this person (to whom). */
export async function delegationsOf(db: DB, ctx: LinkContext) {
  const rows = await db
    .selectFrom('signals as g')
    .innerJoin('stakeholders as from', (j) => j.onRef('from.id', '=', 'g.stakeholder_id').onRef('from.vendor_id', '=', 'g.vendor_id'))
    .innerJoin('stakeholders as to', (j) => j.onRef('to.id', '=', 'g.target_stakeholder_id').onRef('to.vendor_id', '=', 'g.vendor_id'))
    .select(['g.concern', 'g.stakeholder_id', 'g.target_stakeholder_id', 'from.name as from_name', 'to.name as to_name'])
    .where('g.vendor_id', '=', ctx.vendorId)
    .where('g.deal_id', '=', ctx.deal.id)
    .where('g.type', '=', 'delegation')
    .where((eb) => eb.or([eb('g.stakeholder_id', '=', ctx.stakeholder.id), eb('g.target_stakeholder_id', '=', ctx.stakeholder.id)]))
    .orderBy('g.id')
    .execute();
  const toMe = new Map<string, string>();
  const fromMe = new Map<string, string>();
  for (const r of rows) {
    if (r.target_stakeholder_id === ctx.stakeholder.id) toMe.set(r.concern!, r.from_name);
    else fromMe.set(r.concern!, r.to_name);
  }
  return { toMe, fromMe };
}
