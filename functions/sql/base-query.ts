import { dayNumber, utcOffsets } from './clv-query.ts';
import type { Dialect } from './dialect.ts';
import { rankTree, timestampLiteral as ts } from './dialect.ts';
import { classifiedOrders, EXCLUSION_REASONS, type OrdersInput } from './orders.ts';
import { BITS_PER_WORD, sliceLayout, type MeasuredPeriod } from './slices.ts';

/**
 * What a run needs from the orders, beyond the data-quality counts. Each part adds its
 * columns to the customer table; a part left out costs nothing.
 */
export interface BaseSpec extends OrdersInput {
  readonly dialect: Dialect;
  /** The KPI periods (distinct): slice masks, 365-day revenue, the orders inside the periods. */
  readonly periods?: readonly MeasuredPeriod[];
  /** The cohort matrix: orders before `end` by local month (`starts`: see CohortMonths). */
  readonly cohorts?: { readonly end: Date; readonly starts: readonly Date[] };
  /**
   * RFM at the period end and the previous one (the period's start), and the history to the
   * end; with `previousStart`, at the previous period's start too (retention by segment).
   */
  readonly rfm?: {
    readonly end: Date;
    readonly previousEnd: Date;
    readonly yearBeforeEnd: Date;
    readonly yearBeforePrevious: Date;
    readonly previousStart?: { readonly at: Date; readonly yearBefore: Date };
  };
  /** The lifetime model's purchase days before each end (local dates `YYYY-MM-DD`). */
  readonly lifetime?: { readonly ends: readonly string[]; readonly timeZone: string };
  /**
   * With `dimensions`: count each customer's valid orders before `rankedAt` (`d_known`), by
   * which the statements rank the values (see Breakdown in report-query.ts).
   */
  readonly parts?: { readonly rankedAt: Date };
}

/** The fields of each element of `k_block`, the valid orders inside the periods. */
export const BLOCK_ORDER_FIELDS = ['s', 't', 'a'] as const;

/**
 * One column of the customer table as an aggregate over the customer's rows: `count`,
 * `sum`, `max`, `min` and `bits` (bitwise OR) of `value` where `when` holds, `rows` an array
 * of `value` (a ROW) where `when` holds, `first` the (text) `value` of the earliest row where
 * `when` holds (ties in time: the smallest value).
 */
interface Agg {
  readonly name: string;
  readonly kind: 'count' | 'sum' | 'max' | 'min' | 'bits' | 'rows' | 'first';
  readonly when: string;
  readonly value?: string;
  /** The type the column is kept as, when narrower than the aggregate's own. */
  readonly type?: string;
}

/**
 * A customer's sum of amounts: kept as DECIMAL(18, 2), not the DECIMAL(38, 2) of `sum`,
 * which Parquet stores in 16 bytes (a customer's total stays far below 10^16).
 */
const MONEY = 'DECIMAL(18, 2)';

