import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { formatProblem, localToUtc, parseTimestamp } from '../../functions/sql/timestamps.ts';
import { duckdbDialect, trinoDialect } from '../../functions/sql/dialect.ts';

let engine: DuckDbEngine;
beforeAll(async () => {
  engine = await DuckDbEngine.create();
});
afterAll(async () => {
  await engine.close();
});

/** The UTC instant the statements give a local wall-clock time in `zone`. */
async function utc(local: string, zone: string): Promise<string> {
  const sql = localToUtc(`TIMESTAMP '${local}'`, zone, new Date('2030-01-01T00:00:00Z'));
  const [row] = await engine.query(`SELECT CAST(${sql} AS VARCHAR) AS t`);
  return String(row?.t);
}

describe('local wall-clock time to UTC, without a time-zone function', () => {
  test.each([
    // London: winter GMT, summer BST (+1).
    ['2011-01-15 12:00:00', 'Europe/London', '2011-01-15 12:00:00'],
    ['2011-07-15 12:00:00', 'Europe/London', '2011-07-15 11:00:00'],
    // The gap (01:00 became 02:00 on 27 March 2011): read with the offset before, so 01:30
    // is 01:30 UTC, which the clocks showed as 02:30.
    ['2011-03-27 01:30:00', 'Europe/London', '2011-03-27 01:30:00'],
    ['2011-03-27 02:30:00', 'Europe/London', '2011-03-27 01:30:00'],
    // The hour that happened twice (02:00 became 01:00 on 30 October 2011): the first one.
    ['2011-10-30 00:59:00', 'Europe/London', '2011-10-29 23:59:00'],
    ['2011-10-30 01:30:00', 'Europe/London', '2011-10-30 00:30:00'],
    ['2011-10-30 02:00:00', 'Europe/London', '2011-10-30 02:00:00'],
    // West of UTC: New York's gap and repeated hour in 2024.
    ['2024-03-10 02:30:00', 'America/New_York', '2024-03-10 07:30:00'],
    ['2024-11-03 01:30:00', 'America/New_York', '2024-11-03 05:30:00'],
    ['2024-11-03 02:30:00', 'America/New_York', '2024-11-03 07:30:00'],
    // A zone without summer time, and UTC itself.
    ['2024-06-01 09:00:00', 'Asia/Kolkata', '2024-06-01 03:30:00'],
    ['2024-06-01 09:00:00', 'UTC', '2024-06-01 09:00:00'],
  ])('%s in %s is %s UTC', async (local, zone, expected) => {
    expect(await utc(local, zone)).toBe(expected);
  });
});

describe('text times in a declared format', () => {
  test('the same format, spelled for each engine', async () => {
    expect(parseTimestamp(duckdbDialect, 'x', '%m/%d/%Y %H:%M')).toBe(
      "strptime(x, '%m/%d/%Y %H:%M')",
    );
    expect(parseTimestamp(trinoDialect, 'x', '%m/%d/%Y %I:%M:%S %p')).toBe(
      "date_parse(x, '%m/%d/%Y %h:%i:%s %p')",
    );
    const [row] = await engine.query(
      `SELECT CAST(${parseTimestamp(duckdbDialect, "'12/1/2010 8:26'", '%m/%d/%Y %H:%M')} AS VARCHAR) AS t`,
    );
    expect(row?.t).toBe('2010-12-01 08:26:00');
  });

  test.each([
    ['%d.%m.%Y %H:%M', null],
    ['%Y-%m-%dT%H:%M:%S.%f', null],
    ['%d/%m %H:%M', 'expected a year (%Y)'],
    [
      '%d/%m/%y',
      '%y is refused: DuckDB reads 69 as 1969 and Athena as 2069; write the year in full (%Y)',
    ],
    ['%m/%d/%Y %I:%M', '%I needs %p: without AM or PM, DuckDB and Athena read 12:30 differently'],
    ['%Y-%j', '%j is not one both engines parse alike; use %Y %m %d %H %I %M %S %f %p %b %%'],
    ["%Y'%m", 'a quote or a line break is not allowed'],
  ])('%s: %s', (format, problem) => {
    expect(formatProblem(format)).toBe(problem);
  });
});
