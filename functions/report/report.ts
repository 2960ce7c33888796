import type { Beyond } from '../kpis/beyond.ts';
import { DateTime } from 'luxon';
import type { ReportConfig } from '../config/schema.ts';
import {
  KPI_IDS,
  KPIS,
  type CoreKpiId,
  type Direction,
  type ExtraKpiId,
  type KpiId,
  type Unit,
} from '../kpis/definitions.ts';
import {
  computeExtraKpis,
  type ExtraMeasures,
  type ExtraQuality,
  type ExtraValues,
} from '../kpis/extra.ts';
import { computeKpis, customerFlow, type CustomerFlow, type KpiValues } from '../kpis/compute.ts';
import {
  changeOf,
  judgeAnomaly,
  meanOf,
  SEASONAL_MIN_HISTORY,
  targetStatus,
  watchFrom,
  type AnomalyRule,
  type Change,
} from '../kpis/judge.ts';
import type { Measures, PartMeasures, QualityMeasures } from '../kpis/measure.ts';
import { addDays, localMidnight, type Comparisons, type Period } from '../periods/period.ts';
import type { ExclusionReason } from '../sql/report-query.ts';

/** Version of the JSON contract below; bump on a breaking change. */
export const REPORT_SCHEMA_VERSION = 1;

/** A period placed in the report's time zone. */
export interface ReportPeriod {
  readonly kind: Period['kind'];
  readonly label: string;
  /** Local midnight the period starts at, ISO-8601 with the zone's offset. */
  readonly start: string;
  /** Local midnight the period ends at (exclusive), ISO-8601 with the zone's offset. */
  readonly end: string;
  /** First local date. */
  readonly firstDay: string;
  /** Last local date (inclusive). */
  readonly lastDay: string;
  readonly timeZone: string;
}

/** One KPI with its comparisons and judgement (docs/kpis.md, "Comparisons", "Judgement"). */
export interface KpiResult {
  readonly value: number | null;
  readonly previous: number | null;
  readonly yearAgo: number | null;
  /** Mean of the KPI over the trailing periods (4 weeks / 3 months / 2 quarters / 1 year). */
  readonly trailing: number | null;
  /** The last 12 periods, oldest first, ending with this one. */
  readonly trend: (number | null)[];
  readonly change: { previous: Change; yearAgo: Change; trailing: Change };
  readonly unit: Unit;
  readonly direction: Direction;
  readonly target: number | null;
  /**
   * Where the target's "watch" band begins: short of the target by its tolerance (below it
   * for a KPI that should go up, above it for one that should go down). Null without a target.
   */
  readonly watchFrom: number | null;
  readonly status: 'good' | 'watch' | 'bad' | null;
  /** Reference points to read the value against (config `benchmarks`), when it has any. */
  readonly benchmarks?: { readonly label: string; readonly value: number }[];
  readonly anomaly: boolean;
  /**
   * The rule that judged `anomaly`: `seasonal` (against the year before), `recent` (the last
   * 12 periods only, without a year of history), or null when neither had enough evidence.
   */
  readonly anomalyRule: AnomalyRule | null;
  /** What the season predicts for the value (seasonal rule), else null. */
  readonly expected: number | null;
}

export interface DataQuality {
  readonly rowsRead: number;
  readonly validOrders: number;
  readonly rowsLeftOut: number;
  readonly leftOut: Record<ExclusionReason, number>;
  readonly duplicateOrderIds: number;
  readonly latestOrderedAt: string | null;
  /** Latest `ordered_at` of a valid order; freshness is judged by it. */
  readonly latestValidOrderedAt: string | null;
  /** Data must reach this instant (period end less the tolerance) to be fresh. */
  readonly requiredThrough: string;
  readonly fresh: boolean;
  /** Answers read from the feedback source and left out (no time, unknown kind, off-scale score). */
  readonly feedback?: { readonly rowsRead: number; readonly leftOut: number };
}

/** Every core KPI, and each optional one whose input was measured. */
export type ReportKpis = Record<CoreKpiId, KpiResult> & Partial<Record<ExtraKpiId, KpiResult>>;

/** The run's result: the JSON contract of docs/kpis.md. The email is a view of it. */
export interface Report {
  readonly schemaVersion: number;
  readonly report: {
    readonly id: string;
    readonly name: string;
    readonly locale: string;
    readonly currency: string;
  };
  readonly generatedAt: string;
  readonly period: ReportPeriod;
  readonly comparisons: {
    readonly previous: ReportPeriod;
    readonly yearAgo: ReportPeriod;
    readonly trailing: string[];
    readonly trend: string[];
  };
  readonly settings: {
    readonly activeWindowDays: number;
    readonly atRiskDays: number;
    readonly excludedStatuses: readonly string[];
  };
  readonly kpis: ReportKpis;
  readonly customerFlow: CustomerFlow;
  /** Marketing spend of the period by channel, largest first, when a spend source is set. */
  readonly marketingSpend?: { readonly channel: string; readonly spend: number }[];
  readonly dataQuality: DataQuality;
  /** Cohorts, RFM segments, the at-risk count and the lifetime model, when measured. */
  readonly beyond?: Beyond;
  /** Every core KPI by the values of each dimension the report breaks down by. */
  readonly breakdowns?: ReportBreakdown[];
}

