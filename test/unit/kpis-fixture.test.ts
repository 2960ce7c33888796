import { beforeAll, describe, expect, test } from 'vitest';
import type { Report } from '../../functions/report/report.ts';
import { kpi, reportOn, writeOrdersCsv, type OrderRow } from '../helpers.ts';

/**
 * A hand-built shop around the worked example of the seed material: 50 customers at the
 * start, 30 acquired, 10 lost, 70 at the end → CRR 80 %.
 *
 * Period 2026-W10 in UTC: s = 2026-03-02, e = 2026-03-09, W = 90 days, so
 * S window [2025-12-02, 2026-03-02), E window [2025-12-09, 2026-03-09),
 * 365-day window [2025-03-09, 2026-03-09), at-risk band [2025-03-09, 2025-09-10).
 *
 *  A1..A40  retained: 2026-01-15 00:00 $10; A1..A10 also 2026-03-03 12:00 $30
 *  L1..L10  lost:     2025-12-05 00:00 $20 (in S, not in E)
 *  N1..N20  new:      2026-03-04 10:00 $50; N1..N5 also 2026-03-06 10:00 $25
 *                     N1's first order id is exported twice; the later row (11:00, $55) stands
 *  R1..R10  reactivated: 2025-06-01 00:00 $40 and 2026-03-05 00:00 $60
 *  K1..K4   at risk:  2025-05-01 00:00 $5 (last order 365..180 days before the end)
 *  Left out: a guest order, a CANCELLED order, a negative amount; A3 orders after the period.
 */
function fixture(): OrderRow[] {
  const rows: OrderRow[] = [];
  let n = 0;
  const add = (customer: string | null, at: string, amount: number, status?: string): void => {
    rows.push({
      order_id: `o${++n}`,
      customer_id: customer,
      ordered_at: at,
      amount,
      ...(status ? { status } : {}),
    });
  };
  for (let i = 1; i <= 40; i++) add(`A${i}`, '2026-01-15T00:00:00Z', 10);
  for (let i = 1; i <= 10; i++) add(`A${i}`, '2026-03-03T12:00:00Z', 30);
  for (let i = 1; i <= 10; i++) add(`L${i}`, '2025-12-05T00:00:00Z', 20);
  for (let i = 1; i <= 20; i++) add(`N${i}`, '2026-03-04T10:00:00Z', 50);
  rows.push({
    order_id: 'dup-n1',
    customer_id: 'N1',
    ordered_at: '2026-03-04T11:00:00Z',
    amount: 55,
  });
  const n1 = rows.find((r) => r.customer_id === 'N1');
  if (n1) n1.order_id = 'dup-n1';
  for (let i = 1; i <= 5; i++) add(`N${i}`, '2026-03-06T10:00:00Z', 25);
  for (let i = 1; i <= 10; i++) add(`R${i}`, '2025-06-01T00:00:00Z', 40);
  for (let i = 1; i <= 10; i++) add(`R${i}`, '2026-03-05T00:00:00Z', 60);
  for (let i = 1; i <= 4; i++) add(`K${i}`, '2025-05-01T00:00:00Z', 5);
  add(null, '2026-03-03T09:00:00Z', 999); // guest checkout
  add('A2', '2026-03-03T09:00:00Z', 500, 'CANCELLED');
  add('X1', '2026-03-03T09:00:00Z', -5);
  add('A3', '2026-03-10T08:00:00Z', 70); // after the period
  return rows;
}

