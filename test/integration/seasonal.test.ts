import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { renderDigest } from '../../functions/digest/render.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { recentAnomaly } from '../../functions/kpis/judge.ts';
import { reportedKpis, type Report } from '../../functions/report/report.ts';
import { generateSample } from '../../functions/sample/generate.ts';
import { reportOn, writeOrdersCsv, type OrderRow } from '../helpers.ts';

/**
 * The seasonal anomaly rule on data with a season (docs/kpis.md, "Anomalies"): the sample
 * shop, whose late-November peak comes every year, with and without a shock; and UCI Online
 * Retail, which has a year of data only.
 */
const DATA = fileURLToPath(new URL('../data/', import.meta.url));
const LONDON = { timeZone: 'Europe/London', activeWindowDays: 120 };
let shop = '';
let shocked = '';

const flagged = (r: Report): string[] =>
  reportedKpis(r)
    .filter(({ k }) => k.anomaly)
    .map(({ id }) => id);

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kpi-seasonal-'));
  shop = join(dir, 'shop.parquet');
  shocked = join(dir, 'shocked.parquet');
  // The sample shop as `npm start` makes it (three years to 2026-11-23).
  await generateSample(shop);
  // Black Friday week 2025 with a peak twice its usual size: 2025-W48 takes about 423k
  // where an ordinary week of that season takes about 225k, an excess of about 198k;
  // copying 47 % of that week's orders adds about as much again.
  const engine = await DuckDbEngine.create();
  try {
    await engine.query(`COPY (
      SELECT * FROM read_parquet('${shop}')
      UNION ALL
      SELECT order_id || '-again' AS order_id, * EXCLUDE (order_id) FROM read_parquet('${shop}')
      WHERE ordered_at >= TIMESTAMP '2025-11-24 00:00:00' AND ordered_at < TIMESTAMP '2025-12-01 00:00:00'
        AND hash(order_id) % 100 < 47
    ) TO '${shocked}' (FORMAT parquet)`);
  } finally {
    await engine.close();
  }
}, 120_000);

describe('the sample shop', () => {
  test('the Black Friday weeks flag nothing that happens every year; the recent rule alone did', async () => {
    for (const week of ['2025-W48', '2026-W47']) {
      const r = await reportOn(shop, week, LONDON);
      expect(flagged(r), week).toEqual([]);
      expect(r.kpis.revenue.anomalyRule).toBe('seasonal');
      expect(r.kpis.orders.anomalyRule).toBe('seasonal');
      if (week === '2025-W48') {
        // What the old rule said: the peak against the last 11 weekly changes.
        expect(recentAnomaly(r.kpis.revenue.trend)).toBe(true);
        // The season expected the peak: last year's peak week, grown as the year grew.
        expect(
          Math.abs((r.kpis.revenue.value ?? 0) / (r.kpis.revenue.expected ?? 1) - 1),
        ).toBeLessThan(0.06);
      }
    }
  }, 60_000);

  test('a peak twice the usual size in the same week is flagged, and the digest says so', async () => {
    const r = await reportOn(shocked, '2025-W48', LONDON);
    expect(r.kpis.revenue.value ?? 0).toBeGreaterThan(600_000);
    expect(flagged(r)).toEqual(expect.arrayContaining(['revenue', 'orders']));
    expect(r.kpis.revenue.anomalyRule).toBe('seasonal');
    const d = await renderDigest(r);
    expect(d.text).toMatch(
      /Unusual: (Revenue|Orders) rose to .*; about .* was usual for the season\./,
    );
  }, 60_000);
});

describe('UCI Online Retail (a year of data)', () => {
  test('without a year of history the recent rule judges, and the digest says so', async () => {
    const rows: OrderRow[] = readFileSync(`${DATA}online-retail/invoices-clean.csv`, 'utf8')
      .trim()
      .split(/\r?\n/)
      .slice(1)
      .map((line) => {
        const [id = '', date = '', customer = '', total = ''] = line.split(',');
        return {
          order_id: id,
          customer_id: customer.replace(/\.0$/, ''),
          ordered_at: `${date}T12:00:00Z`,
          amount: total,
        };
      });
    const r = await reportOn(writeOrdersCsv(rows), '2011-W48', LONDON);
    // Every KPI with a verdict had it from the recent rule (the rest had too little data).
    const rules = new Set(reportedKpis(r).map(({ k }) => k.anomalyRule));
    expect(rules.has('seasonal')).toBe(false);
    expect(r.kpis.revenue.anomalyRule).toBe('recent');
    expect(r.kpis.revenue.expected).toBeNull();
    const d = await renderDigest(r);
    expect(d.text).toContain('not yet a year of history');
  }, 60_000);
});
