import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import {
  discountedPurchases,
  expectedSpend,
  probabilityAlive,
} from '../../functions/clv/models.ts';
import { runFullReport } from '../../functions/pipeline.ts';
import { dayNumber } from '../../functions/sql/clv-query.ts';

/**
 * The lifetime model on shops of several shapes, each generated here by a plain DuckDB
 * statement (seeded), not by the sample generator: every full report ends within the test's
 * timeout, with `clv_12m` or the reason it has none; and a run whose fitting budget is spent
 * still sends its report, with the reason.
 */
const END = new Date('2026-11-23T00:00:00Z');

/** Orders over the three years before END: `customer` and `day` (0..1094) are SQL of `i`. */
async function shop(
  engine: DuckDbEngine,
  rows: number,
  customer: string,
  day: string,
): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'kpi-shape-')), 'orders.parquet');
  await engine.query(`SELECT setseed(0.42) AS s`);
  await engine.query(`COPY (
    SELECT 'o' || i AS order_id, 'c' || c AS customer_id,
      TIMESTAMP '2023-11-24 00:00:00' + to_days(CAST(d AS INTEGER))
        + to_seconds(CAST(floor(random() * 86400) AS BIGINT)) AS ordered_at,
      -- Each customer spends around their own level (1 to 97 times 5), as real customers do.
      CAST(round((1 + c % 97) * 5 * (0.5 + random()), 2) AS DECIMAL(18, 2)) AS amount,
      'completed' AS status
    FROM (SELECT i, CAST(${customer} AS BIGINT) AS c, ${day} AS d FROM range(${rows}) t(i)) o
  ) TO '${file}' (FORMAT parquet)`);
  return file;
}

/** 20,000 orders of skewed customers buying evenly over three years: nobody visibly leaves. */
function noDropoutShop(engine: DuckDbEngine): Promise<string> {
  return shop(engine, 20_000, 'floor(pow(random(), 3) * 3000)', 'floor(random() * 1095)');
}

async function fullReport(
  file: string,
  engine: DuckDbEngine,
  lifetimeBudgetMs?: number,
  timeZone = 'Europe/London',
) {
  const config = parseConfig({
    source: { relation: { kind: 'file', path: file } },
    reports: [{ id: 'w', name: 'Weekly', period: 'week', timeZone }],
  });
  const [report] = config.reports;
  if (!report) throw new Error('no report');
  return runFullReport(
    { report, source: config.source, now: END },
    { engine, ...(lifetimeBudgetMs === undefined ? {} : { lifetimeBudgetMs }) },
  );
}

