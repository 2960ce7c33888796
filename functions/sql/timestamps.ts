/**
 * Order times as exports store them: text in a declared format (`%m/%d/%Y %H:%M`), and
 * local wall-clock time without a zone, in a named zone. Both become the UTC instant the
 * statements compare, on both engines, with no time-zone function (their rules differ, and
 * DuckDB's need ICU): the zone's offsets come from luxon's time-zone data, as for local days.
 */
import { utcOffsets } from './clv-query.ts';
import { rankTree, stringLiteral, timestampLiteral, type Dialect } from './dialect.ts';

/**
 * The strftime specifiers a format may use, and Trino's `date_parse` (MySQL) spelling. `%f`
 * keeps microseconds on DuckDB and milliseconds on Athena (its timestamps hold no more).
 */
const SPECIFIERS: Record<string, string> = {
  Y: '%Y',
  m: '%m',
  d: '%d',
  H: '%H',
  I: '%h',
  M: '%i',
  S: '%s',
  f: '%f',
  p: '%p',
  b: '%b',
  '%': '%%',
};

/** Why a format cannot be used on both engines, or null when it can. */
export function formatProblem(format: string): string | null {
  if (format.includes('%y')) {
    return '%y is refused: DuckDB reads 69 as 1969 and Athena as 2069; write the year in full (%Y)';
  }
  if (!format.includes('%Y')) return 'expected a year (%Y)';
  if (format.includes('%I') && !format.includes('%p')) {
    return '%I needs %p: without AM or PM, DuckDB and Athena read 12:30 differently';
  }
  for (const m of format.matchAll(/%(.?)/g)) {
    const spec = m[1] ?? '';
    if (!(spec in SPECIFIERS)) {
      return `%${spec} is not one both engines parse alike; use ${Object.keys(SPECIFIERS)
        .map((k) => `%${k}`)
        .join(' ')}`;
    }
  }
  if (/['\r\n]/.test(format)) return 'a quote or a line break is not allowed';
  return null;
}

/** Text in `format` as a TIMESTAMP (no zone); a value that does not match fails the run. */
export function parseTimestamp(dialect: Dialect, text: string, format: string): string {
  if (dialect.name === 'duckdb') return `strptime(${text}, ${stringLiteral(format)})`;
  const mysql = format.replace(/%(.)/g, (_, spec: string) => SPECIFIERS[spec] ?? '');
  return `date_parse(${text}, ${stringLiteral(mysql)})`;
}

/**
 * A local wall-clock TIMESTAMP in `timeZone` as the UTC TIMESTAMP of that instant. Where the
 * clocks go forward, a time in the gap (01:30 when 01:00 became 02:00) is read with the offset
 * before the change, so it lands just after it (02:30 local, as java.time and luxon do); where
 * they go back, a time that happened twice (01:30 when 02:00 became 01:00) is the first one,
 * with the offset before the change.
 */
export function localToUtc(local: string, timeZone: string, until: Date): string {
  const { changes, offsets } = utcOffsets(timeZone, until);
  // Local times before change i keep offset i: up to the later of the two local readings
  // of the change's instant, so that the gap and the repeated hour both take the old offset.
  const bounds = changes.map((at, i) => {
    const before = offsets[i] ?? 0;
    const after = offsets[i + 1] ?? before;
    return timestampLiteral(new Date(at.getTime() + Math.max(before, after) * 1000));
  });
  return rankTree(local, bounds, (i) => {
    const offset = offsets[i] ?? 0;
    if (offset === 0) return local;
    return `${local} ${offset > 0 ? '-' : '+'} INTERVAL '${Math.abs(offset)}' SECOND`;
  });
}
