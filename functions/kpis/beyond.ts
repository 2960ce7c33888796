import type { ReportConfig, SourceConfig } from '../config/schema.ts';
import {
  compressIndexed,
  expectedPurchases,
  expectedSpend,
  fitBgNbd,
  fitGammaGamma,
  type BgNbd,
  type CustomerHistory,
  type GammaGamma,
} from '../clv/models.ts';
import type { QueryEngine } from '../engines/query-engine.ts';
import { addDays, localMidnight, type Period } from '../periods/period.ts';
import { buildClvSummaryQuery, dayNumber } from '../sql/clv-query.ts';
import type { Segment } from '../sql/structures-query.ts';
import { cohortMatrix, rfmSegments, type CohortMatrix, type Rfm } from './structures.ts';

/** One at-risk customer of the export (never in the email body). */
export interface AtRiskCustomer {
  readonly customer_id: string;
  readonly last_order: string;
  readonly orders: number;
  readonly lifetime_revenue: number;
  readonly segment: Segment;
}

/** What the report adds beyond the headline KPIs (KPI-SPEC "Structures" and `clv_12m`). */
export interface Beyond {
  readonly cohorts: CohortMatrix;
  readonly rfm: Rfm;
  readonly atRisk: {
    readonly customers: number;
    /** Their revenue over the 365 days before the period end: what leaving would cost. */
    readonly revenueAtStake: number;
  };
  readonly clv: {
    /** Expected revenue per customer over the next 52 weeks (BG/NBD × Gamma-Gamma). */
    readonly clv12m: number | null;
    readonly bySegment: Partial<Record<Segment, number>>;
    readonly model: {
      bgnbd: Omit<BgNbd, 'logLikelihood'>;
      gammaGamma: Omit<GammaGamma, 'logLikelihood'>;
    } | null;
  };
}

export interface BeyondRequest {
  readonly engine: QueryEngine;
  readonly relation: string;
  readonly source: SourceConfig;
  readonly report: ReportConfig;
  readonly period: Period;
  readonly previous: Period;
  /** Periods whose `clv_12m` is wanted too (the comparisons); the reported one is always in. */
  readonly comparedPeriods?: readonly Period[];
}

