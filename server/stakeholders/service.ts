// The buyer's people on a deal and their personal links: adding them, the
// links the vendor sends, revokes and extends, reminders for silence, and a
// respondent handing concerns to a colleague. A link's secret is minted when
// its mail is composed (stakeholders/mails.ts), so issuing one here only
// creates the row and queues the mail. Callers pass the transaction.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { transaction, type DB, type Executor } from '../db/index.js';
import type { Clock } from '../lib/clock.js';
import { DAY } from '../lib/clock.js';
import { DomainError, invalid, notFound } from '../lib/errors.js';
import { hashToken, TOKEN_PATTERN } from '../lib/tokens.js';
import { email, name, uuid } from '../lib/validate.js';
import { CONCERN_KEYS } from '../concerns/index.js';
import {
  DELEGATE_ROLES,
  MAX_DELEGATES,
  MAX_DELEGATES_PER_DEAL,
  MAX_DELEGATION_DEPTH,
  ROLE_LABELS,
  answersCount,
  buyerDomains,
  isChampion,
  mayDelegate,
  mayDelegateRole,
  needsVendorConfirmation,
  type StakeholderRole,
} from '../rules.js';
import { enqueueMail } from '../mail/outbox.js';
import { dealOwner, getDeal, type StakeholderInput } from '../deals/service.js';
import { handedConcerns, recordSignals } from '../signals/service.js';
import * as repo from './repository.js';

export type LinkReason = 'invite' | 'reminder' | 'delegation';

/** A stakeholder of this deal of this vendor, or a 404 (the deal first, so an unknown deal reads as such). */
export async function getStakeholder(db: Executor, vendorId: string, dealId: string, stakeholderId: string) {
  await getDeal(db, vendorId, dealId);
  const s = uuid.safeParse(stakeholderId).success ? await repo.findStakeholder(db, vendorId, dealId, stakeholderId) : undefined;
  if (!s) throw notFound('That stakeholder');
  return s;
}

/**
 * Opens a personal link for a stakeholder and queues the mail that carries it.
 * `replace` revokes the person's other links first, as a resend does; a
 * reminder or a delegation leaves earlier links working.
 */
export async function issueLink(
  trx: Executor,
  clock: Clock,
  opts: {
    vendorId: string;
    stakeholderId: string;
    recipient: string;
    reason: LinkReason;
    replace: boolean;
    params?: Record<string, unknown>;
  } & ({ ttlDays: number } | { expiresAt: Date }),
) {
  const now = clock.now();
  if (opts.replace) await repo.revokeLinks(trx, opts.vendorId, opts.stakeholderId, now);
  const linkId = randomUUID();
  await repo.insertLink(trx, {
    id: linkId,
    vendor_id: opts.vendorId,
    stakeholder_id: opts.stakeholderId,
    token_hash: null,
    created_at: now,
    expires_at: 'expiresAt' in opts ? opts.expiresAt : new Date(now.getTime() + opts.ttlDays * DAY),
  });
  if (opts.reason === 'invite') await repo.markInvited(trx, opts.vendorId, opts.stakeholderId, now);
  await enqueueMail(trx, clock, { template: 'invite', recipient: opts.recipient, vendorId: opts.vendorId, params: { linkId, reason: opts.reason, ...opts.params } });
}

export async function addStakeholder(trx: Executor, clock: Clock, linkTtlDays: number, vendorId: string, dealId: string, input: StakeholderInput) {
  await getDeal(trx, vendorId, dealId);
  const id = randomUUID();
  const inserted = await repo.insertStakeholder(trx, {
    id,
    vendor_id: vendorId,
    deal_id: dealId,
    name: input.name,
    email: input.email,
    role: input.role,
    delegated_by: null,
    created_at: clock.now(),
    invited_at: null,
    // The vendor vouches for the people it adds.
    confirmed_at: clock.now(),
  });
  if (!inserted) throw new DomainError('duplicate_stakeholder', `${input.email} is already a stakeholder on this deal.`);
  if (input.invite) {
    await issueLink(trx, clock, { vendorId, stakeholderId: id, recipient: input.email, ttlDays: linkTtlDays, reason: 'invite', replace: true });
  }
  return id;
}

