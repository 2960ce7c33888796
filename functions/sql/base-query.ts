import { dayNumber, utcOffsets } from './clv-query.ts';
import type { Dialect } from './dialect.ts';
import { rankTree, timestampLiteral as ts } from './dialect.ts';
import { classifiedOrders, EXCLUSION_REASONS, type OrdersInput } from './orders.ts';
import { maskAggregates, sliceLayout, type MeasuredPeriod } from './slices.ts';

/**
 * What a run needs from the orders, beyond the data-quality counts. Each part adds its
 * columns to the customer table; a part left out costs nothing.
 */
export interface BaseSpec extends OrdersInput {
  readonly dialect: Dialect;
  /** The KPI periods (distinct): slice masks, per-period sums, gaps between orders. */
  readonly periods?: readonly MeasuredPeriod[];
  /** The cohort matrix: orders before `end` by local month (`starts`: see CohortMonths). */
  readonly cohorts?: { readonly end: Date; readonly starts: readonly Date[] };
  /** RFM at the period end and the previous one, and the history to the end. */
  readonly rfm?: {
    readonly end: Date;
    readonly previousEnd: Date;
    readonly yearBeforeEnd: Date;
    readonly yearBeforePrevious: Date;
  };
  /** The lifetime model's purchase days before each end (local dates `YYYY-MM-DD`). */
  readonly lifetime?: { readonly ends: readonly string[]; readonly timeZone: string };
}

/**
 * The one statement of a run that reads the orders source: it cleans and deduplicates the
 * orders and reduces them to one row per customer (and one for rows without a customer),
 * which the run keeps as a table (`CREATE TABLE … AS`, see Dialect.createTable) and every
 * later statement reads instead of the source.
 *
 * The source is read once: the duplicate rule is a window over `order_id`, the order of a
 * customer's valid orders a window over `(customer_id, reason)` ordered by time, and
 * everything else aggregates of the single `GROUP BY customer_id`. (Trino inlines a WITH
 * block at every reference, so the statement has none: nested subqueries, each read once.)
 *
 * Columns, all over the customer's rows:
 * - data quality: `q_rows`, `q_r<code>` (rows left out for each reason), `q_dup_ids`,
 *   `q_latest`, `q_latest_valid`;
 * - KPIs (with `periods`): mask words `m<j>` (a bit per slice holding a valid order, see
 *   SliceLayout), arrays over the periods of the 365-day revenue before each end in DOUBLE
 *   cents (`k_r365`, integers, so exact below 2^53), the orders and revenue in each period
 *   (`k_orders`, `k_revenue`) and the revenue before each end (`k_revenue_to_date`); the
 *   slice of the second valid order (`k_s2`); and for each valid order inside the periods
 *   that has one before it, its slice and the days since that order (`k_gap_s`, `k_gap_d`,
 *   same order);
 * - cohorts: `c_month` (the month of the first valid order before the end, 0 = before the
 *   first cohort month) and `c_mask` (a bit per later month with a valid order);
 * - RFM: last order, orders and revenue in the 365 days before the end (`f_*_now`) and
 *   before the previous end (`f_*_before`), and the history before the end (`h_*`);
 * - lifetime: the first local purchase day and its spend (`l_first_day`, `l_first_spend`)
 *   and per end the purchase days, the last purchase day and the spend before it
 *   (`l_days`, `l_last`, `l_spend`).
 */
