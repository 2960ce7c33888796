import type { QueryEngine } from '../engines/query-engine.ts';
import type { OrderColumns } from '../sql/orders.ts';
import {
  buildCohortQuery,
  buildRfmQuery,
  SEGMENTS,
  type Segment,
} from '../sql/structures-query.ts';

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
}

export interface SegmentSummary {
  readonly segment: Segment;
  readonly customers: number;
  /** Revenue of the segment's customers in the 365 days before the period end. */
  readonly revenue: number;
}

export interface Rfm {
  readonly segments: SegmentSummary[];
  /** Customers who moved into a segment that matters since the previous period. */
  readonly moves: { from: Segment | 'none'; to: Segment; customers: number }[];
}

export interface StructuresRequest {
  readonly engine: QueryEngine;
  readonly relation: string;
  readonly columns: OrderColumns;
  readonly excludedStatuses: readonly string[];
  readonly end: Date;
  readonly previousEnd: Date;
  readonly yearBeforeEnd: Date;
  readonly yearBeforePrevious: Date;
  readonly timeZone: string;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** The cohort matrix of KPI-SPEC "Structures". */
export async function cohortMatrix(req: StructuresRequest): Promise<CohortMatrix> {
  const { sql, months } = buildCohortQuery({ ...req, dialect: req.engine.dialect });
  const rows = await req.engine.query(sql);
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
  };
}

/** Moves the digest reports: into the segments to win back, and into Champions. */
const WATCHED: readonly Segment[] = ['At risk', "Can't lose", 'Lost', 'Champions'];

export interface RfmCustomer {
  readonly customer_id: string;
  readonly segment: Segment;
  readonly previous_segment: Segment | null;
  readonly last_at: string;
  readonly orders: number;
  readonly revenue: number;
  readonly revenue_365: number;
}

/** RFM segments now, their revenue, and the moves since the previous period. */
export async function rfmSegments(
  req: StructuresRequest,
): Promise<{ rfm: Rfm; customers: RfmCustomer[] }> {
  const rows = await req.engine.query(buildRfmQuery({ ...req, dialect: req.engine.dialect }));
  const customers = rows.map((r): RfmCustomer => ({
    customer_id: String(r.customer_id),
    segment: r.segment as Segment,
    previous_segment: (r.previous_segment ?? null) as Segment | null,
    last_at: String(r.last_at),
    orders: num(r.orders),
    revenue: num(r.revenue),
    revenue_365: num(r.revenue_365),
  }));
  const segments = SEGMENTS.map((segment) => {
    const members = customers.filter((c) => c.segment === segment);
    return {
      segment,
      customers: members.length,
      revenue: Math.round(members.reduce((s, c) => s + c.revenue_365, 0) * 100) / 100,
    };
  });
  const moves = new Map<string, { from: Segment | 'none'; to: Segment; customers: number }>();
  for (const c of customers) {
    const from = c.previous_segment ?? 'none';
    if (from === c.segment || !WATCHED.includes(c.segment)) continue;
    const key = `${from}→${c.segment}`;
    const m = moves.get(key) ?? { from, to: c.segment, customers: 0 };
    m.customers++;
    moves.set(key, m);
  }
  return {
    rfm: { segments, moves: [...moves.values()].sort((a, b) => b.customers - a.customers) },
    customers,
  };
}
