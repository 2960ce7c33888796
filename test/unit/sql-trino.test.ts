import { TrinoSQL } from 'dt-sql-parser';
import { describe, expect, test } from 'vitest';
import { measuredPeriod } from '../../functions/kpis/measure.ts';
import { comparisonsOf, distinctPeriods, parsePeriod } from '../../functions/periods/period.ts';
import { trinoDialect } from '../../functions/sql/dialect.ts';
import { buildReportQuery } from '../../functions/sql/report-query.ts';
import { CANONICAL_COLUMNS } from '../helpers.ts';

const columns = CANONICAL_COLUMNS;

function queryFor(label: string, zone: string): string {
  const c = comparisonsOf(parsePeriod(label));
  const periods = distinctPeriods([...c.trend, c.yearAgo]);
  return buildReportQuery({
    dialect: trinoDialect,
    relation: 'sales.orders',
    columns,
    excludedStatuses: ['cancelled', "o'brien"],
    periods: periods.map((p) => measuredPeriod(p, zone, 400, 180)),
  });
}

describe('the report SQL parses with the Trino grammar (Athena engine v3)', () => {
  const parser = new TrinoSQL();
  test.each([
    ['2026-W47', 'Europe/London'],
    ['2026-11', 'America/New_York'],
    ['2026-Q4', 'Asia/Tokyo'],
    ['2026', 'UTC'],
    ['2026-11-01..2026-11-15', 'Australia/Sydney'],
  ])('%s in %s', (label, zone) => {
    const sql = queryFor(label, zone);
    expect(parser.validate(sql)).toEqual([]);
    // DuckDB-only syntax that the grammar might not catch on its own
    expect(sql).not.toMatch(/::|\bQUALIFY\b|\bILIKE\b|GROUP BY ALL|\/\/|epoch_us|\bmedian\(/i);
    expect(Buffer.byteLength(sql)).toBeLessThan(262_144);
  });

  test('the check itself catches DuckDB-only syntax', () => {
    expect(
      parser.validate('SELECT x::VARCHAR FROM t QUALIFY row_number() OVER () = 1').length,
    ).toBeGreaterThan(0);
  });

  test('string literals from configuration are escaped', () => {
    expect(queryFor('2026-W47', 'UTC')).toContain("'o''brien'");
  });
});
