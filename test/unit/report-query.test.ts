import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_EXCLUDED_STATUSES } from '../../functions/config/schema.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { measure, type MeasureRequest } from '../../functions/kpis/measure.ts';
import {
  comparisonsOf,
  distinctPeriods,
  parsePeriod,
  periodsEndingWith,
  type Period,
} from '../../functions/periods/period.ts';
import { stringLiteral } from '../../functions/sql/dialect.ts';
import { CANONICAL_COLUMNS } from '../helpers.ts';

const COLUMNS = CANONICAL_COLUMNS;

interface Row {
  order_id: string | null;
  customer_id: string | null;
  ordered_at: string;
  amount: string;
  status: string;
}

let engine: DuckDbEngine;
let tables = 0;

/** Loads rows into a fresh DuckDB table and returns its name. */
async function table(rows: readonly Row[]): Promise<string> {
  const name = `orders_${++tables}`;
  const lit = (v: string | null): string => (v === null ? 'NULL' : stringLiteral(v));
  await engine.query(
    `CREATE TABLE ${name} (order_id VARCHAR, customer_id VARCHAR, ordered_at TIMESTAMP, amount DECIMAL(18, 2), status VARCHAR)`,
  );
  if (rows.length > 0) {
    const values = rows.map(
      (r) =>
        `(${lit(r.order_id)}, ${lit(r.customer_id)}, TIMESTAMP ${lit(r.ordered_at)}, ${r.amount}, ${lit(r.status)})`,
    );
    await engine.query(`INSERT INTO ${name} VALUES ${values.join(', ')}`);
  }
  return name;
}

function request(relation: string, periods: MeasureRequest['periods']): MeasureRequest {
  return {
    engine,
    relation,
    columns: COLUMNS,
    excludedStatuses: DEFAULT_EXCLUDED_STATUSES,
    timeZone: 'Europe/London',
    activeWindowDays: 45,
    atRiskDays: 100,
    periods,
  };
}

beforeAll(async () => {
  engine = await DuckDbEngine.create();
});
afterAll(async () => {
  await engine.close();
});

describe('the report query', () => {
  // 2024-06 .. 2026-03: orders before, between and after the measured weeks.
  const START = Date.parse('2024-06-01T00:00:00Z');
  const SPAN = Date.parse('2026-03-01T00:00:00Z') - START;
  const shop = fc
    .array(
      fc.record({
        customer: fc.integer({ min: 0, max: 9 }),
        at: fc.integer({ min: 0, max: SPAN }),
        // Several orders of one customer in one slice, to tell one order from two.
        again: fc.boolean(),
        cents: fc.integer({ min: 0, max: 90_000 }),
      }),
      { minLength: 1, maxLength: 50 },
    )
    .map((rows): Row[] =>
      rows.flatMap((r, i) => {
        const row = {
          order_id: `o${i}`,
          customer_id: `c${r.customer}`,
          ordered_at: new Date(START + r.at).toISOString().slice(0, 19).replace('T', ' '),
          amount: (r.cents / 100).toFixed(2),
          status: 'completed',
        };
        return r.again ? [row, { ...row, order_id: `o${i}b` }] : [row];
      }),
    );

  /** Every measure of every period is the same measured together as measured alone. */
  async function expectTogetherAsAlone(periods: readonly Period[]): Promise<void> {
    await fc.assert(
      fc.asyncProperty(shop, async (rows) => {
        const relation = await table(rows);
        const together = await measure(request(relation, periods));
        for (const period of periods) {
          const alone = await measure(request(relation, [period]));
          expect({ period: period.label, ...together.byLabel.get(period.label) }).toEqual({
            period: period.label,
            ...alone.byLabel.get(period.label),
          });
        }
      }),
      { numRuns: 4 },
    );
  }

  test('measures many periods at once (several slice-mask words) exactly as one at a time', async () => {
    // 30 weekly periods with 45- and 100-day windows cut the time line at more than 62
    // boundaries, so the customer masks span several BIGINT words.
    const weeks = periodsEndingWith(parsePeriod('2026-W05'), 30);
    const probe = await measure(request(await table([]), weeks));
    expect(probe.sql).toMatch(/ AS m1\b/);
    await expectTogetherAsAlone(weeks);
  }, 60_000);

  test('measures overlapping periods (a custom range and its year-ago inside its trend) as one at a time', async () => {
    const c = comparisonsOf(parsePeriod('2025-10-01..2025-11-15'));
    const periods = distinctPeriods([...c.trend, c.yearAgo]);
    // The year-ago range lies inside the 12 × 46-day trend.
    expect(c.yearAgo.start > (c.trend[0]?.start ?? '')).toBe(true);
    await expectTogetherAsAlone(periods);
  }, 60_000);

  test('treats ids of only spaces, tabs and line breaks as blank on both engines alike', async () => {
    const at = '2026-01-05 10:00:00';
    const row = (order_id: string | null, customer_id: string | null): Row => ({
      order_id,
      customer_id,
      ordered_at: at,
      amount: '10.00',
      status: 'completed',
    });
    const relation = await table([
      row('o1', 'c1'),
      row('o2', ' c2 '), // padded but not blank: a customer
      row('o3', ''),
      row('o4', '   '),
      row('o5', '\t'),
      row('o6', ' \r\n'),
      row('o7', null),
      row(' ', 'c1'),
      row('\t\t', 'c1'),
      row(null, 'c1'),
    ]);
    const { quality, byLabel } = await measure(request(relation, [parsePeriod('2026-W02')]));
    expect(quality.leftOut.missing_customer).toBe(5);
    expect(quality.leftOut.missing_order_id).toBe(3);
    expect(quality.validOrders).toBe(2);
    expect(byLabel.get('2026-W02')?.buyers).toBe(2);
  });
});
