import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { CORE_KPI_IDS, kpiDefinition } from '../../functions/kpis/definitions.ts';
import { reportOn, writeOrdersCsv, type OrderRow } from '../helpers.ts';

/** Random small shops: a few customers, orders spread over 2025-10..2026-03, cents amounts. */
const START = Date.parse('2025-10-01T00:00:00Z');
const SPAN = Date.parse('2026-03-31T00:00:00Z') - START;
const shop = fc
  .array(
    fc.record({
      customer: fc.integer({ min: 0, max: 14 }),
      at: fc.integer({ min: 0, max: SPAN }),
      cents: fc.integer({ min: 0, max: 50_000 }),
      status: fc.constantFrom('completed', 'completed', 'completed', 'cancelled', 'REFUNDED'),
      guest: fc.boolean(),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((rows): OrderRow[] =>
    rows.map((r, i) => ({
      order_id: `o${i}`,
      customer_id: r.guest && r.customer === 0 ? null : `c${r.customer}`,
      ordered_at: new Date(START + r.at).toISOString(),
      amount: (r.cents / 100).toFixed(2),
      status: r.status,
    })),
  );

describe('KPI invariants on random shops (real DuckDB)', () => {
  let engine: DuckDbEngine;
  beforeAll(async () => {
    engine = await DuckDbEngine.create();
  });
  afterAll(async () => {
    await engine.close();
  });

  test('crr + churn = 1, the flow adds up, ratios lie in [0, 1], counts are whole', async () => {
    await fc.assert(
      fc.asyncProperty(
        shop,
        fc.constantFrom('2026-W05', '2026-02', '2026-01-10..2026-02-20'),
        fc.constantFrom('UTC', 'Europe/London', 'America/New_York', 'Asia/Kolkata'),
        async (rows, period, timeZone) => {
          const r = await reportOn(
            writeOrdersCsv(rows),
            period,
            { timeZone, period: 'month' },
            engine,
          );
          const k = r.kpis;
          for (const p of [0, 11]) {
            const crr = k.crr.trend[p] ?? null;
            const churn = k.churn_rate.trend[p] ?? null;
            if (crr === null) expect(churn).toBeNull();
            else expect(crr + (churn ?? NaN)).toBeCloseTo(1, 12);
          }
          const f = r.customerFlow;
          expect(f.end).toBe(f.start - f.lost + f.new + f.reactivated);
          expect(f.lost).toBeGreaterThanOrEqual(0);
          expect(f.reactivated).toBeGreaterThanOrEqual(0);
          for (const id of CORE_KPI_IDS) {
            const def = kpiDefinition(id);
            for (const v of [k[id].value, ...k[id].trend, k[id].yearAgo]) {
              if (v === null) continue;
              expect(Number.isFinite(v)).toBe(true);
              if (def.unit === 'ratio') {
                expect(v).toBeGreaterThanOrEqual(0);
                expect(v).toBeLessThanOrEqual(1 + 1e-12);
              }
              if (def.unit === 'count') expect(Number.isInteger(v)).toBe(true);
              if (def.unit !== 'ratio') expect(v).toBeGreaterThanOrEqual(0);
            }
          }
          const multiple = k.top10_spend_multiple.value;
          if (multiple !== null) expect(multiple).toBeGreaterThanOrEqual(1 - 1e-12);
        },
      ),
      { numRuns: 25 },
    );
  });

  test('revenue and orders over any split of a period add up to the whole', async () => {
    await fc.assert(
      fc.asyncProperty(shop, fc.integer({ min: 1, max: 27 }), async (rows, cut) => {
        const file = writeOrdersCsv(rows);
        const day = (d: number): string => `2026-02-${String(d).padStart(2, '0')}`;
        const whole = await reportOn(file, '2026-02-01..2026-02-28', {}, engine);
        const left = await reportOn(file, `2026-02-01..${day(cut)}`, {}, engine);
        const right = await reportOn(file, `${day(cut + 1)}..2026-02-28`, {}, engine);
        const cents = (v: number | null): number => Math.round((v ?? 0) * 100);
        expect(cents(left.kpis.revenue.value) + cents(right.kpis.revenue.value)).toBe(
          cents(whole.kpis.revenue.value),
        );
        expect((left.kpis.orders.value ?? 0) + (right.kpis.orders.value ?? 0)).toBe(
          whole.kpis.orders.value,
        );
      }),
      { numRuns: 15 },
    );
  });
});
