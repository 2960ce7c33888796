import { DateTime } from 'luxon';
import type { Dialect } from './dialect.ts';
import { tableName, timestampLiteral as ts } from './dialect.ts';

/** The month slices of a cohort matrix: local month starts as instants, oldest first. */
export interface CohortMonths {
  /** `YYYY-MM` of each month, cohorts first (the 12 latest before the end). */
  readonly labels: string[];
  /** Start of each month and, last, the start of the month after the newest. */
  readonly starts: Date[];
  /** The newest month when the end cuts it short; null when the end is a month's start. */
  readonly partial: PartialMonth | null;
}

/**
 * The newest cohort month when the period ends before it does (docs/kpis.md, "Cohorts"):
 * its cohort has the customers acquired so far, and each row's cell for it (its last) counts
 * the orders so far.
 */
export interface PartialMonth {
  /** `YYYY-MM`: the newest month, the last of `labels`. */
  readonly month: string;
  /** The last local day observed, `YYYY-MM-DD` (the day before the period end). */
  readonly through: string;
  /** Days of the month observed: the day of `through`. */
  readonly days: number;
  readonly daysInMonth: number;
}

/** The 12 latest local months that began before `end`, as cohort slices. */
export function cohortMonths(end: Date, timeZone: string, cohorts = 12): CohortMonths {
  const last = DateTime.fromMillis(end.getTime() - 1, { zone: timeZone });
  const newest = last.startOf('month');
  const labels: string[] = [];
  const starts: Date[] = [];
  for (let i = cohorts - 1; i >= -1; i--) {
    const m = newest.minus({ months: i });
    if (i >= 0) labels.push(m.toFormat('yyyy-MM'));
    starts.push(m.toJSDate());
  }
  const full = newest.plus({ months: 1 }).toMillis() === end.getTime();
  const partial = full
    ? null
    : {
        month: newest.toFormat('yyyy-MM'),
        through: last.toFormat('yyyy-MM-dd'),
        days: last.day,
        daysInMonth: newest.daysInMonth ?? 0,
      };
  return { labels, starts, partial };
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
 * the period end (`segment`), at the previous one (`previous_segment`) and, with `prior`, at
 * the previous period's start (`prior_segment`; the table must hold `rfm.previousStart`),
 * each NULL where the customer had no valid order in the 365 days before that instant.
 * Scores are quintiles of recency (last order), frequency (orders) and monetary value
 * (revenue) in those days, among the customers who had one: `1 + ⌊5 × (rank − 1) / n⌋`, where
 * tied customers share the lowest rank, so identical customers always share a score; a
 * customer `where` keeps without an order in a window is scored in none of its quintiles, so
 * keeping more customers changes no segment. One read of the table.
 */
export function scoredCustomers(
  base: string,
  where: string,
  /** Columns of the table to pass through. */
  columns: readonly string[] = ['h_last', 'h_orders', 'h_revenue'],
  /** Score the previous end too (`previous_segment`); without it, three windows, not six. */
  previous = true,
  /** Score the previous period's start too (`prior_segment`). */
  prior = false,
): string {
  const scores = (name: string, suffix: string, last: string): string => {
    const set = `PARTITION BY f_n_${name} > 0`;
    // Quintiles that keep ties together: 1 + ⌊5 × (rank − 1) / n⌋, rank counting ties
    // once (their lowest place), in DOUBLE so both engines divide alike.
    const quintile = (by: string): string =>
      `CAST(floor(CAST(5 AS DOUBLE) * (rank() OVER (${set} ORDER BY ${by}) - 1) / count(*) OVER (${set})) AS INTEGER) + 1`;
    return [
      `${quintile(last)} AS r${suffix}`,
      `${quintile(`f_n_${name}`)} AS f${suffix}`,
      `${quintile(`f_rev_${name}`)} AS m${suffix}`,
    ].join(',\n      ');
  };
  const inner = ['customer_id', 'f_n_now', 'f_n_before', ...(prior ? ['f_n_prior'] : [])];
  return `SELECT ${['customer_id', 'f_n_now', 'f_rev_now', ...columns].join(', ')},
    CASE WHEN f_n_now > 0 THEN ${segmentSql()} END AS segment${
      previous
        ? `,
    CASE WHEN f_n_before > 0 THEN ${segmentSql('_b')} END AS previous_segment`
        : ''
    }${
      prior
        ? `,
    CASE WHEN f_n_prior > 0 THEN ${segmentSql('_p')} END AS prior_segment`
        : ''
    }
  FROM (
    SELECT ${[...inner, 'f_rev_now', ...columns].join(', ')},
      ${scores('now', '', 'h_last')}${previous ? `,\n      ${scores('before', '_b', 'f_last_before')}` : ''}${prior ? `,\n      ${scores('prior', '_p', 'f_last_prior')}` : ''}
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
 * The instants retention by segment needs (docs/kpis.md, "Retention by segment"): the start
 * of the active window at the previous period's start, at the period's start (the previous
 * period's end) and at the period's end. A customer is active at an instant when they have a
 * valid order in its window; with windows of at most 365 days, that order lies in the RFM
 * window of the same instant, so its last order there says it.
 */
export interface RetentionWindows {
  readonly previousStart: Date;
  readonly start: Date;
  readonly end: Date;
}

/**
 * RFM segments counted in SQL, and the at-risk list, in one read of the customer table:
 * - rows with `summary = 1` and `by_start = 0`: customers and their 365-day revenue per
 *   (segment now, segment before), and of them the at-risk customers (last order in
 *   `[riskFrom, riskTo)`) and their 365-day revenue; a few dozen rows, whatever the number
 *   of customers;
 * - rows with `summary = 0`: each at-risk customer (`customer_id`, `segment`, last order,
 *   orders and revenue to date), most lifetime revenue first: the list for the CSV export,
 *   the only per-customer rows of the statement;
 * - with `retention`, rows with `by_start = 1`, per (segment at the period start =
 *   `previous_segment`, segment at the previous period's start = `prior_segment`): the
 *   customers active at the period start (`start_now`) and of them those active at its end
 *   (`retained_now`), and the same for the previous period (`start_before`,
 *   `retained_before`); at most a hundred rows. The customer table must hold
 *   `rfm.previousStart`.
 */
export function buildRfmQuery(input: {
  readonly base: string;
  readonly riskFrom: Date;
  readonly riskTo: Date;
  readonly retention?: RetentionWindows;
}): string {
  const risk = atRiskCondition(input.riskFrom, input.riskTo);
  const w = input.retention;
  const retention = w
    ? {
        columns: `,
  CAST(count(CASE WHEN active_start THEN 1 END) AS BIGINT) AS start_now,
  CAST(count(CASE WHEN active_start AND active_end THEN 1 END) AS BIGINT) AS retained_now,
  CAST(count(CASE WHEN active_prior THEN 1 END) AS BIGINT) AS start_before,
  CAST(count(CASE WHEN active_prior AND active_start THEN 1 END) AS BIGINT) AS retained_before`,
        flags: `,
    f_last_prior >= ${ts(w.previousStart)} AS active_prior,
    f_last_before >= ${ts(w.start)} AS active_start,
    h_last >= ${ts(w.end)} AS active_end`,
      }
    : null;
  const scored = retention
    ? scoredCustomers(
        input.base,
        'f_n_now > 0 OR f_n_before > 0 OR f_n_prior > 0',
        ['h_last', 'h_orders', 'h_revenue', 'f_last_before', 'f_last_prior'],
        true,
        true,
      )
    : scoredCustomers(input.base, 'f_n_now > 0 OR f_n_before > 0');
  // Without retention, only the customers scored now; with it, everyone scored at one of the
  // three instants, and the sets of the segments now keep the customers scored now.
  return `SELECT CAST(grouping(risk_id) AS INTEGER) AS summary,${
    retention ? ' CAST(grouping(segment) AS INTEGER) AS by_start,' : ''
  } segment, previous_segment,${retention ? ' prior_segment,' : ''}
  risk_id AS customer_id,
  CAST(count(*) AS BIGINT) AS customers,
  CAST(sum(f_rev_now) AS DECIMAL(38, 2)) AS revenue,
  CAST(count(CASE WHEN at_risk THEN 1 END) AS BIGINT) AS at_risk,
  CAST(sum(CASE WHEN at_risk THEN f_rev_now END) AS DECIMAL(38, 2)) AS at_risk_revenue,
  CAST(max(h_last) AS VARCHAR) AS last_at,
  max(h_orders) AS orders,
  CAST(max(h_revenue) AS DECIMAL(38, 2)) AS lifetime_revenue${retention?.columns ?? ''}
FROM (
  SELECT c.*, ${risk} AS at_risk, CASE WHEN ${risk} THEN customer_id END AS risk_id${retention?.flags ?? ''}
  FROM (
    ${scored}
  ) c${retention ? '' : '\n  WHERE f_n_now > 0'}
) r
${
  retention
    ? `GROUP BY GROUPING SETS ((segment, previous_segment), (risk_id, segment), (previous_segment, prior_segment))
HAVING (grouping(risk_id) = 1 AND grouping(segment) = 0 AND segment IS NOT NULL)
  OR risk_id IS NOT NULL
  OR (grouping(segment) = 1 AND count(CASE WHEN active_start OR active_prior THEN 1 END) > 0)
ORDER BY summary DESC, by_start, lifetime_revenue DESC, customer_id, segment, previous_segment, prior_segment`
    : `GROUP BY GROUPING SETS ((segment, previous_segment), (risk_id, segment))
HAVING grouping(risk_id) = 1 OR risk_id IS NOT NULL
ORDER BY summary DESC, lifetime_revenue DESC, customer_id, segment, previous_segment`
}`;
}
