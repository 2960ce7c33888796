import type { ReportConfig, SourceConfig } from '../config/schema.ts';
import {
  compress,
  expectedPurchases,
  expectedSpend,
  fitBgNbd,
  fitGammaGamma,
  type BgNbd,
  type GammaGamma,
} from '../clv/models.ts';
import type { QueryEngine } from '../engines/query-engine.ts';
import { addDays, localMidnight, type Period } from '../periods/period.ts';
import { buildClvSummaryQuery } from '../sql/clv-query.ts';
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
}

/** Cohorts, RFM, the at-risk list and the lifetime model for a period; the list is returned apart. */
export async function measureBeyond(
  req: BeyondRequest,
): Promise<{ beyond: Beyond; atRiskList: AtRiskCustomer[] }> {
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
  const summaries = await req.engine.query(
    buildClvSummaryQuery({ ...base, relation: req.relation, dialect: req.engine.dialect }),
  );
  const histories = summaries.map((r) => ({
    id: String(r.customer_id),
    x: Number(r.x),
    // Weekly resolution: whole weeks, so that customers share histories.
    tx: Math.floor(Number(r.t_x)),
    T: Math.floor(Number(r.t)),
    ...(r.mx === null ? {} : { mx: Number(r.mx) }),
  }));
  let clv: Beyond['clv'] = { clv12m: null, bySegment: {}, model: null };
  const repeaters = histories.filter((h) => h.x > 0 && (h.mx ?? 0) > 0);
  if (histories.length >= 10 && repeaters.length >= 10) {
    const bg = fitBgNbd(compress(histories));
    const gg = fitGammaGamma(repeaters);
    const value = new Map(
      histories.map((h) => [h.id, expectedPurchases(bg, h, 52) * expectedSpend(gg, h)]),
    );
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const bySegment: Partial<Record<Segment, number>> = {};
    for (const s of rfm.segments) {
      const vs = customers
        .filter((c) => c.segment === s.segment)
        .map((c) => value.get(c.customer_id) ?? 0);
      if (vs.length > 0) bySegment[s.segment] = mean(vs);
    }
    clv = {
      clv12m: mean([...value.values()]),
      bySegment,
      model: {
        bgnbd: { r: bg.r, alpha: bg.alpha, a: bg.a, b: bg.b },
        gammaGamma: { p: gg.p, q: gg.q, v: gg.v },
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
  };
}

/** The at-risk list as CSV, sorted by lifetime revenue. */
export function atRiskCsv(list: readonly AtRiskCustomer[]): string {
  const quote = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return `${['customer_id,last_order,orders,lifetime_revenue,segment', ...list.map((c) => [quote(c.customer_id), c.last_order, c.orders, c.lifetime_revenue.toFixed(2), quote(c.segment)].join(','))].join('\n')}\n`;
}