describe('every KPI on the hand-built fixture, 2026-W10 UTC', () => {
  let r: Report;
  beforeAll(async () => {
    r = await reportOn(writeOrdersCsv(fixture()), '2026-W10', { timeZone: 'UTC' });
  });

  test('the worked example: 50 at start, 30 acquired, 10 lost, 70 at end → CRR 80 %', () => {
    expect(kpi(r, 'customers_start')).toBe(50);
    expect(kpi(r, 'customers_end')).toBe(70);
    expect(kpi(r, 'lost_customers')).toBe(10);
    expect(kpi(r, 'new_customers')).toBe(20);
    expect(kpi(r, 'reactivated_customers')).toBe(10);
    // (E − N) / S = (70 − 30) / 50
    expect(kpi(r, 'crr')).toBeCloseTo(0.8, 12);
    expect(kpi(r, 'churn_rate')).toBeCloseTo(0.2, 12);
    expect(r.customerFlow).toEqual({ start: 50, lost: 10, new: 20, reactivated: 10, end: 70 });
  });

  test('period money and counts', () => {
    // A1..A10 10×30 + N 19×50 + 55 + N1..N5 5×25 + R 10×60 = 300 + 1005 + 125 + 600
    expect(kpi(r, 'revenue')).toBe(2030);
    expect(kpi(r, 'orders')).toBe(45); // 10 + 20 + 5 + 10
    expect(kpi(r, 'buyers')).toBe(40); // A1..A10, N1..N20, R1..R10
    expect(kpi(r, 'aov')).toBeCloseTo(2030 / 45, 10);
    expect(kpi(r, 'arpu')).toBeCloseTo(29, 10); // 2030 / 70
    expect(kpi(r, 'arppu')).toBeCloseTo(50.75, 10); // 2030 / 40
    expect(kpi(r, 'purchase_frequency')).toBeCloseTo(1.125, 10); // 45 / 40
    expect(kpi(r, 'returning_buyer_rate')).toBeCloseTo(0.5, 10); // (A1..A10 + R) 20 / 40
  });

  test('history KPIs up to the period end', () => {
    // ≥ 1 order before e: A 40 + L 10 + N 20 + R 10 + K 4 = 84; ≥ 2: A1..A10, N1..N5, R = 25
    expect(kpi(r, 'repeat_purchase_rate')).toBeCloseTo(25 / 84, 12);
    // A 400 + 300, L 200, N 1005 + 125, R 400 + 600, K 20 = 3050
    expect(kpi(r, 'revenue_per_customer_to_date')).toBeCloseTo(3050 / 84, 10);
  });

  test('median days between purchases', () => {
    // Repeat orders in the period: A1..A10 47.5 d (Jan 15 00:00 → Mar 3 12:00),
    // N1 1 d 23 h, N2..N5 2 d, R 277 d (2025-06-01 → 2026-03-05): 25 values, 13th = 47.5
    expect(kpi(r, 'median_days_between_purchases')).toBeCloseTo(47.5, 10);
  });

  test('revenue concentration over the 365 days before the end', () => {
    // n = 84 customers; 365-day revenue: R×10 100, N1 80, N2..N5 75, N6..N20 50,
    // A1..A10 40, L 20, A11..A40 10, K 5; total 3050.
    // top ceil(84/10) = 9 → 9 × 100; mean 100; rest (3050 − 900) / 75
    expect(kpi(r, 'top10_spend_multiple')).toBeCloseTo(100 / (2150 / 75), 10);
    // top ceil(84/5) = 17 → 1000 + 80 + 300 + 2 × 50 = 1480
    expect(kpi(r, 'top20_revenue_share')).toBeCloseTo(1480 / 3050, 12);
  });

  test('at-risk customers', () => {
    expect(kpi(r, 'at_risk_customers')).toBe(4); // K1..K4
    expect(kpi(r, 'at_risk_rate')).toBeCloseTo(4 / 84, 12);
  });

  test('data quality counts every row left out by reason', () => {
    const dq = r.dataQuality;
    // valid: A 50, L 10, N 25, R 20, K 4, A3 after the period 1 = 110
    expect(dq.validOrders).toBe(110);
    expect(dq.rowsRead).toBe(114);
    expect(dq.leftOut).toMatchObject({
      duplicate: 1,
      missing_customer: 1,
      excluded_status: 1,
      negative_amount: 1,
      missing_ordered_at: 0,
      missing_amount: 0,
    });
    expect(dq.duplicateOrderIds).toBe(1);
    expect(dq.latestOrderedAt).toBe('2026-03-10T08:00:00.000Z');
    expect(dq.fresh).toBe(true);
  });

  test('the previous week has its own numbers and zero denominators are null', () => {
    // 2026-W09: no orders in the week; S = A(01-15) 40 + L(12-05) 10 = 50 (window from 2025-11-25)
    expect(r.kpis.customers_start.previous).toBe(50);
    expect(r.kpis.revenue.previous).toBe(0);
    expect(r.kpis.aov.previous).toBeNull();
    expect(r.kpis.arppu.previous).toBeNull();
    expect(r.kpis.median_days_between_purchases.previous).toBeNull();
    expect(r.kpis.revenue.trend).toHaveLength(12);
    expect(r.kpis.revenue.trend.at(-1)).toBe(2030);
  });
});