/** A new link by mail; every earlier link of this person stops working. */
export async function resendLink(trx: Executor, clock: Clock, ttlDays: number, vendorId: string, dealId: string, stakeholderId: string) {
  const s = await getStakeholder(trx, vendorId, dealId, stakeholderId);
  await issueLink(trx, clock, { vendorId, stakeholderId: s.id, recipient: s.email, ttlDays, reason: 'invite', replace: true });
}

/** Every link of this person stops working; reminders stop with them. */
export async function revokeLinks(db: Executor, clock: Clock, vendorId: string, dealId: string, stakeholderId: string) {
  const s = await getStakeholder(db, vendorId, dealId, stakeholderId);
  await repo.revokeLinks(db, vendorId, s.id, clock.now());
}

export const extendInput = z.object({ days: z.coerce.number().int().min(1).max(365).optional() });

/** Links not revoked (expired ones included) work at least `days` more from now; none is shortened. */
export async function extendLinks(db: Executor, clock: Clock, vendorId: string, dealId: string, stakeholderId: string, days: number) {
  const s = await getStakeholder(db, vendorId, dealId, stakeholderId);
  if ((await repo.extendLinks(db, vendorId, s.id, new Date(clock.now().getTime() + days * DAY))) === 0) {
    throw new DomainError('no_link', 'This person has no link to extend. Send them a new one instead.');
  }
}

/**
 * The vendor confirms that a delegate's answers count (rules.answersCount).
 * Confirming someone already counted changes nothing; the first confirmation
 * is recorded as a signal.
 */
export async function confirmStakeholder(trx: Executor, clock: Clock, vendorId: string, dealId: string, stakeholderId: string, userId: string | null) {
  const s = await getStakeholder(trx, vendorId, dealId, stakeholderId);
  const at = await repo.confirmStakeholder(trx, vendorId, s.id, clock.now());
  if (at) {
    const deal = await getDeal(trx, vendorId, dealId);
    await recordSignals(trx, clock, { vendorId, dealId, startedOn: deal.started_on }, [{ type: 'stakeholder_confirmed', actorUserId: userId, targetStakeholderId: s.id }]);
  }
  return { id: s.id, confirmedAt: at ?? s.confirmed_at!, changed: Boolean(at) };
}

export async function setStakeholderReminders(db: Executor, vendorId: string, dealId: string, stakeholderId: string, paused: boolean) {
  const s = await getStakeholder(db, vendorId, dealId, stakeholderId);
  await repo.setRemindersPaused(db, vendorId, s.id, paused);
}

export const dealStakeholders = repo.dealStakeholders;
export const undeliveredInvites = repo.undeliveredInvites;

const REMINDER_BATCH = 100;

/**
 * Queues every reminder due now; resolves to how many were queued. The worker
 * runs this: per person, a conditional UPDATE of reminders_sent in the same
 * transaction that queues the mail means that of two instances (or a run
 * before and after a crash) only one sends it.
 */
export async function scheduleReminders(db: DB, clock: Clock): Promise<number> {
  const now = clock.now();
  let queued = 0;
  for (const s of await repo.dueReminders(db, now, REMINDER_BATCH)) {
    // After a pause or downtime several steps may be due: send one reminder, count them all.
    const passed = s.reminder_days.filter((d) => s.invited_at!.getTime() + d * DAY <= now.getTime()).length;
    const sent = Math.max(passed, s.reminders_sent + 1);
    const done = await transaction(db, async (trx) => {
      if (!(await repo.bumpReminders(trx, s.vendor_id, s.id, s.reminders_sent, sent))) return false; // another worker got there first
      // The reminder's link lives as long as the person's current one.
      const expiresAt = await repo.liveLinkUntil(trx, s.vendor_id, s.id);
      await issueLink(trx, clock, { vendorId: s.vendor_id, stakeholderId: s.id, recipient: s.email, expiresAt, reason: 'reminder', replace: false, params: { n: sent } });
      return true;
    });
    if (done) queued++;
  }
  return queued;
}

