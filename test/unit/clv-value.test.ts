import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  discountedPurchases,
  discountedPurchasesOfCells,
  expectedPurchases,
  expectedSpendOf,
  nbdDiscountedPurchases,
  prepareCounts,
  sliceDiscounts,
  spendData,
  type BgNbd,
  type GammaGamma,
} from '../../functions/clv/models.ts';
import { configSchema, type ReportConfig } from '../../functions/config/schema.ts';
import {
  clvBasis,
  clvMeans,
  customerValues,
  type Calibration,
  type LifetimeModel,
} from '../../functions/kpis/beyond.ts';
import { computeExtraKpis } from '../../functions/kpis/extra.ts';
import type { KpiValues } from '../../functions/kpis/compute.ts';
import type { Report } from '../../functions/report/report.ts';

/**
 * The lifetime values' definitions (docs/kpis.md, "CLV model"), worked by hand: the
 * zero-spend rule, the discounting, the margin, the three customer groups, LTV : CAC.
 */

const GG: GammaGamma = { p: 2, q: 3, v: 10, logLikelihood: 0 };
/** The CDNOW fit (Fader, Hardie & Lee 2005). */
const BG: BgNbd = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426, logLikelihood: 0 };

describe('expected value per purchase: Gamma-Gamma conditional expectation p (v + x m) / (p x + q − 1)', () => {
  test('no repeat purchase: the population mean p v / (q − 1)', () => {
    // 2 · 10 / (3 − 1) = 10.
    expect(expectedSpendOf(GG, 0, Number.NaN)).toBe(10);
  });

  test('repeat purchases worth something: the posterior mean between the population and the own mean', () => {
    // x = 2 of mean 25: 2 (10 + 2 · 25) / (2 · 2 + 3 − 1) = 120 / 6 = 20.
    expect(expectedSpendOf(GG, 2, 25)).toBe(20);
  });

  test('repeat purchases that total 0 (a free item, a 100 % voucher): the same expectation with m = 0', () => {
    // Not the population mean 10: x = 1 of mean 0 gives 2 · 10 / (2 · 1 + 3 − 1) = 20 / 4 = 5,
    // x = 4 gives 20 / (8 + 2) = 2: the more free repeats, the lower, never below 0.
    expect(expectedSpendOf(GG, 1, 0)).toBe(5);
    expect(expectedSpendOf(GG, 4, 0)).toBe(2);
    // None recorded (NaN) counts as 0 too; and it is the limit of a mean tending to 0.
    expect(expectedSpendOf(GG, 4, Number.NaN)).toBe(2);
    expect(Math.abs(expectedSpendOf(GG, 4, 1e-9) - 2)).toBeLessThan(1e-8);
  });

  test('zero-spend repeat buyers stay out of the fit: the likelihood has no room for a mean of 0', () => {
    const d = spendData({
      x: [0, 1, 2, 3],
      txDays: [0, 7, 14, 21],
      TDays: [30, 30, 30, 30],
      mx: [Number.NaN, 0, 25, 40],
    });
    expect([...d.x]).toEqual([2, 3]);
    expect([...d.m]).toEqual([25, 40]);
  });
});