/**
 * The KPIs by the values of one dimension (docs/kpis.md, "Breakdowns"): a customer counts
 * under the value of their first valid order. The parts' customer counts, orders and
 * revenue add up to the whole's.
 */
export interface ReportBreakdown {
  /** The dimension's name in `source.dimensions`. */
  readonly dimension: string;
  /** Values with customers to the period's end. */
  readonly values: number;
  /** The values with the most customers to the period's end, most first, then the others. */
  readonly parts: BreakdownPart[];
}

export interface BreakdownPart {
  /** The value ('' when the source leaves it blank); null for the part holding the others. */
  readonly value: string | null;
  /** In the others' part: how many values it holds; 1 otherwise. */
  readonly values: number;
  /** Customers with a valid order before the period's end: what the values are ranked by. */
  readonly customers: number;
  /** The core KPIs of these customers alone, judged as the whole's are, without targets. */
  readonly kpis: Record<CoreKpiId, KpiResult>;
  readonly customerFlow: CustomerFlow;
}

/** The KPIs a report has, in contract order, each with its result. */
export function reportedKpis(r: Pick<Report, 'kpis'>): { id: KpiId; k: KpiResult }[] {
  return KPI_IDS.flatMap((id) => {
    const k = r.kpis[id];
    return k ? [{ id, k }] : [];
  });
}

/** Places a period in a time zone for the report. */
export function reportPeriod(p: Period, timeZone: string): ReportPeriod {
  const iso = (date: string): string =>
    DateTime.fromJSDate(localMidnight(date, timeZone), { zone: timeZone }).toISO() ?? '';
  return {
    kind: p.kind,
    label: p.label,
    start: iso(p.start),
    end: iso(p.end),
    firstDay: p.start,
    lastDay: addDays(p.end, -1),
    timeZone,
  };
}

export interface AssembleInput {
  readonly config: ReportConfig;
  readonly excludedStatuses: readonly string[];
  readonly comparisons: Comparisons;
  readonly measures: ReadonlyMap<string, Measures>;
  readonly quality: QualityMeasures;
  readonly generatedAt: Date;
  /** Measures of the optional KPIs by period label (feedback, spend, the lifetime model). */
  readonly extras?: ReadonlyMap<string, ExtraMeasures>;
  readonly extraQuality?: ExtraQuality;
  readonly spendByChannel?: { channel: string; spend: number }[];
  readonly beyond?: Beyond;
  /** The measures of each part of the report's breakdowns (see readMeasures). */
  readonly breakdowns?: {
    readonly dimensions: readonly string[];
    readonly parts: readonly PartMeasures[];
  };
}

/**
 * Every KPI with its comparisons and judgement, from the measures of every period: the
 * whole shop's, with the report's targets and benchmarks, or a part's (`part`), without.
 */
function kpiResults(
  input: Pick<AssembleInput, 'config' | 'comparisons' | 'measures' | 'extras'>,
  part = false,
): Record<KpiId, KpiResult> {
  const { config, comparisons: cmp, measures } = input;
  const valuesCache = new Map<string, KpiValues & ExtraValues>();
  const valuesOf = (p: Period): KpiValues & ExtraValues => {
    let v = valuesCache.get(p.label);
    if (!v) {
      const m = measures.get(p.label);
      if (!m) throw new Error(`no measures for period ${p.label}`);
      const core = computeKpis(m);
      v = { ...core, ...computeExtraKpis(core, input.extras?.get(p.label)) };
      valuesCache.set(p.label, v);
    }
    return v;
  };
  const reported = valuesOf(cmp.period);
  const hasOrders = (p: Period): boolean => (measures.get(p.label)?.orders ?? 0) > 0;
  // Enough trend periods whose year-ago period has orders for the seasonal rule to judge.
  const seasonOnRecord =
    cmp.seasonal.filter((refs) => refs[0] !== undefined && hasOrders(refs[0])).length >
    SEASONAL_MIN_HISTORY;

  const kpis = {} as Record<KpiId, KpiResult>;
  for (const def of KPIS) {
    // An optional KPI is in the report only when its input was measured.
    if (!(def.id in reported)) continue;
    const direction = config.directions[def.id] ?? def.direction;
    const target = part ? undefined : config.targets[def.id];
    const at = (p: Period): number | null => valuesOf(p)[def.id] ?? null;
    /** A period without a single valid order is no evidence of what is usual. */
    const evidence = (p: Period): number | null => (hasOrders(p) ? at(p) : null);
    const value = at(cmp.period);
    const previous = at(cmp.previous);
    const yearAgo = at(cmp.yearAgo);
    const trailing = meanOf(cmp.trailing.map(at));
    const trend = cmp.trend.map(at);
    const benchmarks = part ? undefined : config.benchmarks[def.id];
    const evidenceTrend = cmp.trend.map(evidence);
    const references = cmp.seasonal.some((refs) => refs.length > 0)
      ? cmp.seasonal.map((refs) => refs.map(evidence))
      : null;
    // Amounts compare by ratio, rates and scores by difference; so do amounts that touch 0.
    const positive = [...evidenceTrend, ...(references ?? []).flat()].every(
      (v) => v === null || v > 0,
    );
    const judgedAny = judgeAnomaly({
      trend: evidenceTrend,
      references,
      scale: def.unit !== 'ratio' && def.unit !== 'score' && positive ? 'log' : 'difference',
      counts: def.unit === 'count',
    });
    // With a season on record, a KPI the season could not judge (the lifetime model is fitted
    // at the compared periods only) gets no verdict rather than a season-blind one.
    const judged =
      seasonOnRecord && judgedAny.rule === 'recent'
        ? { anomaly: false, rule: null, expected: null }
        : judgedAny;
    kpis[def.id] = {
      value,
      previous,
      yearAgo,
      trailing,
      trend,
      change: {
        previous: changeOf(value, previous, direction),
        yearAgo: changeOf(value, yearAgo, direction),
        trailing: changeOf(value, trailing, direction),
      },
      unit: def.unit,
      direction,
      target: target?.value ?? null,
      watchFrom: watchFrom(target, direction),
      status: targetStatus(value, target, direction),
      ...(benchmarks?.length ? { benchmarks } : {}),
      anomaly: judged.anomaly,
      anomalyRule: judged.rule,
      expected: judged.expected,
    };
  }
  return kpis;
}

