import { DateTime } from 'luxon';
import type { Dialect } from './dialect.ts';
import { rankTree, timestampLiteral as ts } from './dialect.ts';
import { classifiedOrders, type OrdersInput } from './orders.ts';

/** The month slices of a cohort matrix: local month starts as instants, oldest first. */
export interface CohortMonths {
  /** `YYYY-MM` of each month, cohorts first (the 12 latest before the end). */
  readonly labels: string[];
  /** Start of each month and, last, the start of the month after the newest. */
  readonly starts: Date[];
}

/** The 12 latest local months that began before `end`, as cohort slices. */
export function cohortMonths(end: Date, timeZone: string, cohorts = 12): CohortMonths {
  const newest = DateTime.fromMillis(end.getTime() - 1, { zone: timeZone }).startOf('month');
  const labels: string[] = [];
  const starts: Date[] = [];
  for (let i = cohorts - 1; i >= -1; i--) {
    const m = newest.minus({ months: i });
    if (i >= 0) labels.push(m.toFormat('yyyy-MM'));
    starts.push(m.toJSDate());
  }
  return { labels, starts };
}

export interface StructuresInput extends OrdersInput {
  readonly dialect: Dialect;
  /** The period end (exclusive). */
  readonly end: Date;
  readonly timeZone: string;
}

/**
 * The cohort matrix (KPI-SPEC "Structures"): one row per cohort month with its size and,
 * for k = 0..11, how many of its customers have a valid order in month c + k (`k<k>`).
 * Months are local calendar months; a customer's months form a bitmask.
 */
export function buildCohortQuery(input: StructuresInput): { sql: string; months: CohortMonths } {
  const { dialect, end, timeZone } = input;
  const months = cohortMonths(end, timeZone);
  const orders = classifiedOrders(input);
  const n = months.labels.length;
  // Month index: 0 = before the first cohort month, j = cohort month j − 1.
  const monthOf = (e: string): string => rankTree(e, months.starts.slice(0, n).map(ts));
  const cells = Array.from({ length: 12 }, (_, k) => {
    const bit = dialect.powerOfTwo(`cohort + ${k}`);
    return `CAST(count(CASE WHEN cohort + ${k} <= ${n} AND ${dialect.bitAnd('mask', bit)} <> 0 THEN 1 END) AS BIGINT) AS k${k}`;
  });
  const sql = `WITH
dup_ids AS (
  ${orders.dupIds}
),
per_customer AS (
  SELECT customer_id,
    min(m) AS cohort,
    ${dialect.bitOrAgg(`CASE WHEN m > 0 THEN ${dialect.powerOfTwo('m')} END`)} AS mask
  FROM (
    SELECT customer_id, ${monthOf('ordered_at')} AS m
    FROM (${orders.select()}) o
    WHERE reason = 0 AND ordered_at < ${ts(end)}
  ) v
  GROUP BY customer_id
)
SELECT cohort, CAST(count(*) AS BIGINT) AS size,
  ${cells.join(',\n  ')}
FROM per_customer
WHERE cohort > 0
GROUP BY cohort
ORDER BY cohort`;
  return { sql, months };
}

/** RFM segment names of KPI-SPEC, in the order the digest lists them. */
export const SEGMENTS = [
  'Champions',
  'Loyal',
  'Potential loyalists',
  'New',
  'Need attention',
  'At risk',
  "Can't lose",
  'Hibernating',
  'Lost',
] as const;
export type Segment = (typeof SEGMENTS)[number];

/** The segment of an (R, F, M) score triple; see docs/kpis.md for the table. */
export function segmentOf(r: number, f: number, m: number): Segment {
  if (r >= 4)
    return f >= 4 && m >= 4
      ? 'Champions'
      : f >= 4
        ? 'Loyal'
        : f >= 2
          ? 'Potential loyalists'
          : 'New';
  if (r === 3) return f >= 4 ? 'Loyal' : 'Need attention';
  if (r === 2) return f >= 3 ? 'At risk' : 'Hibernating';
  return f >= 4 ? "Can't lose" : 'Lost';
}

/** The same rule in SQL, over columns r, f, m. */
function segmentSql(): string {
  return `CASE
      WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'Champions'
      WHEN r >= 4 AND f >= 4 THEN 'Loyal'
      WHEN r >= 4 AND f >= 2 THEN 'Potential loyalists'
      WHEN r >= 4 THEN 'New'
      WHEN r = 3 AND f >= 4 THEN 'Loyal'
      WHEN r = 3 THEN 'Need attention'
      WHEN r = 2 AND f >= 3 THEN 'At risk'
      WHEN r = 2 THEN 'Hibernating'
      WHEN f >= 4 THEN 'Can''t lose'
      ELSE 'Lost'
    END`;
}

/**
 * RFM at two period ends (the period's and the previous one's): customers with a valid order
 * in the 365 days before each end, scored 1–5 by quintile (`ntile(5)`, ties by customer_id)
 * on recency (last order), frequency (orders) and monetary value (revenue) in those days.
 * Returns one row per customer: segment now and before (NULL when not scored then), the
 * scores, last order, orders and revenue to date.
 */
export function buildRfmQuery(
  input: StructuresInput & {
    readonly previousEnd: Date;
    readonly yearBeforeEnd: Date;
    readonly yearBeforePrevious: Date;
  },
): string {
  const orders = classifiedOrders(input);
  const scored = (
    end: Date,
    from: Date,
  ): string => `SELECT customer_id, r, f, m, ${segmentSql()} AS segment
    FROM (
      SELECT customer_id,
        ntile(5) OVER (ORDER BY last_at, customer_id) AS r,
        ntile(5) OVER (ORDER BY n, customer_id) AS f,
        ntile(5) OVER (ORDER BY revenue, customer_id) AS m
      FROM (
        SELECT customer_id, max(ordered_at) AS last_at, count(*) AS n, sum(amount) AS revenue
        FROM valid
        WHERE ordered_at >= ${ts(from)} AND ordered_at < ${ts(end)}
        GROUP BY customer_id
      ) a
    ) s`;
  return `WITH
dup_ids AS (
  ${orders.dupIds}
),
valid AS (
  SELECT customer_id, ordered_at, amount FROM (${orders.select()}) o WHERE reason = 0
),
now_rfm AS (
  ${scored(input.end, input.yearBeforeEnd)}
),
before_rfm AS (
  ${scored(input.previousEnd, input.yearBeforePrevious)}
),
history AS (
  SELECT customer_id, max(ordered_at) AS last_at, CAST(count(*) AS BIGINT) AS orders,
    CAST(sum(amount) AS DECIMAL(38, 2)) AS revenue
  FROM valid
  WHERE ordered_at < ${ts(input.end)}
  GROUP BY customer_id
),
window_revenue AS (
  SELECT customer_id, CAST(sum(amount) AS DECIMAL(38, 2)) AS revenue_365
  FROM valid
  WHERE ordered_at >= ${ts(input.yearBeforeEnd)} AND ordered_at < ${ts(input.end)}
  GROUP BY customer_id
)
SELECT n.customer_id, n.r, n.f, n.m, n.segment, b.segment AS previous_segment,
  CAST(h.last_at AS VARCHAR) AS last_at, h.orders, h.revenue, w.revenue_365
FROM now_rfm n
JOIN history h ON h.customer_id = n.customer_id
JOIN window_revenue w ON w.customer_id = n.customer_id
LEFT JOIN before_rfm b ON b.customer_id = n.customer_id`;
}
