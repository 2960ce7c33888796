import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { minimizeBfgs } from '../../functions/clv/bfgs.ts';
import {
  bgnbdLogLikelihood,
  bgnbdLogLikelihoodGradient,
  countCells,
  expectedPurchases,
  expectedPurchasesOfCells,
  fitBgNbd,
  fitGammaGamma,
  spendData,
  type CustomerHistory,
  type HistoryColumns,
} from '../../functions/clv/models.ts';
import { fitTrend, type Calibration } from '../../functions/kpis/beyond.ts';

const CDNOW_MODEL = { r: 0.2426, alpha: 4.4135, a: 0.7929, b: 2.4258, logLikelihood: 0 };

/** Columnar histories from fast-check records: x, t_x ≤ T in whole days, a mean spend or none. */
const histories = fc
  .array(
    fc.record({
      x: fc.integer({ min: 0, max: 6 }),
      tx: fc.integer({ min: 0, max: 40 }),
      gap: fc.integer({ min: 0, max: 40 }),
      mx: fc.option(fc.double({ min: 0.5, max: 500, noNaN: true }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 300 },
  )
  .map((rows) => ({
    x: Float64Array.from(rows, (r) => r.x),
    txDays: Float64Array.from(rows, (r) => (r.x > 0 ? r.tx : 0)),
    TDays: Float64Array.from(rows, (r) => (r.x > 0 ? r.tx : 0) + r.gap),
    mx: Float64Array.from(rows, (r) => (r.x > 0 && r.mx !== undefined ? r.mx : Number.NaN)),
  }));

function perCustomer(h: HistoryColumns): CustomerHistory[] {
  return Array.from(h.x, (x, i) => ({
    x,
    tx: (h.txDays[i] ?? 0) / 7,
    T: (h.TDays[i] ?? 0) / 7,
    ...(Number.isNaN(h.mx[i]) ? {} : { mx: h.mx[i] ?? 0 }),
  }));
}

describe('lifetime fits on columns: cells, predictions per cell, a warm-started trend', () => {
  test('countCells: every customer in the cell of its own history, the same likelihood and predictions', () => {
    fc.assert(
      fc.property(histories, (h) => {
        const { data, cellOf } = countCells(h);
        const list = perCustomer(h);
        expect(data.w.reduce((s, w) => s + w, 0)).toBe(list.length);
        // Cells are distinct histories.
        const keys = new Set(
          Array.from(data.w, (_, k) => [data.xIndex[k], data.txIndex[k], data.TIndex[k]].join(',')),
        );
        expect(keys.size).toBe(data.w.length);
        const purchases = expectedPurchasesOfCells(CDNOW_MODEL, data, 52);
        list.forEach((c, i) => {
          const k = cellOf[i] ?? -1;
          expect([
            data.xs[data.xIndex[k] ?? -1],
            data.txs[data.txIndex[k] ?? -1],
            data.Ts[data.TIndex[k] ?? -1],
          ]).toEqual([c.x, c.tx, c.T]);
          // One hyp2f1 per (x, T): the very same double as the customer's own prediction.
          expect(purchases[k]).toBe(expectedPurchases(CDNOW_MODEL, c, 52));
        });
        const { ll } = bgnbdLogLikelihoodGradient([0.3, 4, 0.8, 2.5], data);
        const want = bgnbdLogLikelihood(0.3, 4, 0.8, 2.5, list);
        expect(Math.abs(ll - want)).toBeLessThanOrEqual(1e-9 * Math.abs(want));
        // Gamma-Gamma sees the repeat buyers with a spend, in order.
        const spend = spendData(h);
        const repeaters = list.filter((c) => c.x > 0 && (c.mx ?? 0) > 0);
        expect(Array.from(spend.x)).toEqual(repeaters.map((c) => c.x));
        expect(Array.from(spend.m)).toEqual(repeaters.map((c) => c.mx));
      }),
      { numRuns: 50 },
    );
  });

  test('countCells refuses times that are not whole days', () => {
    expect(() => countCells({ x: [1], txDays: [1.5], TDays: [3], mx: [10] })).toThrow(
      /whole number of days/,
    );
  });

  test('BFGS from a neighbouring minimum and its curvature: the same minimum, in fewer steps', () => {
    const valley =
      (c: number) =>
      (x: readonly number[]): { f: number; g: number[] } => {
        const [a = 0, b = 0] = x;
        return {
          f: (c - a) ** 2 + 100 * (b - a * a) ** 2,
          g: [-2 * (c - a) - 400 * a * (b - a * a), 200 * (b - a * a)],
        };
      };
    const first = minimizeBfgs(valley(1), [-1.2, 1]);
    if (!first) throw new Error('no minimum');
    const cold = minimizeBfgs(valley(1.05), first.x);
    const warm = minimizeBfgs(valley(1.05), first.x, { inverseHessian: first.inverseHessian });
    for (const r of [cold, warm]) {
      expect(r?.x[0]).toBeCloseTo(1.05, 6);
      expect(r?.x[1]).toBeCloseTo(1.05 ** 2, 6);
    }
    expect(warm?.iterations).toBeLessThan(cold?.iterations ?? 0);
    // A curvature of the wrong size is not used.
    const odd = minimizeBfgs(valley(1.05), first.x, { inverseHessian: [[1]] });
    expect(odd?.x[0]).toBeCloseTo(1.05, 6);
  });

  test('BFGS goes on by the slope where rounding noise hides the last decreases', () => {
    // The Rosenbrock valley on top of a million, with a jitter of 1e-7 in the value, as a
    // long sum of likelihood terms has; the gradient is exact. Near the minimum the value
    // can no longer show a decrease, and the slope must lead the way.
    const noisy = (x: readonly number[]): { f: number; g: number[] } => {
      const [a = 0, b = 0] = x;
      return {
        f: 1e6 + (1 - a) ** 2 + 100 * (b - a * a) ** 2 + 1e-7 * Math.sin(1e9 * a + 3e9 * b),
        g: [-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)],
      };
    };
    const r = minimizeBfgs(noisy, [-1.2, 1], { gTolerance: 1e-15 });
    // By the value alone, the search stops about 1e-5 away.
    expect(Math.abs((r?.x[0] ?? 0) - 1)).toBeLessThan(1e-9);
    expect(Math.abs((r?.x[1] ?? 0) - 1)).toBeLessThan(1e-9);
  });

  test('a trend fitted warm, oldest end first, gives the models of cold fits at every end', () => {
    // 3,000 customers over a year with CDNOW-like habits (a seeded generator), seen at 5
    // weekly ends.
    let seed = 7;
    const u = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return (seed + 0.5) / 2 ** 32;
    };
    const HISTORY = 364;
    const customers = Array.from({ length: 3000 }, () => {
      const first = Math.floor(u() * HISTORY);
      const rate = -Math.log(u()) / 8; // purchases per day: mean one per eight days
      const life = -Math.log(u()) * 120;
      // Each customer's own typical basket, and purchases around it.
      const basket = 10 - 40 * Math.log(u());
      const days = [first];
      const spend = [basket * (0.5 + u())];
      for (let t = first - Math.log(u()) / rate; t < Math.min(first + life, HISTORY);) {
        if (Math.floor(t) > (days.at(-1) ?? 0)) {
          days.push(Math.floor(t));
          spend.push(basket * (0.5 + u()));
        }
        t -= Math.log(u()) / rate;
      }
      return { first, days, spend };
    });
    const ends = [HISTORY, HISTORY - 7, HISTORY - 14, HISTORY - 21, HISTORY - 28];
    const at = (i: number): Calibration => {
      const end = ends[i] ?? HISTORY;
      const seen = customers.filter((c) => c.first < end);
      const h = {
        x: new Float64Array(seen.length),
        txDays: new Float64Array(seen.length),
        TDays: new Float64Array(seen.length),
        mx: new Float64Array(seen.length),
        row: Uint32Array.from(seen, (_, k) => k),
        activeWindowDays: 90,
        periodDays: 7,
      };
      seen.forEach((c, k) => {
        const before = c.days.filter((d) => d < end);
        const x = before.length - 1;
        h.x[k] = x;
        h.txDays[k] = (before.at(-1) ?? c.first) - c.first;
        h.TDays[k] = end - 1 - c.first;
        h.mx[k] = x > 0 ? c.spend.slice(1, before.length).reduce((s, v) => s + v, 0) / x : NaN;
      });
      return h;
    };
    const trend = fitTrend(ends, at, 60_000, { grossMargin: null, annualDiscountRate: 0.1 });
    expect(trend.map((f) => ('model' in f ? 'ok' : f.unavailable))).toEqual(ends.map(() => 'ok'));
    const reported = trend[0];
    expect(reported && 'values' in reported ? reported.values.length : 0).toBe(at(0).x.length);
    trend.forEach((f, i) => {
      if (!('model' in f) || !f.model.bg) throw new Error(`end ${i}: no BG/NBD model`);
      const h = at(i);
      const cold = fitBgNbd(countCells(h).data);
      const coldSpend = fitGammaGamma(spendData(h));
      for (const key of ['r', 'alpha', 'a', 'b'] as const) {
        expect(Math.abs(f.model.bg[key] / cold[key] - 1)).toBeLessThan(1e-5);
      }
      for (const key of ['p', 'q', 'v'] as const) {
        expect(Math.abs(f.model.gg[key] / coldSpend[key] - 1)).toBeLessThan(1e-5);
      }
    });
  });
});
