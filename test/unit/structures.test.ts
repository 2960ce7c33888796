import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { customerTable, withCustomerTable } from '../../functions/kpis/base.ts';
import { cohortMatrix, rfmSegments } from '../../functions/kpis/structures.ts';
import {
  buildCohortQuery,
  buildRfmQuery,
  cohortMonths,
  scoredCustomers,
  segmentOf,
} from '../../functions/sql/structures-query.ts';
import { CANONICAL_COLUMNS, writeOrdersCsv, type OrderRow } from '../helpers.ts';

let engine: DuckDbEngine;
beforeAll(async () => {
  engine = await DuckDbEngine.create();
});
afterAll(async () => {
  await engine.close();
});

const COLUMNS = CANONICAL_COLUMNS;

/** Cohorts, RFM and every scored customer's segment, from a customer table of `rows`. */
async function structures(rows: OrderRow[], end: string, previousEnd: string) {
  const day = 86_400_000;
  const e = new Date(end);
  const p = new Date(previousEnd);
  const months = cohortMonths(e, 'UTC');
  const riskFrom = new Date(e.getTime() - 365 * day);
  const table = customerTable(engine.dialect, {
    relation: await engine.relation({ kind: 'file', path: writeOrdersCsv(rows) }),
    columns: COLUMNS,
    excludedStatuses: ['cancelled'],
    cohorts: { end: e, starts: months.starts },
    rfm: {
      end: e,
      previousEnd: p,
      yearBeforeEnd: riskFrom,
      yearBeforePrevious: new Date(p.getTime() - 365 * day),
    },
  });
  return withCustomerTable(engine, table, async (base) => ({
    cohorts: await cohortMatrix(
      engine,
      buildCohortQuery({ dialect: engine.dialect, base, months }),
      months,
    ),
    ...(await rfmSegments(
      engine,
      buildRfmQuery({ base, riskFrom, riskTo: new Date(e.getTime() - 180 * day) }),
    )),
    customers: await engine.query(
      `SELECT customer_id, segment FROM (${scoredCustomers(base, 'f_n_now > 0 OR f_n_before > 0')}) c WHERE f_n_now > 0`,
    ),
  }));
}

let n = 0;
const o = (customer: string, at: string, amount = 10, status = 'completed'): OrderRow => ({
  order_id: `o${++n}`,
  customer_id: customer,
  ordered_at: `${at}T12:00:00Z`,
  amount,
  status,
});

describe('the cohort matrix (monthly cohorts by first order, months 0–11)', () => {
  test('hand-worked: sizes, shares, and no cell after the end', async () => {
    // The report ends 2026-05-01: cohorts are 2025-05 … 2026-04.
    const rows = [
      o('c1', '2026-01-10'),
      o('c1', '2026-02-05'),
      o('c1', '2026-04-01'),
      o('c2', '2026-01-20'),
      o('c3', '2026-02-14'),
      o('c3', '2026-03-01'),
      o('c4', '2025-12-31'),
      o('c4', '2026-01-02'),
      // First order before the oldest cohort month: in no cohort.
      o('c5', '2025-03-01'),
      o('c5', '2026-01-15'),
      // Only a cancelled order: no cohort.
      o('c6', '2026-03-03', 10, 'cancelled'),
      // After the end: ignored.
      o('c7', '2026-05-02'),
    ];
    const { cohorts: m } = await structures(rows, '2026-05-01T00:00:00Z', '2026-04-01T00:00:00Z');
    expect(m.cohorts).toEqual([
      // Dec + 4 = Apr, the last month before the end: five cells.
      { cohort: '2025-12', size: 1, retention: [1, 1, 0, 0, 0] },
      // c1 in Jan, Feb, Apr; c2 in Jan only.
      { cohort: '2026-01', size: 2, retention: [1, 0.5, 0, 0.5] },
      { cohort: '2026-02', size: 1, retention: [1, 1, 0] },
    ]);
    // Newest cohort whose month 1 has ended (2026-02: March is over), against the six before
    // it that have a month 1 (2025-12 and 2026-01): (1 + 0.5) / 2.
    expect(m.month1).toEqual({ cohort: '2026-02', value: 1, previousSixMean: 0.75 });
    // The report ends on a month's start (a monthly report): no month is partial.
    expect(m.partial).toBeNull();
  });

  test('a period ending mid-month marks the newest month partial, with the days observed', async () => {
    // A week ending 2026-11-23 (exclusive): November is 22 of its 30 days old.
    const rows = [
      o('c1', '2026-10-05'),
      o('c1', '2026-11-20'),
      o('c2', '2026-11-02'),
      // After the end: neither in the November cohort nor in October's November cell.
      o('c3', '2026-11-23'),
      o('c2', '2026-11-25'),
    ];
    const { cohorts: m } = await structures(rows, '2026-11-23T00:00:00Z', '2026-11-16T00:00:00Z');
    expect(m.cohorts).toEqual([
      { cohort: '2026-10', size: 1, retention: [1, 1] },
      { cohort: '2026-11', size: 1, retention: [1] },
    ]);
    expect(m.partial).toEqual({
      month: '2026-11',
      through: '2026-11-22',
      days: 22,
      daysInMonth: 30,
    });
    // The newest cohort and every row's last cell are that month, the 12th.
    const { labels } = cohortMonths(new Date('2026-11-23T00:00:00Z'), 'UTC');
    for (const c of m.cohorts) expect(labels.indexOf(c.cohort) + c.retention.length).toBe(12);
  });

  test('the partial month is the local one: London ends September an hour before UTC does', () => {
    // 2026-10-01 00:00 in London is 2026-09-30 23:00 UTC: September is complete there.
    expect(cohortMonths(new Date('2026-09-30T23:00:00Z'), 'Europe/London').partial).toBeNull();
    // One hour earlier, London's September is still going: its 30th is under way.
    expect(cohortMonths(new Date('2026-09-30T22:00:00Z'), 'Europe/London').partial).toEqual({
      month: '2026-09',
      through: '2026-09-30',
      days: 30,
      daysInMonth: 30,
    });
    // A week ending 2026-03-04 in London (UTC then): 3 of March's 31 days.
    expect(cohortMonths(new Date('2026-03-04T00:00:00Z'), 'Europe/London').partial).toEqual({
      month: '2026-03',
      through: '2026-03-03',
      days: 3,
      daysInMonth: 31,
    });
  });
});

