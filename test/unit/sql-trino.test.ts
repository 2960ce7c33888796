import { AthenaClient } from '@aws-sdk/client-athena';
import { TrinoSQL } from 'dt-sql-parser';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { AthenaEngine } from '../../functions/engines/athena.ts';
import { planRun, statementsOf } from '../../functions/pipeline.ts';
import { ONLINE_RETAIL_READING } from '../helpers.ts';
import { relationReads, runReads } from '../sql-reads.ts';

const ORDERS = 'sales.orders';

/** Every statement of one full run on Athena, planned (nothing is sent). */
async function runStatements(
  label: string,
  kind: 'week' | 'month' | 'quarter' | 'year' | 'custom',
  zone: string,
  optional = true,
  activeWindowDays = 400,
  breakdowns: string[] = [],
): Promise<string[]> {
  const config = parseConfig({
    source: {
      relation: { kind: 'table', table: ORDERS },
      dimensions: { country: 'country', channel: "coalesce(utm_source, 'direct')" },
      excludedStatuses: ['cancelled', "o'brien"],
      ...(optional
        ? {
            feedback: { relation: { kind: 'table', table: 'sales.feedback' } },
            marketingSpend: { relation: { kind: 'table', table: 'sales.marketing_spend' } },
          }
        : {}),
    },
    reports: [
      {
        id: 'r',
        name: 'R',
        period: kind === 'custom' ? 'week' : kind,
        timeZone: zone,
        activeWindowDays,
        breakdowns,
      },
    ],
  });
  const [report] = config.reports;
  if (!report) throw new Error('no report');
  const engine = new AthenaEngine({
    client: new AthenaClient({ region: 'eu-west-1' }),
    workGroup: 'kpi',
  });
  const plan = await planRun({ report, source: config.source, period: label }, engine, {
    now: new Date('2027-02-01T00:00:00Z'),
    beyond: true,
  });
  return statementsOf(plan);
}

const CASES = [
  ['2026-W47', 'week', 'Europe/London'],
  ['2026-11', 'month', 'America/New_York'],
  ['2026-Q4', 'quarter', 'Asia/Tokyo'],
  ['2026', 'year', 'UTC'],
  ['2026-11-01..2026-11-15', 'custom', 'Australia/Sydney'],
] as const;

