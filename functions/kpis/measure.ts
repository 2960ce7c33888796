import { addDays, distinctPeriods, localMidnight, type Period } from '../periods/period.ts';
import type { QueryEngine, Row } from '../engines/query-engine.ts';
import {
  buildGapQuery,
  buildReportQuery,
  EXCLUSION_REASONS,
  PERIOD_MEASURES,
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

/** The KPI and gap statements over a run's customer table built for the same periods. */
export function kpiStatements(
  dialect: QueryEngine['dialect'],
  base: string,
  periods: readonly MeasuredPeriod[],
): { kpis: string; gaps: string } {
  return {
    kpis: buildReportQuery({ dialect, base, periods }),
    gaps: buildGapQuery({ dialect, base, periods }),
  };
}

/** Runs the KPI and gap statements and parses their rows: one per period, `p` its index. */
export async function readMeasures(
  engine: QueryEngine,
  statements: { kpis: string; gaps: string },
  periods: readonly Period[],
): Promise<MeasureResult> {
  const rows = await engine.query(statements.kpis);
  if (rows.length !== periods.length)
    throw new Error(`KPI statement returned ${rows.length} rows for ${periods.length} periods`);
  const medians = new Map(
    (await engine.query(statements.gaps)).map((r) => [num(r, 'p'), num(r, 'median_days')]),
  );
  const byLabel = new Map<string, Measures>();
  for (const row of rows) {
    const i = num(row, 'p') ?? -1;
    const p = periods[i];
    if (!p) throw new Error(`KPI statement returned period ${i}`);
    const m = {} as Measures;
    for (const k of PERIOD_MEASURES)
      m[k] = k === 'median_days' ? (medians.get(i) ?? null) : num(row, k);
    byLabel.set(p.label, m);
  }
  const row = rows[0] ?? {};
  const leftOut = {} as Record<ExclusionReason, number>;
  for (const r of EXCLUSION_REASONS) leftOut[r] = num(row, `left_out_${r}`) ?? 0;
  const rowsRead = num(row, 'rows_read') ?? 0;
  return {
    byLabel,
    sql: `${statements.kpis};\n${statements.gaps}`,
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
    const result = await readMeasures(req.engine, statements, distinct);
    return { ...result, sql: [table.create, statements.kpis, statements.gaps].join(';\n') };
  });
}