describe('discounting: the 52 weeks in 12 slices, slice k discounted by (1 + d)^(−k/12)', () => {
  // δ = 1.1^(−1/12) = e^(−ln 1.1 / 12) = e^(−0.0079425) = 0.9920889;
  // Σ_{k=1..12} δ^k = δ (1 − δ^12) / (1 − δ) = 0.9920889 · (1 − 1/1.1) / 0.0079111 = 11.40049,
  // so a year's purchases spread evenly keep 11.40049 / 12 = 95.004 % of their value.
  test('the factors at 10 % a year', () => {
    const f = sliceDiscounts(0.1);
    expect(f).toHaveLength(12);
    expect(f[0]).toBeCloseTo(0.9920889, 7);
    expect(f[11]).toBeCloseTo(1 / 1.1, 12);
    expect(f.reduce((s, v) => s + v, 0)).toBeCloseTo(11.40049, 5);
    expect([...sliceDiscounts(0)]).toEqual(new Array<number>(12).fill(1));
    expect(() => sliceDiscounts(-0.1)).toThrow();
  });

  test('NBD: a steady rate of 1 a week is 52 purchases, 49.402 discounted', () => {
    // Rate (r + x) / (α + T) = (1 + 1) / (1 + 1) = 1 a week: 52/12 = 4.3333 purchases in each
    // slice, 4.3333 · 11.40049 = 49.40211.
    const nbd = { r: 1, alpha: 1 };
    const c = { x: 1, tx: 1, T: 1 };
    expect(nbdDiscountedPurchases(nbd, c, 0)).toBe(52);
    expect(nbdDiscountedPurchases(nbd, c, 0.1)).toBeCloseTo(49.40211, 5);
  });

  test('BG/NBD: each slice from the undiscounted predictions at its ends; none, the 52-week prediction itself', () => {
    const f = sliceDiscounts(0.1);
    for (const c of [
      { x: 0, tx: 0, T: 38 },
      { x: 2, tx: 30.43, T: 38.86 },
      { x: 7, tx: 35, T: 38 },
      { x: 5, tx: 3, T: 38 },
    ]) {
      let want = 0;
      for (let k = 1; k <= 12; k++) {
        const slice =
          expectedPurchases(BG, c, (52 * k) / 12) - expectedPurchases(BG, c, (52 * (k - 1)) / 12);
        want += (f[k - 1] ?? 1) * slice;
      }
      const got = discountedPurchases(BG, c, 0.1);
      expect(Math.abs(got - want)).toBeLessThan(1e-12 * want);
      // Later purchases count less, so the discounted total is under the plain one and over
      // its last slice's factor times it.
      const plain = expectedPurchases(BG, c, 52);
      expect(got).toBeLessThan(plain);
      expect(got).toBeGreaterThan(plain / 1.1);
      expect(discountedPurchases(BG, c, 0)).toBe(plain);
      const cells = prepareCounts([c]);
      expect(discountedPurchasesOfCells(BG, cells, 0.1)[0]).toBe(got);
    }
  });
});

describe('each customer’s value: discounted purchases × value per purchase × gross margin', () => {
  // NBD r = α = 1 and Gamma-Gamma p = 2, q = 3, v = 10:
  // A: x = 1 free repeat, T = 1 week: 1 purchase a week (52), 2 · 10 / (2 + 2) = 5 each: 260.
  // B: x = 0, T = 1 week: (1 + 0) / (1 + 1) = 0.5 a week (26), 2 · 10 / 2 = 10 each: 260.
  // C: x = 2 of mean 25, T = 3 weeks: 3 / 4 = 0.75 a week (39), 20 each: 780.
  const model: LifetimeModel = { bg: null, nbd: { r: 1, alpha: 1, logLikelihood: 0 }, gg: GG };
  const h = { x: [1, 0, 2], txDays: [7, 0, 14], TDays: [7, 7, 21], mx: [0, Number.NaN, 25] };

  test('revenue, undiscounted', () => {
    expect([...customerValues(model, h, { grossMargin: null, annualDiscountRate: 0 })]).toEqual([
      260, 260, 780,
    ]);
  });

  test('gross margin 40 %: 0.4 × revenue', () => {
    const v = customerValues(model, h, { grossMargin: 0.4, annualDiscountRate: 0 });
    [104, 104, 312].forEach((want, i) => {
      expect(v[i]).toBeCloseTo(want, 10);
    });
  });

  test('gross margin 40 %, 10 % a year: × 11.40049 / 12 = 0.9500407', () => {
    // 104 · 0.9500407 = 98.80423; 312 · 0.9500407 = 296.41268.
    const v = customerValues(model, h, { grossMargin: 0.4, annualDiscountRate: 0.1 });
    [98.80423, 98.80423, 296.41268].forEach((want, i) => {
      expect(v[i]).toBeCloseTo(want, 4);
    });
  });

  test('a report’s basis: revenue and 10 % a year unless it sets a margin or another rate', () => {
    const report = (extra: object): ReportConfig => {
      const [r] = configSchema.parse({
        source: {
          relation: { kind: 'file', path: 'orders.parquet' },
          columns: {
            order_id: 'order_id',
            customer_id: 'customer_id',
            ordered_at: 'ordered_at',
            amount: 'amount',
            status: null,
          },
        },
        reports: [{ id: 'weekly', name: 'Weekly', period: 'week', ...extra }],
      }).reports;
      if (!r) throw new Error('no report');
      return r;
    };
    expect(clvBasis(report({}))).toEqual({ grossMargin: null, annualDiscountRate: 0.1 });
    expect(clvBasis(report({ grossMargin: 0.35, annualDiscountRate: 0 }))).toEqual({
      grossMargin: 0.35,
      annualDiscountRate: 0,
    });
    for (const bad of [{ grossMargin: 0 }, { grossMargin: 1.2 }, { annualDiscountRate: -0.05 }]) {
      expect(() => report(bad)).toThrow();
    }
  });
});

