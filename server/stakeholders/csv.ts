// Stakeholders pasted as CSV on the deal page. Pure functions, no I/O: the
// RFC 4180 reader, and the reading of its records as people (header, roles by
// key or label, the invite flag). The rules on each person (name, address,
// duplicates) are the service's, the same as for the API's batch.
import type { FieldProblem } from '../lib/errors.js';
import { ROLE_LABELS, STAKEHOLDER_ROLES, type StakeholderRole } from '../rules.js';

/** The most CSV text read at once, in UTF-8 bytes. */
export const MAX_CSV_BYTES = 256 * 1024;

export interface CsvRecord {
  /** The physical line the record starts on (1 is the first line; a quoted line break moves the next record down). */
  line: number;
  fields: string[];
}

export type CsvParse = { ok: true; records: CsvRecord[] } | { ok: false; line: number; message: string };

const SPACE = /[ \t]/;

/**
 * Reads CSV as RFC 4180 has it: fields separated by commas, records by CRLF
 * (LF or a lone CR too); a field in double quotes may hold commas, line
 * breaks and doubled quotes (""). A leading UTF-8 byte order mark is dropped,
 * and so are spaces around a quoted field. A quote inside an unquoted field
 * is kept as it is. An unclosed quote, or text after a closing quote, is an
 * error naming its line.
 */
export function parseCsv(input: string): CsvParse {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const n = text.length;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const breakLength = (at: number) => (text[at] === '\r' && text[at + 1] === '\n' ? 2 : 1);
  while (i < n) {
    const c = text[i];
    if (c === '"' && !quoted && field.trim() === '') {
      const opened = line;
      field = '';
      i++;
      for (;;) {
        if (i >= n) return { ok: false, line: opened, message: 'has a quoted value that is never closed (a " is missing)' };
        const q = text[i];
        if (q === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (q === '\r' || q === '\n') {
          const len = breakLength(i);
          field += text.slice(i, i + len);
          i += len;
          line++;
          continue;
        }
        field += q;
        i++;
      }
      quoted = true;
      while (i < n && SPACE.test(text[i])) i++;
      if (i < n && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        return { ok: false, line, message: 'has text after a closing quote (a quote inside a quoted value is written twice: "")' };
      }
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      quoted = false;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      fields.push(field);
      records.push({ line: recordLine, fields });
      fields = [];
      field = '';
      quoted = false;
      i += breakLength(i);
      line++;
      recordLine = line;
      continue;
    }
    field += c;
    i++;
  }
  if (field !== '' || quoted || fields.length > 0) {
    fields.push(field);
    records.push({ line: recordLine, fields });
  }
  return { ok: true, records };
}

/** The columns a stakeholder CSV has; `invite` may be left out. */
export const CSV_COLUMNS = ['name', 'email', 'role', 'invite'] as const;
const REQUIRED_COLUMNS = ['name', 'email', 'role'] as const;
type Column = (typeof CSV_COLUMNS)[number];

/** A role by its key or its label, whatever the case ("CISO", "ciso", "Security"). */
const ROLE_WORDS = new Map<string, StakeholderRole>(STAKEHOLDER_ROLES.flatMap((r) => [[r, r] as const, [ROLE_LABELS[r].toLowerCase(), r] as const]));

export function roleFromCsv(value: string): StakeholderRole | undefined {
  return ROLE_WORDS.get(value.trim().toLowerCase());
}

const INVITE_WORDS = new Map<string, boolean>([
  ['', true],
  ['yes', true],
  ['true', true],
  ['no', false],
  ['false', false],
]);

export interface CsvPerson {
  line: number;
  /** What the row says, for showing it back. */
  values: Record<Column, string>;
  /** What the service checks (stakeholderInput's shape). An unknown role is passed as written, so it fails there too. */
  input: { name: string; email: string; role: string; invite: boolean };
  /** Problems only the CSV can have (an unknown role word, a bad invite flag, extra values), by field. */
  problems: FieldProblem[];
}

export type StakeholderCsv = { ok: true; people: CsvPerson[]; ignoredColumns: string[] } | { ok: false; line?: number; message: string };

/**
 * Reads pasted CSV as stakeholders: a header naming name, email and role
 * (invite optional, default yes), then one person per record. Blank lines are
 * skipped. Refuses, as a whole, text over MAX_CSV_BYTES, more than `maxRows`
 * people, a malformed record, or a header without the needed columns.
 */
export function readStakeholderCsv(text: string, maxRows: number): StakeholderCsv {
  if (Buffer.byteLength(text, 'utf8') > MAX_CSV_BYTES) {
    return { ok: false, message: `The CSV is larger than ${MAX_CSV_BYTES / 1024} KB. Split it and add the parts one after the other.` };
  }
  const parsed = parseCsv(text);
  if (!parsed.ok) return { ok: false, line: parsed.line, message: `Line ${parsed.line} ${parsed.message}.` };
  const records = parsed.records.filter((r) => r.fields.some((f) => f.trim() !== ''));
  const [head, ...body] = records;
  if (!head) return { ok: false, message: 'The CSV is empty. Paste a header line (name,email,role) and one line per person.' };
  const names = head.fields.map((f) => f.trim().toLowerCase());
  const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c));
  if (missing.length) {
    return {
      ok: false,
      line: head.line,
      message: `The first line must be a header naming the columns name, email and role (invite is optional); it lacks ${missing.join(', ')}.`,
    };
  }
  const repeated = CSV_COLUMNS.filter((c) => names.indexOf(c) !== names.lastIndexOf(c));
  if (repeated.length) return { ok: false, line: head.line, message: `The header names ${repeated.join(', ')} more than once.` };
  if (body.length === 0) return { ok: false, message: 'The CSV has a header but no people. Add one line per person below it.' };
  if (body.length > maxRows) {
    return { ok: false, message: `The CSV has ${body.length} people; at most ${maxRows} can be added at once. Split it and add the parts one after the other.` };
  }
  const at = Object.fromEntries(CSV_COLUMNS.map((c) => [c, names.indexOf(c)])) as Record<Column, number>;
  const people = body.map((r): CsvPerson => {
    const value = (c: Column) => (at[c] >= 0 ? (r.fields[at[c]] ?? '') : '');
    const values = { name: value('name'), email: value('email'), role: value('role'), invite: value('invite') };
    const problems: FieldProblem[] = [];
    const extra = r.fields.slice(head.fields.length).filter((f) => f.trim() !== '');
    if (extra.length) problems.push({ field: 'row', message: `has ${r.fields.length} values, but the header names ${head.fields.length} columns` });
    const role = roleFromCsv(values.role);
    if (!role) {
      problems.push({ field: 'role', message: values.role.trim() ? `must be one of ${STAKEHOLDER_ROLES.map((k) => ROLE_LABELS[k]).join(', ')}` : 'is required' });
    }
    const invite = INVITE_WORDS.get(values.invite.trim().toLowerCase());
    if (invite === undefined) problems.push({ field: 'invite', message: 'must be yes or no (or left empty for yes)' });
    return { line: r.line, values, input: { name: values.name, email: values.email, role: role ?? values.role, invite: invite ?? true }, problems };
  });
  const ignoredColumns = head.fields.filter((_f, i) => !(CSV_COLUMNS as readonly string[]).includes(names[i]) && names[i] !== '');
  return { ok: true, people, ignoredColumns };
}