describe('RFM segments', () => {
  test('the segment table', () => {
    expect(segmentOf(5, 5, 5)).toBe('Champions');
    expect(segmentOf(4, 5, 2)).toBe('Loyal');
    expect(segmentOf(3, 4, 1)).toBe('Loyal');
    expect(segmentOf(5, 3, 5)).toBe('Potential loyalists');
    expect(segmentOf(4, 1, 5)).toBe('New');
    expect(segmentOf(3, 3, 3)).toBe('Need attention');
    expect(segmentOf(2, 3, 1)).toBe('At risk');
    expect(segmentOf(2, 2, 5)).toBe('Hibernating');
    expect(segmentOf(1, 4, 1)).toBe("Can't lose");
    expect(segmentOf(1, 3, 5)).toBe('Lost');
  });

  test('hand-worked: quintiles that keep ties together, segments, revenue and moves', async () => {
    // Ten customers, last orders A (oldest) … J (newest): ranks 1–10, score 1 + ⌊5(rank − 1)/10⌋:
    // R = A1 B1 C2 D2 E3 F3 G4 H4 I5 J5.
    // Orders (and so revenue at 10 each): A5 B5 C1 D1 E4 F2 G5 H1 I3 J4. Tied customers share
    // the lowest rank: C D H rank 1, F 4, I 5, E J 6, A B G 8 →
    // F = M: C1 D1 H1 F2 I3 E3 J3 A4 B4 G4 (with ties by id, H was 2 and J 4).
    const counts: Record<string, number> = {
      A: 5,
      B: 5,
      C: 1,
      D: 1,
      E: 4,
      F: 2,
      G: 5,
      H: 1,
      I: 3,
      J: 4,
    };
    const rows: OrderRow[] = [];
    Object.entries(counts).forEach(([c, k], i) => {
      for (let j = 0; j < k - 1; j++) rows.push(o(c, `2026-03-0${j + 1}`));
      rows.push(o(c, `2026-10-${String(10 + i).padStart(2, '0')}`));
    });
    const { rfm, customers } = await structures(
      rows,
      '2026-11-01T00:00:00Z',
      '2026-10-01T00:00:00Z',
    );
    const by = Object.fromEntries(customers.map((c) => [String(c.customer_id), c.segment]));
    expect(by).toEqual({
      A: "Can't lose",
      B: "Can't lose",
      C: 'Hibernating',
      D: 'Hibernating',
      E: 'Need attention',
      F: 'Need attention',
      G: 'Champions',
      // One order, like C and D: F = 1, so New (the id tie-break made it a Potential loyalist).
      H: 'New',
      I: 'Potential loyalists',
      // Four orders, like E: F = 3, not Champions.
      J: 'Potential loyalists',
    });
    expect(rfm.segments.find((s) => s.segment === 'Champions')).toEqual({
      segment: 'Champions',
      customers: 1,
      revenue: 50,
    });
    expect(rfm.segments.reduce((s, x) => s + x.customers, 0)).toBe(10);
    // At the previous end (2026-10-01) only the March orders count, and C, D, H have none.
    // n = 7. Last March order: F Mar 1, I Mar 2, E J Mar 3, A B G Mar 4 → ranks 1, 2, 3, 5 →
    // R: F1 I1 E2 J2 A3 B3 G3; orders F1 I2 E3 J3 A4 B4 G4 rank the same way, so F = M = R.
    // So A, B and G needed attention; A and B are now Can't lose, G a Champion.
    expect(rfm.moves).toEqual([
      { from: 'Need attention', to: "Can't lose", customers: 2 },
      { from: 'Need attention', to: 'Champions', customers: 1 },
    ]);
  });

  test('identical customers always share a segment, however many there are', async () => {
    // 60 one-order customers on the same day with the same amount, among 15 others: with
    // ntile and ties by id they spread over several F and M scores; kept together, one.
    const rows: OrderRow[] = [];
    for (let i = 0; i < 60; i++) rows.push(o(`same${String(i).padStart(2, '0')}`, '2026-10-15'));
    for (let i = 0; i < 15; i++) {
      const c = `other${i}`;
      for (let j = 0; j <= i % 5; j++) rows.push(o(c, `2026-0${1 + (i % 9)}-1${j}`));
    }
    const { customers } = await structures(rows, '2026-11-01T00:00:00Z', '2026-10-01T00:00:00Z');
    const same = new Set(
      customers.filter((c) => String(c.customer_id).startsWith('same')).map((c) => c.segment),
    );
    expect(same.size).toBe(1);
  });
});
