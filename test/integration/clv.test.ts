import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TrinoSQL } from 'dt-sql-parser';
import { describe, expect, test } from 'vitest';
import { minimizeBfgs } from '../../functions/clv/bfgs.ts';
import {
  bgnbdLogLikelihood,
  bgnbdLogLikelihoodGradient,
  fitNbd,
  gammaGammaLogLikelihood,
  gammaGammaLogLikelihoodGradient,
  nbdLogLikelihoodGradient,
  prepareCounts,
  expectedPurchases,
  expectedSpend,
  fitBgNbd,
  fitGammaGamma,
  probabilityAlive,
  type CustomerHistory,
} from '../../functions/clv/models.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { dayNumber } from '../../functions/sql/clv-query.ts';
import { trinoDialect } from '../../functions/sql/dialect.ts';
import {
  CANONICAL_COLUMNS,
  clvStatements,
  clvSummaries,
  writeOrdersCsv,
  type OrderRow,
} from '../helpers.ts';

const CDNOW = fileURLToPath(new URL('../data/cdnow/', import.meta.url));

function csv(name: string): number[][] {
  return readFileSync(`${CDNOW}${name}`, 'utf8')
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((l) => l.split(',').map(Number));
}

/** `ID,x,t_x,T,zbar` of the 2,357 sampled customers (calibration: 39 weeks of 1997). */
const published = csv('cdnow_customers_summary_with_transactions.csv').map(
  ([id, x, tx, T, mx]): CustomerHistory & { id: number } => ({
    id: id ?? 0,
    x: x ?? 0,
    tx: tx ?? 0,
    T: T ?? 0,
    mx: mx ?? 0,
  }),
);

const within = (got: number, want: number, relative: number): void => {
  expect(Math.abs(got - want) / Math.abs(want)).toBeLessThanOrEqual(relative);
};

