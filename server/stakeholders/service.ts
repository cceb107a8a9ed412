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
import { DomainError, invalid, notFound, type FieldProblem } from '../lib/errors.js';
import { hashToken, TOKEN_PATTERN } from '../lib/tokens.js';
import { email, name, paragraph, uuid, zodDetails } from '../lib/validate.js';
import { CONCERN_KEYS } from '../concerns/index.js';
import {
  DELEGATE_ROLES,
  MAX_DELEGATES,
  MAX_DELEGATES_PER_DEAL,
  MAX_DELEGATION_DEPTH,
  ROLE_LABELS,
  STAKEHOLDER_ROLES,
  answersCount,
  buyerDomains,
  isChampion,
  mayDelegate,
  mayDelegateRole,
  needsVendorConfirmation,
  type StakeholderRole,
} from '../rules.js';
import { enqueueMail, enqueueMails } from '../mail/outbox.js';
import { dealOwner, getDeal, stakeholderInput as personInput } from '../deals/service.js';
import { handedConcerns, recordSignals } from '../signals/service.js';
import { touchDeal } from '../readmodel/service.js';
import { enqueueWebhooks } from '../webhooks/service.js';
import { memberOf, recordAudit, type Actor, type AuditEntry } from '../audit/service.js';
import * as repo from './repository.js';
import { readStakeholderCsv, type CsvPerson, type StakeholderCsv } from './csv.js';

export type LinkReason = 'invite' | 'reminder' | 'delegation';

/** The most characters of the vendor's personal note in one person's invitation. */
export const MAX_INVITE_NOTE = 1000;

/**
 * One person the vendor adds (the deal page's form, the API, each row of a
 * batch or CSV): a person as deals/service.ts checks one, whose role must be
 * chosen (the form offers no default), with an optional note for their
 * invitation: plain text, shown in it and its reminders.
 */
export const stakeholderInput = personInput.extend({
  role: z.enum(STAKEHOLDER_ROLES, {
    error: (issue) => (issue.input === undefined || issue.input === '' ? 'Choose their role' : `must be one of ${STAKEHOLDER_ROLES.join(', ')}`),
  }),
  note: paragraph(MAX_INVITE_NOTE)
    .nullish()
    .transform((s) => (s ? s.replace(/\r\n?/g, '\n') : null)),
});
export type StakeholderInput = z.infer<typeof stakeholderInput>;
/** A person to add as a caller has them: the note may be left out. */
export type NewStakeholder = Omit<StakeholderInput, 'note'> & { note?: string | null };

/** A stakeholder of this deal of this vendor, or a 404 (the deal first, so an unknown deal reads as such). */
export async function getStakeholder(db: Executor, vendorId: string, dealId: string, stakeholderId: string) {
  return (await personOnDeal(db, vendorId, dealId, stakeholderId)).person;
}

/** The deal and the person on it (404s as getStakeholder's), for a change the audit trail names both of. */
async function personOnDeal(db: Executor, vendorId: string, dealId: string, stakeholderId: string) {
  const deal = await getDeal(db, vendorId, dealId);
  const person = uuid.safeParse(stakeholderId).success ? await repo.findStakeholder(db, vendorId, dealId, stakeholderId) : undefined;
  if (!person) throw notFound('That stakeholder');
  return { deal, person };
}

/** An entry about a person on a deal: the person is its target, the deal named in what changed. */
const personEntry = (
  action: string,
  deal: { id: string; buyer_name: string },
  person: { id: string; name: string; email: string },
  changes: Record<string, unknown> = {},
): AuditEntry => ({
  action,
  target: { type: 'stakeholder', id: person.id, name: person.name },
  changes: { deal_id: deal.id, deal: deal.buyer_name, email: person.email, ...changes },
});

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
    /** The person's deal: an invitation (not a reminder) is told to the workspace's webhooks (stakeholder.invited). */
    dealId?: string;
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
  if (opts.dealId && opts.reason !== 'reminder') {
    await enqueueWebhooks(trx, clock, opts.vendorId, [{ type: 'stakeholder.invited', dealId: opts.dealId, stakeholderId: opts.stakeholderId }]);
  }
}

