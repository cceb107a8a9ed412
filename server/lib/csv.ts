// CSV out (RFC 4180, UTF-8) through csv-stringify, with every text cell that
// a spreadsheet would run as a formula (one beginning with =, +, -, @, a tab
// or a carriage return) prefixed with an apostrophe, so it opens as text.
import { stringify } from 'csv-stringify/sync';

const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell that cannot start a formula. */
export function neutralise(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

export type CsvCell = string | number | boolean | null | undefined;

export function toCsv(rows: readonly (readonly CsvCell[])[]): string {
  return stringify(
    rows.map((r) => r.map((c) => (typeof c === 'string' ? neutralise(c) : c))),
    // A cell with a line break of either kind is quoted (csv-stringify quotes only the record delimiter itself).
    { record_delimiter: '\r\n', quoted_match: /[\r\n]/, cast: { boolean: (b) => (b ? 'true' : 'false') } },
  );
}

/**
 * CSV for a streamed response: the header row, then each batch of rows as one chunk, every cell written as toCsv
 * writes it (neutralised, quoted, CRLF). Memory holds one batch at a time; the consumer's pace sets the producer's.
 */
export async function* csvChunks(header: readonly string[], batches: AsyncIterable<readonly (readonly CsvCell[])[]>): AsyncGenerator<string> {
  yield toCsv([header]);
  for await (const rows of batches) if (rows.length > 0) yield toCsv(rows);
}

/** The Content-Disposition of a download named `name` (letters, digits, dashes) with extension `ext`. */
export const attachment = (name: string, ext: string) => `attachment; filename="${name.replace(/[^a-z0-9-]/gi, '-')}.${ext}"`;

/** The Content-Disposition of a CSV download named `name` (letters, digits, dashes). */
export const csvAttachment = (name: string) => attachment(name, 'csv');
