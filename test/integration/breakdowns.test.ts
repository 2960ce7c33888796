/**
 * Breakdowns (docs/kpis.md, "Breakdowns"): every part's KPIs are the KPIs of its customers
 * alone. Each part is checked against a run of its own over the source filtered to those
 * customers, found here independently of the product's SQL, and the parts add up to the
 * whole. On the Online Retail export as published (Latin-1, London time, Country as the
 * dimension) and on the sample shop as `npm start` makes it (its orders' channel).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import type { ConfigInput } from '../../functions/config/schema.ts';
import { renderDigest } from '../../functions/digest/render.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { CORE_KPI_IDS } from '../../functions/kpis/definitions.ts';
import { runReport } from '../../functions/pipeline.ts';
import type { BreakdownPart, KpiResult, Report } from '../../functions/report/report.ts';
import { generateSample } from '../../functions/sample/generate.ts';
import { stringLiteral } from '../../functions/sql/dialect.ts';
import { ONLINE_RETAIL_RAW, ONLINE_RETAIL_READING, onlineRetailLines } from '../helpers.ts';

let engine: DuckDbEngine;
beforeAll(async () => {
  engine = await DuckDbEngine.create();
});
afterAll(async () => {
  await engine.close();
});

type Source = ConfigInput['source'];
type ReportInput = ConfigInput['reports'][number];

async function run(source: Source, report: Partial<ReportInput>, period: string): Promise<Report> {
  const config = parseConfig({
    source,
    reports: [{ id: 't', name: 'Test', period: 'week', benchmarks: {}, ...report }],
  });
  const [r] = config.reports;
  if (!r) throw new Error('no report');
  return runReport({ report: r, source: config.source, period }, { engine });
}

/** What a part's KPI and a run's must share: all but the report's targets. */
function judged(k: KpiResult): Omit<KpiResult, 'target' | 'watchFrom' | 'status' | 'benchmarks'> {
  const targets = new Set(['target', 'watchFrom', 'status', 'benchmarks']);
  return Object.fromEntries(Object.entries(k).filter(([key]) => !targets.has(key))) as Omit<
    KpiResult,
    'target' | 'watchFrom' | 'status' | 'benchmarks'
  >;
}

/** The additive KPIs: the parts' values add up to the whole's, in every period compared. */
const ADDITIVE = [
  'customers_start',
  'customers_end',
  'new_customers',
  'reactivated_customers',
  'lost_customers',
  'orders',
  'buyers',
  'at_risk_customers',
] as const;

function expectPartsAddUp(whole: Report, parts: readonly BreakdownPart[]): void {
  const sides = (k: KpiResult): (number | null)[] => [k.value, k.previous, k.yearAgo, ...k.trend];
  for (const id of ADDITIVE) {
    const total = sides(whole.kpis[id]);
    const sum = total.map((_, i) => parts.reduce((s, p) => s + (sides(p.kpis[id])[i] ?? 0), 0));
    expect(sum, id).toEqual(total.map((v) => v ?? 0));
  }
  // Revenue to the cent.
  const cents = (v: number | null): number => Math.round((v ?? 0) * 100);
  const revenue = sides(whole.kpis.revenue);
  expect(
    revenue.map((_, i) => parts.reduce((s, p) => s + cents(sides(p.kpis.revenue)[i] ?? 0), 0)),
  ).toEqual(revenue.map(cents));
  expect(parts.reduce((s, p) => s + p.customerFlow.end, 0)).toBe(whole.customerFlow.end);
}

/** Parts whose customers are known: the value (null for Other) and the customer ids. */
interface Expected {
  readonly value: string | null;
  readonly values: number;
  readonly customers: Set<string>;
}

/**
 * The parts as docs/kpis.md defines them, from each customer's value at the first valid
 * order: the `top` values with most customers before `end` (ties: by value), then Other.
 */
