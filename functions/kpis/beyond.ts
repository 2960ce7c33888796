import type { ReportConfig } from '../config/schema.ts';
import {
  countCells,
  discountedPurchasesOfCells,
  expectedSpendOf,
  fitBgNbd,
  fitGammaGamma,
  nbdDiscountedPurchases,
  fitNbd,
  FitTimeout,
  probabilityAlive,
  spendData,
  type BgNbd,
  type CountData,
  type Nbd,
  type GammaGamma,
  type HistoryColumns,
} from '../clv/models.ts';
import { queryNumbers, type QueryEngine } from '../engines/query-engine.ts';
import { addDays, distinctPeriods, localMidnight, type Period } from '../periods/period.ts';
import type { BaseSpec } from '../sql/base-query.ts';
import { buildClvSummaryQuery, dayNumber } from '../sql/clv-query.ts';
import type { Dialect } from '../sql/dialect.ts';
import {
  buildCohortQuery,
  buildRfmQuery,
  cohortMonths,
  SEGMENTS,
  type CohortMonths,
  type Segment,
} from '../sql/structures-query.ts';
import { cohortMatrix, rfmSegments, type CohortMatrix, type Rfm } from './structures.ts';
import { csvDocument } from '../csv.ts';

/** One at-risk customer of the export (never in the email body). */
export interface AtRiskCustomer {
  readonly customer_id: string;
  readonly last_order: string;
  readonly orders: number;
  readonly lifetime_revenue: number;
  readonly segment: Segment;
  /**
   * BG/NBD probability that the customer is still active; null without a model, and null
   * when the fit fell back to the NBD, which has no dropout to estimate it from.
   */
  readonly p_alive: number | null;
  /** Why `p_alive` is blank, in the export's words; null when it has a value. */
  readonly p_alive_note: string | null;
  /**
   * Their predicted value over the next 52 weeks, on the report's basis (Beyond's
   * `clv.basis`); null without a model.
   */
  readonly clv_12m: number | null;
}

/** What the report adds beyond the headline KPIs (docs/kpis.md, "Structures", with `clv_12m`). */
export interface Beyond {
  readonly cohorts: CohortMatrix;
  readonly rfm: Rfm;
  readonly atRisk: {
    readonly customers: number;
    /** Their revenue over the 365 days before the period end: what leaving would cost. */
    readonly revenueAtStake: number;
  };
  readonly clv: {
    /**
     * Expected value over the next 52 weeks (BG/NBD × Gamma-Gamma, on `basis`) per customer
     * active at the period end (`clv_12m`).
     */
    readonly clv12m: number | null;
    /** The same per customer with a valid order before the period end (`clv_12m_all`). */
    readonly clv12mAll: number | null;
    /** The same per customer acquired in the period (`new_customer_clv`). */
    readonly newCustomerClv: number | null;
    /** What a value counts: revenue, or gross margin at `grossMargin`; and its discounting. */
    readonly basis: ClvBasis;
    /**
     * How many customers each mean is over: active at the end (`customers_end`), with a valid
     * order before it, acquired in the period (`new_customers`); null without a model.
     */
    readonly customers: ClvMeans['customers'] | null;
    /** The mean value per customer of each segment at the period end. */
    readonly bySegment: Partial<Record<Segment, number>>;
    /**
     * The fitted models: BG/NBD for purchases, or, when the history shows nobody leaving and
     * BG/NBD's fit runs off to its no-dropout limit, the NBD that limit is; Gamma-Gamma for spend.
     */
    readonly model: {
      purchases: 'bg/nbd' | 'nbd';
      bgnbd?: Omit<BgNbd, 'logLikelihood'>;
      nbd?: Omit<Nbd, 'logLikelihood'>;
      gammaGamma: Omit<GammaGamma, 'logLikelihood'>;
    } | null;
    /** Why `clv12m` has no value, when it has none. */
    readonly unavailable?: NoModel;
  };
}

export interface BeyondRequest {
  readonly engine: QueryEngine;
  readonly report: ReportConfig;
  readonly period: Period;
  readonly previous: Period;
  /** Periods whose `clv_12m` is wanted too (the comparisons); the reported one is always in. */
  readonly comparedPeriods?: readonly Period[];
  /** How long the lifetime fits may take together. @default LIFETIME_BUDGET_MS */
  readonly lifetimeBudgetMs?: number;
}

