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
  /** Break every measure down by the customer table's dimensions too (see Breakdown). */
  readonly breakdown?: Breakdown | undefined;
}

/**
 * A breakdown of every measure by the dimensions of the customer table (`dim_<i>`, the
 * value at the customer's first valid order): the `top` values with the most customers
 * with a valid order before the reported end (`d_known`; ties: by value) are a part each
 * (1 = the most), every other value one part, 0 ("Other"). Each customer is in exactly one
 * part of each dimension, so counts and sums of the parts add up to the whole. A statement
 * measures the whole and every part in the same pass (`dim` −1: the whole; `dim` i:
 * dimension i, with `part`).
 */
export interface Breakdown {
  /** How many dimensions the customer table carries. */
  readonly dimensions: number;
  /** Values that are a part of their own; the rest are one part. */
  readonly top: number;
}

/**
 * The customer table as `b`, with each customer's part of each dimension (`part_<i>`), the
 * value it stands for (`value_<i>`, NULL in Other) and the value's rank (`rank_<i>`; the
 * largest in Other is how many values have customers). The values are ranked in a small
 * grouped read of the table's `dim_<i>` and `d_known` (no window over the customers: on
 * Athena such a window would run on one node), joined back by value.
 */
function withParts(input: ReportQueryInput): string {
  const base = tableName(input.base);
  const bd = input.breakdown;
  if (!bd || bd.dimensions === 0) return `${base} b`;
  const dims = Array.from({ length: bd.dimensions }, (_, i) => i);
  const joins = dims.map(
    (i) => `LEFT JOIN (
    SELECT v, row_number() OVER (ORDER BY n DESC, v) AS r
    FROM (
      SELECT dim_${i} AS v, count(CASE WHEN d_known > 0 THEN 1 END) AS n
      FROM ${base}
      GROUP BY dim_${i}
    ) g
    WHERE n > 0
  ) r${i} ON c.dim_${i} = r${i}.v`,
  );
  const columns = dims.flatMap((i) => [
    `CAST(CASE WHEN r${i}.r <= ${bd.top} THEN r${i}.r ELSE 0 END AS INTEGER) AS part_${i}`,
    `CASE WHEN r${i}.r <= ${bd.top} THEN r${i}.v END AS value_${i}`,
    `r${i}.r AS rank_${i}`,
  ]);
  return `(
  SELECT c.*,
    ${columns.join(',\n    ')}
  FROM ${base} c
  ${joins.join('\n  ')}
) b`;
}

/** How many dimensions a statement breaks down by. */
function dimensionCount(input: ReportQueryInput): number {
  return input.breakdown?.dimensions ?? 0;
}

/** The sets a statement groups by: the whole (−1), then each dimension. */
function setsOf(input: ReportQueryInput): number[] {
  return [-1, ...Array.from({ length: dimensionCount(input) }, (_, i) => i)];
}

/** The part of a row (`alias`) in the set of `sets.dim` (see setsJoin): 0 for the whole. */
function partOfSet(input: ReportQueryInput, alias: string): string {
  const n = dimensionCount(input);
  if (n === 0) return '0';
  return `CASE ${Array.from({ length: n }, (_, i) => `WHEN sets.dim = ${i} THEN ${alias}.part_${i}`).join(' ')} ELSE 0 END`;
}

