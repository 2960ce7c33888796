import fc from 'fast-check';
import { DateTime } from 'luxon';
import { TrinoSQL } from 'dt-sql-parser';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { localMidnight } from '../../functions/periods/period.ts';
import { dayNumber, utcOffsets } from '../../functions/sql/clv-query.ts';
import { trinoDialect } from '../../functions/sql/dialect.ts';
import {
  CANONICAL_COLUMNS,
  clvStatements,
  clvSummaries,
  writeOrdersCsv,
  type OrderRow,
} from '../helpers.ts';

const COLUMNS = CANONICAL_COLUMNS;

interface Summary {
  first_day: number;
  x: number | null;
  t_x_days: number | null;
  mx: number | null;
}

/** The summaries computed directly: local calendar days from luxon, cents summed exactly. */
function direct(rows: readonly OrderRow[], end: string, timeZone: string): Map<string, Summary> {
  const cut = localMidnight(end, timeZone).getTime();
  const days = new Map<string, Map<number, number>>();
  for (const r of rows) {
    const t = Date.parse(r.ordered_at);
    if (t >= cut || r.customer_id === null) continue;
    const day = dayNumber(DateTime.fromMillis(t, { zone: timeZone }).toISODate() ?? '');
    const mine = days.get(r.customer_id) ?? new Map<number, number>();
    mine.set(day, (mine.get(day) ?? 0) + Math.round(Number(r.amount) * 100));
    days.set(r.customer_id, mine);
  }
  const out = new Map<string, Summary>();
  for (const [customer, byDay] of days) {
    const sorted = [...byDay.keys()].sort((a, b) => a - b);
    const first = sorted[0] ?? 0;
    const x = sorted.length - 1;
    const repeat = sorted.slice(1).reduce((s, d) => s + (byDay.get(d) ?? 0), 0);
    out.set(customer, {
      first_day: first,
      x,
      t_x_days: (sorted.at(-1) ?? 0) - first,
      mx: x === 0 ? null : repeat / 100 / x,
    });
  }
  return out;
}