/** The boundaries and statements of what lies beyond the KPIs, over a run's customer table. */
export interface BeyondPlan {
  /** What the customer table must hold for them (BaseSpec's `cohorts`, `rfm`, `lifetime`). */
  readonly spec: Pick<BaseSpec, 'cohorts' | 'rfm' | 'lifetime'>;
  readonly months: CohortMonths;
  /** The lifetime model's calibration periods: the reported one first. */
  readonly clvPeriods: Period[];
  /** The statements, over the run's customer table. */
  readonly sql: { readonly cohorts: string; readonly rfm: string; readonly lifetime: string };
  /** Whether the RFM statement counts retention by segment (active window ≤ 365 days). */
  readonly retention: boolean;
}

/**
 * The longest active window for which retention by segment is measured: a customer active
 * at an instant then has an order in the 365 days before it, so a segment there.
 */
export const RETENTION_BY_SEGMENT_MAX_WINDOW = 365;

export function planBeyond(
  req: Omit<BeyondRequest, 'engine'> & {
    readonly dialect: Dialect;
    /** The run's customer table, built with this plan's `spec`. */
    readonly base: string;
  },
): BeyondPlan {
  const { base } = req;
  const tz = req.report.timeZone;
  const at = (d: string): Date => localMidnight(d, tz);
  const end = at(req.period.end);
  const months = cohortMonths(end, tz);
  const riskFrom = at(addDays(req.period.end, -365));
  const riskTo = at(addDays(req.period.end, -req.report.atRiskDays));
  // The reported period first, then the others; fitted oldest first, each from the last.
  const clvPeriods = distinctPeriods([req.period, ...(req.comparedPeriods ?? [])]);
  const ends = clvPeriods.map((p) => p.end);
  // Retention by segment: segments at the period's start (the previous end) and at the
  // previous period's start, a third RFM scoring.
  const w = req.report.activeWindowDays;
  const retention = w <= RETENTION_BY_SEGMENT_MAX_WINDOW;
  if (retention && req.previous.end !== req.period.start)
    throw new Error(`the previous period ${req.previous.label} does not end at the period start`);
  return {
    spec: {
      cohorts: { end, starts: months.starts },
      rfm: {
        end,
        previousEnd: at(req.previous.end),
        yearBeforeEnd: riskFrom,
        yearBeforePrevious: at(addDays(req.previous.end, -365)),
        ...(retention
          ? {
              previousStart: {
                at: at(req.previous.start),
                yearBefore: at(addDays(req.previous.start, -365)),
              },
            }
          : {}),
      },
      lifetime: { ends, timeZone: tz },
    },
    months,
    clvPeriods,
    sql: {
      cohorts: buildCohortQuery({ dialect: req.dialect, base, months }),
      rfm: buildRfmQuery({
        base,
        riskFrom,
        riskTo,
        ...(retention
          ? {
              retention: {
                previousStart: at(addDays(req.previous.start, -w)),
                start: at(addDays(req.period.start, -w)),
                end: at(addDays(req.period.end, -w)),
              },
            }
          : {}),
      }),
      lifetime: buildClvSummaryQuery({ base, ends, atRisk: { riskFrom, riskTo } }),
    },
    retention,
  };
}

