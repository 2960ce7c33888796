import { addDays, distinctPeriods, localMidnight, type Period } from '../periods/period.ts';
import type { QueryEngine, Row } from '../engines/query-engine.ts';
import { sliceLayout } from '../sql/slices.ts';
import {
  blockOf,
  buildGapQuery,
  buildReportQuery,
  buildTopQuery,
  EXCLUSION_REASONS,
  PERIOD_MEASURES,
  type Breakdown,
  type ExclusionReason,
  type MeasuredPeriod,
  type OrderColumns,
  type PeriodMeasure,
} from '../sql/report-query.ts';
import { customerTable, withCustomerTable } from './base.ts';

/** The raw per-period counts and sums the KPIs are computed from. */
export type Measures = Record<PeriodMeasure, number | null>;

/** Run-wide data-quality counts straight from the query. */
export interface QualityMeasures {
  readonly rowsRead: number;
  readonly validOrders: number;
  readonly duplicateOrderIds: number;
  /** Latest `ordered_at` of any row, ISO-8601 UTC, or null for an empty source. */
  readonly latestOrderedAt: string | null;
  /** Latest `ordered_at` of a valid order: what freshness is judged by. */
  readonly latestValidOrderedAt: string | null;
  readonly leftOut: Record<ExclusionReason, number>;
}

export interface MeasureRequest {
  readonly engine: QueryEngine;
  readonly relation: string;
  readonly columns: OrderColumns;
  readonly excludedStatuses: readonly string[];
  readonly timeZone: string;
  readonly activeWindowDays: number;
  readonly atRiskDays: number;
  /** Every period to measure; duplicates (by label) are measured once. */
  readonly periods: readonly Period[];
}

/** The measures of one part of a breakdown (see Breakdown in report-query.ts). */
export interface PartMeasures {
  /** The dimension's index among the report's breakdowns. */
  readonly dimension: number;
  /** 1 … top: the values with the most customers, in that order; 0: all the others. */
  readonly part: number;
  /** The value the part stands for ('' when the source left it blank); null for the others. */
  readonly value: string | null;
  /** The part's largest rank among the values: in the others' part, how many values there are. */
  readonly ranks: number;
  /** Measures by period label. */
  readonly byLabel: ReadonlyMap<string, Measures>;
}

export interface MeasureResult {
  /** Measures by period label. */
  readonly byLabel: ReadonlyMap<string, Measures>;
  /** The same for each part of each breakdown, dimension by dimension, Other last. */
  readonly parts: readonly PartMeasures[];
  readonly quality: QualityMeasures;
  readonly sql: string;
}

/** Places a period in the report's time zone with every window boundary it needs. */
export function measuredPeriod(
  p: Period,
  timeZone: string,
  activeWindowDays: number,
  atRiskDays: number,
): MeasuredPeriod {
  const at = (date: string): Date => localMidnight(date, timeZone);
  return {
    start: at(p.start),
    end: at(p.end),
    startWindow: at(addDays(p.start, -activeWindowDays)),
    endWindow: at(addDays(p.end, -activeWindowDays)),
    yearBeforeEnd: at(addDays(p.end, -365)),
    atRiskBeforeEnd: at(addDays(p.end, -atRiskDays)),
    twoYearsBeforeEnd: at(addDays(p.end, -730)),
  };
}

function num(row: Row, key: string): number | null {
  const v = row[key];
  if (v === null || v === undefined) return null;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new Error(`column ${key} is not a number: ${String(v)}`);
  return n;
}