describe('lifetime-model summaries at several ends in one query', () => {
  let engine: DuckDbEngine;
  beforeAll(async () => {
    engine = await DuckDbEngine.create();
  });
  afterAll(async () => {
    await engine.close();
  });

  test('UTC offsets: New York switches on 2026-03-08 07:00Z and 2026-11-01 06:00Z', () => {
    const { changes, offsets } = utcOffsets('America/New_York', new Date('2027-01-01T00:00:00Z'));
    const i = changes.findIndex((d) => d.toISOString() === '2026-03-08T07:00:00.000Z');
    expect(i).toBeGreaterThan(0);
    // offsets[i] holds up to changes[i]: EST, then EDT until November, then EST again.
    expect(offsets.slice(i, i + 3)).toEqual([-5 * 3600, -4 * 3600, -5 * 3600]);
    expect(changes[i + 1]?.toISOString()).toBe('2026-11-01T06:00:00.000Z');
    expect(utcOffsets('UTC', new Date('2027-01-01T00:00:00Z'))).toEqual({
      changes: [],
      offsets: [0],
    });
  });

  test('a customer around New York midnights: local days, and an end never splits one', async () => {
    // 2026-03-07 23:30 EST and 2026-03-08 00:30 EST are two local days (04:30Z and 05:30Z
    // on the same UTC day); 2026-03-09 03:59:59Z is still 2026-03-08 23:59:59 EDT, before
    // the end 2026-03-09 (04:00Z); 04:00Z is after it.
    const rows: OrderRow[] = [
      { order_id: '1', customer_id: 'c', ordered_at: '2026-03-08T04:30:00Z', amount: '10.00' },
      { order_id: '2', customer_id: 'c', ordered_at: '2026-03-08T05:30:00Z', amount: '20.00' },
      { order_id: '3', customer_id: 'c', ordered_at: '2026-03-09T03:59:59Z', amount: '5.25' },
      { order_id: '4', customer_id: 'c', ordered_at: '2026-03-09T04:00:00Z', amount: '99.00' },
    ];
    const relation = await engine.relation({ kind: 'file', path: writeOrdersCsv(rows) });
    const [got] = await clvSummaries(engine, {
      relation,
      columns: COLUMNS,
      excludedStatuses: [],
      ends: ['2026-03-09', '2026-03-08', '2026-03-10'],
      timeZone: 'America/New_York',
    });
    expect(got).toEqual({
      customer_id: 'c',
      first_day: dayNumber('2026-03-07'),
      // Before 2026-03-09: days 03-07 and 03-08 (20.00 + 5.25 on the second).
      x_0: 1,
      t_x_days_0: 1,
      mx_0: 25.25,
      // Before 2026-03-08: only 03-07.
      x_1: 0,
      t_x_days_1: 0,
      mx_1: null,
      // Before 2026-03-10: 03-09 too.
      x_2: 2,
      t_x_days_2: 2,
      mx_2: (25.25 + 99) / 2,
    });
  });

  test('every end of one query equals the summaries computed directly, in any zone', async () => {
    const start = Date.parse('2025-10-20T00:00:00Z');
    const orders = fc.array(
      fc.record({
        customer: fc.integer({ min: 0, max: 6 }),
        // Minutes over 200 days, clustered near midnights of the zones below.
        minute: fc.integer({ min: 0, max: 200 * 24 * 60 }),
        cents: fc.integer({ min: 0, max: 20_000 }),
      }),
      { minLength: 1, maxLength: 40 },
    );
    await fc.assert(
      fc.asyncProperty(
        orders,
        fc.constantFrom('UTC', 'America/New_York', 'Europe/London', 'Asia/Kolkata'),
        fc.uniqueArray(fc.integer({ min: 0, max: 28 }), { minLength: 1, maxLength: 5 }),
        async (raw, timeZone, weeks) => {
          const rows: OrderRow[] = raw.map((o, i) => ({
            order_id: `o${i}`,
            customer_id: `c${o.customer}`,
            ordered_at: new Date(start + o.minute * 60_000).toISOString(),
            amount: (o.cents / 100).toFixed(2),
          }));
          const ends = weeks.map((w) =>
            DateTime.fromISO('2025-10-27').plus({ weeks: w }).toISODate(),
          ) as string[];
          const relation = await engine.relation({ kind: 'file', path: writeOrdersCsv(rows) });
          const got = await clvSummaries(engine, {
            relation,
            columns: COLUMNS,
            excludedStatuses: [],
            ends,
            timeZone,
          });
          const last = [...ends].sort().at(-1) ?? '';
          const firsts = direct(rows, last, timeZone);
          expect(new Set(got.map((r) => r.customer_id))).toEqual(new Set(firsts.keys()));
          ends.forEach((end, i) => {
            const want = direct(rows, end, timeZone);
            for (const r of got) {
              const id = String(r.customer_id);
              const w = want.get(id);
              expect({ id, end, first_day: r.first_day }).toEqual({
                id,
                end,
                first_day: firsts.get(id)?.first_day,
              });
              expect({ id, end, x: r[`x_${i}`], t: r[`t_x_days_${i}`] }).toEqual({
                id,
                end,
                x: w?.x ?? null,
                t: w?.t_x_days ?? null,
              });
              const mx = r[`mx_${i}`];
              if (w?.mx === null || w === undefined) expect(mx).toBeNull();
              else expect(Number(mx)).toBeCloseTo(w.mx, 9);
            }
          });
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);

  test('the statements parse with the Trino grammar', () => {
    const sql = clvStatements(trinoDialect, {
      relation: '"sales"."orders"',
      columns: COLUMNS,
      excludedStatuses: ['cancelled'],
      ends: ['2026-11-23', '2026-11-16', '2025-11-24'],
      timeZone: 'Europe/London',
    });
    for (const s of [sql.create, sql.summary, sql.drop])
      expect(new TrinoSQL().validate(s)).toEqual([]);
  });
});
