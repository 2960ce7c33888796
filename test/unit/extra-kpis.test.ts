import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { TrinoSQL } from 'dt-sql-parser';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import type { ConfigInput } from '../../functions/config/schema.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import type { KpiValues } from '../../functions/kpis/compute.ts';
import { computeExtraKpis, measureExtras } from '../../functions/kpis/extra.ts';
import { runFullReport } from '../../functions/pipeline.ts';
import { parsePeriod } from '../../functions/periods/period.ts';
import type { Report } from '../../functions/report/report.ts';
import { buildFeedbackQuery, buildSpendQuery } from '../../functions/sql/extra-query.ts';
import { kpi, writeOrdersCsv, type OrderRow } from '../helpers.ts';

/** Writes CSV rows (header first) next to `near`, or in a fresh folder. */
type Cell = string | number | null;

function writeCsv(near: string, name: string, rows: readonly (readonly Cell[])[]): string {
  const file = join(dirname(near), name);
  writeFileSync(
    file,
    rows.map((r) => r.map((v) => (v === null ? '' : String(v))).join(',')).join('\n'),
  );
  return file;
}

/**
 * 2026-W10 in America/New_York, where daylight saving starts on Sunday 2026-03-08: the
 * period is [2026-03-02 05:00Z, 2026-03-09 04:00Z). 365 local days before the end is
 * 2025-03-09 00:00 EST = 05:00Z, 730 days before it 2024-03-09 05:00Z.
 *
 * 12-month retention: P1..P4 ordered in both years; Q1..Q6 only in the earlier one; B1 at
 * 2025-03-09 04:59:59Z (the earlier year's last second); B2 on 2024-12-01 and at
 * 2025-03-09 05:00:00Z (the later year's first second) → 5 of 12 = 41.67 %.
 *
 * New customers: N1..N3 on 2026-03-05, N4 at 2026-03-09 03:59:59Z (the period's last
 * second); N5 at 04:00:00Z falls after it → 4.
 *
 * Spend by local date in [2026-03-02, 2026-03-09): $100 search on 03-02, $50.50 social on
 * 03-08, $20 without a channel on 03-05; $1,000 on 03-01 and $999 on 03-09 lie outside →
 * $170.50, CAC = 170.50 / 4 = $42.625.
 *
 * NPS answers in the period: 10 (at 03-09 03:59:59Z), 9, " NPS " 9, 8, 7, 6, 0 → 3 promoters,
 * 2 detractors of 7 → +14.29. CSAT: 5, 4, 3, 1 → 2 of 4 = 50 %. Left out: NPS 11, NPS 8.5,
 * a text score, kind "ces", CSAT 0, no time → 6. Outside: a 9 at 03-02 04:59:59Z, a 10 at
 * 03-09 04:00Z. In 2026-W09: one NPS 10 → +100.
 */