export function buildBaseQuery(spec: BaseSpec): string {
  const { dialect: D } = spec;
  const valid = 'reason = 0';
  const layout = spec.periods ? sliceLayout(spec.periods) : null;
  const life = spec.lifetime;

  // Columns computed per row from ordered_at: the slice, the cohort month, the local day.
  const rowColumns: string[] = [];
  if (layout) rowColumns.push(`CAST(${layout.sliceOf} AS SMALLINT) AS s`);
  if (spec.cohorts) {
    const starts = spec.cohorts.starts.slice(0, -1).map(ts);
    rowColumns.push(`CAST(${rankTree('ordered_at', starts)} AS SMALLINT) AS cm`);
  }
  if (life) {
    const lastEndDay = Math.max(...life.ends.map(dayNumber));
    // The zone's UTC offset at each order, from its offset changes: local days without a
    // time-zone function (Athena's and DuckDB's differ, and DuckDB's needs ICU).
    const { changes, offsets } = utcOffsets(life.timeZone, new Date((lastEndDay + 2) * 86_400_000));
    const offset = rankTree('ordered_at', changes.map(ts), (i) => String(offsets[i] ?? 0));
    rowColumns.push(
      `CAST(floor((${D.epochSeconds('ordered_at')} + ${offset}) / 86400) AS BIGINT) AS lday`,
    );
  }

  // The order of each customer's valid orders (ties in time may come in either order: they
  // give the same slices, days and gaps).
  const w = 'PARTITION BY customer_id, reason ORDER BY ordered_at';
  const seqColumns: string[] = [];
  if (layout) {
    seqColumns.push(`lag(ordered_at) OVER (${w}) AS prev_at`, `row_number() OVER (${w}) AS k`);
  }
  if (life) {
    seqColumns.push(
      `lag(lday) OVER (${w}) AS prev_day`,
      `first_value(lday) OVER (${w}) AS first_day`,
    );
  }

  const count = (cond: string): string => `count(CASE WHEN ${cond} THEN 1 END)`;
  const sumIf = (cond: string, value: string): string => `sum(CASE WHEN ${cond} THEN ${value} END)`;
  const array = (items: string[]): string => `ARRAY[${items.join(', ')}]`;

  const columns = [
    'count(*) AS q_rows',
    ...EXCLUSION_REASONS.map((_, i) => `${count(`reason = ${i + 1}`)} AS q_r${i + 1}`),
    `${count('dup_id')} AS q_dup_ids`,
    'max(ordered_at) AS q_latest',
    `max(CASE WHEN ${valid} THEN ordered_at END) AS q_latest_valid`,
  ];
  if (layout && spec.periods) {
    const periods = spec.periods;
    const inP = (a: Date, b: Date): string => `${valid} AND ${layout.sIn(a, b)}`;
    const inBlock = layout.blocks.map((b) => `(${layout.sIn(b.start, b.end)})`).join(' OR ');
    const gapFilter = `FILTER (WHERE ${valid} AND prev_at IS NOT NULL AND (${inBlock}))`;
    const gap = `(${D.epochSeconds('ordered_at')} - ${D.epochSeconds('prev_at')}) / 86400.0`;
    columns.push(
      ...maskAggregates(D, layout, valid),
      `${array(periods.map((p) => sumIf(inP(p.yearBeforeEnd, p.end), 'CAST(amount * 100 AS DOUBLE)')))} AS k_r365`,
      `${array(periods.map((p) => count(inP(p.start, p.end))))} AS k_orders`,
      `${array(periods.map((p) => sumIf(inP(p.start, p.end), 'amount')))} AS k_revenue`,
      `${array(periods.map((p) => sumIf(`${valid} AND s <= ${layout.idx(p.end)}`, 'amount')))} AS k_revenue_to_date`,
      `min(CASE WHEN ${valid} AND k = 2 THEN s END) AS k_s2`,
      `array_agg(s ORDER BY ordered_at, ${gap}) ${gapFilter} AS k_gap_s`,
      `array_agg(${gap} ORDER BY ordered_at, ${gap}) ${gapFilter} AS k_gap_d`,
    );
  }
  if (spec.cohorts) {
    const before = `${valid} AND ordered_at < ${ts(spec.cohorts.end)}`;
    columns.push(
      `min(CASE WHEN ${before} THEN cm END) AS c_month`,
      `${D.bitOrAgg(`CASE WHEN ${before} AND cm > 0 THEN ${D.powerOfTwo('cm')} END`)} AS c_mask`,
    );
  }
  if (spec.rfm) {
    const r = spec.rfm;
    const window = (from: Date, to: Date, name: string): string[] => {
      const inW = `${valid} AND ordered_at >= ${ts(from)} AND ordered_at < ${ts(to)}`;
      return [
        `max(CASE WHEN ${inW} THEN ordered_at END) AS f_last_${name}`,
        `${count(inW)} AS f_n_${name}`,
        `${sumIf(inW, 'amount')} AS f_rev_${name}`,
      ];
    };
    const toEnd = `${valid} AND ordered_at < ${ts(r.end)}`;
    columns.push(
      ...window(r.yearBeforeEnd, r.end, 'now'),
      ...window(r.yearBeforePrevious, r.previousEnd, 'before'),
      `max(CASE WHEN ${toEnd} THEN ordered_at END) AS h_last`,
      `${count(toEnd)} AS h_orders`,
      `${sumIf(toEnd, 'amount')} AS h_revenue`,
    );
  }
  if (life) {
    const ends = life.ends.map(dayNumber);
    const before = (e: number): string => `${valid} AND lday < ${e}`;
    columns.push(
      `min(CASE WHEN ${valid} THEN lday END) AS l_first_day`,
      `${sumIf(`${valid} AND lday = first_day`, 'amount')} AS l_first_spend`,
      `${array(ends.map((e) => count(`${before(e)} AND (prev_day IS NULL OR prev_day <> lday)`)))} AS l_days`,
      `${array(ends.map((e) => `max(CASE WHEN ${before(e)} THEN lday END)`))} AS l_last`,
      `${array(ends.map((e) => sumIf(before(e), 'amount')))} AS l_spend`,
    );
  }

  const tagged = classifiedOrders(spec, rowColumns);
  const sequenced = seqColumns.length
    ? `SELECT t.*, ${seqColumns.join(',\n      ')}\n    FROM (\n    ${tagged}\n    ) t`
    : tagged;
  return `SELECT customer_id,
  ${columns.join(',\n  ')}
FROM (
  ${sequenced}
) o
GROUP BY customer_id`;
}
