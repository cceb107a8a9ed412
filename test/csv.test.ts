// CSV out: RFC 4180 quoting through csv-stringify, and no cell a spreadsheet would run as a formula.
import t from 'tap';
import { csvAttachment, neutralise, toCsv } from '../server/lib/csv.js';

t.test('cells that would start a formula open as text', async (t) => {
  for (const cell of ['=HYPERLINK("http://evil.example")', '+1+1', '-2+3', '@SUM(A1)', '\tx', '\rx']) {
    t.equal(neutralise(cell), `'${cell}`, JSON.stringify(cell));
  }
  for (const cell of ['EU/EEA', 'a=b', '1-2', 'x@y.example', '']) t.equal(neutralise(cell), cell, `${JSON.stringify(cell)} is left alone`);
});

t.test('rows are RFC 4180: CRLF, quotes doubled, numbers and nulls as they are', async (t) => {
  const csv = toCsv([
    ['name', 'rate', 'note'],
    ['Big "Bank", Inc.', 0.5, null],
    ['=cmd', -1, 'two\nlines'],
  ]);
  t.equal(csv, 'name,rate,note\r\n"Big ""Bank"", Inc.",0.5,\r\n\'=cmd,-1,"two\nlines"\r\n');
  t.equal(csvAttachment('insight-corrections'), 'attachment; filename="insight-corrections.csv"');
  t.equal(csvAttachment('a b/"c"'), 'attachment; filename="a-b--c-.csv"', 'a name cannot break out of the header');
});