describe('the lifetime model ends on shops of every shape', () => {
  const SHAPES = [
    // Skewed customers buying evenly over three years: nobody visibly leaves.
    ['no dropout', 'floor(pow(random(), 3) * 3000)', 'floor(random() * 1095)', 'value'],
    // Each customer buys a few times in the month after their first order, then never again.
    // (Gamma-Gamma may find no spread between customers here and run off: then a reason.)
    ['heavy dropout', 'floor(i / 4)', 'least(1094, floor(i / 4) * 0.2 + random() * 30)', 'any'],
    // Every customer buys once.
    ['one-order customers only', 'i', 'floor(random() * 1095)', 'fewCustomers'],
    // A few customers with hundreds of orders among thousands with one or two.
    [
      'a few customers with hundreds of orders',
      'CASE WHEN i % 10 = 0 THEN i % 50 ELSE 100 + floor(i / 3) END',
      'floor(random() * 1095)',
      'value',
    ],
  ] as const;

  test.each(SHAPES)(
    '%s',
    async (_, customer, day, expected) => {
      const engine = await DuckDbEngine.create();
      try {
        const { report } = await fullReport(await shop(engine, 20_000, customer, day), engine);
        const clv = report.kpis.clv_12m?.value ?? null;
        if (expected === 'any') {
          // A value, or none and why: never both, never neither.
          expect(clv === null).toBe(report.beyond?.clv.unavailable !== undefined);
        } else if (expected === 'value') {
          expect({ clv, why: report.beyond?.clv.unavailable }).toMatchObject({ why: undefined });
          expect(clv).not.toBeNull();
          expect(Number.isFinite(clv)).toBe(true);
          expect(report.beyond?.clv.unavailable).toBeUndefined();
        } else {
          expect(clv).toBeNull();
          expect(report.beyond?.clv.unavailable).toBe(expected);
        }
      } finally {
        await engine.close();
      }
    },
    60_000,
  );

  test('each at-risk customer in the export has the lifetime value of their own history', async () => {
    const engine = await DuckDbEngine.create();
    try {
      const file = await noDropoutShop(engine);
      // In UTC, a purchase day is the order's UTC date.
      const { report, atRiskList } = await fullReport(file, engine, undefined, 'UTC');
      const model = report.beyond?.clv.model;
      if (!model?.bgnbd) throw new Error('no BG/NBD model');
      const bg = { ...model.bgnbd, logLikelihood: 0 };
      const gg = { ...model.gammaGamma, logLikelihood: 0 };
      expect(atRiskList.length).toBeGreaterThan(50);
      // Each customer's history before the end, straight from the orders.
      const end = dayNumber(report.period.end.slice(0, 10));
      const rows = await engine.query(`SELECT customer_id,
          CAST(min(day) AS INTEGER) AS first_day, CAST(max(day) AS INTEGER) AS last_day,
          CAST(count(*) - 1 AS INTEGER) AS x,
          CAST(sum(spend) - arg_min(spend, day) AS DOUBLE) AS repeat_spend
        FROM (
          SELECT customer_id, CAST(ordered_at AS DATE) - DATE '1970-01-01' AS day, sum(amount) AS spend
          FROM read_parquet('${file}') WHERE ordered_at < TIMESTAMP '${report.period.end.slice(0, 10)} 00:00:00'
          GROUP BY ALL
        ) d GROUP BY customer_id`);
      const byId = new Map(rows.map((r) => [String(r.customer_id), r]));
      for (const c of atRiskList) {
        const r = byId.get(c.customer_id);
        const x = Number(r?.x);
        const h = {
          x,
          tx: (Number(r?.last_day) - Number(r?.first_day)) / 7,
          T: (end - 1 - Number(r?.first_day)) / 7,
          ...(x > 0 && Number(r?.repeat_spend) > 0 ? { mx: Number(r?.repeat_spend) / x } : {}),
        };
        // On the report's basis: revenue, discounted at its annual rate (10 % by default).
        const basis = report.beyond?.clv.basis;
        expect(basis).toEqual({ grossMargin: null, annualDiscountRate: 0.1 });
        const value = discountedPurchases(bg, h, 0.1) * expectedSpend(gg, h);
        expect({ id: c.customer_id, p: c.p_alive }).toEqual({
          id: c.customer_id,
          p: probabilityAlive(bg, h),
        });
        expect(Math.abs((c.clv_12m ?? Number.NaN) - value)).toBeLessThanOrEqual(1e-9 * value);
      }
    } finally {
      await engine.close();
    }
  }, 60_000);

  test('a spent fitting budget: no lifetime value, the reason, and the rest of the report', async () => {
    const engine = await DuckDbEngine.create();
    try {
      const file = await noDropoutShop(engine);
      const { report } = await fullReport(file, engine, 0);
      expect(report.kpis.clv_12m?.value).toBeNull();
      expect(report.kpis.clv_12m?.trend.every((v) => v === null)).toBe(true);
      expect(report.beyond?.clv.unavailable).toBe('timeLimit');
      expect(report.beyond?.clv.model).toBeNull();
      expect(report.kpis.revenue.value).toBeGreaterThan(0);
      expect(report.beyond?.rfm.segments.reduce((s, x) => s + x.customers, 0)).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
