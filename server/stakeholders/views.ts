// Template data for the stakeholder pages. Pure functions, no I/O.
import { ROLE_LABELS, STAKEHOLDER_ROLES, type StakeholderRole } from '../rules.js';
import { MAX_CSV_BYTES, roleFromCsv } from './csv.js';
import { MAX_BATCH, type CsvPreview } from './service.js';

const FIELD_LABELS: Record<string, string> = { name: 'Name', email: 'Email', role: 'Role', invite: 'Invite', row: 'Row' };

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** How to write the CSV: the help under every CSV box. */
export const csvHelp = {
  roles: STAKEHOLDER_ROLES.map((r: StakeholderRole) => ROLE_LABELS[r]).join(', '),
  maxRows: MAX_BATCH,
  maxKb: MAX_CSV_BYTES / 1024,
};

/** The CSV preview: every row read with its problems next to it, and either the confirm form or the CSV to correct. */
export function csvPreviewView(deal: { id: string; buyer_name: string }, csv: string, preview: CsvPreview) {
  const rows = preview.people.map((p) => {
    const role = roleFromCsv(p.values.role);
    const badInvite = p.problems.some((q) => q.field === 'invite');
    return {
      line: p.line,
      name: p.values.name,
      email: p.values.email,
      role: role ? ROLE_LABELS[role] : p.values.role,
      invite: badInvite ? p.values.invite : p.input.invite ? 'Yes' : 'No',
      problems: p.problems.map((q) => ({ field: FIELD_LABELS[q.field] ?? q.field, message: q.message })),
    };
  });
  const bad = rows.filter((r) => r.problems.length > 0);
  const invited = preview.people.filter((p) => p.input.invite).length;
  const count = rows.length;
  return {
    title: `Add stakeholders to ${deal.buyer_name}`,
    nav: 'deals',
    deal,
    csv,
    help: csvHelp,
    fileError: preview.error,
    rows,
    count,
    bad,
    problemSummary: bad.length ? `${plural(bad.length, 'row')} of ${count} ${bad.length === 1 ? 'has' : 'have'} problems. Nothing was added.` : undefined,
    ignoredColumns: preview.ignoredColumns.length ? preview.ignoredColumns.join(', ') : undefined,
    canConfirm: preview.valid,
    confirmLabel: `Add ${plural(count, 'stakeholder')}`,
    confirmText: invited
      ? `${plural(count, 'person', 'people')} will be added to ${deal.buyer_name}; ${invited === count ? (count === 1 ? 'they get' : 'each gets') : `${invited} of them get`} their personal link by email.`
      : `${plural(count, 'person', 'people')} will be added to ${deal.buyer_name}; nobody is emailed yet.`,
  };
}