/** Adds a person to a deal, inviting them unless told not to (audited: run it in the caller's transaction). */
export async function addStakeholder(trx: Executor, clock: Clock, linkTtlDays: number, actor: Actor, dealId: string, input: NewStakeholder) {
  const { vendorId } = actor;
  const deal = await getDeal(trx, vendorId, dealId);
  const id = randomUUID();
  const inserted = await repo.insertStakeholder(trx, {
    id,
    vendor_id: vendorId,
    deal_id: dealId,
    name: input.name,
    email: input.email,
    role: input.role,
    invite_note: input.note ?? null,
    delegated_by: null,
    created_at: clock.now(),
    invited_at: null,
    // The vendor vouches for the people it adds.
    confirmed_at: clock.now(),
  });
  if (!inserted) throw new DomainError('duplicate_stakeholder', `${input.email} is already a stakeholder on this deal.`);
  if (input.invite) {
    await issueLink(trx, clock, { vendorId, dealId, stakeholderId: id, recipient: input.email, ttlDays: linkTtlDays, reason: 'invite', replace: true });
  }
  await touchDeal(trx, vendorId, dealId);
  await recordAudit(trx, clock, actor, personEntry('stakeholder.added', deal, { id, ...input }, { role: input.role, invited: input.invite }));
  return id;
}

// ---------------------------------------------------------------------------
// Many people at once: the API's batch and the deal page's CSV

/** The most people one batch adds. */
export const MAX_BATCH = 500;

export const batchInput = z.object({
  stakeholders: z
    .array(z.unknown(), { message: 'must be a list of stakeholders' })
    .min(1, 'must list at least one stakeholder')
    .max(MAX_BATCH, `must list at most ${MAX_BATCH} stakeholders; send the rest in another request`),
});

/** Where a problem of the row at `index` is reported: `stakeholders.3.email`, as the API documents. */
export const rowField = (index: number, field = '') => (field ? `stakeholders.${index}.${field}` : `stakeholders.${index}`);

/** The row index and field of a problem named by rowField; the field is '' for a row that is not an object. */
export function rowOf(problem: FieldProblem): { index: number; field: string } | undefined {
  const m = /^stakeholders\.(\d+)(?:\.(.+))?$/.exec(problem.field);
  return m ? { index: Number(m[1]), field: m[2] ?? '' } : undefined;
}

/** How a message points at another row: the API names its index; the CSV page, its line. */
export type RowName = (index: number) => string;
const apiRowName: RowName = (index) => rowField(index);

/**
 * Checks each row by the rules of adding one person (stakeholderInput), and
 * that no address comes twice in the batch or is already on the deal. Reads
 * only. Every problem is named by rowField; `inputs` is complete only when
 * there is none.
 */
export async function checkStakeholders(db: Executor, vendorId: string, dealId: string, rows: readonly unknown[], rowName: RowName = apiRowName) {
  const inputs: StakeholderInput[] = [];
  const problems: FieldProblem[] = [];
  const firstRow = new Map<string, number>();
  const addresses: { index: number; address: string }[] = [];
  rows.forEach((row, index) => {
    const parsed = stakeholderInput.safeParse(row);
    if (parsed.success) inputs.push(parsed.data);
    else problems.push(...zodDetails(parsed.error, rowField(index)));
    // A row wrong elsewhere is still checked for a repeated address.
    const address = parsed.success ? parsed.data.email : email.safeParse((row as { email?: unknown } | null)?.email).data;
    if (address === undefined) return;
    const first = firstRow.get(address);
    if (first === undefined) {
      firstRow.set(address, index);
      addresses.push({ index, address });
    } else {
      problems.push({ field: rowField(index, 'email'), message: `repeats the address of ${rowName(first)}` });
    }
  });
  const taken = new Set(await repo.emailsOnDeal(db, vendorId, dealId, [...firstRow.keys()]));
  for (const { index, address } of addresses) {
    if (taken.has(address)) problems.push({ field: rowField(index, 'email'), message: 'is already a stakeholder on this deal' });
  }
  problems.sort((a, b) => (rowOf(a)?.index ?? 0) - (rowOf(b)?.index ?? 0));
  return { inputs, problems };
}

/** The 400 for a batch with bad rows: every problem in the details, the first few in the message. */
function batchInvalid(problems: FieldProblem[], total: number) {
  const rows = new Set(problems.map((p) => rowOf(p)?.index)).size;
  const shown = problems.slice(0, 10).map((p) => `${p.field} (${p.message})`);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return invalid(`${rows} of the ${total} stakeholders have invalid values, so none was added: ${shown.join('; ')}${more}.`, problems);
}

/**
 * Adds many people to a deal, all or none: each checked as addStakeholder
 * checks one (confirmed at once, as the vendor vouches for them), then written
 * with one statement per table: the people, the links of those invited, and
 * their invitations in the outbox. Any bad row refuses the whole batch with
 * every problem named (`stakeholders.3.email`).
 */