/** Cohorts, RFM, the at-risk list and the lifetime model for a period; the list is returned apart. */
export async function measureBeyond(req: BeyondRequest): Promise<{
  beyond: Beyond;
  atRiskList: AtRiskCustomer[];
  /** `clv_12m` by period label, the reported period and every compared one. */
  clvByLabel: Map<string, number | null>;
}> {
  const tz = req.report.timeZone;
  const at = (d: string): Date => localMidnight(d, tz);
  const end = at(req.period.end);
  const base = {
    engine: req.engine,
    relation: req.relation,
    columns: req.source.columns,
    excludedStatuses: req.source.excludedStatuses,
    timeZone: tz,
    end,
    previousEnd: at(req.previous.end),
    yearBeforeEnd: at(addDays(req.period.end, -365)),
    yearBeforePrevious: at(addDays(req.previous.end, -365)),
  };
  const cohorts = await cohortMatrix(base);
  const { rfm, customers } = await rfmSegments(base);
  const riskFrom = base.yearBeforeEnd.getTime();
  const riskTo = at(addDays(req.period.end, -req.report.atRiskDays)).getTime();
  const atRiskList = customers
    .filter((c) => {
      const t = new Date(`${c.last_at.replace(' ', 'T')}Z`).getTime();
      return t >= riskFrom && t < riskTo;
    })
    .map((c) => ({
      customer_id: c.customer_id,
      last_order: c.last_at,
      orders: c.orders,
      lifetime_revenue: c.revenue,
      segment: c.segment,
    }))
    .sort(
      (a, b) =>
        b.lifetime_revenue - a.lifetime_revenue || a.customer_id.localeCompare(b.customer_id),
    );

  const window365 = new Map(customers.map((c) => [c.customer_id, c.revenue_365]));
  // The reported period first, then the others; fitted oldest first, each from the last.
  const periods = [
    ...new Map([req.period, ...(req.comparedPeriods ?? [])].map((p) => [p.label, p])).values(),
  ];
  const summaries = await req.engine.query(
    buildClvSummaryQuery({
      ...base,
      relation: req.relation,
      dialect: req.engine.dialect,
      ends: periods.map((p) => p.end),
      timeZone: tz,
    }),
  );
  const historiesAt = (i: number): (CustomerHistory & { id: string })[] => {
    // T runs from the first purchase day to the last day before the end.
    const lastDay = dayNumber(periods[i]?.end ?? '') - 1;
    return summaries
      .filter((r) => r[`x_${i}`] !== null && r[`x_${i}`] !== undefined)
      .map((r) => {
        const mx = r[`mx_${i}`];
        return {
          id: String(r.customer_id),
          x: Number(r[`x_${i}`]),
          // Weeks of whole days, as the papers' CDNOW summaries. Not whole weeks: a repeat
          // buyer with t_x = 0 would make the BG/NBD likelihood unbounded as α → 0.
          tx: Number(r[`t_x_days_${i}`]) / 7,
          T: (lastDay - Number(r.first_day)) / 7,
          ...(mx === null || mx === undefined ? {} : { mx: Number(mx) }),
        };
      });
  };
  const order = periods
    .map((p, i) => ({ i, end: at(p.end).getTime() }))
    .sort((a, b) => a.end - b.end);
  const clvByLabel = new Map<string, number | null>();
  let warm: LifetimeModel | null = null;
  let reported: { model: LifetimeModel; values: Map<string, number> } | null = null;
  for (const { i } of order) {
    const fitted = fitLifetime(historiesAt(i), warm ?? undefined);
    warm = fitted?.model ?? warm;
    clvByLabel.set(periods[i]?.label ?? '', fitted ? fitted.mean : null);
    if (i === 0 && fitted) reported = fitted;
  }
  let clv: Beyond['clv'] = { clv12m: null, bySegment: {}, model: null };
  if (reported) {
    const { model, values } = reported;
    const bySegment: Partial<Record<Segment, number>> = {};
    for (const s of rfm.segments) {
      const vs = customers
        .filter((c) => c.segment === s.segment)
        .map((c) => values.get(c.customer_id) ?? 0);
      if (vs.length > 0) bySegment[s.segment] = mean(vs);
    }
    clv = {
      clv12m: clvByLabel.get(req.period.label) ?? null,
      bySegment,
      model: {
        bgnbd: { r: model.bg.r, alpha: model.bg.alpha, a: model.bg.a, b: model.bg.b },
        gammaGamma: { p: model.gg.p, q: model.gg.q, v: model.gg.v },
      },
    };
  }
  return {
    beyond: {
      cohorts,
      rfm,
      atRisk: {
        customers: atRiskList.length,
        revenueAtStake:
          Math.round(
            atRiskList.reduce((s, c) => s + (window365.get(c.customer_id) ?? 0), 0) * 100,
          ) / 100,
      },
      clv,
    },
    atRiskList,
    clvByLabel,
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

interface LifetimeModel {
  readonly bg: BgNbd;
  readonly gg: GammaGamma;
}

/**
 * Fits both models on one calibration's histories and values every customer: expected
 * purchases in the next 52 weeks times expected spend. Null with fewer than 10 customers or
 * 10 repeat buyers, or when the fit runs off towards a boundary: then the data says nothing.
 */
function fitLifetime(
  histories: readonly (CustomerHistory & { id: string })[],
  start?: LifetimeModel,
): { model: LifetimeModel; values: Map<string, number>; mean: number } | null {
  const repeaters = histories.filter((h) => h.x > 0 && (h.mx ?? 0) > 0);
  if (histories.length < 10 || repeaters.length < 10) return null;
  const { cells, cellOf } = compressIndexed(histories);
  // A fit that ran off towards a boundary (a parameter outside [1e-4, 1e4]: a Beta or Gamma
  // mixing distribution collapsing) says nothing about lifetimes, and its predictions sit
  // near hyp2f1's poles; Gamma-Gamma's mean spend also needs q > 1. A warm start that ends
  // there is tried again from the cold start before the period gets no model.
  const sane = (v: number): boolean => Number.isFinite(v) && v >= 1e-4 && v <= 1e4;
  const fit = (from?: LifetimeModel): LifetimeModel | null => {
    const bg = fitBgNbd(cells, from?.bg);
    const gg = fitGammaGamma(repeaters, from?.gg);
    return [bg.r, bg.alpha, bg.a, bg.b, gg.p, gg.q, gg.v].every(sane) && gg.q > 1
      ? { bg, gg }
      : null;
  };
  const model = fit(start) ?? (start ? fit() : null);
  if (!model) return null;
  const { bg, gg } = model;
  // Customers with the same (x, t_x, T) expect the same purchases: one hyp2f1 per cell.
  const purchases = cells.map((c) => expectedPurchases(bg, c, 52));
  const values = new Map(
    histories.map((h, i) => [h.id, (purchases[cellOf[i] ?? 0] ?? 0) * expectedSpend(gg, h)]),
  );
  return { model, values, mean: mean([...values.values()]) };
}

/** The at-risk list as CSV, sorted by lifetime revenue. */
export function atRiskCsv(list: readonly AtRiskCustomer[]): string {
  const quote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return `${['customer_id,last_order,orders,lifetime_revenue,segment', ...list.map((c) => [quote(c.customer_id), c.last_order, c.orders, c.lifetime_revenue.toFixed(2), quote(c.segment)].join(','))].join('\n')}\n`;
}
