import { addDays, distinctPeriods, localMidnight, type Period } from '../periods/period.ts';
import type { QueryEngine, Row } from '../engines/query-engine.ts';
import {
  buildReportQuery,
  EXCLUSION_REASONS,
  PERIOD_MEASURES,
  type ExclusionReason,
  type MeasuredPeriod,
  type OrderColumns,
  type PeriodMeasure,
} from '../sql/report-query.ts';

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

export interface MeasureResult {
  /** Measures by period label. */
  readonly byLabel: ReadonlyMap<string, Measures>;
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

/** Builds and runs the report query for a set of periods and parses its one row. */
export async function measure(req: MeasureRequest): Promise<MeasureResult> {
  const distinct = distinctPeriods(req.periods);
  const sql = buildReportQuery({
    dialect: req.engine.dialect,
    relation: req.relation,
    columns: req.columns,
    excludedStatuses: req.excludedStatuses,
    periods: distinct.map((p) =>
      measuredPeriod(p, req.timeZone, req.activeWindowDays, req.atRiskDays),
    ),
  });
  const rows = await req.engine.query(sql);
  const row = rows[0];
  if (!row || rows.length !== 1)
    throw new Error(`report query returned ${rows.length} rows, not 1`);

  const byLabel = new Map<string, Measures>();
  distinct.forEach((p, i) => {
    const m = {} as Measures;
    for (const k of PERIOD_MEASURES) m[k] = num(row, `p${i}_${k}`);
    byLabel.set(p.label, m);
  });
  const leftOut = {} as Record<ExclusionReason, number>;
  for (const r of EXCLUSION_REASONS) leftOut[r] = num(row, `left_out_${r}`) ?? 0;
  return {
    byLabel,
    sql,
    quality: {
      rowsRead: num(row, 'rows_read') ?? 0,
      validOrders: num(row, 'valid_orders') ?? 0,
      duplicateOrderIds: num(row, 'duplicate_order_ids') ?? 0,
      latestOrderedAt: isoUtc(row.latest_ordered_at),
      latestValidOrderedAt: isoUtc(row.latest_valid_ordered_at),
      leftOut,
    },
  };
}