/**
 * The one statement of a run that reads the orders source: it cleans and deduplicates the
 * orders and reduces them to one row per customer (and one for rows without a customer),
 * which the run keeps as a table (`CREATE TABLE … AS`, see Dialect.createTable) and every
 * later statement reads instead of the source.
 *
 * The source is read once: the duplicate rule is a window over `order_id` (see
 * classifiedOrders), the lifetime model's purchase days a window over each customer's
 * valid orders, and the rest aggregates of one `GROUP BY customer_id`. (Trino inlines a WITH
 * block at every reference, so the statement has none: nested subqueries, each read once.)
 *
 * Columns, all over the customer's rows:
 * - the dimensions (`dim_<i>`, see OrdersInput.dimensions) at the first valid order, NULL
 *   for a customer without one, and with `parts` the valid orders before the reported end
 *   (`d_known`);
 * - data quality: `q_rows`, `q_r<code>` (rows left out for each reason), `q_dup_ids`,
 *   the latest time of a valid order and of a row left out (`q_latest_valid`,
 *   `q_latest_invalid`);
 * - KPIs (with `periods`): mask words `m<j>` (a bit per slice holding a valid order, see
 *   SliceLayout); `k_r365`, an array over the periods of the revenue in the 365 days before
 *   each end, in DOUBLE cents (integers, so summed exactly below 2^53); per block `<b>` of
 *   contiguous periods, the valid orders before it, the last one's time and their revenue
 *   (`k_before_<b>`, `k_last_before_<b>`, `k_rev_before_<b>`); and `k_block`, the valid
 *   orders inside the blocks as ROWs (slice `s`, time `t`, amount `a`): the few rows the
 *   per-period orders, revenue, repeat customers and gaps between orders come from;
 * - cohorts: `c_month` (the month of the first valid order before the end, 0 = before the
 *   first cohort month) and `c_mask` (a bit per later month with a valid order);
 * - RFM: orders and revenue in the 365 days before the end (`f_*_now`; their last order is
 *   `h_last`) and before the previous end (`f_*_before`, with its last order), with
 *   `previousStart` the same before the previous period's start (`f_*_prior`), and the
 *   history before the end (`h_*`);
 * - lifetime: the first local purchase day and its spend (`l_first_day`, `l_first_spend`)
 *   and arrays over the ends of the purchase days, the last purchase day and the spend
 *   before each (`l_days`, `l_last`, `l_spend`).
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
  const ends = life ? life.ends.map(dayNumber) : [];
  if (life) {
    // The zone's UTC offset at each order, from its offset changes: local days without a
    // time-zone function (Athena's and DuckDB's differ, and DuckDB's needs ICU).
    const { changes, offsets } = utcOffsets(
      life.timeZone,
      new Date((Math.max(...ends) + 2) * 86_400_000),
    );
    const offset = rankTree('ordered_at', changes.map(ts), (i) => String(offsets[i] ?? 0));
    rowColumns.push(
      `CAST(floor((${D.epochSeconds('ordered_at')} + ${offset}) / 86400) AS INTEGER) AS lday`,
    );
  }

  const aggs: Agg[] = [
    { name: 'q_rows', kind: 'count', when: 'TRUE' },
    ...EXCLUSION_REASONS.map((_, i): Agg => ({
      name: `q_r${i + 1}`,
      kind: 'count',
      when: `reason = ${i + 1}`,
    })),
    { name: 'q_dup_ids', kind: 'count', when: 'dup_id' },
    // The latest row of all is the later of these; the invalid one is NULL for almost every
    // customer, so it costs almost nothing to keep.
    { name: 'q_latest_valid', kind: 'max', when: valid, value: 'ordered_at' },
    { name: 'q_latest_invalid', kind: 'max', when: `NOT (${valid})`, value: 'ordered_at' },
    // Each dimension's value at the customer's first valid order.
    ...(spec.dimensions ?? []).map((_, i): Agg => ({
      name: `dim_${i}`,
      kind: 'first',
      when: valid,
      value: `dim_${i}`,
    })),
  ];
  // Columns of the customer row built from the aggregates (arrays of them, defaults).
  const finals: string[] = [];
  const inArrays = new Set<string>();
  const arrayOf = (name: string, items: Agg[]): void => {
    aggs.push(...items);
    for (const a of items) inArrays.add(a.name);
    finals.push(`ARRAY[${items.map((a) => a.name).join(', ')}] AS ${name}`);
  };
  if (layout && spec.periods) {
    const n = layout.boundaries.length;
    for (let m = 0; m < layout.maskCount; m++) {
      const first = m * BITS_PER_WORD;
      const last = Math.min(first + BITS_PER_WORD, n);
      aggs.push({
        name: `m${m}`,
        kind: 'bits',
        when: `${valid} AND ${m === 0 ? `s < ${last}` : `s >= ${first} AND s < ${last}`}`,
        value: D.powerOfTwo(m === 0 ? 's' : `s - ${first}`),
      });
    }
    arrayOf(
      'k_r365',
      spec.periods.map((p, i) => ({
        name: `r365_${i}`,
        kind: 'sum',
        when: `${valid} AND ${layout.sIn(p.yearBeforeEnd, p.end)}`,
        value: 'CAST(amount * 100 AS DOUBLE)',
      })),
    );
    layout.blocks.forEach((b, k) => {
      const before = `${valid} AND s <= ${layout.idx(b.start)}`;
      aggs.push(
        { name: `k_before_${k}`, kind: 'count', when: before },
        { name: `k_last_before_${k}`, kind: 'max', when: before, value: 'ordered_at' },
        { name: `k_rev_before_${k}`, kind: 'sum', when: before, value: 'amount', type: MONEY },
      );
    });
    const inBlock = layout.blocks.map((b) => `(${layout.sIn(b.start, b.end)})`).join(' OR ');
    aggs.push({
      name: 'k_block',
      kind: 'rows',
      when: `${valid} AND (${inBlock})`,
      value: `CAST(ROW(s, ordered_at, amount) AS ROW(${BLOCK_ORDER_FIELDS[0]} SMALLINT, ${BLOCK_ORDER_FIELDS[1]} TIMESTAMP, ${BLOCK_ORDER_FIELDS[2]} DECIMAL(18, 2)))`,
    });
  }
  if (spec.cohorts) {
    const before = `${valid} AND ordered_at < ${ts(spec.cohorts.end)}`;
    aggs.push(
      { name: 'c_month', kind: 'min', when: before, value: 'cm' },
      { name: 'c_mask', kind: 'bits', when: `${before} AND cm > 0`, value: D.powerOfTwo('cm') },
    );
  }
  if (spec.rfm) {
    const r = spec.rfm;
    // The last order in the 365 days before the end is the last before it (`h_last`)
    // wherever there is one; before the previous end it needs its own column.
    const window = (from: Date, to: Date, name: string): Agg[] => {
      const when = `${valid} AND ordered_at >= ${ts(from)} AND ordered_at < ${ts(to)}`;
      return [
        ...(name === 'now'
          ? []
          : [{ name: `f_last_${name}`, kind: 'max', when, value: 'ordered_at' } as const]),
        { name: `f_n_${name}`, kind: 'count', when },
        { name: `f_rev_${name}`, kind: 'sum', when, value: 'amount', type: MONEY },
      ];
    };
    const when = `${valid} AND ordered_at < ${ts(r.end)}`;
    aggs.push(
      ...window(r.yearBeforeEnd, r.end, 'now'),
      ...window(r.yearBeforePrevious, r.previousEnd, 'before'),
      ...(r.previousStart ? window(r.previousStart.yearBefore, r.previousStart.at, 'prior') : []),
      { name: 'h_last', kind: 'max', when, value: 'ordered_at' },
      { name: 'h_orders', kind: 'count', when },
      { name: 'h_revenue', kind: 'sum', when, value: 'amount', type: MONEY },
    );
  }

  if (life) {
    // Purchase days: a valid order starts one when the customer's previous valid order was
    // on another local day (or there is none); the first day is the first order's.
    const before = (e: number): string => `${valid} AND lday < ${e}`;
    const newDay = '(prev_day IS NULL OR prev_day <> lday)';
    aggs.push(
      { name: 'l_first_day', kind: 'min', when: valid, value: 'lday' },
      {
        name: 'l_first_spend',
        kind: 'sum',
        when: `${valid} AND lday = first_day`,
        value: 'amount',
      },
    );
    // Arrays over the ends: a customer's values mostly repeat from one end to the next,
    // which Parquet's encoding of a list keeps small (about half the bytes of a column per
    // end, which Athena would scan).
    arrayOf(
      'l_days',
      ends.map((e, j) => ({
        name: `l_days_${j}`,
        kind: 'count',
        when: `${before(e)} AND ${newDay}`,
      })),
    );
    arrayOf(
      'l_last',
      ends.map((e, j) => ({ name: `l_last_${j}`, kind: 'max', when: before(e), value: 'lday' })),
    );
    arrayOf(
      'l_spend',
      ends.map((e, j) => ({
        name: `l_spend_${j}`,
        kind: 'sum',
        when: before(e),
        value: 'amount',
        type: MONEY,
      })),
    );
  }

  const aggregate = (a: Agg): string => {
    const v = a.value ?? '1';
    switch (a.kind) {
      case 'count':
        return `count(CASE WHEN ${a.when} THEN 1 END)`;
      case 'bits':
        return D.bitOrAgg(`CASE WHEN ${a.when} THEN ${v} END`);
      case 'rows':
        return `array_agg(${v}) FILTER (WHERE ${a.when})`;
      case 'first':
        // The ROW key breaks ties in time by the value, so both engines pick the same row.
        return D.minBy(
          `CASE WHEN ${a.when} THEN ${v} END`,
          `CASE WHEN ${a.when} THEN ROW(ordered_at, ${v}) END`,
        );
      default:
        return `${a.kind}(CASE WHEN ${a.when} THEN ${v} END)`;
    }
  };
  const typed = (a: Agg): string => (a.type ? `CAST(${aggregate(a)} AS ${a.type})` : aggregate(a));
  // A mask word is 0, not NULL, for a customer with no valid order in it: NOT (NULL <> 0)
  // is NULL.
  const masks = new Set(layout ? Array.from({ length: layout.maskCount }, (_, m) => `m${m}`) : []);
  const finalOf = (a: Agg): string =>
    masks.has(a.name) ? `coalesce(${a.name}, 0) AS ${a.name}` : a.name;

  let rows = classifiedOrders(spec, rowColumns);
  if (life) {
    // The order of each customer's valid orders (ties in time may come in either order:
    // they are on the same day).
    const w = 'PARTITION BY customer_id, reason ORDER BY ordered_at';
    rows = `SELECT t.*, lag(lday) OVER (${w}) AS prev_day, first_value(lday) OVER (${w}) AS first_day
    FROM (
    ${rows}
    ) t`;
  }
  // With breakdowns: the customer's valid orders before the reported end, which rank the
  // values (see Breakdown in report-query.ts).
  if (spec.parts && (spec.dimensions ?? []).length > 0) {
    aggs.push({
      name: 'd_known',
      kind: 'count',
      when: `${valid} AND ordered_at < ${ts(spec.parts.rankedAt)}`,
    });
  }
  const plain = aggs.filter((a) => !inArrays.has(a.name)).map(finalOf);
  return `SELECT customer_id,
  ${[...plain, ...finals].join(',\n  ')}
FROM (
  SELECT customer_id,
    ${aggs.map((a) => `${typed(a)} AS ${a.name}`).join(',\n    ')}
  FROM (
    ${rows}
  ) o
  GROUP BY customer_id
) c`;
}
