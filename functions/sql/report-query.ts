import type { Dialect } from './dialect.ts';
import { rankTree, tableName } from './dialect.ts';
import { EXCLUSION_REASONS } from './orders.ts';
import { sliceLayout, type MeasuredPeriod } from './slices.ts';

export interface ReportQueryInput {
  readonly dialect: Dialect;
  /** The run's customer table (buildBaseQuery with the same `periods`). */
  readonly base: string;
  /** Distinct periods, which may overlap; the result has one row per period, `p` = index. */
  readonly periods: readonly MeasuredPeriod[];
}

export type { MeasuredPeriod } from './slices.ts';

export { EXCLUSION_REASONS, type ExclusionReason, type OrderColumns } from './orders.ts';

/** Per-period measures: the KPI statement's columns, and `median_days` from the gap statement. */
export const PERIOD_MEASURES = [
  'customers_start',
  'customers_end',
  'retained',
  'new_customers',
  'orders',
  'revenue',
  'buyers',
  'returning_buyers',
  'customers_to_date',
  'repeat_customers_to_date',
  'revenue_to_date',
  'active_365',
  'active_year_before',
  'retained_year',
  'at_risk',
  'revenue_365',
  'top10_revenue',
  'top10_count',
  'top20_revenue',
  'median_days',
] as const;
export type PeriodMeasure = (typeof PERIOD_MEASURES)[number];

/** Run-wide data-quality measures the query returns once. */
export const QUALITY_MEASURES = [
  'rows_read',
  'valid_orders',
  'duplicate_order_ids',
  'latest_ordered_at',
  'latest_valid_ordered_at',
  ...EXCLUSION_REASONS.map((r) => `left_out_${r}` as const),
] as const;

/**
 * The KPI statement: every per-period measure but the median gap, one row per period (`p`),
 * each also carrying the run-wide data-quality measures. It reads the run's customer table
 * (never the source) twice, and nothing else more than once:
 *
 *  1. `cp` pairs each customer with each period (a VALUES list that carries, per period, the
 *     mask-word bits of every window it tests), so each customer-set KPI is a bit test with
 *     no CASE per period; `rung` places the customer's 365-day revenue on a fixed ladder of
 *     amounts (for those active in the 365 days).
 *  2. `per_p` counts those tests and sums the per-period arrays per (period, rung), then per
 *     period, and finds the highest rung with at least ceil(n / 5) active customers at or
 *     above it: only that top fifth needs ranking for the top-10 % / top-20 % revenue.
 *  3. The top fifth, read in the second pass over `cp`, is ranked per period; its ranks are
 *     its ranks among all active customers.
 *
 * Trino inlines a WITH block at every reference, so each block here is referenced once.
 * Every ratio is computed in TypeScript from integer counts and sums; integer comparisons
 * replace `ceil(n / 10)`.
 */