describe('edge rules', () => {
  test('an even number of gaps takes the mean of the two middle values', async () => {
    const file = writeOrdersCsv([
      { order_id: '1', customer_id: 'a', ordered_at: '2026-03-01T00:00:00Z', amount: 1 },
      { order_id: '2', customer_id: 'a', ordered_at: '2026-03-03T00:00:00Z', amount: 1 }, // 2 d (before the week)
      { order_id: '3', customer_id: 'a', ordered_at: '2026-03-04T00:00:00Z', amount: 1 }, // 1 d
      { order_id: '4', customer_id: 'b', ordered_at: '2026-02-25T00:00:00Z', amount: 1 },
      { order_id: '5', customer_id: 'b', ordered_at: '2026-03-05T06:00:00Z', amount: 1 }, // 8.25 d
    ]);
    const r = await reportOn(file, '2026-W10', { timeZone: 'UTC' });
    // gaps in the week [03-02, 03-09): a: 2 and 1 days, b: 8.25 days → sorted 1, 2, 8.25 → 2
    expect(kpi(r, 'median_days_between_purchases')).toBeCloseTo(2, 12);
    const r2 = await reportOn(file, '2026-03-04..2026-03-08', { timeZone: 'UTC' });
    // only orders 3 and 5 fall in 03-04..03-08: 1 and 8.25 → mean 4.625
    expect(kpi(r2, 'median_days_between_purchases')).toBeCloseTo(4.625, 12);
  });

  test('fewer than ten active customers make the spend multiple null', async () => {
    const file = writeOrdersCsv([
      { order_id: '1', customer_id: 'a', ordered_at: '2026-03-03T00:00:00Z', amount: 10 },
    ]);
    const r = await reportOn(file, '2026-W10', { timeZone: 'UTC' });
    expect(kpi(r, 'top10_spend_multiple')).toBeNull();
    expect(kpi(r, 'top20_revenue_share')).toBe(1);
    expect(kpi(r, 'crr')).toBeNull(); // S = 0
    expect(kpi(r, 'churn_rate')).toBeNull();
  });

  test('period boundaries are local midnights of the report time zone', async () => {
    // 2026-03-01T23:30Z is 2026-03-02 08:30 in Tokyo (inside W10) but 2026-03-01 in UTC.
    const file = writeOrdersCsv([
      { order_id: '1', customer_id: 'a', ordered_at: '2026-03-01T23:30:00Z', amount: 10 },
      { order_id: '2', customer_id: 'b', ordered_at: '2026-03-08T15:30:00Z', amount: 7 },
    ]);
    const tokyo = await reportOn(file, '2026-W10', { timeZone: 'Asia/Tokyo' });
    const utc = await reportOn(file, '2026-W10', { timeZone: 'UTC' });
    // Tokyo's week is [03-01T15:00Z, 03-08T15:00Z): order 1 in, order 2 (00:30 on 03-09 local) out
    expect(kpi(tokyo, 'revenue')).toBe(10);
    expect(kpi(utc, 'revenue')).toBe(7);
  });

  test('the duplicate row with the latest ordered_at stands, whatever its status', async () => {
    const file = writeOrdersCsv([
      { order_id: '1', customer_id: 'a', ordered_at: '2026-03-03T00:00:00Z', amount: 10 },
      {
        order_id: '1',
        customer_id: 'a',
        ordered_at: '2026-03-03T05:00:00Z',
        amount: 10,
        status: 'refunded',
      },
      {
        order_id: '2',
        customer_id: 'b',
        ordered_at: '2026-03-03T05:00:00Z',
        amount: 10,
        status: 'refunded',
      },
      { order_id: '2', customer_id: 'b', ordered_at: '2026-03-04T00:00:00Z', amount: 12 },
    ]);
    const r = await reportOn(file, '2026-W10', { timeZone: 'UTC' });
    expect(kpi(r, 'orders')).toBe(1);
    expect(kpi(r, 'revenue')).toBe(12);
    expect(r.dataQuality.leftOut.duplicate).toBe(2);
    expect(r.dataQuality.leftOut.excluded_status).toBe(1);
  });
});
