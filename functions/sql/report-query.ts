import type { Dialect } from './dialect.ts';
import { rankTree, timestampLiteral } from './dialect.ts';
import {
  classifiedOrders,
  EXCLUSION_REASONS,
  type ExclusionReason,
  type OrderColumns,
} from './orders.ts';

/** One period the query measures, with every boundary it needs as a UTC instant. */
export interface MeasuredPeriod {
  readonly start: Date;
  readonly end: Date;
  /** `start − activeWindowDays` local days. */
  readonly startWindow: Date;
  /** `end − activeWindowDays` local days. */
  readonly endWindow: Date;
  /** `end − 365` local days. */
  readonly yearBeforeEnd: Date;
  /** `end − atRiskDays` local days. */
  readonly atRiskBeforeEnd: Date;
  /** `end − 730` local days: the start of the year before the 365 days before the end. */
  readonly twoYearsBeforeEnd: Date;
}

export interface ReportQueryInput {
  readonly dialect: Dialect;
  /** The orders relation: a table name or a table function from the engine. */
  readonly relation: string;
  readonly columns: OrderColumns;
  readonly excludedStatuses: readonly string[];
  /** Distinct periods, which may overlap; the result has columns `p<i>_<measure>` for each. */
  readonly periods: readonly MeasuredPeriod[];
}

export { EXCLUSION_REASONS, type ExclusionReason, type OrderColumns } from './orders.ts';

/** Per-period measures the query returns as `p<i>_<name>`. */
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

const ts = timestampLiteral;

/**
 * Merges periods that touch or overlap into disjoint blocks `[start, end)`, in time order.
 * (A custom period's year-ago period can lie inside its trend.)
 */
function blocks(periods: readonly MeasuredPeriod[]): { start: Date; end: Date }[] {
  const sorted = [...periods].sort((a, b) => a.start.getTime() - b.start.getTime());
  const out: { start: Date; end: Date }[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last && last.end.getTime() >= p.start.getTime()) {
      if (p.end.getTime() > last.end.getTime()) last.end = p.end;
    } else out.push({ start: p.start, end: p.end });
  }
  return out;
}

/**
 * Builds the one statement that measures every period of a report.
 *
 * Shape (all set-based, aggregation pushed down):
 *  1. `dup_ids` finds order ids seen twice; the latest row of each such id stands for its
 *     order. The source is read three times rather than materialized: once for order ids
 *     only, once for the unique ids, once for the few duplicated ones.
 *  2. `rows` tags every row with the reason it is left out (0 = valid) and its time slice:
 *     every boundary any period needs cuts the time line, and slice `k` is
 *     `[B(k−1), B(k))`. A balanced CASE tree finds the slice in about log2(boundaries) tests.
 *  3. `slice_totals` counts rows and sums revenue per (reason, slice): the data-quality
 *     figures and every per-period order and revenue total come from that small table.
 *  4. `cust` is one pass over the valid orders per customer: a bitmask of the slices holding
 *     a valid order (62 slices per BIGINT), the last order and the number of orders before
 *     each block of contiguous periods, and per period the revenue in the 365 days before its
 *     end (as DOUBLE cents, which are integers and so summed exactly below 2^53). Every
 *     customer-set KPI is then a bit test on the mask.
 *  5. `flags` counts those tests per period in a single row; `topk` ranks customers by
 *     365-day revenue per period. `block_seq` numbers each customer's orders inside the
 *     blocks and finds the order before each: `gaps`/`med` give the exact median days
 *     between orders, and `seconds` the second orders that make repeat customers.
 *
 * Trino notes: every ratio is computed in TypeScript from integer counts and sums; integer
 * comparisons replace `ceil(n / 10)`; the median uses `row_number`, not `median`.
 */