function shop(): { orders: string; feedback: string; spend: string } {
  const rows: OrderRow[] = [];
  const add = (c: string, at: string, amount = 10): void => {
    rows.push({ order_id: `o${rows.length}`, customer_id: c, ordered_at: at, amount });
  };
  for (let i = 1; i <= 4; i++) {
    add(`P${i}`, '2024-06-01T12:00:00Z');
    add(`P${i}`, '2025-06-01T12:00:00Z');
  }
  for (let i = 1; i <= 6; i++) add(`Q${i}`, '2024-06-01T12:00:00Z');
  add('B1', '2025-03-09T04:59:59Z');
  add('B2', '2024-12-01T12:00:00Z');
  add('B2', '2025-03-09T05:00:00Z');
  for (let i = 1; i <= 3; i++) add(`N${i}`, '2026-03-05T12:00:00Z', 40);
  add('N4', '2026-03-09T03:59:59Z', 40);
  add('N5', '2026-03-09T04:00:00Z', 40);
  const orders = writeOrdersCsv(rows);
  const answer = (at: string | null, kind: string, score: string | number): Cell[] => [
    'C1',
    at,
    kind,
    score,
  ];
  const inside = '2026-03-04T12:00:00Z';
  const feedback = writeCsv(orders, 'feedback.csv', [
    ['customer_id', 'submitted_at', 'kind', 'score'],
    answer('2026-03-09T03:59:59Z', 'nps', 10),
    answer(inside, 'nps', 9),
    answer(inside, ' NPS ', 9),
    answer(inside, 'nps', 8),
    answer(inside, 'nps', 7),
    answer(inside, 'nps', 6),
    answer(inside, 'nps', 0),
    answer(inside, 'csat', 5),
    answer(inside, 'csat', 4),
    answer(inside, 'csat', 3),
    answer(inside, 'csat', 1),
    answer(inside, 'nps', 11),
    answer(inside, 'nps', 8.5),
    answer(inside, 'nps', 'great'),
    answer(inside, 'ces', 5),
    answer(inside, 'csat', 0),
    answer(null, 'nps', 10),
    answer('2026-03-02T04:59:59Z', 'nps', 9),
    answer('2026-03-09T04:00:00Z', 'nps', 10),
    answer('2026-02-25T12:00:00Z', 'nps', 10),
  ]);
  const spend = writeCsv(orders, 'spend.csv', [
    ['spent_on', 'channel', 'amount'],
    ['2026-03-01', 'search', '1000.00'],
    ['2026-03-02', 'search', '100.00'],
    ['2026-03-05', null, '20.00'],
    ['2026-03-08', 'social', '50.50'],
    ['2026-03-09', 'search', '999.00'],
  ]);
  return { orders, feedback, spend };
}

async function fullReport(
  files: { orders: string; feedback?: string; spend?: string },
  engine: DuckDbEngine,
  report: Partial<ConfigInput['reports'][number]> = {},
): Promise<Report> {
  const config = parseConfig({
    source: {
      relation: { kind: 'file', path: files.orders },
      ...(files.feedback ? { feedback: { relation: { kind: 'file', path: files.feedback } } } : {}),
      ...(files.spend ? { marketingSpend: { relation: { kind: 'file', path: files.spend } } } : {}),
    },
    reports: [{ id: 't', name: 'Test', period: 'week', timeZone: 'America/New_York', ...report }],
  });
  const [r] = config.reports;
  if (!r) throw new Error('no report');
  return (await runFullReport({ report: r, source: config.source, period: '2026-W10' }, { engine }))
    .report;
}