/** A VALUES list of the sets, as `sets(dim)`, to repeat each row once per set. */
function setsJoin(input: ReportQueryInput): string {
  return `CROSS JOIN (VALUES ${setsOf(input)
    .map((k) => `(${k})`)
    .join(', ')}) AS sets(dim)`;
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
  const n = dimensionCount(input);
  if (n === 0) {
    return `SELECT
  ${[...columns, ...blocks, ...quality].join(',\n  ')}
FROM ${withParts(input)}`;
  }
  // One row for the whole and one per part of each dimension.
  const dims = Array.from({ length: n }, (_, i) => i);
  const keys = [
    `CAST(CASE ${dims.map((i) => `WHEN grouping(part_${i}) = 0 THEN ${i}`).join(' ')} ELSE -1 END AS INTEGER) AS dim`,
    `CAST(coalesce(${dims.map((i) => `part_${i}`).join(', ')}, 0) AS INTEGER) AS part`,
    // A part's value, and its largest rank: in Other, how many values have customers.
    ...dims.flatMap((i) => [`max(value_${i}) AS value_${i}`, `max(rank_${i}) AS rank_${i}`]),
  ];
  return `SELECT
  ${[...keys, ...columns, ...blocks, ...quality].join(',\n  ')}
FROM ${withParts(input)}
GROUP BY GROUPING SETS ((), ${dims.map((i) => `(part_${i})`).join(', ')})`;
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
  const n = dimensionCount(input);
  const parts = Array.from({ length: n }, (_, i) => `part_${i}`);
  const carried = parts.map((c) => `, b.${c}`).join('');
  // With a breakdown, the histogram counts the whole and each dimension's parts at once
  // (GROUPING SETS); only the few members at or above a cut are repeated once per set, to be
  // ranked within their period, set and part.
  const split = n > 0;
  const by = split ? 'p, dim, part' : 'p';
  const histogram = split
    ? `SELECT p, CAST(CASE ${parts.map((c, i) => `WHEN grouping(${c}) = 0 THEN ${i}`).join(' ')} ELSE -1 END AS INTEGER) AS dim,
        CAST(coalesce(${parts.join(', ')}, 0) AS INTEGER) AS part, rung, count(*) AS n
      FROM ranked
      GROUP BY GROUPING SETS ((p, rung), ${parts.map((c) => `(p, ${c}, rung)`).join(', ')})`
    : 'SELECT p, rung, count(*) AS n FROM ranked GROUP BY p, rung';
  const part = partOfSet(input, 'm');
  const ranks = split
    ? `SELECT m.p, sets.dim, ${part} AS part, m.r, c.n,
    row_number() OVER (PARTITION BY m.p, sets.dim, ${part} ORDER BY m.r DESC) AS rn
  FROM ranked m
  ${setsJoin(input)}
  JOIN cuts c ON m.p = c.p AND sets.dim = c.dim AND ${part} = c.part AND m.rung >= c.rung`
    : `SELECT m.p, m.r, c.n, row_number() OVER (PARTITION BY m.p ORDER BY m.r DESC) AS rn
  FROM ranked m JOIN cuts c ON m.p = c.p AND m.rung >= c.rung`;
  return `WITH
members AS (
  SELECT q.p${carried}, b.k_r365[q.p + 1] AS r
  FROM ${withParts(input)}
  CROSS JOIN (VALUES
    ${rows.join(',\n    ')}
  ) AS q(p, ${words.map((m) => `a${m}`).join(', ')})
  WHERE ${active}
),
ranked AS (
  SELECT p${parts.map((c) => `, ${c}`).join('')}, r, ${rankTree('r', rungs.map(String))} AS rung
  FROM members
),
cuts AS (
  SELECT ${by}, max(total) AS n, max(CASE WHEN 5 * at_or_above >= total + 4 THEN rung END) AS rung
  FROM (
    SELECT ${by}, rung,
      sum(n) OVER (PARTITION BY ${by} ORDER BY rung DESC) AS at_or_above,
      sum(n) OVER (PARTITION BY ${by}) AS total
    FROM (${histogram}) h
  ) x
  GROUP BY ${by}
)
SELECT ${by},
  sum(CASE WHEN 10 * rn <= n + 9 THEN r END) / 100.0 AS top10_revenue,
  CAST(count(CASE WHEN 10 * rn <= n + 9 THEN 1 END) AS BIGINT) AS top10_count,
  sum(CASE WHEN 5 * rn <= n + 4 THEN r END) / 100.0 AS top20_revenue
FROM (
  ${ranks}
) t
GROUP BY ${by}`;
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
  const L = sliceLayout(input.periods);
  const split = dimensionCount(input) > 0;
  const parts = Array.from({ length: dimensionCount(input) }, (_, i) => `part_${i}`);
  const carried = parts.map((c) => `, ${c}`).join('');
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
  // With a breakdown, each order once per set (the whole and each dimension), with its part.
  const within = split ? `q.p, sets.dim, ${partOfSet(input, 'g')}` : 'q.p';
  return `WITH
seq AS (
  SELECT s, a${carried}, orders_before + row_number() OVER (${w}) AS k,
    (${D.epochSeconds('t')} - ${D.epochSeconds(`coalesce(lag(t) OVER (${w}), last_before)`)}) / 86400.0 AS d
  FROM (
    SELECT b.customer_id, u.${fs} AS s, u.${ft} AS t, u.${fa} AS a${parts.map((c) => `, b.${c}`).join('')}, ${blk} AS blk,
      ${perBlock('k_before')} AS orders_before,
      ${perBlock('k_last_before')} AS last_before
    FROM ${withParts(input)}
    ${D.unnestRows('b.k_block', 'u', BLOCK_ORDER_FIELDS)}
  ) o
)
SELECT CAST(p AS INTEGER) AS p,${split ? ' CAST(dim AS INTEGER) AS dim, CAST(part AS INTEGER) AS part,' : ''} CAST(CASE WHEN p < 0 THEN s END AS INTEGER) AS slice,
  CAST(count(*) AS BIGINT) AS orders,
  CAST(sum(a) AS DECIMAL(38, 2)) AS revenue,
  CAST(count(CASE WHEN k = 2 THEN 1 END) AS BIGINT) AS seconds,
  avg(CASE WHEN p >= 0 AND 2 * rn >= n AND 2 * rn <= n + 2 THEN d END) AS median_days
FROM (
  SELECT q.p,${split ? ` sets.dim, ${partOfSet(input, 'g')} AS part,` : ''} g.s, g.a, g.k, g.d,
    row_number() OVER (PARTITION BY ${within} ORDER BY g.d NULLS LAST) AS rn,
    count(g.d) OVER (PARTITION BY ${within}) AS n
  FROM seq g
  JOIN (VALUES
    ${ranges.join(',\n    ')}
  ) AS q(p, lo, hi) ON g.s BETWEEN q.lo AND q.hi${split ? `\n  ${setsJoin(input)}` : ''}
) x
GROUP BY p,${split ? ' dim, part,' : ''} CASE WHEN p < 0 THEN s END`;
}