/** Cohorts, RFM, the at-risk list and the lifetime model for a period; the list is returned apart. */
export async function measureBeyond(req: BeyondRequest & { readonly plan: BeyondPlan }): Promise<{
  beyond: Beyond;
  atRiskList: AtRiskCustomer[];
  /** The lifetime values by period label, the reported period and every compared one. */
  clvByLabel: Map<string, ClvMeans | null>;
}> {
  const { engine, plan } = req;
  const { sql } = plan;
  const cohorts = await cohortMatrix(engine, sql.cohorts, plan.months);
  const { rfm, atRisk, atRiskList: listed } = await rfmSegments(engine, sql.rfm, plan.retention);
  // Blank, with its reason, until the lifetime model below gives a chance.
  const atRiskList = listed.map(
    (c): { -readonly [K in keyof AtRiskCustomer]: AtRiskCustomer[K] } => ({
      ...c,
      p_alive: null,
      p_alive_note: P_ALIVE_NOTE.noModel,
      clv_12m: null,
    }),
  );

  const periods = plan.clvPeriods;
  const basis = clvBasis(req.report);
  // By column, as typed arrays: one number per customer and column, no object or boxed
  // value per customer (a million or more customers at 13 ends).
  const summaries = await queryNumbers(engine, sql.lifetime);
  const firstDays = summaries.first_day ?? new Float64Array();
  const none = new Float64Array(firstDays.length).fill(Number.NaN);
  /** End i's histories by column, and for each the row of its customer in `summaries`. */
  const historiesAt = (i: number): Calibration => {
    // T runs from the first purchase day to the last day before the end.
    const lastDay = dayNumber(periods[i]?.end ?? '') - 1;
    const xs = summaries[`x_${i}`] ?? none;
    const txs = summaries[`t_x_days_${i}`] ?? none;
    const mxs = summaries[`mx_${i}`] ?? none;
    let n = 0;
    for (const x of xs) if (!Number.isNaN(x)) n++;
    const period = periods[i];
    const h = {
      x: new Float64Array(n),
      txDays: new Float64Array(n),
      TDays: new Float64Array(n),
      mx: new Float64Array(n),
      row: new Uint32Array(n),
      // The customers active at the end (as `customers_end`), and those acquired in the
      // period (first purchase day on or after its start, as `new_customers`).
      activeWindowDays: req.report.activeWindowDays,
      periodDays: period ? dayNumber(period.end) - dayNumber(period.start) : 0,
    };
    let k = 0;
    for (let row = 0; row < xs.length; row++) {
      const x = xs[row] ?? Number.NaN;
      if (Number.isNaN(x)) continue;
      h.x[k] = x;
      // Whole days; the models count weeks of them (days / 7), as the papers' CDNOW
      // summaries. Not whole weeks: a repeat buyer with t_x = 0 would make the BG/NBD
      // likelihood unbounded as α → 0.
      h.txDays[k] = txs[row] ?? 0;
      h.TDays[k] = lastDay - (firstDays[row] ?? 0);
      h.mx[k] = mxs[row] ?? Number.NaN;
      h.row[k] = row;
      k++;
    }
    return h;
  };
  const fits = fitTrend(
    periods.map((p) => dayNumber(p.end)),
    historiesAt,
    req.lifetimeBudgetMs ?? LIFETIME_BUDGET_MS,
    basis,
  );
  const clvByLabel = new Map<string, ClvMeans | null>();
  fits.forEach((f, i) => clvByLabel.set(periods[i]?.label ?? '', 'means' in f ? f.means : null));
  const first = fits[0];
  const reported = first && 'model' in first ? first : null;
  const unavailable = first && 'unavailable' in first ? first.unavailable : undefined;
  let clv: Beyond['clv'] = {
    clv12m: null,
    clv12mAll: null,
    newCustomerClv: null,
    basis,
    customers: null,
    bySegment: {},
    model: null,
    ...(unavailable ? { unavailable } : {}),
  };
  if (reported) {
    const { model, histories, values } = reported;
    if (!values || !histories) throw new Error('the reported period keeps its values');
    // Each at-risk customer's chance of still being active and predicted value, for the
    // export: the list's k-th customer is the summary row ranked k (the same order in SQL).
    const ranks = summaries.at_risk_rank ?? none;
    let ranked = 0;
    histories.row.forEach((row, k) => {
      const rank = ranks[row] ?? Number.NaN;
      if (Number.isNaN(rank)) return;
      const c = atRiskList[rank - 1];
      if (!c) throw new Error(`at-risk rank ${rank} is not in the list of ${atRiskList.length}`);
      ranked++;
      const h = {
        x: histories.x[k] ?? 0,
        tx: (histories.txDays[k] ?? 0) / 7,
        T: (histories.TDays[k] ?? 0) / 7,
      };
      // The NBD has no dropout: every customer would be "alive" with probability 1, which
      // says nothing, so the export leaves it blank and says why.
      c.p_alive = model.bg ? probabilityAlive(model.bg, h) : null;
      c.p_alive_note = model.bg ? null : P_ALIVE_NOTE.nbd;
      c.clv_12m = values[k] ?? null;
    });
    if (ranked !== atRiskList.length) {
      throw new Error(
        `the lifetime summaries rank ${ranked} at-risk customers; the list has ${atRiskList.length}`,
      );
    }
    // The mean predicted value per segment at the period end, summed in the rows' order.
    const codes = summaries.segment_code ?? none;
    const sum = new Float64Array(SEGMENTS.length);
    const count = new Float64Array(SEGMENTS.length);
    histories.row.forEach((row, k) => {
      const code = codes[row] ?? Number.NaN;
      if (Number.isNaN(code)) return;
      sum[code] = (sum[code] ?? 0) + (values[k] ?? 0);
      count[code] = (count[code] ?? 0) + 1;
    });
    const bySegment: Partial<Record<Segment, number>> = {};
    for (const s of rfm.segments) {
      const code = SEGMENTS.indexOf(s.segment);
      const n = count[code] ?? 0;
      if (n > 0) bySegment[s.segment] = (sum[code] ?? 0) / n;
    }
    const means = clvByLabel.get(req.period.label);
    clv = {
      clv12m: means?.active ?? null,
      clv12mAll: means?.all ?? null,
      newCustomerClv: means?.acquired ?? null,
      basis,
      customers: means?.customers ?? null,
      bySegment,
      model: {
        purchases: model.bg ? 'bg/nbd' : 'nbd',
        ...(model.bg
          ? { bgnbd: { r: model.bg.r, alpha: model.bg.alpha, a: model.bg.a, b: model.bg.b } }
          : {}),
        ...(model.nbd ? { nbd: { r: model.nbd.r, alpha: model.nbd.alpha } } : {}),
        gammaGamma: { p: model.gg.p, q: model.gg.q, v: model.gg.v },
      },
    };
  }
  return {
    beyond: {
      cohorts,
      rfm,
      atRisk,
      clv,
    },
    atRiskList,
    clvByLabel,
  };
}