function expectedParts(
  firstValue: ReadonlyMap<string, { at: number; value: string }>,
  end: number,
  top: number,
): Expected[] {
  const counts = new Map<string, number>();
  for (const { at, value } of firstValue.values())
    if (at < end) counts.set(value, (counts.get(value) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept = ranked.slice(0, top).map(([v]) => v);
  const members = (test: (v: string) => boolean): Set<string> =>
    new Set([...firstValue].filter(([, f]) => test(f.value)).map(([c]) => c));
  return [
    ...kept.map((value) => ({ value, values: 1, customers: members((v) => v === value) })),
    ...(ranked.length > top
      ? [
          {
            value: null,
            values: ranked.length - top,
            customers: members((v) => !kept.includes(v)),
          },
        ]
      : []),
  ];
}

describe('the Online Retail export by Country (Latin-1, London time)', () => {
  const source: Source = {
    relation: { kind: 'file', path: ONLINE_RETAIL_RAW, encoding: 'latin-1' },
    ...ONLINE_RETAIL_READING,
    dimensions: { country: 'Country' },
  };
  const { header, lines } = onlineRetailLines();
  const rows = lines.map((r) => ({ ...r, at: r.at.toMillis() }));
  type Row = (typeof rows)[number];
  // The row that stands for each invoice number: the latest (ties: lowest customer, highest
  // amount); a customer's value is that of the first valid invoice (ties: the lowest value).
  const standing = new Map<string, Row>();
  for (const r of rows) {
    const s = standing.get(r.id);
    if (
      !s ||
      r.at > s.at ||
      (r.at === s.at &&
        (r.customer < s.customer || (r.customer === s.customer && r.cents > s.cents)))
    )
      standing.set(r.id, r);
  }
  const firstValue = new Map<string, { at: number; value: string }>();
  for (const r of standing.values()) {
    if (r.customer === '' || r.id.startsWith('C') || r.cents < 0) continue;
    const f = firstValue.get(r.customer);
    if (!f || r.at < f.at || (r.at === f.at && r.country < f.value))
      firstValue.set(r.customer, { at: r.at, value: r.country });
  }
  /** The export with only the invoices that stand for these customers' orders. */
  function filtered(customers: ReadonlySet<string>): string {
    const file = join(mkdtempSync(join(tmpdir(), 'kpi-breakdown-')), 'invoices.csv');
    const kept = rows.filter((r) => customers.has(standing.get(r.id)?.customer ?? ''));
    writeFileSync(file, [header, ...kept.map((r) => r.line)].join('\r\n') + '\r\n', 'latin1');
    return file;
  }

  test.each([
    ['2011-10', 'month', 4],
    ['2011-W44', 'week', 3], // the week winter time returns
  ] as const)(
    '%s: each country’s KPIs are those of its customers alone, and the parts add up',
    async (period, kind, top) => {
      const report = { period: kind, timeZone: 'Europe/London', breakdowns: ['country'] };
      const whole = await run(source, { ...report, breakdownTop: top }, period);
      const breakdown = whole.breakdowns?.[0];
      expect(breakdown?.dimension).toBe('country');
      const parts = breakdown?.parts ?? [];
      const end = Date.parse(whole.period.end);
      const expected = expectedParts(firstValue, end, top);
      expect(parts.map((p) => [p.value, p.values, p.customers])).toEqual(
        expected.map((e) => [
          e.value,
          e.values,
          [...e.customers].filter((c) => (firstValue.get(c)?.at ?? Infinity) < end).length,
        ]),
      );
      expect(breakdown?.values).toBe(expected.reduce((n, e) => n + e.values, 0));
      expect(parts[0]?.value).toBe('United Kingdom');
      expect(parts.at(-1)?.value).toBeNull();
      expectPartsAddUp(whole, parts);
      if (period === '2011-10') {
        // The digest names the country behind a move when it explains most of it: the UK's
        // at-risk customers, 625 → 702 of the shop's 691 → 780.
        const uk = parts[0]?.kpis.at_risk_customers;
        expect([uk?.previous, uk?.value]).toEqual([625, 702]);
        expect(whole.kpis.at_risk_customers.change.previous.absolute).toBe(89);
        const digest = await renderDigest(whole);
        expect(digest.text).toContain(
          'At-risk customers rose to 780 from 691, the highest in 12 months. By country: United Kingdom 625 → 702 (+77 of the +89), the others +12.',
        );
        expect(digest.text).toContain('the 33 other values');
      }

      for (const [i, e] of expected.entries()) {
        const alone = await run(
          {
            ...source,
            relation: { kind: 'file', path: filtered(e.customers), encoding: 'latin-1' },
            dimensions: {},
          },
          { period: kind, timeZone: 'Europe/London' },
          period,
        );
        const part = parts[i];
        for (const id of CORE_KPI_IDS)
          expect(judged(part?.kpis[id] as KpiResult), `${e.value ?? 'Other'} ${id}`).toEqual(
            judged(alone.kpis[id]),
          );
        expect(part?.customerFlow).toEqual(alone.customerFlow);
        expect(alone.kpis.orders.value).toBeGreaterThan(0);
      }
    },
    120_000,
  );
});

describe('the sample shop by acquisition channel', () => {
  let file = '';
  let dir = '';
  const source = (path: string, dimensions = true): Source => ({
    relation: { kind: 'file', path },
    ...(dimensions ? { dimensions: { channel: 'channel' } } : {}),
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kpi-breakdown-shop-'));
    file = join(dir, 'orders.parquet');
    // The sample shop as `npm start` makes it: 50,000 customers over three years.
    await generateSample(file, { end: new Date('2026-11-23T00:00:00Z') });
  }, 120_000);

  test('each channel’s KPIs are those of its customers alone (the top 3 and Other), and the parts add up', async () => {
    const report = { period: 'week' as const, timeZone: 'Europe/London' };
    const whole = await run(
      source(file),
      { ...report, breakdowns: ['channel'], breakdownTop: 3 },
      '2026-W47',
    );
    const parts = whole.breakdowns?.[0]?.parts ?? [];
    // The customers of each part, by the test's own query: the row standing for each order
    // id, the valid ones, each customer's first (ties: the lowest channel).
    const first = await engine.query(`
      SELECT customer_id, arg_min(channel, (ordered_at, channel)) AS channel,
        CAST(epoch_ms(min(ordered_at)) AS DOUBLE) AS at
      FROM (
        SELECT *, row_number() OVER (
          PARTITION BY order_id
          ORDER BY ordered_at DESC, customer_id NULLS LAST, amount DESC, status
        ) AS n
        FROM read_parquet(${stringLiteral(file)})
      ) o
      WHERE n = 1 AND customer_id IS NOT NULL AND trim(customer_id) <> '' AND amount >= 0
        AND lower(status) NOT IN ('cancelled', 'canceled', 'refunded', 'failed', 'test')
      GROUP BY customer_id`);
    const firstValue = new Map(
      first.map((r) => [String(r.customer_id), { at: Number(r.at), value: String(r.channel) }]),
    );
    const expected = expectedParts(firstValue, Date.parse(whole.period.end), 3);
    expect(parts.map((p) => [p.value, p.values])).toEqual(expected.map((e) => [e.value, e.values]));
    expect(expected.at(-1)?.values).toBe(2);
    expectPartsAddUp(whole, parts);

    for (const [i, e] of expected.entries()) {
      const ids = [...e.customers].map(stringLiteral).join(', ');
      const own = join(dir, `part-${i}.parquet`);
      // Every row of the orders whose standing row is one of these customers'.
      await engine.query(`COPY (
        SELECT * FROM read_parquet(${stringLiteral(file)})
        WHERE order_id IN (
          SELECT order_id FROM (
            SELECT order_id, customer_id, row_number() OVER (
              PARTITION BY order_id
              ORDER BY ordered_at DESC, customer_id NULLS LAST, amount DESC, status
            ) AS n
            FROM read_parquet(${stringLiteral(file)})
          ) s
          WHERE n = 1 AND customer_id IN (${ids})
        )
      ) TO ${stringLiteral(own)} (FORMAT parquet)`);
      const alone = await run(source(own, false), report, '2026-W47');
      const part = parts[i];
      for (const id of CORE_KPI_IDS)
        expect(judged(part?.kpis[id] as KpiResult), `${e.value ?? 'Other'} ${id}`).toEqual(
          judged(alone.kpis[id]),
        );
      expect(part?.customerFlow).toEqual(alone.customerFlow);
    }
  }, 120_000);
});
