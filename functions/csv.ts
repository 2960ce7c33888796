/**
 * CSV as RFC 4180 writes it, safe to open in a spreadsheet: a cell holding a comma, a
 * double quote, a line feed or a carriage return is quoted (quotes doubled); a text cell
 * starting with `=`, `+`, `-`, `@`, a tab or a carriage return, which a spreadsheet would
 * run as a formula, is written with a leading apostrophe (OWASP's rule for CSV injection).
 * Numbers, and values the project formats itself (`{ own }`: dates, fixed decimals), are
 * written as they are: only text cells come from the user's data.
 */
export type CsvCell = string | number | null | { readonly own: string };

const FORMULA = /^[=+\-@\t\r]/;

function cell(value: CsvCell): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = typeof value === 'string' ? (FORMULA.test(value) ? `'${value}` : value) : value.own;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line of CSV (without its line end). */
export function csvLine(cells: readonly CsvCell[]): string {
  return cells.map(cell).join(',');
}

/** A CSV document: the header and the rows, each line ended by a line feed. */
export function csvDocument(
  header: readonly string[],
  rows: readonly (readonly CsvCell[])[],
): string {
  return [csvLine(header), ...rows.map(csvLine)].map((l) => `${l}\n`).join('');
}