/**
 * What a lifetime value counts (docs/kpis.md, "CLV model"): revenue (`grossMargin` null) or
 * gross margin, revenue × `grossMargin`; discounted at `annualDiscountRate` (sliceDiscounts).
 */
export interface ClvBasis {
  readonly grossMargin: number | null;
  readonly annualDiscountRate: number;
}

/** A report's CLV basis, from its configuration. */
export function clvBasis(
  report: Pick<ReportConfig, 'grossMargin' | 'annualDiscountRate'>,
): ClvBasis {
  return {
    grossMargin: report.grossMargin ?? null,
    annualDiscountRate: report.annualDiscountRate,
  };
}

/**
 * A calibration's mean predicted values: per customer active at the end (`clv_12m`), per
 * customer with a purchase before the end (`clv_12m_all`) and per customer acquired in the
 * period (`new_customer_clv`); null for a group without a customer.
 */
export interface ClvMeans {
  readonly active: number | null;
  readonly all: number | null;
  readonly acquired: number | null;
  /** How many customers each mean is over. */
  readonly customers: { readonly active: number; readonly all: number; readonly acquired: number };
}

/** One calibration's customers by column (see HistoryColumns), with each one's summary row. */
export interface Calibration extends HistoryColumns {
  readonly row: Uint32Array;
  /**
   * A customer is active at the end with a purchase day in the last `activeWindowDays` days
   * before it: T − t_x < activeWindowDays (T − t_x is the days from the last purchase day to
   * the last day before the end).
   */
  readonly activeWindowDays: number;
  /**
   * The calibration's period is its last `periodDays` days: a customer whose first purchase
   * day lies in it (T < periodDays) was acquired in the period.
   */
  readonly periodDays: number;
}

/**
 * The means of ClvMeans over `values` (one per customer of `h`), each summed in the
 * customers' order (the same order gives the same double).
 */
export function clvMeans(values: ArrayLike<number>, h: Calibration): ClvMeans {
  const sum = [0, 0, 0];
  const count = [0, 0, 0];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    const T = h.TDays[i] ?? 0;
    const groups = [T - (h.txDays[i] ?? 0) < h.activeWindowDays, true, T < h.periodDays];
    groups.forEach((inIt, g) => {
      if (!inIt) return;
      sum[g] = (sum[g] ?? 0) + v;
      count[g] = (count[g] ?? 0) + 1;
    });
  }
  const meanOf = (g: number): number | null =>
    (count[g] ?? 0) > 0 ? (sum[g] ?? 0) / (count[g] ?? 1) : null;
  return {
    active: meanOf(0),
    all: meanOf(1),
    acquired: meanOf(2),
    customers: { active: count[0] ?? 0, all: count[1] ?? 0, acquired: count[2] ?? 0 },
  };
}