describe('BG/NBD and Gamma-Gamma on CDNOW (Fader, Hardie & Lee 2005; Fader & Hardie 2013)', () => {
  test('the analytic gradient matches central differences, at the optimum and away from it', () => {
    const data = prepareCounts(published);
    const points: [number, number, number, number][] = [
      [0.2426, 4.4135, 0.7929, 2.4258],
      [1, 1, 1, 1],
      [0.05, 30, 3, 0.4],
    ];
    for (const point of points) {
      const { ll, gradient } = bgnbdLogLikelihoodGradient(point, data);
      expect(ll).toBeCloseTo(bgnbdLogLikelihood(...point, published), 6);
      gradient.forEach((g, i) => {
        // ∂LL/∂ln θ by central differences in ln θ.
        const h = 1e-5;
        const at = (e: number): number =>
          bgnbdLogLikelihood(
            ...(point.map((v, j) => (j === i ? v * Math.exp(e) : v)) as [
              number,
              number,
              number,
              number,
            ]),
            published,
          );
        const numeric = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(g - numeric)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(numeric)));
      });
    }
  });

  test('the Gamma-Gamma and NBD gradients match central differences too', () => {
    const repeaters = published.filter((c) => c.x > 0);
    const h = 1e-5;
    const numeric = (f: (e: number) => number): number => (f(h) - f(-h)) / (2 * h);
    for (const point of [
      [6.25, 3.74, 15.44],
      [1, 1, 1],
      [20, 2, 3],
    ] as [number, number, number][]) {
      const { ll, gradient } = gammaGammaLogLikelihoodGradient(point, repeaters);
      expect(ll).toBeCloseTo(gammaGammaLogLikelihood(...point, repeaters), 6);
      gradient.forEach((g, i) => {
        const want = numeric((e) =>
          gammaGammaLogLikelihood(
            ...(point.map((v, j) => (j === i ? v * Math.exp(e) : v)) as [number, number, number]),
            repeaters,
          ),
        );
        expect(Math.abs(g - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
      });
    }
    const counts = prepareCounts(published);
    for (const point of [
      [0.55, 10.6],
      [2, 0.5],
    ] as [number, number][]) {
      const { gradient } = nbdLogLikelihoodGradient(point, counts);
      gradient.forEach((g, i) => {
        const want = numeric(
          (e) =>
            nbdLogLikelihoodGradient(
              point.map((v, j) => (j === i ? v * Math.exp(e) : v)) as [number, number],
              counts,
            ).ll,
        );
        expect(Math.abs(g - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
      });
    }
    // With no dropout in the data, BG/NBD's fit runs to a → 0 or b → ∞ and the NBD is its limit.
    const m = fitNbd(published);
    expect(m.r).toBeGreaterThan(0);
    expect(m.logLikelihood).toBeLessThan(0);
  });

  test('BFGS finds the minimum of the Rosenbrock valley, and gives up on a non-finite start', () => {
    const rosenbrock = (x: readonly number[]): { f: number; g: number[] } => {
      const [a = 0, b = 0] = x;
      return {
        f: (1 - a) ** 2 + 100 * (b - a * a) ** 2,
        g: [-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)],
      };
    };
    const r = minimizeBfgs(rosenbrock, [-1.2, 1]);
    expect(r?.x[0]).toBeCloseTo(1, 6);
    expect(r?.x[1]).toBeCloseTo(1, 6);
    expect(minimizeBfgs(() => ({ f: NaN, g: [0] }), [0])).toBeNull();
  });

  test('BG/NBD reproduces r, α, a, b within 0.1 % and the log-likelihood within 0.01', () => {
    const summary = csv('cdnow_customers_summary.csv').map(([, x, tx, T]) => ({
      x: x ?? 0,
      tx: tx ?? 0,
      T: T ?? 0,
    }));
    expect(summary).toHaveLength(2357);
    const m = fitBgNbd(summary);
    within(m.r, 0.2426, 0.001);
    within(m.alpha, 4.4135, 0.001);
    within(m.a, 0.7929, 0.001);
    within(m.b, 2.4258, 0.001);
    expect(Math.abs(m.logLikelihood - -9582.43)).toBeLessThanOrEqual(0.01);
    // The published parameters give the published likelihood: the formula, not the fit.
    expect(bgnbdLogLikelihood(0.2426, 4.4135, 0.7929, 2.4258, summary)).toBeCloseTo(-9582.43, 1);
  });

  test('Gamma-Gamma on the 946 repeat buyers reproduces p, q, v within 0.5 %', () => {
    const repeaters = published.filter((c) => c.x > 0);
    expect(repeaters).toHaveLength(946);
    const g = fitGammaGamma(repeaters);
    within(g.p, 6.25, 0.005);
    within(g.q, 3.74, 0.005);
    within(g.v, 15.44, 0.005);
  });

  test('predictions: expected purchases, probability alive and spend behave as the papers say', () => {
    const m = { r: 0.2426, alpha: 4.4135, a: 0.7929, b: 2.4258, logLikelihood: 0 };
    // FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the
    // next 39 weeks (their worked example: customer 1 of the sample).
    expect(expectedPurchases(m, { x: 2, tx: 30.43, T: 38.86 }, 39)).toBeCloseTo(1.226, 2);
    expect(probabilityAlive(m, { x: 0, tx: 0, T: 38.86 })).toBe(1);
    const gone = probabilityAlive(m, { x: 5, tx: 2, T: 38.86 });
    const recent = probabilityAlive(m, { x: 5, tx: 38, T: 38.86 });
    expect(gone).toBeLessThan(recent);
    expect(recent).toBeLessThanOrEqual(1);
    const g = { p: 6.25, q: 3.74, v: 15.44, logLikelihood: 0 };
    // FH 2013: the population mean spend p v / (q − 1); a buyer's own mean pulls it towards theirs.
    expect(expectedSpend(g, { x: 0, tx: 0, T: 1 })).toBeCloseTo((6.25 * 15.44) / 2.74, 10);
    const heavy = expectedSpend(g, { x: 10, tx: 30, T: 39, mx: 100 });
    expect(heavy).toBeGreaterThan(35.22);
    expect(heavy).toBeLessThan(100);
  });

  test('the summaries computed in SQL from the raw transactions match the published ones', async () => {
    // CDNOW_sample.txt: master_id sample_id date(YYYYMMDD) cds dollars; one order per line.
    const rows: OrderRow[] = readFileSync(`${CDNOW}CDNOW_sample.txt`, 'utf8')
      .trim()
      .split(/\r?\n/)
      .map((line, i) => {
        const [, id = '', ymd = '', , dollars = ''] = line.trim().split(/\s+/);
        return {
          order_id: `o${i}`,
          customer_id: String(Number(id)),
          ordered_at: `${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}T12:00:00Z`,
          amount: dollars,
        };
      });
    const input = {
      relation: '',
      columns: CANONICAL_COLUMNS,
      excludedStatuses: [],
      ends: ['1997-10-01'],
      timeZone: 'UTC',
    };
    const engine = await DuckDbEngine.create();
    try {
      const relation = await engine.relation({ kind: 'file', path: writeOrdersCsv(rows) });
      const got = (await clvSummaries(engine, { ...input, relation })).map((r) => {
        // T runs to the last day before the end, 1997-09-30.
        const lastDay = dayNumber('1997-10-01') - 1;
        return {
          customer_id: r.customer_id,
          x: r.x_0,
          t_x: Number(r.t_x_days_0) / 7,
          t: (lastDay - Number(r.first_day)) / 7,
          mx: r.mx_0,
        };
      });
      const trino = clvStatements(trinoDialect, { ...input, relation: '"sales"."orders"' });
      for (const sql of [trino.create, trino.summary])
        expect(new TrinoSQL().validate(sql)).toEqual([]);
      const byId = new Map(got.map((r) => [Number(r.customer_id), r]));
      expect(byId.size).toBe(2357);
      let worst = 0;
      for (const c of published) {
        const r = byId.get(c.id);
        expect({ id: c.id, x: Number(r?.x) }).toEqual({ id: c.id, x: c.x });
        worst = Math.max(
          worst,
          Math.abs(Number(r?.t_x) - c.tx),
          Math.abs(Number(r?.t) - c.T),
          c.x > 0 ? Math.abs(Number(r?.mx) - (c.mx ?? 0)) : 0,
        );
      }
      // The published file rounds to two decimals.
      expect(worst).toBeLessThanOrEqual(0.005 + 1e-9);
      // The same fitter on our own summaries gives the same model.
      const mine = fitBgNbd(got.map((r) => ({ x: Number(r.x), tx: r.t_x, T: r.t })));
      within(mine.r, 0.2426, 0.005);
      within(mine.alpha, 4.4135, 0.005);
      within(mine.a, 0.7929, 0.005);
      within(mine.b, 2.4258, 0.005);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