/** Engines print timestamps as `YYYY-MM-DD HH:MM:SS[.fff]` in UTC; make it ISO-8601. */
function isoUtc(v: Row[string] | undefined): string | null {
  if (v === null || v === undefined) return null;
  const d = new Date(`${String(v).replace(' ', 'T')}Z`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The KPI and gap statements over a run's customer table built for the same periods. */
export function kpiStatements(
  dialect: QueryEngine['dialect'],
  base: string,
  periods: readonly MeasuredPeriod[],
  breakdown?: Breakdown,
): KpiStatements {
  const input = { dialect, base, periods, breakdown };
  return {
    kpis: buildReportQuery(input),
    top: buildTopQuery(input),
    gaps: buildGapQuery(input),
  };
}

/** The statements that measure the KPIs, over a run's customer table. */
export interface KpiStatements {
  /** The customer-set measures, one row. */
  readonly kpis: string;
  /** The top-10 % / top-20 % revenue, a row per period with active customers. */
  readonly top: string;
  /** The orders inside the periods: per slice, and the median gap per period. */
  readonly gaps: string;
}

/** A DECIMAL result (a string, or a number) as integer cents, exact below 2^53 cents. */
function cents(v: Row[string] | undefined): number {
  return v === null || v === undefined ? 0 : Math.round(Number(v) * 100);
}

/**
 * Runs the KPI and gap statements and puts each period's measures together: the KPI
 * statement's row for the customer counts; the gap statement's slices for the orders and
 * revenue in the period, and, added to the counts before the period's block, the revenue
 * and repeat customers to date; its period rows for the median gap.
 */
export async function readMeasures(
  engine: QueryEngine,
  statements: KpiStatements,
  periods: readonly Period[],
  measured: readonly MeasuredPeriod[],
): Promise<MeasureResult> {
  // Each row belongs to the whole (`dim` −1, or no `dim` without a breakdown) or to a part.
  const keyOf = (r: Row): string => `${num(r, 'dim') ?? -1}:${num(r, 'part') ?? 0}`;
  const WHOLE = '-1:0';
  const rows = await engine.query(statements.kpis);
  const kpiRows = new Map(rows.map((r) => [keyOf(r), r]));
  const row = kpiRows.get(WHOLE);
  if (!row || rows.filter((r) => keyOf(r) === WHOLE).length !== 1)
    throw new Error(`KPI statement returned ${rows.length} rows, not 1 for the whole`);
  const top = new Map(
    (await engine.query(statements.top)).map((r) => [`${keyOf(r)}/${num(r, 'p')}`, r]),
  );
  const L = sliceLayout(measured);
  type Slice = { orders: number; revenue: number; seconds: number };
  const slices = new Map<string, Map<number, Slice>>();
  const medians = new Map<string, number | null>();
  for (const r of await engine.query(statements.gaps)) {
    const p = num(r, 'p') ?? -1;
    const key = keyOf(r);
    if (p < 0) {
      let bySlice = slices.get(key);
      if (!bySlice) {
        bySlice = new Map<number, Slice>();
        slices.set(key, bySlice);
      }
      bySlice.set(num(r, 'slice') ?? -1, {
        orders: num(r, 'orders') ?? 0,
        revenue: cents(r.revenue),
        seconds: num(r, 'seconds') ?? 0,
      });
    } else medians.set(`${key}/${p}`, num(r, 'median_days'));
  }
  /** Each period's measures for the whole or a part, from its rows of the three statements. */
  const measuresOf = (key: string, kpiRow: Row): Map<string, Measures> => {
    const bySlice = slices.get(key);
    /** Sums a slice measure over slices lo..hi. */
    const over = (lo: number, hi: number, k: keyof Slice): number => {
      let total = 0;
      for (let s = lo; s <= hi; s++) total += bySlice?.get(s)?.[k] ?? 0;
      return total;
    };
    const byLabel = new Map<string, Measures>();
    periods.forEach((p, i) => {
      const mp = measured[i];
      const k = mp ? blockOf(L, mp) : -1;
      const block = L.blocks[k];
      if (!mp || !block) throw new Error(`period ${p.label} is in no block`);
      const [lo, hi] = L.range(mp.start, mp.end);
      const blockLo = L.range(block.start, block.end)[0];
      const toEnd = L.idx(mp.end);
      const m = {} as Measures;
      for (const name of PERIOD_MEASURES) m[name] = num(kpiRow, `p${i}_${name}`);
      const t = top.get(`${key}/${i}`);
      m.top10_revenue = t ? num(t, 'top10_revenue') : null;
      m.top10_count = t ? (num(t, 'top10_count') ?? 0) : 0;
      m.top20_revenue = t ? num(t, 'top20_revenue') : null;
      m.orders = over(lo, hi, 'orders');
      m.revenue = over(lo, hi, 'revenue') / 100;
      m.revenue_to_date =
        (cents(kpiRow[`revenue_before_block_${k}`]) + over(blockLo, toEnd, 'revenue')) / 100;
      m.repeat_customers_to_date =
        (num(kpiRow, `repeat_before_block_${k}`) ?? 0) + over(blockLo, toEnd, 'seconds');
      m.median_days = medians.get(`${key}/${i}`) ?? null;
      byLabel.set(p.label, m);
    });
    return byLabel;
  };
  const byLabel = measuresOf(WHOLE, row);
  const parts: PartMeasures[] = [];
  for (const [key, r] of kpiRows) {
    if (key === WHOLE) continue;
    const dim = num(r, 'dim') ?? -1;
    const part = num(r, 'part') ?? 0;
    const value = r[`value_${dim}`];
    parts.push({
      dimension: dim,
      part,
      value: part === 0 || value === null || value === undefined ? null : String(value),
      // The largest rank in a part: in Other, the number of values with customers.
      ranks: num(r, `rank_${dim}`) ?? 0,
      byLabel: measuresOf(key, r),
    });
  }
  parts.sort((a, b) => a.dimension - b.dimension || (a.part || Infinity) - (b.part || Infinity));
  const leftOut = {} as Record<ExclusionReason, number>;
  for (const r of EXCLUSION_REASONS) leftOut[r] = num(row, `left_out_${r}`) ?? 0;
  const rowsRead = num(row, 'rows_read') ?? 0;
  return {
    byLabel,
    parts,
    sql: [statements.kpis, statements.top, statements.gaps].join(';\n'),
    quality: {
      rowsRead,
      validOrders: rowsRead - Object.values(leftOut).reduce((s, n) => s + n, 0),
      duplicateOrderIds: num(row, 'duplicate_order_ids') ?? 0,
      latestOrderedAt: isoUtc(row.latest_ordered_at),
      latestValidOrderedAt: isoUtc(row.latest_valid_ordered_at),
      leftOut,
    },
  };
}

/** Measures a set of periods on its own: the customer table, the KPI statements, the drop. */
export async function measure(req: MeasureRequest): Promise<MeasureResult> {
  const distinct = distinctPeriods(req.periods);
  const periods = distinct.map((p) =>
    measuredPeriod(p, req.timeZone, req.activeWindowDays, req.atRiskDays),
  );
  const table = customerTable(req.engine.dialect, {
    relation: req.relation,
    columns: req.columns,
    excludedStatuses: req.excludedStatuses,
    periods,
  });
  return withCustomerTable(req.engine, table, async (base) => {
    const statements = kpiStatements(req.engine.dialect, base, periods);
    const result = await readMeasures(req.engine, statements, distinct, periods);
    return { ...result, sql: [table.create, result.sql].join(';\n') };
  });
}
