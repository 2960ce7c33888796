import { DateTime } from 'luxon';
import type { Dialect } from './dialect.ts';
import { tableName, timestampLiteral as ts } from './dialect.ts';

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

export interface StructuresInput {
  readonly dialect: Dialect;
  /** The run's customer table (buildBaseQuery with `cohorts` and `rfm`). */
  readonly base: string;
}

/**
 * The cohort matrix (docs/kpis.md, "Structures"): one row per cohort month with its size and,
 * for k = 0..11, how many of its customers have a valid order in month c + k (`k<k>`).
 * Months are local calendar months; a customer's months form a bitmask (`c_mask`).
 */
export function buildCohortQuery(
  input: StructuresInput & { readonly months: CohortMonths },
): string {
  const { dialect } = input;
  const n = input.months.labels.length;
  const cells = Array.from({ length: 12 }, (_, k) => {
    const bit = dialect.powerOfTwo(`cohort + ${k}`);
    return `CAST(count(CASE WHEN cohort + ${k} <= ${n} AND ${dialect.bitAnd('mask', bit)} <> 0 THEN 1 END) AS BIGINT) AS k${k}`;
  });
  return `SELECT cohort, CAST(count(*) AS BIGINT) AS size,
  ${cells.join(',\n  ')}
FROM (SELECT c_month AS cohort, c_mask AS mask FROM ${tableName(input.base)}) c
WHERE cohort > 0
GROUP BY cohort
ORDER BY cohort`;
}

/** RFM segment names of docs/kpis.md ("RFM segments"), in the order the digest lists them. */
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

/** The same rule in SQL, over score columns `r`, `f`, `m` with a suffix. */
function segmentSql(suffix = ''): string {
  const [r, f, m] = ['r', 'f', 'm'].map((c) => c + suffix);
  return `CASE
      WHEN ${r} >= 4 AND ${f} >= 4 AND ${m} >= 4 THEN 'Champions'
      WHEN ${r} >= 4 AND ${f} >= 4 THEN 'Loyal'
      WHEN ${r} >= 4 AND ${f} >= 2 THEN 'Potential loyalists'
      WHEN ${r} >= 4 THEN 'New'
      WHEN ${r} = 3 AND ${f} >= 4 THEN 'Loyal'
      WHEN ${r} = 3 THEN 'Need attention'
      WHEN ${r} = 2 AND ${f} >= 3 THEN 'At risk'
      WHEN ${r} = 2 THEN 'Hibernating'
      WHEN ${f} >= 4 THEN 'Can''t lose'
      ELSE 'Lost'
    END`;
}

/**
 * Every customer of the run's customer table that `where` keeps, with their RFM segment at
 * the period end (`segment`) and at the previous one (`previous_segment`), each NULL where
 * the customer had no valid order in the 365 days before that end. Scores are quintiles
 * (`ntile(5)`, ties by customer_id) of recency (last order), frequency (orders) and monetary
 * value (revenue) in those days, among the customers who had one. One read of the table.
 */
export function scoredCustomers(
  base: string,
  where: string,
  /** Columns of the table to pass through. */
  columns: readonly string[] = ['h_last', 'h_orders', 'h_revenue'],
  /** Score the previous end too (`previous_segment`); without it, three windows, not six. */
  previous = true,
): string {
  const scores = (name: string, suffix: string, last: string): string => {
    const set = `PARTITION BY f_n_${name} > 0`;
    return [
      `ntile(5) OVER (${set} ORDER BY ${last}, customer_id) AS r${suffix}`,
      `ntile(5) OVER (${set} ORDER BY f_n_${name}, customer_id) AS f${suffix}`,
      `ntile(5) OVER (${set} ORDER BY f_rev_${name}, customer_id) AS m${suffix}`,
    ].join(',\n      ');
  };
  return `SELECT ${['customer_id', 'f_n_now', 'f_rev_now', ...columns].join(', ')},
    CASE WHEN f_n_now > 0 THEN ${segmentSql()} END AS segment${
      previous
        ? `,
    CASE WHEN f_n_before > 0 THEN ${segmentSql('_b')} END AS previous_segment`
        : ''
    }
  FROM (
    SELECT ${['customer_id', 'f_n_now', 'f_n_before', 'f_rev_now', ...columns].join(', ')},
      ${scores('now', '', 'h_last')}${previous ? `,\n      ${scores('before', '_b', 'f_last_before')}` : ''}
    FROM ${tableName(base)} b
    WHERE ${where}
  ) s`;
}

/**
 * A customer with a valid order in the 365 days before the end is at risk when their last
 * order falls in `[riskFrom, riskTo)`; over the customer table's `h_last`.
 */
export function atRiskCondition(riskFrom: Date, riskTo: Date): string {
  return `h_last >= ${ts(riskFrom)} AND h_last < ${ts(riskTo)}`;
}

/**
 * RFM segments counted in SQL, and the at-risk list, in one read of the customer table:
 * - rows with `summary = 1`: customers and their 365-day revenue per (segment now, segment
 *   before), and of them the at-risk customers (last order in `[riskFrom, riskTo)`) and
 *   their 365-day revenue; a few dozen rows, whatever the number of customers;
 * - rows with `summary = 0`: each at-risk customer (`customer_id`, `segment`, last order,
 *   orders and revenue to date), most lifetime revenue first: the list for the CSV export,
 *   the only per-customer rows of the statement.
 */
export function buildRfmQuery(input: {
  readonly base: string;
  readonly riskFrom: Date;
  readonly riskTo: Date;
}): string {
  const risk = atRiskCondition(input.riskFrom, input.riskTo);
  return `SELECT CAST(grouping(risk_id) AS INTEGER) AS summary, segment, previous_segment,
  risk_id AS customer_id,
  CAST(count(*) AS BIGINT) AS customers,
  CAST(sum(f_rev_now) AS DECIMAL(38, 2)) AS revenue,
  CAST(count(CASE WHEN at_risk THEN 1 END) AS BIGINT) AS at_risk,
  CAST(sum(CASE WHEN at_risk THEN f_rev_now END) AS DECIMAL(38, 2)) AS at_risk_revenue,
  CAST(max(h_last) AS VARCHAR) AS last_at,
  max(h_orders) AS orders,
  CAST(max(h_revenue) AS DECIMAL(38, 2)) AS lifetime_revenue
FROM (
  SELECT c.*, ${risk} AS at_risk, CASE WHEN ${risk} THEN customer_id END AS risk_id
  FROM (
    ${scoredCustomers(input.base, 'f_n_now > 0 OR f_n_before > 0')}
  ) c
  WHERE f_n_now > 0
) r
GROUP BY GROUPING SETS ((segment, previous_segment), (risk_id, segment))
HAVING grouping(risk_id) = 1 OR risk_id IS NOT NULL
ORDER BY summary DESC, lifetime_revenue DESC, customer_id, segment, previous_segment`;
}
