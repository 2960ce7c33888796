import type { Dialect } from './dialect.ts';
import { rankTree, tableName } from './dialect.ts';
import { EXCLUSION_REASONS } from './orders.ts';
import { BLOCK_ORDER_FIELDS } from './base-query.ts';
import { sliceLayout, type MeasuredPeriod, type SliceLayout } from './slices.ts';

export interface ReportQueryInput {
  readonly dialect: Dialect;
  /** The run's customer table (buildBaseQuery with the same `periods`). */
  readonly base: string;
  /** Distinct periods, which may overlap; results name each by its index (`p<i>_…` or `p`). */
  readonly periods: readonly MeasuredPeriod[];
}

export type { MeasuredPeriod } from './slices.ts';

export { EXCLUSION_REASONS, type ExclusionReason, type OrderColumns } from './orders.ts';

/**
 * Per-period measures, put together by readMeasures: the KPI statement's customer counts,
 * the top statement's top-10/20 % revenue, and the gap statement's orders, revenue, repeat
 * customers to date and median gap.
 */
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

/** The windows of a period that its customer-set KPIs test, as inclusive slice ranges. */
function windowsOf(L: SliceLayout, p: MeasuredPeriod) {
  return {
    ins: L.range(p.startWindow, p.start),
    ine: L.range(p.endWindow, p.end),
    buyer: L.range(p.start, p.end),
    before: [0, L.idx(p.start)] as [number, number],
    toDate: [0, L.idx(p.end)] as [number, number],
    active: L.range(p.yearBeforeEnd, p.end),
    yearBefore: L.range(p.twoYearsBeforeEnd, p.yearBeforeEnd),
    riskOld: L.range(p.yearBeforeEnd, p.atRiskBeforeEnd),
    riskNew: L.range(p.atRiskBeforeEnd, p.end),
  };
}

/** SQL that is true when the customer (`b`) has a valid order in slices lo..hi. */
function anyIn(D: Dialect, L: SliceLayout, [lo, hi]: [number, number]): string {
  const tests = L.wordBits(lo, hi).flatMap((bits, m) =>
    bits === '0' ? [] : [`${D.bitAnd(`b.m${m}`, bits)} <> 0`],
  );
  return tests.length === 0 ? 'FALSE' : `(${tests.join(' OR ')})`;
}

/**
 * The KPI statement: every customer-set measure of every period in one row (`p<i>_<name>`),
 * with the run-wide data-quality measures, in one pass over the run's customer table (never
 * the source): each customer-set KPI is a bit test on the customer's slice mask; the 365-day
 * revenue is each period's element of `k_r365`; per block of contiguous periods, the
 * customers with two valid orders before it and their revenue, to which the gap statement
 * adds what happens inside the block. The top-10 % / top-20 % revenue comes from the top
 * statement, the orders, revenue and gaps inside the periods from the gap statement.
 * Every ratio is computed in TypeScript from integer counts and sums.
 */