/** Builds the JSON report from the measures of every period (pure). */
export function assembleReport(input: AssembleInput): Report {
  const { config, comparisons: cmp, measures, quality } = input;
  const tz = config.timeZone;
  const kpis = kpiResults(input);

  const periodMeasures = measures.get(cmp.period.label);
  if (!periodMeasures) throw new Error(`no measures for period ${cmp.period.label}`);
  const end = localMidnight(cmp.period.end, tz);
  const requiredThrough = new Date(end.getTime() - config.freshnessToleranceHours * 3_600_000);
  const latest = quality.latestValidOrderedAt;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    report: {
      id: config.id,
      name: config.name,
      locale: config.locale,
      currency: config.currency,
    },
    generatedAt: input.generatedAt.toISOString(),
    period: reportPeriod(cmp.period, tz),
    comparisons: {
      previous: reportPeriod(cmp.previous, tz),
      yearAgo: reportPeriod(cmp.yearAgo, tz),
      trailing: cmp.trailing.map((p) => p.label),
      trend: cmp.trend.map((p) => p.label),
    },
    settings: {
      activeWindowDays: config.activeWindowDays,
      atRiskDays: config.atRiskDays,
      excludedStatuses: input.excludedStatuses,
    },
    kpis,
    customerFlow: customerFlow(periodMeasures),
    dataQuality: {
      rowsRead: quality.rowsRead,
      validOrders: quality.validOrders,
      rowsLeftOut: quality.rowsRead - quality.validOrders,
      leftOut: quality.leftOut,
      duplicateOrderIds: quality.duplicateOrderIds,
      latestOrderedAt: quality.latestOrderedAt,
      latestValidOrderedAt: latest,
      requiredThrough: requiredThrough.toISOString(),
      fresh: latest !== null && new Date(latest).getTime() >= requiredThrough.getTime(),
      ...(input.extraQuality?.feedback ? { feedback: input.extraQuality.feedback } : {}),
    },
    ...(input.spendByChannel ? { marketingSpend: input.spendByChannel } : {}),
    ...(input.beyond ? { beyond: input.beyond } : {}),
    ...(input.breakdowns ? { breakdowns: breakdownsOf(input, input.breakdowns) } : {}),
  };
}

/** Each breakdown's parts with their KPIs; a part without customers to the end is left out. */
function breakdownsOf(
  input: AssembleInput,
  b: NonNullable<AssembleInput['breakdowns']>,
): ReportBreakdown[] {
  const label = input.comparisons.period.label;
  return b.dimensions.map((dimension, d) => {
    const own = b.parts.filter((p) => p.dimension === d);
    // The values that are a part of their own; Other holds the rest of the ranks.
    const top = own.filter((p) => p.part > 0).length;
    const parts = own.flatMap((p): BreakdownPart[] => {
      const now = p.byLabel.get(label);
      const customers = now?.customers_to_date ?? 0;
      if (!now || customers === 0) return [];
      return [
        {
          value: p.value,
          values: p.part === 0 ? p.ranks - top : 1,
          customers,
          kpis: kpiResults({ ...input, measures: p.byLabel, extras: new Map() }, true),
          customerFlow: customerFlow(now),
        },
      ];
    });
    return {
      dimension,
      values: parts.reduce((n, p) => n + p.values, 0),
      parts,
    };
  });
}