describe('optional KPIs and 12-month retention, hand-worked (2026-W10, New York)', () => {
  let engine: DuckDbEngine;
  let r: Report;
  beforeAll(async () => {
    engine = await DuckDbEngine.create();
    r = await fullReport(shop(), engine, {
      targets: { nps: { value: 30, tolerance: 20 }, cac: { value: 40 } },
    });
  });
  afterAll(async () => {
    await engine.close();
  });

  test('12-month retention: 5 of 12 customers of the earlier year bought again', () => {
    expect(kpi(r, 'crr_12m')).toBeCloseTo(5 / 12, 12);
  });

  test('CAC: $170.50 of spend in the local dates of the period over 4 new customers', () => {
    expect(kpi(r, 'new_customers')).toBe(4);
    expect(kpi(r, 'cac')).toBe(42.625);
    expect(r.marketingSpend).toEqual([
      { channel: 'search', spend: 100 },
      { channel: 'social', spend: 50.5 },
      { channel: 'unknown', spend: 20 },
    ]);
    // No spend recorded in the week before: n/a, not $0.
    expect(r.kpis.cac?.previous).toBeNull();
  });

  test('NPS +14.29 and CSAT 50 %, with the comparisons every KPI has', () => {
    expect(kpi(r, 'nps')).toBeCloseTo((100 * (3 - 2)) / 7, 12);
    expect(kpi(r, 'csat')).toBe(0.5);
    const nps = r.kpis.nps;
    expect(nps?.previous).toBe(100);
    expect(nps?.trend).toHaveLength(12);
    expect(nps?.trend.at(-1)).toBeCloseTo(100 / 7, 12);
    expect(nps?.change.previous.absolute).toBeCloseTo(100 / 7 - 100, 12);
    expect(nps?.change.previous.verdict).toBe('bad');
    expect(r.dataQuality.feedback).toEqual({ rowsRead: 20, leftOut: 6 });
  });

  test('targets judge the optional KPIs too: NPS within 20 points of 30 is "watch", CAC $2.63 over $40 is "bad"', () => {
    expect(r.kpis.nps).toMatchObject({ target: 30, watchFrom: 10, status: 'watch' });
    // CAC should fall: $42.625 is over the $40 target, within its default 5 % ($2).
    expect(r.kpis.cac).toMatchObject({ target: 40, watchFrom: 42, status: 'bad' });
  });

  test('the lifetime model needs more history than this: clv_12m and LTV : CAC are n/a', () => {
    expect(kpi(r, 'clv_12m')).toBeNull();
    expect(kpi(r, 'ltv_to_cac')).toBeNull();
  });

  test('without the optional sources their KPIs are absent, not n/a', async () => {
    const bare = await fullReport({ orders: shop().orders }, engine);
    for (const id of ['nps', 'csat', 'cac', 'ltv_to_cac'] as const)
      expect(bare.kpis[id]).toBeUndefined();
    expect(bare.kpis.clv_12m).toBeDefined();
    expect(bare.marketingSpend).toBeUndefined();
    expect(bare.dataQuality.feedback).toBeUndefined();
  });

  test('the 12-month retention carries the default benchmarks; a team may replace them', async () => {
    expect(r.kpis.crr_12m.benchmarks).toEqual([
      { label: 'large-business', value: 0.6 },
      { label: 'small-business', value: 0.4 },
      { label: 'industry-median', value: 0.2 },
    ]);
    const own = await fullReport({ orders: shop().orders }, engine, {
      benchmarks: { crr_12m: [{ label: 'Our plan', value: 0.5 }], crr: [] },
    });
    expect(own.kpis.crr_12m.benchmarks).toEqual([{ label: 'Our plan', value: 0.5 }]);
    expect(own.kpis.crr.benchmarks).toBeUndefined();
  });

  test('a configured column the source lacks fails before any query, naming both', async () => {
    const files = shop();
    const source = parseConfig({
      source: {
        relation: { kind: 'file', path: files.orders },
        feedback: {
          relation: { kind: 'file', path: files.feedback },
          columns: { score: 'rating' },
        },
      },
      reports: [{ id: 't', name: 'T', period: 'week' }],
    }).source;
    await expect(
      measureExtras({ engine, source, timeZone: 'UTC', periods: [parsePeriod('2026-W10')] }),
    ).rejects.toThrow(
      'source.feedback has no column rating; it has customer_id, submitted_at, kind, score',
    );
  });

  test('both queries parse with the Trino grammar', () => {
    const periods = [parsePeriod('2026-W10'), parsePeriod('2026-W09')].map((p) => ({
      start: new Date(`${p.start}T05:00:00Z`),
      end: new Date(`${p.end}T05:00:00Z`),
      firstDay: p.start,
      endDay: p.end,
    }));
    const spend = buildSpendQuery({
      relation: '"sales"."marketing_spend"',
      columns: { spent_on: 'spent_on', channel: 'channel', amount: 'amount' },
      periods,
    });
    for (const sql of [
      buildFeedbackQuery({
        relation: '"sales"."feedback"',
        columns: { submitted_at: 'submitted_at', kind: 'kind', score: 'score' },
        periods,
      }),
      spend.totals,
      spend.byChannel,
    ]) {
      expect(new TrinoSQL().validate(sql)).toEqual([]);
    }
  });
});

describe('computeExtraKpis', () => {
  const core = { new_customers: 10 } as KpiValues;
  test("LTV : CAC is the new customers' 12-month value over CAC, n/a when either is", () => {
    // 300 spent on 10 new customers: CAC 30. A new customer is expected to bring 150, so
    // LTV : CAC = 150 / 30 = 5; the active customers' 400 and everyone's 90 do not enter.
    const clv = {
      active: 400,
      all: 90,
      acquired: 150,
      customers: { active: 40, all: 400, acquired: 10 },
    };
    expect(computeExtraKpis(core, { clv, spend: 300 })).toEqual({
      clv_12m: 400,
      clv_12m_all: 90,
      new_customer_clv: 150,
      cac: 30,
      ltv_to_cac: 5,
    });
    expect(computeExtraKpis(core, { clv, spend: null })).toEqual({
      clv_12m: 400,
      clv_12m_all: 90,
      new_customer_clv: 150,
      cac: null,
      ltv_to_cac: null,
    });
    expect(computeExtraKpis({ new_customers: 0 } as KpiValues, { spend: 300 })).toEqual({
      cac: null,
    });
    // No model: every lifetime value and LTV : CAC are n/a.
    expect(computeExtraKpis(core, { clv: null, spend: 300 })).toEqual({
      clv_12m: null,
      clv_12m_all: null,
      new_customer_clv: null,
      cac: 30,
      ltv_to_cac: null,
    });
  });
  test('nothing measured, nothing reported', () => {
    expect(computeExtraKpis(core, undefined)).toEqual({});
    expect(computeExtraKpis(core, {})).toEqual({});
  });
});