export function buildReportQuery(input: ReportQueryInput): string {
  const { dialect, relation, columns: c, excludedStatuses, periods } = input;
  if (periods.length === 0) throw new Error('buildReportQuery needs at least one period');

  const boundaryMs = [
    ...new Set(
      periods.flatMap((p) =>
        [
          p.start,
          p.end,
          p.startWindow,
          p.endWindow,
          p.yearBeforeEnd,
          p.atRiskBeforeEnd,
          p.twoYearsBeforeEnd,
        ].map((d) => d.getTime()),
      ),
    ),
  ].sort((a, b) => a - b);
  const B = boundaryMs.map((ms) => new Date(ms));
  /** The slice that ends at boundary `d`, i.e. everything in `[previous boundary, d)`. */
  const idx = (d: Date): number => {
    const i = boundaryMs.indexOf(d.getTime());
    if (i < 0) throw new Error(`boundary ${d.toISOString()} is not a slice boundary`);
    return i;
  };
  // Slice of an order: the number of boundaries at or before it, 0..B.length. Orders at or
  // after the last boundary (slice B.length) matter to no period.
  const slice = rankTree('ordered_at', B.map(ts));

  const BITS = 62;
  const maskCount = Math.ceil(B.length / BITS);
  const maskColumns = Array.from({ length: maskCount }, (_, m) => {
    const first = m * BITS;
    const last = Math.min(first + BITS, B.length);
    const inWord = m === 0 ? `s < ${last}` : `s >= ${first} AND s < ${last}`;
    const bit = dialect.powerOfTwo(m === 0 ? 's' : `s - ${first}`);
    // 0, not NULL, for a customer with no order in this word: NOT (NULL <> 0) is NULL.
    return `coalesce(${dialect.bitOrAgg(`CASE WHEN ${inWord} THEN ${bit} END`)}, 0) AS m${m}`;
  });
  /** SQL that is true when the customer has a valid order in slices lo..hi (inclusive). */
  const anyInSlices = (lo: number, hi: number): string => {
    const tests: string[] = [];
    for (let m = 0; m < maskCount; m++) {
      let bits = 0n;
      for (let k = Math.max(lo, m * BITS); k <= Math.min(hi, m * BITS + BITS - 1); k++) {
        bits |= 1n << BigInt(k - m * BITS);
      }
      if (bits !== 0n) tests.push(`${dialect.bitAnd(`m${m}`, bits.toString())} <> 0`);
    }
    return tests.length === 0 ? 'FALSE' : `(${tests.join(' OR ')})`;
  };
  /** Slices of [a, b), both boundaries, as an inclusive range. */
  const range = (a: Date, b: Date): [number, number] => [idx(a) + 1, idx(b)];
  /** A valid order in [a, b). */
  const anyIn = (a: Date, b: Date): string => anyInSlices(...range(a, b));
  /** A valid order before b. */
  const anyBefore = (b: Date): string => anyInSlices(0, idx(b));
  /** `s` lies in [a, b). */
  const sIn = (a: Date, b: Date): string => {
    const [lo, hi] = range(a, b);
    return lo === hi ? `s = ${lo}` : `s BETWEEN ${lo} AND ${hi}`;
  };

  const orders = classifiedOrders({ relation, columns: c, excludedStatuses });
  const reasonCode = (r: ExclusionReason): number => EXCLUSION_REASONS.indexOf(r) + 1;

  // Contiguous blocks of periods, for the days-between-purchases median.
  const blks = blocks(periods);
  const custColumns = [
    ...maskColumns,
    ...blks.flatMap((b, k) => [
      `max(CASE WHEN s <= ${idx(b.start)} THEN ordered_at END) AS before_block_${k}`,
      `count(CASE WHEN s <= ${idx(b.start)} THEN 1 END) AS orders_before_block_${k}`,
    ]),
    ...periods.map(
      (p, i) =>
        `sum(CASE WHEN ${sIn(p.yearBeforeEnd, p.end)} THEN CAST(amount * 100 AS DOUBLE) END) AS r365_${i}`,
    ),
  ];

  const count = (cond: string, alias: string): string =>
    `CAST(count(CASE WHEN ${cond} THEN 1 END) AS BIGINT) AS ${alias}`;
  const flagColumns = periods.flatMap((p, i) => {
    const inS = anyIn(p.startWindow, p.start);
    const inE = anyIn(p.endWindow, p.end);
    const buyer = anyIn(p.start, p.end);
    const before = anyBefore(p.start);
    const active365 = anyIn(p.yearBeforeEnd, p.end);
    const yearBefore = anyIn(p.twoYearsBeforeEnd, p.yearBeforeEnd);
    return [
      count(inS, `p${i}_customers_start`),
      count(inE, `p${i}_customers_end`),
      count(`${inS} AND ${inE}`, `p${i}_retained`),
      count(`${buyer} AND NOT ${before}`, `p${i}_new_customers`),
      count(buyer, `p${i}_buyers`),
      count(`${buyer} AND ${before}`, `p${i}_returning_buyers`),
      count(anyBefore(p.end), `p${i}_customers_to_date`),
      count(active365, `p${i}_active_365`),
      count(yearBefore, `p${i}_active_year_before`),
      count(`${yearBefore} AND ${active365}`, `p${i}_retained_year`),
      count(
        `${anyIn(p.yearBeforeEnd, p.atRiskBeforeEnd)} AND NOT ${anyIn(p.atRiskBeforeEnd, p.end)}`,
        `p${i}_at_risk`,
      ),
      `sum(CASE WHEN ${active365} THEN r365_${i} END) / 100.0 AS p${i}_revenue_365`,
    ];
  });

  // Customers with two orders before a period's end: those with two before its block
  // starts, plus those whose second order falls in the block before the period ends.
  const blockIndex = (p: MeasuredPeriod): number =>
    blks.findIndex((b) => b.start <= p.start && p.end <= b.end);
  const repeatBaseColumns = blks.map((_, k) =>
    count(`orders_before_block_${k} >= 2`, `repeat_before_block_${k}`),
  );
  const secondOrderColumns = periods.map(
    (p, i) =>
      `CAST(count(CASE WHEN k = 2 AND b = ${blockIndex(p)} AND s <= ${idx(p.end)} THEN 1 END) AS BIGINT) AS second_orders_${i}`,
  );
  const repeatColumns = periods.map(
    (p, i) =>
      `CAST(flags.repeat_before_block_${blockIndex(p)} + second_orders_${i} AS BIGINT) AS p${i}_repeat_customers_to_date`,
  );

  const totalColumns = periods.flatMap((p, i) => [
    `CAST(coalesce(sum(CASE WHEN reason = 0 AND ${sIn(p.start, p.end)} THEN n END), 0) AS BIGINT) AS p${i}_orders`,
    `CAST(coalesce(sum(CASE WHEN reason = 0 AND ${sIn(p.start, p.end)} THEN revenue END), 0) AS DECIMAL(38, 2)) AS p${i}_revenue`,
    `CAST(coalesce(sum(CASE WHEN reason = 0 AND s <= ${idx(p.end)} THEN revenue END), 0) AS DECIMAL(38, 2)) AS p${i}_revenue_to_date`,
  ]);
  const qualityColumns = [
    'CAST(coalesce(sum(n), 0) AS BIGINT) AS rows_read',
    'CAST(coalesce(sum(CASE WHEN reason = 0 THEN n END), 0) AS BIGINT) AS valid_orders',
    'CAST(max(latest) AS VARCHAR) AS latest_ordered_at',
    'CAST(max(CASE WHEN reason = 0 THEN latest END) AS VARCHAR) AS latest_valid_ordered_at',
    ...EXCLUSION_REASONS.map(
      (r) =>
        `CAST(coalesce(sum(CASE WHEN reason = ${reasonCode(r)} THEN n END), 0) AS BIGINT) AS left_out_${r}`,
    ),
  ];

  // Customers active in each period's 365 days, one row per (period, customer); the count
  // of them per period is p<i>_active_365, so the ranks need no second window. Only the
  // top fifth needs ranking: a histogram over a fixed ladder of amounts finds, per period,
  // the highest rung with at least ceil(n / 5) members at or above it, and only those are
  // sorted. Their ranks are their ranks among all members.
  const rungs: number[] = [1];
  while ((rungs.at(-1) ?? 1) < 1e14) rungs.push(Math.ceil((rungs.at(-1) ?? 1) * Math.SQRT2));
  const ranked = periods
    .map(
      (p, i) => `SELECT ${i} AS p, r365_${i} AS r FROM cust WHERE ${anyIn(p.yearBeforeEnd, p.end)}`,
    )
    .join('\n    UNION ALL ');
  const topkColumns = periods.flatMap((_, i) => {
    const n = `flags.p${i}_active_365`;
    return [
      `sum(CASE WHEN p = ${i} AND 10 * rn <= ${n} + 9 THEN r END) / 100.0 AS p${i}_top10_revenue`,
      `CAST(count(CASE WHEN p = ${i} AND 10 * rn <= ${n} + 9 THEN 1 END) AS BIGINT) AS p${i}_top10_count`,
      `sum(CASE WHEN p = ${i} AND 5 * rn <= ${n} + 4 THEN r END) / 100.0 AS p${i}_top20_revenue`,
    ];
  });

  // Exact median of days between orders: orders inside contiguous blocks of periods, each
  // with its customer's previous valid order (inside the block, or the last one before it).
  const inBlock = blks.map((b) => `(${sIn(b.start, b.end)})`).join(' OR ');
  const blockOf = `CASE ${blks.map((b, k) => `WHEN s <= ${idx(b.end)} THEN ${k}`).join(' ')} END`;
  // Ties in ordered_at may come in either order: they give the same gaps and slices.
  const seq = 'PARTITION BY bo.customer_id, bo.b ORDER BY bo.ordered_at';
  const perBlock = (column: string): string =>
    `CASE bo.b ${blks.map((_, k) => `WHEN ${k} THEN c.${column}_${k}`).join(' ')} END`;
  // One row per (period, gap): periods may overlap, so an order can count for two.
  const periodGaps = periods
    .map((p, i) => `SELECT ${i} AS p, d FROM block_gaps WHERE ${sIn(p.start, p.end)}`)
    .join('\n  UNION ALL ');
  const medColumns = periods.map(
    (_, i) => `avg(CASE WHEN p = ${i} THEN d END) AS p${i}_median_days`,
  );

  return `WITH
dup_ids AS (
  ${orders.dupIds}
),
rows AS (
  ${orders.select([`CAST(${slice} AS SMALLINT) AS s`])}
),
slice_totals AS (
  SELECT reason, s, count(*) AS n, sum(amount) AS revenue, max(ordered_at) AS latest
  FROM rows
  GROUP BY reason, s
),
cust AS (
  SELECT customer_id,
    ${custColumns.join(',\n    ')}
  FROM rows
  WHERE reason = 0
  GROUP BY customer_id
),
flags AS (
  SELECT
    ${[...flagColumns, ...repeatBaseColumns].join(',\n    ')}
  FROM cust
),
totals AS (
  SELECT
    ${totalColumns.join(',\n    ')},
    ${qualityColumns.join(',\n    ')},
    (SELECT CAST(count(*) AS BIGINT) FROM dup_ids) AS duplicate_order_ids
  FROM slice_totals
),
members AS (
  SELECT p, r, ${rankTree('r', rungs.map(String))} AS rung
  FROM (${ranked}) u
),
cuts AS (
  SELECT p, max(rung) AS rung
  FROM (
    SELECT p, rung,
      sum(n) OVER (PARTITION BY p ORDER BY rung DESC) AS at_or_above,
      sum(n) OVER (PARTITION BY p) AS total
    FROM (SELECT p, rung, count(*) AS n FROM members GROUP BY p, rung) h
  ) x
  WHERE 5 * at_or_above >= total + 4
  GROUP BY p
),
topk AS (
  SELECT
    ${topkColumns.join(',\n    ')}
  FROM (
    SELECT m.p, m.r, row_number() OVER (PARTITION BY m.p ORDER BY m.r DESC) AS rn
    FROM members m JOIN cuts c ON m.p = c.p AND m.rung >= c.rung
  ) t
  CROSS JOIN flags
),
block_orders AS (
  SELECT customer_id, ordered_at, s, ${blockOf} AS b
  FROM rows
  WHERE reason = 0 AND (${inBlock})
),
block_seq AS (
  SELECT bo.b, bo.s, bo.ordered_at,
    coalesce(
      lag(bo.ordered_at) OVER (${seq}),
      ${perBlock('before_block')}
    ) AS prev_at,
    ${perBlock('orders_before_block')} + row_number() OVER (${seq}) AS k
  FROM block_orders bo JOIN cust c ON c.customer_id = bo.customer_id
),
seconds AS (
  SELECT
    ${secondOrderColumns.join(',\n    ')}
  FROM block_seq
),
repeats AS (
  SELECT
    ${repeatColumns.join(',\n    ')}
  FROM flags CROSS JOIN seconds
),
block_gaps AS (
  SELECT s, (${dialect.epochSeconds('ordered_at')} - ${dialect.epochSeconds('prev_at')}) / 86400.0 AS d
  FROM block_seq
  WHERE prev_at IS NOT NULL
),
gaps AS (
  ${periodGaps}
),
med AS (
  SELECT
    ${medColumns.join(',\n    ')}
  FROM (
    SELECT p, d,
      row_number() OVER (PARTITION BY p ORDER BY d) AS rn,
      count(*) OVER (PARTITION BY p) AS n
    FROM gaps
  ) g
  WHERE 2 * rn >= n AND 2 * rn <= n + 2
)
SELECT * FROM totals CROSS JOIN flags CROSS JOIN repeats CROSS JOIN topk CROSS JOIN med`;
}
