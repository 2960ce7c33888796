import { declaredColumns } from './sql/orders.ts';
import type { ReportConfig, SourceConfig } from './config/schema.ts';
import type { QueryEngine } from './engines/query-engine.ts';
import { customerTable, runTableName, withCustomerTable } from './kpis/base.ts';
import { measureBeyond, planBeyond, type AtRiskCustomer, type BeyondPlan } from './kpis/beyond.ts';
import { planExtras, runExtras, type ExtrasPlan } from './kpis/extra.ts';
import { kpiStatements, measuredPeriod, readMeasures, type KpiStatements } from './kpis/measure.ts';
import type { MeasuredPeriod } from './sql/slices.ts';
import {
  comparisonsOf,
  distinctPeriods,
  lastCompletePeriod,
  parsePeriod,
  PeriodError,
  periodDays,
  type Comparisons,
  type Period,
} from './periods/period.ts';
import { assembleReport, type Report } from './report/report.ts';

/** What to run: a configured report, optionally for a given period. */
export interface RunRequest {
  readonly report: ReportConfig;
  readonly source: SourceConfig;
  /** A period label; default: the last complete period of the report's kind before `now`. */
  readonly period?: string | undefined;
  /** The instant "now" for choosing the last complete period. @default the current time */
  readonly now?: Date | undefined;
}

/** Dependencies the pipeline needs; built once by a handler or the CLI. */
export interface RunDeps {
  readonly engine: QueryEngine;
  /** The clock. @default () => new Date() */
  readonly clock?: () => Date;
  /** How long the lifetime fits of a run may take together. @default LIFETIME_BUDGET_MS */
  readonly lifetimeBudgetMs?: number;
}

/** Resolves the period a run reports on and checks it fits the active window. */
export function resolvePeriod(req: RunRequest, now: Date): Period {
  const period = req.period
    ? parsePeriod(req.period)
    : lastCompletePeriod(req.report.period, now, req.report.timeZone);
  const days = periodDays(period);
  if (days > req.report.activeWindowDays) {
    throw new PeriodError(
      `period ${period.label} spans ${days} days, longer than activeWindowDays (${req.report.activeWindowDays}); raise activeWindowDays to at least ${days}`,
    );
  }
  return period;
}

/**
 * Every statement a run sends, in order, built before any is sent: what `--print-sql` shows
 * and what runFullReport runs. The orders source is read by `table.create` only; every later
 * statement reads the run's customer table, which `table.drop` removes.
 */
export interface RunPlan {
  readonly period: Period;
  readonly comparisons: Comparisons;
  /** The distinct periods the KPIs are measured for (the trend, year-ago, previous, trailing). */
  readonly compared: readonly Period[];
  /** Every period measured: the compared ones, then the season's references. */
  readonly periods: readonly Period[];
  /** The same periods with the boundaries the statements measure them at. */
  readonly measured: readonly MeasuredPeriod[];
  /** The orders relation as the engine reads it. */
  readonly relation: string;
  readonly table: { readonly name: string; readonly create: string; readonly drop: string };
  readonly kpis: KpiStatements;
  readonly extras: ExtrasPlan;
  readonly beyond: BeyondPlan | null;
}

/** Plans a run: its period, comparisons and statements; sends nothing. */
export async function planRun(
  req: RunRequest,
  engine: Pick<QueryEngine, 'dialect' | 'relation'>,
  options: { readonly now: Date; readonly beyond: boolean },
): Promise<RunPlan> {
  const period = resolvePeriod(req, options.now);
  const comparisons = comparisonsOf(period);
  // The report's breakdowns, as the source spells each dimension.
  const dimensions = req.report.breakdowns.map((d) => {
    const entry = req.source.dimensions[d];
    if (entry === undefined) throw new Error(`breakdown ${d} is not in source.dimensions`);
    return entry;
  });
  const relation = await engine.relation(
    req.source.relation,
    declaredColumns(req.source.columns, req.source.types, req.source.timestamps, dimensions),
  );
  const compared = distinctPeriods([
    ...comparisons.trend,
    comparisons.yearAgo,
    comparisons.previous,
    ...comparisons.trailing,
  ]);
  // The season's references are measured too; only the anomaly rule reads them.
  const periods = distinctPeriods([...compared, ...comparisons.seasonal.flat()]);
  const r = req.report;
  const measured = periods.map((p) =>
    measuredPeriod(p, r.timeZone, r.activeWindowDays, r.atRiskDays),
  );
  const name = runTableName();
  const beyond = options.beyond
    ? planBeyond({
        dialect: engine.dialect,
        base: name,
        report: r,
        period,
        previous: comparisons.previous,
        comparedPeriods: compared,
      })
    : null;
  const table = customerTable(
    engine.dialect,
    {
      relation,
      columns: req.source.columns,
      excludedStatuses: req.source.excludedStatuses,
      grain: req.source.grain,
      dimensions,
      ...(dimensions.length > 0
        ? {
            parts: {
              rankedAt: measuredPeriod(period, r.timeZone, r.activeWindowDays, r.atRiskDays).end,
            },
          }
        : {}),
      ...(req.source.timestamps
        ? {
            timestamps: {
              ...req.source.timestamps,
              // The zone's offsets, to a year past the run.
              until: new Date(options.now.getTime() + 366 * 86_400_000),
            },
          }
        : {}),
      periods: measured,
      ...(beyond?.spec ?? {}),
    },
    name,
  );
  return {
    period,
    comparisons,
    compared,
    periods,
    measured,
    relation,
    table,
    kpis: kpiStatements(
      engine.dialect,
      table.name,
      measured,
      dimensions.length > 0 ? { dimensions: dimensions.length, top: r.breakdownTop } : undefined,
    ),
    // The optional sources (feedback, marketing spend), the reported period first.
    extras: await planExtras({
      engine,
      source: req.source,
      timeZone: r.timeZone,
      periods: [period, ...periods],
    }),
    beyond,
  };
}