export async function addStakeholders(trx: Executor, clock: Clock, linkTtlDays: number, actor: Actor, dealId: string, rows: readonly unknown[], rowName: RowName = apiRowName) {
  return addMany(trx, clock, linkTtlDays, actor, dealId, rows, rowName, 'batch');
}

async function addMany(trx: Executor, clock: Clock, linkTtlDays: number, actor: Actor, dealId: string, rows: readonly unknown[], rowName: RowName, source: 'batch' | 'csv') {
  const { vendorId } = actor;
  const deal = await getDeal(trx, vendorId, dealId);
  if (rows.length === 0 || rows.length > MAX_BATCH) {
    throw invalid(`Add between 1 and ${MAX_BATCH} stakeholders at once.`, [{ field: 'stakeholders', message: `must list 1 to ${MAX_BATCH} stakeholders` }]);
  }
  const { inputs, problems } = await checkStakeholders(trx, vendorId, dealId, rows, rowName);
  if (problems.length) throw batchInvalid(problems, rows.length);
  const now = clock.now();
  const people = inputs.map((input) => ({
    id: randomUUID(),
    vendor_id: vendorId,
    deal_id: dealId,
    name: input.name,
    email: input.email,
    role: input.role,
    invite_note: input.note,
    delegated_by: null,
    created_at: now,
    // An invitation starts the reminder cadence, as issueLink marks it.
    invited_at: input.invite ? now : null,
    first_invited_at: input.invite ? now : null,
    confirmed_at: now,
  }));
  const inserted = new Set(await repo.insertStakeholders(trx, people));
  if (inserted.size < people.length) {
    // Someone added one of these addresses since the check: the unique key decided, and the caller's transaction rolls back.
    const lost = people.flatMap((p, index) => (inserted.has(p.id) ? [] : [{ field: rowField(index, 'email'), message: 'is already a stakeholder on this deal' }]));
    throw batchInvalid(lost, rows.length);
  }
  const expiresAt = new Date(now.getTime() + linkTtlDays * DAY);
  const invited = people.filter((_p, index) => inputs[index].invite).map((p) => ({ person: p, linkId: randomUUID() }));
  await repo.insertLinks(
    trx,
    invited.map(({ person, linkId }) => ({ id: linkId, vendor_id: vendorId, stakeholder_id: person.id, token_hash: null, created_at: now, expires_at: expiresAt })),
  );
  // The same invitation issueLink queues for one person.
  await enqueueMails(
    trx,
    clock,
    invited.map(({ person, linkId }) => ({ template: 'invite', recipient: person.email, vendorId, params: { linkId, reason: 'invite' } })),
  );
  await enqueueWebhooks(
    trx,
    clock,
    vendorId,
    invited.map(({ person }) => ({ type: 'stakeholder.invited' as const, dealId, stakeholderId: person.id })),
  );
  await touchDeal(trx, vendorId, dealId);
  const added = people.map((p) => ({ id: p.id, name: p.name, email: p.email, role: p.role }));
  // One entry for the lot: who was added, and how many were invited.
  await recordAudit(trx, clock, actor, {
    action: 'stakeholder.imported',
    target: { type: 'deal', id: deal.id, name: deal.buyer_name },
    changes: { source, added: added.length, invited: invited.length, people: added },
  });
  return { stakeholders: added, invited: invited.length };
}

/** What the CSV page shows: each person read, with every problem of theirs by field; or why the text as a whole was refused. */
export interface CsvPreview {
  error?: string;
  people: CsvPerson[];
  ignoredColumns: string[];
  /** Nothing stands in the way of adding them all. */
  valid: boolean;
}

/** The CSV names a row by its line; a message pointing at another row does too. */
const csvRowName =
  (people: CsvPerson[]): RowName =>
  (index) =>
    `line ${people[index]?.line ?? '?'}`;

/** The people read from the CSV with the batch's problems (named by rowField) put on their rows; the CSV's own come first. */
function csvPreview(csv: Extract<StakeholderCsv, { ok: true }>, problems: FieldProblem[]): CsvPreview {
  const people = csv.people.map((p) => ({ ...p, problems: [...p.problems] }));
  for (const problem of problems) {
    const at = rowOf(problem);
    const person = at && people[at.index];
    if (!person) continue;
    const field = at.field || 'row';
    if (!person.problems.some((q) => q.field === field)) person.problems.push({ field, message: problem.message });
  }
  return { people, ignoredColumns: csv.ignoredColumns, valid: people.every((p) => p.problems.length === 0) };
}