// ---------------------------------------------------------------------------
// The respondent's side of a link

export interface LinkContext {
  linkId: string;
  vendorId: string;
  vendorName: string;
  stakeholder: {
    id: string;
    name: string;
    role: StakeholderRole;
    email: string;
    /** Place in the delegation chain: 0 if the vendor added them. */
    depth: number;
    /** Whether their answers count on the deal (rules.answersCount). */
    counts: boolean;
  };
  deal: { id: string; buyerName: string; startedOn: string; stage: string };
}

/** Unknown, expired and revoked links all resolve to undefined: the caller cannot tell them apart. */
export async function resolveLink(db: Executor, clock: Clock, token: string): Promise<LinkContext | undefined> {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  const row = await repo.findLiveLink(db, hashToken(token), clock.now());
  if (!row) return undefined;
  return {
    linkId: row.link_id,
    vendorId: row.vendor_id,
    vendorName: row.vendor_name,
    stakeholder: {
      id: row.stakeholder_id,
      name: row.stakeholder_name,
      role: row.role,
      email: row.email,
      depth: row.delegation_depth,
      counts: answersCount(row),
    },
    deal: { id: row.deal_id, buyerName: row.buyer_name, startedOn: row.started_on, stage: row.stage },
  };
}

/** Locks the respondent's row for the rest of the transaction: their answers and hand-overs happen one at a time. */
export async function lockRespondent(trx: Executor, ctx: LinkContext): Promise<void> {
  await repo.lockStakeholder(trx, ctx.vendorId, ctx.stakeholder.id);
}

/**
 * Someone whose link no longer works asks for a new one. When the link and
 * address belong together, the deal's owner is told (at most once a day per
 * person); either way the caller learns nothing.
 */
export async function requestNewLink(trx: Executor, clock: Clock, token: string, address: string): Promise<void> {
  if (!TOKEN_PATTERN.test(token)) return;
  const holder = await repo.linkHolder(trx, hashToken(token));
  if (!holder || holder.email !== address) return;
  if (await repo.linkRequestedSince(trx, holder.vendor_id, holder.id, new Date(clock.now().getTime() - DAY))) return;
  const owner = await dealOwner(trx, holder.vendor_id, holder.deal_id);
  if (!owner) return;
  await enqueueMail(trx, clock, { template: 'link-request', recipient: owner.email, vendorId: holder.vendor_id, params: { dealId: holder.deal_id, stakeholderId: holder.id } });
}

export const delegationInput = z.object({
  concerns: z
    .array(z.string())
    .min(1, 'choose at least one concern to hand over')
    .refine((keys) => keys.every((k) => CONCERN_KEYS.includes(k)), 'contains an unknown concern')
    .transform((keys) => CONCERN_KEYS.filter((k) => keys.includes(k))),
  name: name(120),
  email,
  role: z.enum(DELEGATE_ROLES, { message: 'choose the colleague’s role' }),
});
export type DelegationInput = z.infer<typeof delegationInput>;

/**
 * A respondent hands concerns to a colleague. The colleague becomes a
 * stakeholder with a link of their own (or, if already on the deal, gets a new
 * link next to their existing one); each handed concern is a signal. Bounded
 * by the rules: depth of the chain, people per respondent and per deal, and no
 * higher role than the delegator's. A new colleague outside the deal's buyer
 * domains, or in the security team, counts only once the vendor confirms them.
 * Every refusal comes before any write.
 */
