import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import type { SegmentRetention } from '../../functions/kpis/structures.ts';
import { runFullReport } from '../../functions/pipeline.ts';
import type { Report } from '../../functions/report/report.ts';
import { generateSample } from '../../functions/sample/generate.ts';
import { writeOrdersCsv, type OrderRow } from '../helpers.ts';

let engine: DuckDbEngine;
let sample = '';

beforeAll(async () => {
  engine = await DuckDbEngine.create();
  sample = join(mkdtempSync(join(tmpdir(), 'kpi-retention-')), 'orders.parquet');
  await generateSample(sample, {
    customers: 1500,
    years: 2,
    end: new Date('2026-11-23T00:00:00Z'),
    seed: 11,
  });
}, 60_000);

afterAll(async () => {
  await engine.close();
});

/** The full report (RFM included; no time for the lifetime fits) of `file` for `period`. */
async function fullReport(
  file: string,
  period: string,
  report: { period?: 'week' | 'month' | 'year'; timeZone?: string; activeWindowDays?: number },
): Promise<Report> {
  const config = parseConfig({
    source: { relation: { kind: 'file', path: file } },
    reports: [{ id: 't', name: 'Test', period: 'week', ...report }],
  });
  const [r] = config.reports;
  if (!r) throw new Error('no report');
  const out = await runFullReport(
    { report: r, source: config.source, period, now: new Date('2027-01-01T00:00:00Z') },
    { engine, lifetimeBudgetMs: 0 },
  );
  return out.report;
}

const sum = (xs: readonly SegmentRetention[], f: (s: SegmentRetention) => number): number =>
  xs.reduce((t, s) => t + f(s), 0);

/** Σ S_seg = customers_start and Σ retained_seg = customers_start − lost, both periods. */
function expectIdentities(r: Report): SegmentRetention[] {
  const retention = r.beyond?.rfm.retention;
  if (!retention) throw new Error('no retention by segment');
  const start = r.kpis.customers_start;
  const lost = r.kpis.lost_customers;
  expect(start.previous).not.toBeNull();
  expect(lost.previous).not.toBeNull();
  expect({
    startNow: sum(retention, (s) => s.start.now),
    retainedNow: sum(retention, (s) => s.retained.now),
    startBefore: sum(retention, (s) => s.start.before),
    retainedBefore: sum(retention, (s) => s.retained.before),
  }).toEqual({
    startNow: start.value,
    retainedNow: (start.value ?? 0) - (lost.value ?? 0),
    startBefore: start.previous,
    retainedBefore: (start.previous ?? 0) - (lost.previous ?? 0),
  });
  for (const s of retention) {
    expect(s.retained.now).toBeLessThanOrEqual(s.start.now);
    expect(s.retained.before).toBeLessThanOrEqual(s.start.before);
  }
  return retention;
}