export function buildReportQuery(input: ReportQueryInput): string {
  const { dialect: D, periods } = input;
  const L = sliceLayout(periods);
  const count = (cond: string, alias: string): string =>
    `CAST(count(CASE WHEN ${cond} THEN 1 END) AS BIGINT) AS ${alias}`;
  const columns = periods.flatMap((p, i) => {
    const w = windowsOf(L, p);
    const t = (k: keyof typeof w): string => anyIn(D, L, w[k]);
    return [
      count(t('ins'), `p${i}_customers_start`),
      count(t('ine'), `p${i}_customers_end`),
      count(`${t('ins')} AND ${t('ine')}`, `p${i}_retained`),
      count(`${t('buyer')} AND NOT ${t('before')}`, `p${i}_new_customers`),
      count(t('buyer'), `p${i}_buyers`),
      count(`${t('buyer')} AND ${t('before')}`, `p${i}_returning_buyers`),
      count(t('toDate'), `p${i}_customers_to_date`),
      count(t('active'), `p${i}_active_365`),
      count(t('yearBefore'), `p${i}_active_year_before`),
      count(`${t('yearBefore')} AND ${t('active')}`, `p${i}_retained_year`),
      count(`${t('riskOld')} AND NOT ${t('riskNew')}`, `p${i}_at_risk`),
      `sum(CASE WHEN ${t('active')} THEN b.k_r365[${i + 1}] END) / 100.0 AS p${i}_revenue_365`,
    ];
  });
  const blocks = L.blocks.flatMap((_, k) => [
    count(`b.k_before_${k} >= 2`, `repeat_before_block_${k}`),
    `CAST(sum(b.k_rev_before_${k}) AS DECIMAL(38, 2)) AS revenue_before_block_${k}`,
  ]);
  const quality = [
    'CAST(coalesce(sum(b.q_rows), 0) AS BIGINT) AS rows_read',
    ...EXCLUSION_REASONS.map(
      (r, i) => `CAST(coalesce(sum(b.q_r${i + 1}), 0) AS BIGINT) AS left_out_${r}`,
    ),
    'CAST(coalesce(sum(b.q_dup_ids), 0) AS BIGINT) AS duplicate_order_ids',
    `CAST(max(CASE WHEN b.q_latest_valid IS NULL OR b.q_latest_invalid > b.q_latest_valid THEN b.q_latest_invalid ELSE b.q_latest_valid END) AS VARCHAR) AS latest_ordered_at`,
    'CAST(max(b.q_latest_valid) AS VARCHAR) AS latest_valid_ordered_at',
  ];
  return `SELECT
  ${[...columns, ...blocks, ...quality].join(',\n  ')}
FROM ${tableName(input.base)} b`;
}

/**
 * The top statement: per period (`p`), the revenue of the top 10 % and top 20 % of the
 * customers active in the 365 days before its end, ranked by that revenue, and how many
 * the top 10 % are. Only the top fifth needs ranking: a histogram over a fixed ladder of
 * amounts (`rung`) finds, per period, the highest rung with at least ceil(n / 5) members at
 * or above it, and only those are sorted; their ranks are their ranks among all members.
 * The members (each active customer with each period, from a VALUES list of the periods'
 * bits) are read twice: for the histogram and for the ranking.
 */
export function buildTopQuery(input: ReportQueryInput): string {
  const { dialect: D, periods } = input;
  const L = sliceLayout(periods);
  const words = Array.from({ length: L.maskCount }, (_, m) => m);
  const rows = periods.map(
    (p, i) =>
      `(${[i, ...L.wordBits(...windowsOf(L, p).active).map((b) => `CAST(${b} AS BIGINT)`)].join(', ')})`,
  );
  const active = words.map((m) => `${D.bitAnd(`b.m${m}`, `q.a${m}`)} <> 0`).join(' OR ');
  const rungs: number[] = [1];
  while ((rungs.at(-1) ?? 1) < 1e14) rungs.push(Math.ceil((rungs.at(-1) ?? 1) * Math.SQRT2));
  return `WITH
members AS (
  SELECT q.p, b.k_r365[q.p + 1] AS r
  FROM ${tableName(input.base)} b
  CROSS JOIN (VALUES
    ${rows.join(',\n    ')}
  ) AS q(p, ${words.map((m) => `a${m}`).join(', ')})
  WHERE ${active}
),
ranked AS (
  SELECT p, r, ${rankTree('r', rungs.map(String))} AS rung
  FROM members
),
cuts AS (
  SELECT p, max(total) AS n, max(CASE WHEN 5 * at_or_above >= total + 4 THEN rung END) AS rung
  FROM (
    SELECT p, rung,
      sum(n) OVER (PARTITION BY p ORDER BY rung DESC) AS at_or_above,
      sum(n) OVER (PARTITION BY p) AS total
    FROM (SELECT p, rung, count(*) AS n FROM ranked GROUP BY p, rung) h
  ) x
  GROUP BY p
)
SELECT p,
  sum(CASE WHEN 10 * rn <= n + 9 THEN r END) / 100.0 AS top10_revenue,
  CAST(count(CASE WHEN 10 * rn <= n + 9 THEN 1 END) AS BIGINT) AS top10_count,
  sum(CASE WHEN 5 * rn <= n + 4 THEN r END) / 100.0 AS top20_revenue
FROM (
  SELECT m.p, m.r, c.n, row_number() OVER (PARTITION BY m.p ORDER BY m.r DESC) AS rn
  FROM ranked m JOIN cuts c ON m.p = c.p AND m.rung >= c.rung
) t
GROUP BY p`;
}