/** Random survey answers over three weeks of 2026, some unusable. */
const answers = fc.array(
  fc.record({
    at: fc.option(fc.integer({ min: 0, max: 21 * 86_400 - 1 }), { nil: null, freq: 20 }),
    kind: fc.constantFrom('nps', 'nps', 'csat', 'NPS', 'ces'),
    score: fc.oneof(fc.integer({ min: -1, max: 11 }), fc.constant(7.5)),
  }),
  { maxLength: 80 },
);

describe('NPS and CSAT on random answers (real DuckDB) against a direct count', () => {
  let engine: DuckDbEngine;
  beforeAll(async () => {
    engine = await DuckDbEngine.create();
  });
  afterAll(async () => {
    await engine.close();
  });

  test('each week alone and all weeks together agree with the count; NPS in [−100, 100], CSAT in [0, 1]', async () => {
    const start = Date.parse('2026-03-02T00:00:00Z');
    const weeks = ['2026-W10', '2026-W11', '2026-W12'].map(parsePeriod);
    const dir = writeOrdersCsv([]);
    await fc.assert(
      fc.asyncProperty(answers, async (rows) => {
        const file = writeCsv(dir, 'answers.csv', [
          ['submitted_at', 'kind', 'score'],
          ...rows.map((a) => [
            a.at === null ? null : new Date(start + a.at * 1000).toISOString(),
            a.kind,
            a.score,
          ]),
        ]);
        const source = parseConfig({
          source: {
            relation: { kind: 'file', path: dir },
            feedback: { relation: { kind: 'file', path: file } },
          },
          reports: [{ id: 't', name: 'T', period: 'week' }],
        }).source;
        const together = await measureExtras({ engine, source, timeZone: 'UTC', periods: weeks });
        for (const [w, week] of weeks.entries()) {
          const from = start + w * 7 * 86_400_000;
          const mine = rows.filter(
            (a) =>
              a.at !== null &&
              start + a.at * 1000 >= from &&
              start + a.at * 1000 < from + 7 * 86_400_000,
          );
          const nps = mine.filter(
            (a) =>
              a.kind.toLowerCase() === 'nps' &&
              Number.isInteger(a.score) &&
              a.score >= 0 &&
              a.score <= 10,
          );
          const csat = mine.filter(
            (a) => a.kind === 'csat' && Number.isInteger(a.score) && a.score >= 1 && a.score <= 5,
          );
          const want = {
            nps:
              nps.length === 0
                ? null
                : (100 *
                    (nps.filter((a) => a.score >= 9).length -
                      nps.filter((a) => a.score <= 6).length)) /
                  nps.length,
            csat: csat.length === 0 ? null : csat.filter((a) => a.score >= 4).length / csat.length,
          };
          const alone = await measureExtras({ engine, source, timeZone: 'UTC', periods: [week] });
          for (const m of [together.byLabel.get(week.label), alone.byLabel.get(week.label)]) {
            const got = computeExtraKpis({ new_customers: 0 } as KpiValues, m);
            if (want.nps === null) expect(got.nps).toBeNull();
            else {
              expect(got.nps).toBeCloseTo(want.nps, 9);
              expect(Math.abs(got.nps ?? 0)).toBeLessThanOrEqual(100);
            }
            if (want.csat === null) expect(got.csat).toBeNull();
            else expect(got.csat).toBeCloseTo(want.csat, 12);
          }
        }
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});
