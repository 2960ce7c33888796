import type { QueryEngine } from '../engines/query-engine.ts';
import {
  SEGMENTS,
  type CohortMonths,
  type PartialMonth,
  type Segment,
} from '../sql/structures-query.ts';

export type { PartialMonth };

export interface CohortRow {
  /** `YYYY-MM` of the first valid order. */
  readonly cohort: string;
  readonly size: number;
  /** Share of the cohort with a valid order in month k (k = 0..11); absent after the end. */
  readonly retention: number[];
}

export interface CohortMatrix {
  readonly cohorts: CohortRow[];
  /**
   * Month-1 retention of the newest cohort whose month 1 has ended, against the mean of
   * the six cohorts before it (null when there are none).
   */
  readonly month1: { cohort: string; value: number; previousSixMean: number | null } | null;
  /**
   * The newest month when the period ends before it does, null when the period ends on a
   * month's start (a monthly report): the cohort of that month (the newest row, when it has
   * customers) is its customers so far, and every row's last cell, which is that month,
   * counts its orders so far.
   */
  readonly partial: PartialMonth | null;
}

export interface SegmentSummary {
  readonly segment: Segment;
  readonly customers: number;
  /** Revenue of the segment's customers in the 365 days before the period end. */
  readonly revenue: number;
}

/**
 * One segment's retention in the period and the previous one (docs/kpis.md, "Retention by
 * segment"): the customers active at the period's start whose segment at that start is this
 * one, and of them those still active at its end.
 */
export interface SegmentRetention {
  readonly segment: Segment;
  readonly start: { readonly now: number; readonly before: number };
  readonly retained: { readonly now: number; readonly before: number };
}

export interface Rfm {
  readonly segments: SegmentSummary[];
  /** Customers who moved into a segment that matters since the previous period. */
  readonly moves: { from: Segment | 'none'; to: Segment; customers: number }[];
  /**
   * Retention by segment at the period's start, this period and the previous one; the
   * segments with a customer at either start, in SEGMENTS order. Their starts add up to
   * `customers_start` and their retained to `customers_start − lost_customers`, each period.
   * Null when not measured (an active window longer than 365 days).
   */
  readonly retention: SegmentRetention[] | null;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The cohort matrix of docs/kpis.md, "Structures" ("Cohorts"). */
export async function cohortMatrix(
  engine: QueryEngine,
  /** buildCohortQuery's statement for these months. */
  sql: string,
  months: CohortMonths,
): Promise<CohortMatrix> {
  const rows = await engine.query(sql);
  const n = months.labels.length;
  const cohorts = rows.map((row): CohortRow => {
    const index = num(row.cohort); // 1-based month of the cohort
    const size = num(row.size);
    const retention: number[] = [];
    for (let k = 0; k < 12 && index + k <= n; k++) retention.push(num(row[`k${k}`]) / size);
    return { cohort: months.labels[index - 1] ?? '', size, retention };
  });
  // Month 1 of cohort j has ended when month j + 2 has begun before the end, i.e. j + 1 < n.
  const complete = cohorts.filter(
    (c) => months.labels.indexOf(c.cohort) + 2 < n && c.retention.length > 1,
  );
  const newest = complete.at(-1);
  const before = complete.slice(-7, -1);
  return {
    cohorts,
    month1: newest
      ? {
          cohort: newest.cohort,
          value: newest.retention[1] ?? 0,
          previousSixMean: before.length
            ? before.reduce((s, c) => s + (c.retention[1] ?? 0), 0) / before.length
            : null,
        }
      : null,
    partial: months.partial,
  };
}

/** Moves the digest reports: into the segments to win back, and into Champions. */
const WATCHED: readonly Segment[] = ['At risk', "Can't lose", 'Lost', 'Champions'];

/** One at-risk customer as the RFM statement lists them. */
export interface AtRiskRow {
  readonly customer_id: string;
  readonly last_order: string;
  readonly orders: number;
  readonly lifetime_revenue: number;
  readonly segment: Segment;
}

/**
 * RFM segments now, their revenue, and the moves since the previous period, counted in SQL;
 * with the at-risk customers' count and 365-day revenue (last order in `[riskFrom, riskTo)`)
 * and their list, most lifetime revenue first.
 */
export async function rfmSegments(
  engine: QueryEngine,
  /** buildRfmQuery's statement. */
  sql: string,
  /** Whether the statement counts retention by segment (buildRfmQuery's `retention`). */
  retention = false,
): Promise<{
  rfm: Rfm;
  atRisk: { customers: number; revenueAtStake: number };
  atRiskList: AtRiskRow[];
}> {
  const rows = await engine.query(sql);
  const cells = rows
    .filter((r) => num(r.summary) === 1 && num(r.by_start) === 0)
    .map((r) => ({
      segment: r.segment as Segment,
      from: (r.previous_segment ?? 'none') as Segment | 'none',
      customers: num(r.customers),
      revenue: num(r.revenue),
      atRisk: num(r.at_risk),
      atRiskRevenue: num(r.at_risk_revenue),
    }));
  const cents = (x: number): number => Math.round(x * 100) / 100;
  const segments = SEGMENTS.map((segment) => {
    const of = cells.filter((c) => c.segment === segment);
    return {
      segment,
      customers: of.reduce((s, c) => s + c.customers, 0),
      revenue: cents(of.reduce((s, c) => s + c.revenue, 0)),
    };
  });
  const moves = cells
    .filter((c) => c.from !== c.segment && WATCHED.includes(c.segment))
    .map((c) => ({ from: c.from, to: c.segment, customers: c.customers }))
    .sort((a, b) => b.customers - a.customers);
  return {
    rfm: { segments, moves, retention: retention ? retentionBySegment(rows) : null },
    atRisk: {
      customers: cells.reduce((s, c) => s + c.atRisk, 0),
      revenueAtStake: cents(cells.reduce((s, c) => s + c.atRiskRevenue, 0)),
    },
    atRiskList: rows
      .filter((r) => num(r.summary) === 0)
      .map((r) => ({
        customer_id: String(r.customer_id),
        last_order: String(r.last_at),
        orders: num(r.orders),
        lifetime_revenue: num(r.lifetime_revenue),
        segment: r.segment as Segment,
      })),
  };
}

/**
 * Retention by segment from the RFM statement's `by_start` rows: per (segment at the period
 * start, segment at the previous period's start), summed over the other one.
 */
function retentionBySegment(rows: readonly Record<string, unknown>[]): SegmentRetention[] {
  const of = new Map<Segment, { start: [number, number]; retained: [number, number] }>(
    SEGMENTS.map((s) => [s, { start: [0, 0], retained: [0, 0] }]),
  );
  const add = (segment: unknown, side: 0 | 1, start: number, retained: number): void => {
    if (start === 0) return;
    const cell = of.get(segment as Segment);
    // Everyone active at a start has an order in the 365 days before it, so a segment.
    if (!cell) throw new Error(`${start} customers active at a start have no segment there`);
    cell.start[side] += start;
    cell.retained[side] += retained;
  };
  for (const r of rows.filter((r) => num(r.by_start) === 1)) {
    add(r.previous_segment, 0, num(r.start_now), num(r.retained_now));
    add(r.prior_segment, 1, num(r.start_before), num(r.retained_before));
  }
  return [...of]
    .filter(([, c]) => c.start[0] > 0 || c.start[1] > 0)
    .map(([segment, c]) => ({
      segment,
      start: { now: c.start[0], before: c.start[1] },
      retained: { now: c.retained[0], before: c.retained[1] },
    }));
}