export function buildReportQuery(input: ReportQueryInput): string {
  const { dialect: D, periods } = input;
  const base = tableName(input.base);
  const L = sliceLayout(periods);
  const words = Array.from({ length: L.maskCount }, (_, m) => m);

  // The windows each period tests, as inclusive slice ranges.
  const windows = {
    ins: (p: MeasuredPeriod) => L.range(p.startWindow, p.start),
    ine: (p: MeasuredPeriod) => L.range(p.endWindow, p.end),
    buyer: (p: MeasuredPeriod) => L.range(p.start, p.end),
    before: (p: MeasuredPeriod): [number, number] => [0, L.idx(p.start)],
    to_date: (p: MeasuredPeriod): [number, number] => [0, L.idx(p.end)],
    active: (p: MeasuredPeriod) => L.range(p.yearBeforeEnd, p.end),
    year_before: (p: MeasuredPeriod) => L.range(p.twoYearsBeforeEnd, p.yearBeforeEnd),
    risk_old: (p: MeasuredPeriod) => L.range(p.yearBeforeEnd, p.atRiskBeforeEnd),
    risk_new: (p: MeasuredPeriod) => L.range(p.atRiskBeforeEnd, p.end),
  } as const;
  const names = Object.keys(windows) as (keyof typeof windows)[];
  const valueColumns = ['p', 'end_s', ...names.flatMap((n) => words.map((m) => `${n}_${m}`))];
  const rows = periods.map((p, i) => {
    const bits = names.flatMap((n) => L.wordBits(...windows[n](p)));
    return `(${[i, L.idx(p.end), ...bits.map((b) => `CAST(${b} AS BIGINT)`)].join(', ')})`;
  });
  const test = (n: keyof typeof windows): string =>
    `(${words.map((m) => `${D.bitAnd(`b.m${m}`, `q.${n}_${m}`)} <> 0`).join(' OR ')})`;

  const rungs: number[] = [1];
  while ((rungs.at(-1) ?? 1) < 1e14) rungs.push(Math.ceil((rungs.at(-1) ?? 1) * Math.SQRT2));
  const at = (column: string): string => `b.${column}[q.p + 1]`;

  const count = (cond: string, alias: string): string =>
    `CAST(count(CASE WHEN ${cond} THEN 1 END) AS BIGINT) AS ${alias}`;
  const flagCounts = [
    count('ins', 'customers_start'),
    count('ine', 'customers_end'),
    count('ins AND ine', 'retained'),
    count('buyer AND NOT before', 'new_customers'),
    count('buyer', 'buyers'),
    count('buyer AND before', 'returning_buyers'),
    count('to_date', 'customers_to_date'),
    count('s2 <= end_s', 'repeat_customers_to_date'),
    count('active', 'active_365'),
    count('year_before', 'active_year_before'),
    count('year_before AND active', 'retained_year'),
    count('risk_old AND NOT risk_new', 'at_risk'),
    'sum(CASE WHEN active THEN r END) AS r365',
    'CAST(sum(orders) AS BIGINT) AS orders',
    'CAST(coalesce(sum(revenue), 0) AS DECIMAL(38, 2)) AS revenue',
    'CAST(coalesce(sum(revenue_to_date), 0) AS DECIMAL(38, 2)) AS revenue_to_date',
    'CAST(sum(q_rows) AS BIGINT) AS rows_read',
    ...EXCLUSION_REASONS.map((r, i) => `CAST(sum(q_r${i + 1}) AS BIGINT) AS left_out_${r}`),
    'CAST(sum(q_dup_ids) AS BIGINT) AS duplicate_order_ids',
    'max(q_latest) AS latest',
    'max(q_latest_valid) AS latest_valid',
  ];
  const perPeriod = [...flagCounts.map((c) => c.replace(/^.* AS (\w+)$/, '$1'))];
  const summed = perPeriod.map((c) =>
    c === 'latest' || c === 'latest_valid' ? `max(${c}) AS ${c}` : `sum(${c}) AS ${c}`,
  );

  return `WITH
cp AS (
  SELECT q.p, q.end_s, b.k_s2 AS s2,
    ${names.map((n) => `${test(n)} AS ${n}`).join(',\n    ')},
    ${at('k_r365')} AS r,
    CASE WHEN ${test('active')} THEN ${rankTree(at('k_r365'), rungs.map(String))} END AS rung,
    ${at('k_orders')} AS orders,
    ${at('k_revenue')} AS revenue,
    ${at('k_revenue_to_date')} AS revenue_to_date,
    b.q_rows, ${EXCLUSION_REASONS.map((_, i) => `b.q_r${i + 1}`).join(', ')}, b.q_dup_ids,
    b.q_latest, b.q_latest_valid
  FROM ${base} b
  CROSS JOIN (VALUES
    ${rows.join(',\n    ')}
  ) AS q(${valueColumns.join(', ')})
),
per_p AS (
  SELECT p,
    ${summed.join(',\n    ')},
    max(CASE WHEN 5 * at_or_above >= n_active + 4 THEN rung END) AS cut
  FROM (
    SELECT h.*,
      sum(active_365) OVER (PARTITION BY p ORDER BY rung DESC) AS at_or_above,
      sum(active_365) OVER (PARTITION BY p) AS n_active
    FROM (
      SELECT p, rung,
        ${flagCounts.join(',\n        ')}
      FROM cp
      GROUP BY p, rung
    ) h
  ) x
  GROUP BY p
)
SELECT t.period AS p,
  ${perPeriod
    .filter((c) => c !== 'r365' && c !== 'latest' && c !== 'latest_valid')
    .map((c) => `coalesce(max(t.${c}), 0) AS ${c}`)
    .join(',\n  ')},
  max(t.r365) / 100.0 AS revenue_365,
  CAST(max(t.latest) AS VARCHAR) AS latest_ordered_at,
  CAST(max(t.latest_valid) AS VARCHAR) AS latest_valid_ordered_at,
  sum(CASE WHEN 10 * t.rn <= t.active_365 + 9 THEN t.r END) / 100.0 AS top10_revenue,
  CAST(count(CASE WHEN 10 * t.rn <= t.active_365 + 9 THEN 1 END) AS BIGINT) AS top10_count,
  sum(CASE WHEN 5 * t.rn <= t.active_365 + 4 THEN t.r END) / 100.0 AS top20_revenue
FROM (
  SELECT e.period, n.*, c.r, row_number() OVER (PARTITION BY e.period ORDER BY c.r DESC) AS rn
  FROM (VALUES ${periods.map((_, i) => `(${i})`).join(', ')}) AS e(period)
  LEFT JOIN per_p n ON n.p = e.period
  LEFT JOIN cp c ON c.p = e.period AND c.rung >= n.cut
) t
GROUP BY t.period
ORDER BY t.period`;
}

/**
 * The exact median of days between orders per period: each valid order in the period with
 * the customer's previous valid order, from the gap arrays of the customer table (one read).
 * One row per period that has gaps: `p`, `median_days`.
 */
export function buildGapQuery(input: ReportQueryInput): string {
  const base = tableName(input.base);
  const L = sliceLayout(input.periods);
  const ranges = input.periods.map((p, i) => `(${[i, ...L.range(p.start, p.end)].join(', ')})`);
  return `SELECT p, avg(d) AS median_days
FROM (
  SELECT q.p, g.d,
    row_number() OVER (PARTITION BY q.p ORDER BY g.d) AS rn,
    count(*) OVER (PARTITION BY q.p) AS n
  FROM (
    SELECT u.s, b.k_gap_d[u.i] AS d
    FROM ${base} b
    CROSS JOIN UNNEST(b.k_gap_s) WITH ORDINALITY AS u(s, i)
  ) g
  JOIN (VALUES
    ${ranges.join(',\n    ')}
  ) AS q(p, lo, hi) ON g.s BETWEEN q.lo AND q.hi
) x
WHERE 2 * rn >= n AND 2 * rn <= n + 2
GROUP BY p
ORDER BY p`;
}
