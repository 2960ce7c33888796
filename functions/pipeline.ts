import type { ReportConfig, SourceConfig } from './config/schema.ts';
import type { QueryEngine } from './engines/query-engine.ts';
import { measureBeyond, type AtRiskCustomer } from './kpis/beyond.ts';
import { measureExtras } from './kpis/extra.ts';
import { measure } from './kpis/measure.ts';
import {
  comparisonsOf,
  lastCompletePeriod,
  parsePeriod,
  PeriodError,
  periodDays,
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
 * The pipeline: plan the periods, measure them in one set-based query, compute and judge
 * every KPI, and return the JSON report. Rendering and delivery are separate steps.
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
  const period = resolvePeriod(req, now);
  const comparisons = comparisonsOf(period);
  const relation = await deps.engine.relation(req.source.relation);
  await deps.engine.checkSource?.(relation, req.source.columns);
  const compared = [
    ...comparisons.trend,
    comparisons.yearAgo,
    comparisons.previous,
    ...comparisons.trailing,
  ];
  const { byLabel, quality } = await measure({
    engine: deps.engine,
    relation,
    columns: req.source.columns,
    excludedStatuses: req.source.excludedStatuses,
    timeZone: req.report.timeZone,
    activeWindowDays: req.report.activeWindowDays,
    atRiskDays: req.report.atRiskDays,
    periods: compared,
  });
  // The optional sources (feedback, marketing spend), the reported period first.
  const extras = await measureExtras({
    engine: deps.engine,
    source: req.source,
    timeZone: req.report.timeZone,
    periods: [period, ...compared],
  });
  const more = beyond
    ? await measureBeyond({
        engine: deps.engine,
        relation,
        source: req.source,
        report: req.report,
        period,
        previous: comparisons.previous,
        comparedPeriods: compared,
      })
    : null;
  // The lifetime model's value per period joins the optional measures (clv_12m, ltv_to_cac).
  const extraByLabel = new Map(
    compared.map((p) => {
      const m = extras.byLabel.get(p.label) ?? {};
      const clv = more?.clvByLabel.get(p.label);
      return [p.label, more ? { ...m, clv12m: clv ?? null } : m];
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
  });
  return { report, atRiskList: more?.atRiskList ?? [] };
}