export interface LifetimeModel {
  /** BG/NBD, or null where its fit ran off to the no-dropout limit and `nbd` stands in. */
  readonly bg: BgNbd | null;
  readonly nbd?: Nbd;
  readonly gg: GammaGamma;
}

/** A calibration's fitted models and the means of its customers' predicted values. */
export interface LifetimeFit {
  readonly model: LifetimeModel;
  readonly means: ClvMeans;
  /** Each customer's predicted 12-month value and the histories (the first calibration only). */
  readonly values?: Float64Array;
  readonly histories?: Calibration;
}

/**
 * Fits the lifetime models at every calibration end (day numbers), oldest first, each
 * starting from the last model that fitted (its parameters and curvature), all within one
 * time budget: a fit still running when it is spent gives no value (`timeLimit`), nor do
 * the ones after it. `historiesAt(i)` builds end i's histories when its turn comes, so that
 * one calibration's columns are held at a time. Results in the order of `ends`; only the
 * first (the reported period) keeps its per-customer values. Values on `basis`.
 */
export function fitTrend(
  ends: readonly number[],
  historiesAt: (i: number) => Calibration,
  budgetMs: number,
  basis: ClvBasis,
): (LifetimeFit | { unavailable: NoModel })[] {
  const order = ends.map((end, i) => ({ i, end })).sort((a, b) => a.end - b.end);
  const deadline = performance.now() + budgetMs;
  const out = new Array<LifetimeFit | { unavailable: NoModel }>(ends.length);
  let warm: LifetimeModel | undefined;
  for (const { i } of order) {
    const histories = historiesAt(i);
    const fitted = fitLifetime(histories, warm, deadline, basis);
    if ('model' in fitted) {
      warm = fitted.model;
      out[i] = i === 0 ? { ...fitted, histories } : { model: fitted.model, means: fitted.means };
    } else out[i] = fitted;
  }
  return out;
}

/** How long all the lifetime fits of one run may take together. */
export const LIFETIME_BUDGET_MS = 300_000;

/**
 * Why a calibration has no model: `fewCustomers` (fewer than 10 customers or 10 repeat
 * buyers), `boundary` (the fit ran off towards a boundary of its parameters), `timeLimit`
 * (the run's fitting budget ran out).
 */
export type NoModel = 'fewCustomers' | 'boundary' | 'timeLimit';

/**
 * Each customer's predicted value on `basis` (docs/kpis.md, "CLV model"): discounted
 * expected purchases over the next 52 weeks (BG/NBD, or the NBD standing in) × expected
 * value per purchase (Gamma-Gamma's conditional expectation) × `grossMargin` (1 on the
 * revenue basis). `cells` and `cellOf`: countCells of the histories, when already built.
 */
export function customerValues(
  model: LifetimeModel,
  histories: HistoryColumns,
  basis: ClvBasis,
  counted?: { data: CountData; cellOf: Uint32Array },
): Float64Array {
  const { data: cells, cellOf } = counted ?? countCells(histories);
  const { nbd, gg } = model;
  const rate = basis.annualDiscountRate;
  // Customers with the same (x, t_x, T) expect the same purchases.
  const purchases = model.bg
    ? discountedPurchasesOfCells(model.bg, cells, rate)
    : Float64Array.from({ length: cells.w.length }, (_, k) =>
        nbd
          ? nbdDiscountedPurchases(
              nbd,
              {
                x: cells.xs[cells.xIndex[k] ?? 0] ?? 0,
                tx: 0,
                T: cells.Ts[cells.TIndex[k] ?? 0] ?? 0,
              },
              rate,
            )
          : 0,
      );
  // Each customer's value, in the histories' order (one per customer, no map per end).
  const values = new Float64Array(histories.x.length);
  for (let i = 0; i < values.length; i++) {
    const spend = expectedSpendOf(gg, histories.x[i] ?? 0, histories.mx[i] ?? Number.NaN);
    const value = (purchases[cellOf[i] ?? 0] ?? 0) * spend;
    values[i] = basis.grossMargin === null ? value : value * basis.grossMargin;
  }
  return values;
}

/**
 * Fits both models on one calibration's histories and values every customer
 * (customerValues). No model with fewer than 10 customers or 10 repeat buyers, when the fit
 * runs off towards a boundary (then the data says nothing), or when `deadline`
 * (`performance.now()`) passes first.
 */