/** The statements of a plan in the order runFullReport sends them (optional ones if set). */
export function statementsOf(plan: RunPlan): string[] {
  const { extras, beyond } = plan;
  return [
    plan.table.create,
    plan.kpis.kpis,
    plan.kpis.top,
    plan.kpis.gaps,
    ...(extras.feedback ? [extras.feedback.sql] : []),
    ...(extras.spend ? [extras.spend.totals, extras.spend.byChannel] : []),
    ...(beyond ? [beyond.sql.cohorts, beyond.sql.rfm, beyond.sql.lifetime] : []),
    plan.table.drop,
  ];
}

/**
 * The pipeline: plan the periods and statements, read the orders once into the run's
 * customer table, measure every period from it, compute and judge every KPI, and return
 * the JSON report. Rendering and delivery are separate steps.
 */
export async function runReport(req: RunRequest, deps: RunDeps): Promise<Report> {
  return (await runFullReport(req, deps, false)).report;
}

/**
 * The report with what lies beyond the headline KPIs (cohorts, RFM, the at-risk list and
 * the lifetime model) when `beyond` is set; the at-risk list itself stays out of the
 * report, for the CSV export only.
 */
export async function runFullReport(
  req: RunRequest,
  deps: RunDeps,
  beyond = true,
): Promise<{ report: Report; atRiskList: AtRiskCustomer[] }> {
  const now = req.now ?? (deps.clock ?? (() => new Date()))();
  const { engine } = deps;
  const plan = await planRun(req, engine, { now, beyond });
  const times = req.source.timestamps;
  await engine.checkSource?.(plan.relation, req.source.columns, {
    localTimes: times?.timeZone !== undefined && !times.format,
    textTimes: times?.format !== undefined,
  });
  const { comparisons, compared } = plan;
  const { measures, extras, more } = await withCustomerTable(engine, plan.table, async () => {
    const measures = await readMeasures(engine, plan.kpis, plan.periods, plan.measured);
    const extras = await runExtras(engine, req.source, plan.extras);
    const more = plan.beyond
      ? await measureBeyond({
          engine,
          plan: plan.beyond,
          report: req.report,
          period: plan.period,
          previous: comparisons.previous,
          comparedPeriods: compared,
          ...(deps.lifetimeBudgetMs === undefined
            ? {}
            : { lifetimeBudgetMs: deps.lifetimeBudgetMs }),
        })
      : null;
    return { measures, extras, more };
  });
  const { byLabel, quality, parts } = measures;
  // The lifetime model's values per period join the optional measures (clv_12m, clv_12m_all,
  // new_customer_clv, ltv_to_cac).
  const extraByLabel = new Map(
    plan.periods.map((p) => {
      const m = extras.byLabel.get(p.label) ?? {};
      const clv = more?.clvByLabel.get(p.label);
      return [p.label, more ? { ...m, clv: clv ?? null } : m];
    }),
  );
  const report = assembleReport({
    config: req.report,
    excludedStatuses: req.source.excludedStatuses,
    comparisons,
    measures: byLabel,
    quality,
    generatedAt: now,
    extras: extraByLabel,
    extraQuality: extras.quality,
    ...(extras.spendByChannel ? { spendByChannel: extras.spendByChannel } : {}),
    ...(more ? { beyond: more.beyond } : {}),
    ...(parts.length > 0 ? { breakdowns: { dimensions: req.report.breakdowns, parts } } : {}),
  });
  return { report, atRiskList: more?.atRiskList ?? [] };
}