describe('the three means: active at the end, every customer, acquired in the period', () => {
  // A weekly report with a 90-day active window. Days: T − t_x is the days from the last
  // purchase day to the last day before the end (active when under 90); T the days from the
  // first purchase day to it (acquired in the period's 7 days when under 7).
  //   customer  T    t_x  T − t_x  active  acquired  value
  //   1         3    0    3        yes     yes       100
  //   2         400  311  89       yes     no        300  (last purchase 90 days before the end)
  //   3         400  310  90       no      no         20  (91 days before: outside the window)
  //   4         6    0    6        yes     yes        50  (first purchase on the period's first day)
  //   5         7    7    0        yes     no        200  (first purchase the day before the period)
  const h: Calibration = {
    x: [0, 3, 2, 0, 1],
    txDays: [0, 311, 310, 0, 7],
    TDays: [3, 400, 400, 6, 7],
    mx: [Number.NaN, 30, 10, Number.NaN, 20],
    row: Uint32Array.from([0, 1, 2, 3, 4]),
    activeWindowDays: 90,
    periodDays: 7,
  };

  test('clv_12m (100 + 300 + 50 + 200) / 4 = 162.5; clv_12m_all 670 / 5 = 134; new_customer_clv (100 + 50) / 2 = 75', () => {
    expect(clvMeans([100, 300, 20, 50, 200], h)).toEqual({
      active: 162.5,
      all: 134,
      acquired: 75,
      customers: { active: 4, all: 5, acquired: 2 },
    });
  });

  test('no customer acquired in the period: new_customer_clv and LTV : CAC are n/a', () => {
    const means = clvMeans([100, 300, 20, 50, 200], { ...h, periodDays: 3 });
    expect(means.acquired).toBeNull();
    expect(means.customers.acquired).toBe(0);
    const core = { new_customers: 0 } as KpiValues;
    expect(computeExtraKpis(core, { clv: means, spend: 500 })).toMatchObject({
      new_customer_clv: null,
      cac: null,
      ltv_to_cac: null,
    });
  });

  test('LTV : CAC = new_customer_clv / cac: 75 / (600 / 2) = 0.25', () => {
    const means = clvMeans([100, 300, 20, 50, 200], h);
    const kpis = computeExtraKpis({ new_customers: 2 } as KpiValues, { clv: means, spend: 600 });
    expect(kpis.cac).toBe(300);
    expect(kpis.ltv_to_cac).toBe(0.25);
  });
});

describe('the sample shop’s report (test/fixtures/report-2026-W47.json)', () => {
  const report = JSON.parse(
    readFileSync(new URL('../fixtures/report-2026-W47.json', import.meta.url), 'utf8'),
  ) as Report;
  const clv = report.beyond?.clv;

  test('the lifetime means are over the customers the KPIs count', () => {
    expect(clv?.customers?.active).toBe(report.kpis.customers_end.value);
    expect(clv?.customers?.acquired).toBe(report.kpis.new_customers.value);
    expect(clv?.basis).toEqual({ grossMargin: null, annualDiscountRate: 0.1 });
  });

  test('the KPIs are the means, and LTV : CAC uses the new customers’ value', () => {
    expect(report.kpis.clv_12m?.value).toBe(clv?.clv12m);
    expect(report.kpis.clv_12m_all?.value).toBe(clv?.clv12mAll);
    expect(report.kpis.new_customer_clv?.value).toBe(clv?.newCustomerClv);
    const cac = report.kpis.cac?.value ?? Number.NaN;
    expect(report.kpis.ltv_to_cac?.value).toBe((clv?.newCustomerClv ?? Number.NaN) / cac);
  });
});