export async function delegate(trx: Executor, clock: Clock, ttlDays: number, ctx: LinkContext, input: DelegationInput) {
  if (!mayDelegate(ctx.stakeholder.depth)) {
    throw invalid(
      `You were asked by a colleague, and a hand-over can go only ${MAX_DELEGATION_DEPTH} steps from the people ${ctx.vendorName} invited. Answer what you can, or ask whoever handed you these concerns to pass them on.`,
      [{ field: 'concerns', message: 'cannot be handed on further' }],
    );
  }
  if (input.email === ctx.stakeholder.email) {
    throw invalid('That is your own address: hand the concern to a colleague.', [{ field: 'email', message: 'is your own address' }]);
  }
  if (!mayDelegateRole(ctx.stakeholder.role, input.role)) {
    throw invalid(`A colleague you hand concerns to can have your role (${ROLE_LABELS[ctx.stakeholder.role]}) or a role below it, not ${ROLE_LABELS[input.role]}.`, [
      { field: 'role', message: `choose ${ROLE_LABELS[ctx.stakeholder.role]} or a role below it` },
    ]);
  }
  // Serialise this respondent's delegations so the limit and the duplicate check hold,
  // and the deal's, so its limit holds across respondents.
  await lockRespondent(trx, ctx);
  await repo.lockDealForDelegation(trx, ctx.vendorId, ctx.deal.id);
  let existing = await repo.findByEmail(trx, ctx.vendorId, ctx.deal.id, input.email);
  if (existing && isChampion(existing.role)) {
    throw invalid('That address cannot take over concerns on this deal. Choose someone on the security team.', [
      { field: 'email', message: 'choose someone on the security team' },
    ]);
  }
  let created = false;
  if (!existing) {
    if ((await repo.countDelegatesOf(trx, ctx.vendorId, ctx.stakeholder.id)) >= MAX_DELEGATES) {
      throw invalid(`You have already handed concerns to ${MAX_DELEGATES} colleagues on this deal, the most one person can add.`, [
        { field: 'email', message: 'too many colleagues added' },
      ]);
    }
    if ((await repo.countDealDelegates(trx, ctx.vendorId, ctx.deal.id)) >= MAX_DELEGATES_PER_DEAL) {
      throw invalid(
        `This review already has ${MAX_DELEGATES_PER_DEAL} colleagues added by hand-over, the most a deal can have. Hand the concern to someone already on it, or ask ${ctx.vendorName} to add them.`,
        [{ field: 'email', message: 'no more colleagues can be added to this deal' }],
      );
    }
    const now = clock.now();
    const domains = buyerDomains(await repo.vendorAddedPeople(trx, ctx.vendorId, ctx.deal.id));
    // Another respondent may add the same address at this moment: the unique key decides, and we reuse theirs.
    const inserted = await repo.insertStakeholder(trx, {
      id: randomUUID(),
      vendor_id: ctx.vendorId,
      deal_id: ctx.deal.id,
      name: input.name,
      email: input.email,
      role: input.role,
      source: 'delegated',
      delegated_by: ctx.stakeholder.id,
      delegation_depth: ctx.stakeholder.depth + 1,
      created_at: now,
      invited_at: null,
      confirmed_at: needsVendorConfirmation(input, domains) ? null : now,
    });
    created = Boolean(inserted);
    existing = inserted ?? (await repo.findByEmail(trx, ctx.vendorId, ctx.deal.id, input.email));
  }
  const delegateId = existing!.id;

  // Concerns already handed from this person to that one are not handed again (a double click adds nothing).
  const already = new Set(await handedConcerns(trx, ctx.vendorId, ctx.stakeholder.id, delegateId));
  const fresh = input.concerns.filter((c) => !already.has(c));
  if (fresh.length === 0) return { delegateId, reused: !created, handed: [] as string[] };

  await recordSignals(
    trx,
    clock,
    { vendorId: ctx.vendorId, dealId: ctx.deal.id, startedOn: ctx.deal.startedOn },
    fresh.map((concern) => ({ type: 'delegation' as const, concern, stakeholderId: ctx.stakeholder.id, targetStakeholderId: delegateId })),
  );

  // Someone the vendor cut off stays cut off: the hand-over is recorded, but no link is sent.
  const links = await repo.linkCounts(trx, ctx.vendorId, delegateId);
  if (!(links.all > 0 && links.all === links.revoked)) {
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
}