/** Reads pasted CSV and checks every row as the batch would, writing nothing. */
export async function previewStakeholderCsv(db: Executor, vendorId: string, dealId: string, text: string): Promise<CsvPreview> {
  const csv = readStakeholderCsv(text, MAX_BATCH);
  if (!csv.ok) return { error: csv.message, people: [], ignoredColumns: [], valid: false };
  const { problems } = await checkStakeholders(
    db,
    vendorId,
    dealId,
    csv.people.map((p) => p.input),
    csvRowName(csv.people),
  );
  return csvPreview(csv, problems);
}

/**
 * Adds the people of pasted CSV, all or none, through addStakeholders (the
 * API's batch). The caller shows the preview first; bad rows (someone may
 * have added one of them since) throw its invalid_input, which
 * refusedCsvPreview turns back into the preview.
 */
export async function importStakeholderCsv(trx: Executor, clock: Clock, linkTtlDays: number, actor: Actor, dealId: string, text: string) {
  const csv = readStakeholderCsv(text, MAX_BATCH);
  if (!csv.ok) throw invalid(csv.message, [{ field: 'csv', message: csv.message }]);
  const own = csv.people.flatMap((p, index) => p.problems.map((q) => ({ field: rowField(index, q.field), message: q.message })));
  if (own.length) throw batchInvalid(own, csv.people.length);
  return addMany(
    trx,
    clock,
    linkTtlDays,
    actor,
    dealId,
    csv.people.map((p) => p.input),
    csvRowName(csv.people),
    'csv',
  );
}

/** The preview of CSV that importStakeholderCsv refused, with the problems it named. */
export function refusedCsvPreview(text: string, err: DomainError): CsvPreview {
  const csv = readStakeholderCsv(text, MAX_BATCH);
  if (!csv.ok) return { error: csv.message, people: [], ignoredColumns: [], valid: false };
  const preview = csvPreview(csv, err.fieldProblems);
  return preview.valid ? { ...preview, error: err.message, valid: false } : preview;
}

/**
 * A new link by mail; every earlier link of this person stops working. The trail calls it an invitation for
 * someone never invited before, else a resend. Run it in the caller's transaction.
 */
export async function resendLink(trx: Executor, clock: Clock, ttlDays: number, actor: Actor, dealId: string, stakeholderId: string) {
  const { vendorId } = actor;
  const { deal, person: s } = await personOnDeal(trx, vendorId, dealId, stakeholderId);
  await issueLink(trx, clock, { vendorId, dealId, stakeholderId: s.id, recipient: s.email, ttlDays, reason: 'invite', replace: true });
  // A first invitation can change the deal's read model (whether its security team was invited).
  await touchDeal(trx, vendorId, dealId);
  await recordAudit(
    trx,
    clock,
    actor,
    personEntry(s.invited_at ? 'link.resent' : 'stakeholder.invited', deal, s, { expires_at: new Date(clock.now().getTime() + ttlDays * DAY).toISOString() }),
  );
}

/** Every link of this person stops working; reminders stop with them (audited: run it in the caller's transaction). */
export async function revokeLinks(trx: Executor, clock: Clock, actor: Actor, dealId: string, stakeholderId: string) {
  const { deal, person: s } = await personOnDeal(trx, actor.vendorId, dealId, stakeholderId);
  await repo.revokeLinks(trx, actor.vendorId, s.id, clock.now());
  await recordAudit(trx, clock, actor, personEntry('link.revoked', deal, s));
}

export const extendInput = z.object({ days: z.coerce.number().int().min(1).max(365).optional() });

/** Links not revoked (expired ones included) work at least `days` more from now; none is shortened (audited: run it in the caller's transaction). */
export async function extendLinks(trx: Executor, clock: Clock, actor: Actor, dealId: string, stakeholderId: string, days: number) {
  const { deal, person: s } = await personOnDeal(trx, actor.vendorId, dealId, stakeholderId);
  const until = new Date(clock.now().getTime() + days * DAY);
  if ((await repo.extendLinks(trx, actor.vendorId, s.id, until)) === 0) {
    throw new DomainError('no_link', 'This person has no link to extend. Send them a new one instead.');
  }
  await recordAudit(trx, clock, actor, personEntry('link.extended', deal, s, { days, expires_at: until.toISOString() }));
}

/**
 * The vendor confirms that a delegate's answers count (rules.answersCount).
 * Confirming someone already counted changes nothing; the first confirmation
 * is recorded as a signal, and on the audit trail.
 */