describe('retention by segment at the period start adds up to the report’s own KPIs', () => {
  test.each([
    ['2026-W47', 'week', 'Europe/London', 90],
    ['2026-W46', 'week', 'Europe/London', 90],
    // Across the clock change of 25 Oct 2026, with a shorter window.
    ['2026-W44', 'week', 'Europe/London', 30],
    ['2026-10', 'month', 'America/New_York', 90],
    ['2026-10', 'month', 'UTC', 365],
  ] as const)(
    'the sample shop, %s (%s, %s, %i-day window)',
    async (period, kind, timeZone, activeWindowDays) => {
      const r = await fullReport(sample, period, { period: kind, timeZone, activeWindowDays });
      const retention = expectIdentities(r);
      expect(retention.length).toBeGreaterThan(3);
      expect(r.kpis.customers_start.value).toBeGreaterThan(100);
    },
    60_000,
  );

  test('a yearly report (window over 365 days) has no breakdown', async () => {
    const r = await fullReport(sample, '2025', { period: 'year', activeWindowDays: 366 });
    expect(r.beyond?.rfm.retention).toBeNull();
    // The rest of RFM as ever.
    expect(r.beyond?.rfm.segments.reduce((s, x) => s + x.customers, 0)).toBeGreaterThan(0);
  }, 60_000);

  test('hand-built: segments at each start, who stayed, and orders that do not count', async () => {
    let n = 0;
    const o = (customer: string, at: string, status = 'completed'): OrderRow => ({
      order_id: `o${++n}`,
      customer_id: customer,
      ordered_at: `${at}T12:00:00Z`,
      amount: 10,
      status,
    });
    // Weeks: 2026-W10 = [Mar 2, Mar 9), previous W09 = [Feb 23, Mar 2); a 30-day window.
    // Active at W09's start (Feb 23): an order in [Jan 24, Feb 23). At W10's start (Mar 2):
    // in [Jan 31, Mar 2). At W10's end (Mar 9): in [Feb 7, Mar 9).
    const rows = [
      // a: orders all along: active at every start and end.
      o('a', '2025-06-01'),
      o('a', '2026-01-25'),
      o('a', '2026-02-10'),
      o('a', '2026-03-03'),
      // b: active at Feb 23 (Jan 30), lost by Mar 2 (Jan 30 < Jan 31).
      o('b', '2026-01-30'),
      // c: active at Feb 23 and Mar 2 (Feb 1), lost by Mar 9 (Feb 1 < Feb 7).
      o('c', '2026-02-01'),
      // d: a first order in W09 (Feb 25): new in W09, active at Mar 2 and Mar 9.
      o('d', '2026-02-25'),
      // e: an order in 2025 only, before every window: never active, scored at both starts.
      o('e', '2025-12-01'),
      // f: a cancelled order: counts nowhere.
      o('f', '2026-02-20', 'cancelled'),
      // g: an order after W10's end only.
      o('g', '2026-03-10'),
    ];
    const r = await fullReport(writeOrdersCsv(rows), '2026-W10', { activeWindowDays: 30 });
    const retention = expectIdentities(r);
    // W10: S = {a, c, d}, retained {a, d}; W09: S = {a, b, c}, retained {a, c}.
    expect(r.kpis.customers_start.value).toBe(3);
    expect(r.kpis.lost_customers.value).toBe(1);
    expect(r.kpis.customers_start.previous).toBe(3);
    expect(r.kpis.lost_customers.previous).toBe(1);
    // Scored at Mar 2 (orders in [2025-03-02, Mar 2)): a, b, c, d, e; score 1 + ⌊5(rank − 1)/5⌋.
    // R by last order (e Dec 1, b Jan 30, c Feb 1, a Feb 10, d Feb 25): e1 b2 c3 a4 d5.
    // F by orders, ties sharing the lowest rank: b c d e one order (rank 1) → 1, a three
    // (rank 5) → 5; M the same. a: R4 F5 M5 Champions; c: R3 F1 Need attention; d: R5 F1 New.
    // Scored at Feb 23 (orders in [2025-02-23, Feb 23)): a (Jun 1, Jan 25, Feb 10), b, c, e;
    // score 1 + ⌊5(rank − 1)/4⌋. R (e Dec 1, b Jan 30, c Feb 1, a Feb 10): e1 b2 c3 a4.
    // F: b c e rank 1 → 1, a rank 4 → 4; M the same.
    // a: R4 F4 M4 Champions; b: R2 F1 Hibernating; c: R3 F1 Need attention.
    expect(retention).toEqual([
      { segment: 'Champions', start: { now: 1, before: 1 }, retained: { now: 1, before: 1 } },
      { segment: 'New', start: { now: 1, before: 0 }, retained: { now: 1, before: 0 } },
      {
        segment: 'Need attention',
        start: { now: 1, before: 1 },
        retained: { now: 0, before: 1 },
      },
      { segment: 'Hibernating', start: { now: 0, before: 1 }, retained: { now: 0, before: 0 } },
    ]);
  }, 60_000);
});