function fitLifetime(
  histories: Calibration,
  start: LifetimeModel | undefined,
  deadline: number,
  basis: ClvBasis,
): { model: LifetimeModel; values: Float64Array; means: ClvMeans } | { unavailable: NoModel } {
  try {
    return fitLifetimeWithin(histories, start, deadline, basis);
  } catch (err) {
    if (err instanceof FitTimeout) return { unavailable: 'timeLimit' };
    throw err;
  }
}

function fitLifetimeWithin(
  histories: Calibration,
  start: LifetimeModel | undefined,
  deadline: number,
  basis: ClvBasis,
): { model: LifetimeModel; values: Float64Array; means: ClvMeans } | { unavailable: NoModel } {
  if (performance.now() > deadline) throw new FitTimeout();
  const repeaters = spendData(histories);
  if (histories.x.length < 10 || repeaters.x.length < 10) return { unavailable: 'fewCustomers' };
  const counted = countCells(histories);
  const cells = counted.data;
  // A fit that ran off towards a boundary (a parameter outside [1e-4, 1e4]: a mixing
  // distribution collapsing) says nothing as it stands, and its predictions sit near hyp2f1's
  // poles; Gamma-Gamma's mean spend also needs q > 1. A warm start that ends there is tried
  // again from the cold start. One boundary has a meaning: dropout probabilities collapsing
  // onto 0 (a → 0 or b → ∞) is a history where nobody left, and its limit is the NBD,
  // fitted instead.
  const sane = (v: number): boolean => Number.isFinite(v) && v >= 1e-4 && v <= 1e4;
  const saneAll = (vs: number[]): boolean => vs.every(sane);
  // Each model from the warm start (its parameters and curvature), and from the cold start
  // when that ends off the map.
  const limits = { deadline };
  let gg = fitGammaGamma(repeaters, start?.gg, limits);
  if (start && !(saneAll([gg.p, gg.q, gg.v]) && gg.q > 1))
    gg = fitGammaGamma(repeaters, undefined, limits);
  if (!saneAll([gg.p, gg.q, gg.v]) || gg.q <= 1) return { unavailable: 'boundary' };
  let bg = fitBgNbd(cells, start?.bg ?? undefined, limits);
  if (start?.bg && !saneAll([bg.r, bg.alpha, bg.a, bg.b])) bg = fitBgNbd(cells, undefined, limits);
  let model: LifetimeModel | null = null;
  if (saneAll([bg.r, bg.alpha, bg.a, bg.b])) model = { bg, gg };
  else if ((bg.a < 1e-4 || bg.b > 1e4) && bg.a / (bg.a + bg.b) < 1e-4) {
    const nbd = fitNbd(cells, start?.nbd, limits);
    if (saneAll([nbd.r, nbd.alpha])) model = { bg: null, nbd, gg };
  }
  if (!model) return { unavailable: 'boundary' };
  if (performance.now() > deadline) throw new FitTimeout();
  const values = customerValues(model, histories, basis, counted);
  return { model, values, means: clvMeans(values, histories) };
}

/** Why the export's `p_alive` is blank. */
export const P_ALIVE_NOTE = {
  nbd: 'not estimated: the history shows no customer leaving, so the model has no dropout (NBD)',
  noModel: 'not estimated: no lifetime model for this period',
} as const;

/**
 * The at-risk list as CSV, sorted by lifetime revenue: who to win back first, with the
 * lifetime model's chance that each is still active and their predicted 12-month value
 * (empty without a model), and, where the chance is blank, why (`p_alive_note`).
 */
export function atRiskCsv(list: readonly AtRiskCustomer[]): string {
  return csvDocument(
    [
      'customer_id',
      'last_order',
      'orders',
      'lifetime_revenue',
      'segment',
      'p_alive',
      'clv_12m',
      'p_alive_note',
    ],
    list.map((c) => [
      c.customer_id,
      { own: c.last_order },
      c.orders,
      { own: c.lifetime_revenue.toFixed(2) },
      c.segment,
      c.p_alive === null ? null : { own: c.p_alive.toFixed(4) },
      c.clv_12m === null ? null : { own: c.clv_12m.toFixed(2) },
      c.p_alive_note,
    ]),
  );
}