export async function confirmStakeholder(trx: Executor, clock: Clock, actor: Actor, dealId: string, stakeholderId: string) {
  const { vendorId } = actor;
  const { deal, person: s } = await personOnDeal(trx, vendorId, dealId, stakeholderId);
  const at = await repo.confirmStakeholder(trx, vendorId, s.id, clock.now());
  if (at) {
    await recordSignals(trx, clock, { vendorId, dealId, startedOn: deal.started_on }, [{ type: 'stakeholder_confirmed', actorUserId: memberOf(actor), targetStakeholderId: s.id }]);
    await recordAudit(trx, clock, actor, personEntry('stakeholder.confirmed', deal, s, { role: s.role }));
  }
  return { id: s.id, confirmedAt: at ?? s.confirmed_at!, changed: Boolean(at) };
}

/** Pauses or resumes a person's reminders (audited when it changes: run it in the caller's transaction). */
export async function setStakeholderReminders(trx: Executor, clock: Clock, actor: Actor, dealId: string, stakeholderId: string, paused: boolean) {
  const { deal, person: s } = await personOnDeal(trx, actor.vendorId, dealId, stakeholderId);
  await repo.setRemindersPaused(trx, actor.vendorId, s.id, paused);
  if (s.reminders_paused !== paused) {
    await recordAudit(trx, clock, actor, personEntry(paused ? 'stakeholder.reminders_paused' : 'stakeholder.reminders_resumed', deal, s));
  }
}

/** The vendor corrects a person's role (never to or from champion: the champion's page is another kind of page). Audited: pass the transaction. */
export async function changeStakeholderRole(trx: Executor, clock: Clock, actor: Actor, dealId: string, stakeholderId: string, role: StakeholderRole) {
  const { vendorId } = actor;
  const { deal, person: s } = await personOnDeal(trx, vendorId, dealId, stakeholderId);
  if (s.role === role) return;
  if (isChampion(s.role) || isChampion(role)) {
    throw invalid('A champion stays a champion: add the person again in the role they should have.', [{ field: 'role', message: 'cannot change to or from champion' }]);
  }
  await repo.setRole(trx, vendorId, s.id, role);
  await touchDeal(trx, vendorId, dealId);
  await recordAudit(trx, clock, actor, personEntry('stakeholder.role_changed', deal, s, { role: { before: s.role, after: role } }));
}

export const dealStakeholders = repo.dealStakeholders;
/** A deal's buyer domains (rules.buyerDomains), from the people the vendor added. */
export async function buyerDomainsOf(db: Executor, vendorId: string, dealId: string): Promise<string[]> {
  return buyerDomains(await repo.vendorAddedPeople(db, vendorId, dealId));
}

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
      // Insight counts the reminders people were sent (the read model's person_state).
      await touchDeal(trx, s.vendor_id, s.deal_id);
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
  /** Whom the respondent can ask whether this is genuine, as their invitation names them: the deal's owner; null when the deal has none. */
  contact: { name: string; email: string } | null;
  /** The workspace's web domain ("acme.example"), when it has set one. */
  vendorDomain: string | null;
}

/** Unknown, expired and revoked links all resolve to undefined: the caller cannot tell them apart. */
export async function resolveLink(db: Executor, clock: Clock, token: string): Promise<LinkContext | undefined> {
  return (await resolveLinkWith(db, clock, token))?.ctx;
}

/**
 * A link resolved together with what `extra` selects for it, in one query (a
 * page's data, or what an answer needs: see respond/repository.ts and
 * repository.LinkExtra).
 */
export async function resolveLinkWith<T = never>(db: Executor, clock: Clock, token: string, extra?: repo.LinkExtra<T>): Promise<{ ctx: LinkContext; extra: T } | undefined> {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  const row = await repo.findLiveLink(db, hashToken(token), clock.now(), extra);
  if (!row) return undefined;
  return { ctx: linkContextOf(row), extra: (row as { extra?: T }).extra as T };
}

function linkContextOf(row: NonNullable<Awaited<ReturnType<typeof repo.findLiveLink>>>): LinkContext {
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
    contact: row.owner_name !== null && row.owner_email !== null ? { name: row.owner_name, email: row.owner_email } : null,
    vendorDomain: row.vendor_domain,
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
  await enqueueWebhooks(trx, clock, holder.vendor_id, [{ type: 'link.renewal_requested', dealId: holder.deal_id, stakeholderId: holder.id }]);
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
    const domains = await buyerDomainsOf(trx, ctx.vendorId, ctx.deal.id);
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
      dealId: ctx.deal.id,
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