/** The index of the block of contiguous periods that holds `p`. */
export function blockOf(L: SliceLayout, p: MeasuredPeriod): number {
  return L.blocks.findIndex((b) => b.start <= p.start && p.end <= b.end);
}

/**
 * The measures that come from the valid orders inside the periods (`k_block` of the
 * customer table, read once), in rows of two kinds:
 * - `p = -1`, `slice` a slice: its orders, revenue and second orders (the customer's
 *   second valid order ever), which add up to each period's orders and revenue and, with
 *   the KPI statement's counts before its block, to its revenue and repeat customers to date;
 * - `p` a period's index: the exact median of the days between each
 *   valid order in the period and the customer's previous valid order.
 * A customer's orders in a block are numbered and paired with the previous one by a window
 * over the block's few orders; the first takes the last order before the block.
 */
export function buildGapQuery(input: ReportQueryInput): string {
  const { dialect: D } = input;
  const base = tableName(input.base);
  const L = sliceLayout(input.periods);
  // Period -1 takes every order, for the per-slice rows; the others their own orders.
  const ranges = [
    `(-1, 0, ${L.boundaries.length})`,
    ...input.periods.map((p, i) => `(${[i, ...L.range(p.start, p.end)].join(', ')})`),
  ];
  const blk = `CASE ${L.blocks.map((b, k) => `WHEN ${L.sIn(b.start, b.end, 'u.s')} THEN ${k}`).join(' ')} END`;
  const perBlock = (column: string): string =>
    `CASE ${blk} ${L.blocks.map((_, k) => `WHEN ${k} THEN b.${column}_${k}`).join(' ')} END`;
  const w = 'PARTITION BY customer_id, blk ORDER BY t';
  const [fs, ft, fa] = BLOCK_ORDER_FIELDS;
  return `WITH
seq AS (
  SELECT s, a, orders_before + row_number() OVER (${w}) AS k,
    (${D.epochSeconds('t')} - ${D.epochSeconds(`coalesce(lag(t) OVER (${w}), last_before)`)}) / 86400.0 AS d
  FROM (
    SELECT b.customer_id, u.${fs} AS s, u.${ft} AS t, u.${fa} AS a, ${blk} AS blk,
      ${perBlock('k_before')} AS orders_before,
      ${perBlock('k_last_before')} AS last_before
    FROM ${base} b
    ${D.unnestRows('b.k_block', 'u', BLOCK_ORDER_FIELDS)}
  ) o
)
SELECT CAST(p AS INTEGER) AS p, CAST(CASE WHEN p < 0 THEN s END AS INTEGER) AS slice,
  CAST(count(*) AS BIGINT) AS orders,
  CAST(sum(a) AS DECIMAL(38, 2)) AS revenue,
  CAST(count(CASE WHEN k = 2 THEN 1 END) AS BIGINT) AS seconds,
  avg(CASE WHEN p >= 0 AND 2 * rn >= n AND 2 * rn <= n + 2 THEN d END) AS median_days
FROM (
  SELECT q.p, g.s, g.a, g.k, g.d,
    row_number() OVER (PARTITION BY q.p ORDER BY g.d NULLS LAST) AS rn,
    count(g.d) OVER (PARTITION BY q.p) AS n
  FROM seq g
  JOIN (VALUES
    ${ranges.join(',\n    ')}
  ) AS q(p, lo, hi) ON g.s BETWEEN q.lo AND q.hi
) x
GROUP BY p, CASE WHEN p < 0 THEN s END`;
}