describe('every statement of a run parses with the Trino grammar (Athena engine v3)', () => {
  const parser = new TrinoSQL();
  test.each(CASES)('%s (%s) in %s', async (label, kind, zone) => {
    const statements = await runStatements(label, kind, zone);
    expect(statements.length).toBeGreaterThan(5);
    for (const sql of statements) {
      expect(parser.validate(sql)).toEqual([]);
      // DuckDB-only syntax that the grammar might not catch on its own
      expect(sql).not.toMatch(/::|\bQUALIFY\b|\bILIKE\b|GROUP BY ALL|\/\/|epoch_us|\bmedian\(/i);
      expect(Buffer.byteLength(sql)).toBeLessThan(262_144);
    }
  });

  test('an export as stored (column expressions, text times in a format, London wall-clock time, order lines)', async () => {
    const config = parseConfig({
      source: {
        relation: { kind: 'table', table: ORDERS },
        columns: ONLINE_RETAIL_READING.columns,
        timestamps: ONLINE_RETAIL_READING.timestamps,
        grain: 'line',
      },
      reports: [{ id: 'r', name: 'R', period: 'week', timeZone: 'Europe/London' }],
    });
    const [report] = config.reports;
    if (!report) throw new Error('no report');
    const engine = new AthenaEngine({
      client: new AthenaClient({ region: 'eu-west-1' }),
      workGroup: 'kpi',
    });
    const plan = await planRun({ report, source: config.source, period: '2026-W47' }, engine, {
      now: new Date('2027-02-01T00:00:00Z'),
      beyond: true,
    });
    const statements = statementsOf(plan);
    const [create = ''] = statements;
    expect(parser.validate(create)).toEqual([]);
    // Expressions, formats, local times and lines keep the single read of the orders.
    expect(runReads(statements).get(ORDERS)).toBe(1);
    // Trino's date_parse takes MySQL specifiers (%i for minutes), not strftime's.
    expect(create).toContain(`date_parse(CAST("InvoiceDate" AS VARCHAR), '%m/%d/%Y %H:%i')`);
    expect(create).toContain('(round(Quantity * UnitPrice, 2))');
    expect(create).toMatch(/ordered_at - INTERVAL '3600' SECOND/);
    expect(create).not.toMatch(/strptime|AT TIME ZONE|with_timezone/);
  });

  // A window of at most 365 days adds retention by segment to the RFM statement.
  test.each(CASES.filter(([, kind]) => kind !== 'year'))(
    '%s (%s) in %s, a 92-day window: the RFM statement with retention by segment',
    async (label, kind, zone) => {
      const statements = await runStatements(label, kind, zone, true, 92);
      const rfm = statements.filter((sql) => sql.includes('prior_segment'));
      expect(rfm).toHaveLength(1);
      const [sql = ''] = rfm;
      expect(sql).toContain('retained_before');
      expect(parser.validate(sql)).toEqual([]);
      expect(sql).not.toMatch(/::|\bQUALIFY\b|\bILIKE\b|GROUP BY ALL|\/\/|epoch_us|\bmedian\(/i);
      // One read of the run's customer table, none of the orders.
      expect([...relationReads(sql).values()]).toEqual([1]);
      expect(relationReads(sql).has(ORDERS)).toBe(false);
      for (const other of statements) expect(parser.validate(other)).toEqual([]);
    },
  );

  test.each(CASES)(
    '%s (%s) in %s, broken down by a column and an expression',
    async (label, kind, zone) => {
      const statements = await runStatements(label, kind, zone, true, 400, ['country', 'channel']);
      const [create = ''] = statements;
      expect(create).toContain('"country"');
      expect(create).toContain("coalesce(utm_source, 'direct')");
      // The create statement keeps each value and the orders before the end; no window
      // over the customers (on Athena it would run on one node).
      expect(create).toContain('d_known');
      expect(create).not.toMatch(/part_0|dense_rank|OVER \(ORDER BY/);
      for (const sql of statements) {
        expect(parser.validate(sql)).toEqual([]);
        expect(sql).not.toMatch(/::|\bQUALIFY\b|\bILIKE\b|GROUP BY ALL|\/\/|epoch_us|\bmedian\(/i);
      }
      // The orders once. A statement with parts reads the table once more per dimension for
      // each read it had, to rank the values (their `dim_<i>` and `d_known` alone).
      expect(runReads(statements).get(ORDERS)).toBe(1);
      const plain = await runStatements(label, kind, zone);
      const reads = (list: string[]): number[] =>
        list.map((sql) => [...relationReads(sql).values()].reduce((t, n) => t + n, 0));
      const withParts = statements.map((sql) => sql.includes('part_0'));
      expect(withParts.filter(Boolean)).toHaveLength(3);
      expect(reads(statements)).toEqual(reads(plain).map((n, i) => (withParts[i] ? n * 3 : n)));
      // Each dimension's values ranked in a grouped read of the run's table.
      const ranking =
        /SELECT dim_(\d) AS v, count\(CASE WHEN d_known > 0 THEN 1 END\) AS n\s+FROM kpi_run_[0-9a-f]{32}\s+GROUP BY dim_\1\b/g;
      for (const sql of statements.filter((_, i) => withParts[i]))
        expect([...sql.matchAll(ranking)].map((m) => m[1])).toEqual(['0', '1']);
      expect(
        statements.filter((sql) => sql.includes('GROUPING SETS ((), (part_0), (part_1))')),
      ).toHaveLength(1);
    },
  );

  test('the check itself catches DuckDB-only syntax', () => {
    expect(
      parser.validate('SELECT x::VARCHAR FROM t QUALIFY row_number() OVER () = 1').length,
    ).toBeGreaterThan(0);
  });

  test('string literals from configuration are escaped', async () => {
    const [create] = await runStatements('2026-W47', 'week', 'UTC');
    expect(create).toContain("'o''brien'");
  });
});

describe('a run reads the orders once, as Trino plans it (WITH blocks inlined)', () => {
  test.each(CASES)('%s (%s) in %s', async (label, kind, zone) => {
    for (const optional of [true, false]) {
      const statements = await runStatements(label, kind, zone, optional);
      // The orders source: once in the whole run, by the statement that creates the table.
      expect(runReads(statements).get(ORDERS)).toBe(1);
      expect(relationReads(statements[0] ?? '').get(ORDERS)).toBe(1);
      // No relation more than twice in any one statement.
      for (const sql of statements) {
        for (const [name, n] of relationReads(sql)) {
          expect({ name, n, within: n <= 2 }).toEqual({ name, n, within: true });
        }
      }
      // The optional sources, once each.
      if (optional) {
        expect(runReads(statements).get('sales.feedback')).toBe(1);
        expect(runReads(statements).get('sales.marketing_spend')).toBe(2);
      }
    }
  });

  test('the count expands WITH blocks at every reference, as Trino does', () => {
    const sql = `WITH a AS (SELECT * FROM "sales"."orders" o),
b AS (SELECT x FROM a JOIN a a2 ON a.x = a2.x),
c AS (SELECT x FROM b UNION ALL SELECT x FROM b CROSS JOIN UNNEST(y) AS u(v))
SELECT * FROM c, sales.other s LEFT JOIN (SELECT 1 FROM a) z ON TRUE WHERE s.k = 'FROM sales.orders'`;
    // c reads b twice, b reads a twice, a reads the orders once; then one more a.
    expect(relationReads(sql)).toEqual(
      new Map([
        [ORDERS, 5],
        ['sales.other', 1],
      ]),
    );
    expect(relationReads(`CREATE TABLE t WITH (format = 'PARQUET') AS\n${sql}`).get(ORDERS)).toBe(
      5,
    );
    expect(relationReads('DROP TABLE IF EXISTS t').size).toBe(0);
  });
});
