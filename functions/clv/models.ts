import digamma from '@stdlib/math-base-special-digamma';
import gammaln from '@stdlib/math-base-special-gammaln';
import hyp2f1 from '@stdlib/math-base-special-hyp2f1';
import { minimizeBfgs } from './bfgs.ts';
import { minimize } from './nelder-mead.ts';

/**
 * Customer-lifetime models of `clv_12m` (docs/kpis.md, "CLV model"): BG/NBD for purchases
 * (Fader, Hardie & Lee 2005) and Gamma-Gamma for their value (Fader & Hardie 2013), fitted
 * by maximum likelihood. Time is in weeks.
 */

/** One customer's purchase history up to the end of calibration (or several alike). */
export interface CustomerHistory {
  /** Repeat purchases (purchase days after the first). */
  readonly x: number;
  /** Weeks from the first purchase to the last. */
  readonly tx: number;
  /** Weeks from the first purchase to the end of calibration. */
  readonly T: number;
  /** Mean value of the repeat purchases (Gamma-Gamma only; ignored when x = 0). */
  readonly mx?: number;
  /** How many customers share this history. @default 1 */
  readonly weight?: number;
}

/**
 * Where a fit's optimizer ended: BFGS's inverse Hessian over the log-parameters. A fit of a
 * neighbouring calibration that starts from these parameters and this curvature takes
 * quasi-Newton steps from its first iteration, so a trend of fits costs a few steps each.
 */
export interface Curvature {
  readonly inverseHessian?: readonly (readonly number[])[];
}

export interface BgNbd extends Curvature {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;
  readonly logLikelihood: number;
}

export interface GammaGamma extends Curvature {
  readonly p: number;
  readonly q: number;
  readonly v: number;
  readonly logLikelihood: number;
}

function logAddExp(u: number, w: number): number {
  const m = Math.max(u, w);
  return m + Math.log(Math.exp(u - m) + Math.exp(w - m));
}

/** BG/NBD log-likelihood of the histories, summed (weights count customers). */
export function bgnbdLogLikelihood(
  r: number,
  alpha: number,
  a: number,
  b: number,
  data: readonly CustomerHistory[],
): number {
  return countLogLikelihood(r, alpha, a, b, prepareCounts(data));
}

/** Histories as typed arrays with indices into their distinct x, t_x and T values. */
export interface CountData {
  readonly xs: Float64Array;
  readonly txs: Float64Array;
  readonly Ts: Float64Array;
  readonly xIndex: Uint32Array;
  readonly txIndex: Uint32Array;
  readonly TIndex: Uint32Array;
  readonly w: Float64Array;
}

/**
 * Histories by column, one entry per customer (no object per customer), with times in whole
 * days: the models' unit is the week, and a history's t_x and T are its days / 7.
 */
export interface HistoryColumns {
  /** Repeat purchase days. */
  readonly x: ArrayLike<number>;
  /** Whole days from the first purchase day to the last. */
  readonly txDays: ArrayLike<number>;
  /** Whole days from the first purchase day to the last day of calibration. */
  readonly TDays: ArrayLike<number>;
  /** Mean value of the repeat purchases; NaN (or ≤ 0) where there is none. */
  readonly mx: ArrayLike<number>;
}

function isCountData(d: readonly CustomerHistory[] | CountData): d is CountData {
  return 'xIndex' in d;
}

function isSpendData(d: readonly CustomerHistory[] | SpendData): d is SpendData {
  return 'sumXLnM' in d;
}

/**
 * Customers with the same (x, t_x, T) merged into one weighted cell, and each customer's
 * cell; cells ordered by T (in order of first appearance) and within one T by their first
 * customer. No string, map entry or object per customer.
 */
export function countCells(h: HistoryColumns): { data: CountData; cellOf: Uint32Array } {
  const n = h.x.length;
  /** Each whole number's index among the distinct ones, in order of first appearance. */
  const distinct = (values: ArrayLike<number>): { values: number[]; index: Uint32Array } => {
    let max = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i] ?? 0;
      if (!(Number.isInteger(v) && v >= 0)) throw new Error(`not a whole number of days: ${v}`);
      if (v > max) max = v;
    }
    const at = new Int32Array(max + 1).fill(-1);
    const index = new Uint32Array(n);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = values[i] ?? 0;
      let k = at[v] ?? -1;
      if (k < 0) at[v] = k = out.push(v) - 1;
      index[i] = k;
    }
    return { values: out, index };
  };
  const xs = distinct(h.x);
  const txs = distinct(h.txDays);
  const Ts = distinct(h.TDays);
  const cellOf = new Uint32Array(n);
  const nT = Ts.values.length;
  const ntx = txs.values.length;
  // Each customer's (x, t_x) pair as one number, and the customers grouped by T (a
  // counting sort, in order within each T).
  const pairOf = new Uint32Array(n);
  for (let i = 0; i < n; i++) pairOf[i] = (xs.index[i] ?? 0) * ntx + (txs.index[i] ?? 0);
  const start = new Uint32Array(nT + 1);
  for (let i = 0; i < n; i++) {
    const t = (Ts.index[i] ?? 0) + 1;
    start[t] = (start[t] ?? 0) + 1;
  }
  for (let t = 0; t < nT; t++) start[t + 1] = (start[t + 1] ?? 0) + (start[t] ?? 0);
  const order = new Uint32Array(n);
  const next = start.slice(0, nT);
  for (let i = 0; i < n; i++) {
    const t = Ts.index[i] ?? 0;
    const at = next[t] ?? 0;
    order[at] = i;
    next[t] = at + 1;
  }
  // Within one T, the cell of each pair: a table indexed by pair, cleared for the next T
  // (a map where the pairs are too many for a table).
  const pairs = xs.values.length * ntx;
  const table = pairs <= 1 << 22 ? new Int32Array(pairs).fill(-1) : null;
  const map = new Map<number, number>();
  // At most one cell per customer: typed arrays of that size, cut to the cells found.
  const cPair = new Uint32Array(n);
  const cT = new Uint32Array(n);
  const w = new Float64Array(n);
  let cells = 0;
  for (let t = 0; t < nT; t++) {
    const from = start[t] ?? 0;
    const to = start[t + 1] ?? 0;
    for (let j = from; j < to; j++) {
      const i = order[j] ?? 0;
      const p = pairOf[i] ?? 0;
      let k = table ? (table[p] ?? -1) : (map.get(p) ?? -1);
      if (k < 0) {
        k = cells++;
        cPair[k] = p;
        cT[k] = t;
        if (table) table[p] = k;
        else map.set(p, k);
      }
      w[k] = (w[k] ?? 0) + 1;
      cellOf[i] = k;
    }
    if (table) for (let j = from; j < to; j++) table[pairOf[order[j] ?? 0] ?? 0] = -1;
    else map.clear();
  }
  const cx = new Uint32Array(cells);
  const ctx = new Uint32Array(cells);
  for (let k = 0; k < cells; k++) {
    const p = cPair[k] ?? 0;
    cx[k] = Math.floor(p / ntx);
    ctx[k] = p % ntx;
  }
  const weeks = (days: number[]): Float64Array => Float64Array.from(days, (d) => d / 7);
  return {
    data: {
      xs: Float64Array.from(xs.values),
      txs: weeks(txs.values),
      Ts: weeks(Ts.values),
      xIndex: cx,
      txIndex: ctx,
      TIndex: cT.slice(0, cells),
      w: w.slice(0, cells),
    },
    cellOf,
  };
}

/** The repeat buyers (x > 0, mean spend > 0) of columnar histories, for Gamma-Gamma. */
export function spendData(h: HistoryColumns): SpendData {
  return spendOf(
    h.x.length,
    (i) => h.x[i] ?? 0,
    (i) => h.mx[i] ?? Number.NaN,
    () => 1,
  );
}

export function prepareCounts(data: readonly CustomerHistory[]): CountData {
  const index = (values: number[]): [Float64Array, Uint32Array] => {
    const distinct = [...new Set(values)];
    const at = new Map(distinct.map((v, i) => [v, i]));
    return [Float64Array.from(distinct), Uint32Array.from(values, (v) => at.get(v) ?? 0)];
  };
  const [xs, xIndex] = index(data.map((c) => c.x));
  const [txs, txIndex] = index(data.map((c) => c.tx));
  const [Ts, TIndex] = index(data.map((c) => c.T));
  return { xs, txs, Ts, xIndex, txIndex, TIndex, w: Float64Array.from(data, (c) => c.weight ?? 1) };
}

function countLogLikelihood(r: number, alpha: number, a: number, b: number, d: CountData): number {
  const base = gammaln(a + b) - gammaln(b) - gammaln(r) + r * Math.log(alpha);
  const perX = d.xs.map((x) => base + gammaln(r + x) + gammaln(b + x) - gammaln(a + b + x));
  const lnRepeat = d.xs.map((x) => (x > 0 ? Math.log(a) - Math.log(b + x - 1) : 0));
  const lnTx = d.txs.map((t) => Math.log(alpha + t));
  const lnT = d.Ts.map((t) => Math.log(alpha + t));
  let sum = 0;
  for (let i = 0; i < d.w.length; i++) {
    const xi = d.xIndex[i] ?? 0;
    const x = d.xs[xi] ?? 0;
    const a3 = -(r + x) * (lnT[d.TIndex[i] ?? 0] ?? 0);
    const ll =
      x > 0 ? logAddExp(a3, (lnRepeat[xi] ?? 0) - (r + x) * (lnTx[d.txIndex[i] ?? 0] ?? 0)) : a3;
    sum += (d.w[i] ?? 0) * ((perX[xi] ?? 0) + ll);
  }
  return sum;
}

/**
 * The BG/NBD log-likelihood and its gradient with respect to the log-parameters
 * (ln r, ln α, ln a, ln b). Per customer, with s = r + x,
 * LL = ln Γ(r+x) − ln Γ(r) + r ln α + ln Γ(a+b) + ln Γ(b+x) − ln Γ(b) − ln Γ(a+b+x)
 *      + ln[(α+T)^−s + [x > 0] a/(b+x−1) (α+t_x)^−s];
 * the last term's two parts, weighted by their shares wA and wB of the bracket, give
 * ∂/∂r −wA ln(α+T) − wB ln(α+t_x), ∂/∂α −s (wA/(α+T) + wB/(α+t_x)), ∂/∂a wB/a and
 * ∂/∂b −wB/(b+x−1); the gamma terms give digammas.
 */
export function bgnbdLogLikelihoodGradient(
  params: readonly [number, number, number, number],
  d: CountData,
): { ll: number; gradient: [number, number, number, number] } {
  const [r, alpha, a, b] = params;
  const psiAB = digamma(a + b);
  const psiB = digamma(b);
  const psiR = digamma(r);
  const lnAlpha = Math.log(alpha);
  const base = gammaln(a + b) - gammaln(b) - gammaln(r) + r * lnAlpha;
  const nx = d.xs.length;
  const perX = new Float64Array(nx);
  const dX = [new Float64Array(nx), new Float64Array(nx), new Float64Array(nx)];
  const lnRepeat = new Float64Array(nx);
  for (let k = 0; k < nx; k++) {
    const x = d.xs[k] ?? 0;
    const psiABX = digamma(a + b + x);
    perX[k] = base + gammaln(r + x) + gammaln(b + x) - gammaln(a + b + x);
    (dX[0] as Float64Array)[k] = digamma(r + x) - psiR + lnAlpha;
    (dX[1] as Float64Array)[k] = psiAB - psiABX;
    (dX[2] as Float64Array)[k] = psiAB - psiB + digamma(b + x) - psiABX;
    lnRepeat[k] = x > 0 ? Math.log(a) - Math.log(b + x - 1) : 0;
  }
  const lnTx = d.txs.map((t) => Math.log(alpha + t));
  const invTx = d.txs.map((t) => 1 / (alpha + t));
  const lnT = d.Ts.map((t) => Math.log(alpha + t));
  const invT = d.Ts.map((t) => 1 / (alpha + t));
  let ll = 0;
  let gr = 0;
  let gAlpha = 0;
  let ga = 0;
  let gb = 0;
  for (let i = 0; i < d.w.length; i++) {
    const w = d.w[i] ?? 0;
    const k = d.xIndex[i] ?? 0;
    const x = d.xs[k] ?? 0;
    const s = r + x;
    const ti = d.TIndex[i] ?? 0;
    const lA = -s * (lnT[ti] ?? 0);
    let term = lA;
    let wB = 0;
    let txi = 0;
    if (x > 0) {
      txi = d.txIndex[i] ?? 0;
      const lB = (lnRepeat[k] ?? 0) - s * (lnTx[txi] ?? 0);
      // ln(e^lA + e^lB) and B's share of it, from one exponential of the smaller over the larger.
      const diff = lB - lA;
      const e = Math.exp(-Math.abs(diff));
      term = Math.max(lA, lB) + Math.log1p(e);
      wB = diff > 0 ? 1 / (1 + e) : e / (1 + e);
    }
    const wA = 1 - wB;
    ll += w * ((perX[k] ?? 0) + term);
    gr += w * ((dX[0]?.[k] ?? 0) - wA * (lnT[ti] ?? 0) - wB * (x > 0 ? (lnTx[txi] ?? 0) : 0));
    gAlpha += w * (r / alpha - s * (wA * (invT[ti] ?? 0) + wB * (x > 0 ? (invTx[txi] ?? 0) : 0)));
    ga += w * ((dX[1]?.[k] ?? 0) + wB / a);
    gb += w * ((dX[2]?.[k] ?? 0) - (x > 0 ? wB / (b + x - 1) : 0));
  }
  // With respect to the log-parameters: ∂/∂ln θ = θ ∂/∂θ.
  return { ll, gradient: [gr * r, gAlpha * alpha, ga * a, gb * b] };
}

/**
 * From a neighbouring fit (the period before): a small first simplex, and a relative
 * tolerance of 1e-9 of the log-likelihood, far below what moves a prediction's fourth digit.
 */
const WARM = { step: 0.02, fTolerance: 1e-9, xTolerance: 1e-5, maxIterations: 2_000 };
/** The simplex as a fallback from the cold start: bounded, as a fit running off to infinity never converges. */
const FALLBACK = { maxIterations: 4_000 };

/**
 * Maximum likelihood over log-parameters (so that each stays positive): BFGS on the analytic
 * gradient, and the simplex, which needs none, where BFGS cannot go on. Returns the
 * parameters and the log-likelihood there.
 */
function maximizeLikelihood(
  llAndGradient: (params: number[]) => { ll: number; gradient: number[] },
  start: readonly number[] | undefined,
  dimensions: number,
  limits: FitLimits = {},
  curvature: Curvature = {},
): { params: number[]; ll: number; inverseHessian?: number[][] } {
  const x0 = start ? start.map(Math.log) : new Array<number>(dimensions).fill(0);
  // Each evaluation first checks the clock: iterations are bounded by the optimizers, time
  // by this, so that no data can keep a run fitting past its budget.
  const evaluate = (p: readonly number[]): { ll: number; gradient: number[] } => {
    if (limits.deadline !== undefined && performance.now() > limits.deadline) {
      throw new FitTimeout();
    }
    return llAndGradient(p.map(Math.exp));
  };
  const quasiNewton = minimizeBfgs(
    (p) => {
      const { ll, gradient } = evaluate(p);
      return { f: -ll, g: gradient.map((g) => -g) };
    },
    x0,
    start && curvature.inverseHessian ? { inverseHessian: curvature.inverseHessian } : {},
  );
  if (quasiNewton) {
    const { x, fx, inverseHessian } = quasiNewton;
    return { params: x.map(Math.exp), ll: -fx, inverseHessian };
  }
  const best = minimize(
    (p) => {
      const { ll } = evaluate(p);
      return Number.isFinite(ll) ? -ll : Number.MAX_VALUE;
    },
    x0,
    start ? WARM : FALLBACK,
  );
  return { params: best.x.map(Math.exp), ll: -best.fx };
}

/** Limits on a fit beyond the optimizers' own iteration caps. */
export interface FitLimits {
  /** `performance.now()` after which the fit stops with FitTimeout. */
  readonly deadline?: number;
}

/** A fit stopped at its deadline: it has no result. */
export class FitTimeout extends Error {
  override name = 'FitTimeout';
  constructor() {
    super('the lifetime model did not finish within its time budget');
  }
}

/** Fits BG/NBD by maximum likelihood (over log-parameters, so each stays positive). */
export function fitBgNbd(
  data: readonly CustomerHistory[] | CountData,
  /** A starting point, e.g. the fit of a neighbouring period. @default r = α = a = b = 1 */
  start?: Omit<BgNbd, 'logLikelihood'>,
  limits?: FitLimits,
): BgNbd {
  const prepared = isCountData(data) ? data : prepareCounts(data);
  const { params, ll, inverseHessian } = maximizeLikelihood(
    (p) => bgnbdLogLikelihoodGradient(p as [number, number, number, number], prepared),
    start && [start.r, start.alpha, start.a, start.b],
    4,
    limits,
    start,
  );
  const [r = 1, alpha = 1, a = 1, b = 1] = params;
  return { r, alpha, a, b, logLikelihood: ll, ...(inverseHessian ? { inverseHessian } : {}) };
}

/** Repeat buyers' (x, mean spend) as arrays, with the sums that do not depend on p, q, v. */
export interface SpendData {
  readonly x: Float64Array;
  readonly m: Float64Array;
  readonly w: Float64Array;
  /** Σ w x ln m and Σ w ln m: (p x − 1) ln m summed is p·first − second. */
  readonly sumXLnM: number;
  readonly sumLnM: number;
  /** Σ w and, per distinct x, Σ w. */
  readonly total: number;
  readonly weightByX: ReadonlyMap<number, number>;
}

function prepareSpend(data: readonly CustomerHistory[]): SpendData {
  return spendOf(
    data.length,
    (i) => data[i]?.x ?? 0,
    (i) => data[i]?.mx ?? Number.NaN,
    (i) => data[i]?.weight ?? 1,
  );
}

/** SpendData of the rows with x > 0 and a mean spend > 0, in their order. */
function spendOf(
  n: number,
  xAt: (i: number) => number,
  mAt: (i: number) => number,
  wAt: (i: number) => number,
): SpendData {
  const x = new Float64Array(n);
  const m = new Float64Array(n);
  const w = new Float64Array(n);
  let rows = 0;
  let sumXLnM = 0;
  let sumLnM = 0;
  let total = 0;
  const weightByX = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const xi = xAt(i);
    const mi = mAt(i);
    if (!(xi > 0 && mi > 0)) continue;
    const wi = wAt(i);
    x[rows] = xi;
    m[rows] = mi;
    w[rows] = wi;
    rows++;
    const lm = Math.log(mi);
    sumXLnM += wi * xi * lm;
    sumLnM += wi * lm;
    total += wi;
    weightByX.set(xi, (weightByX.get(xi) ?? 0) + wi);
  }
  return {
    x: x.slice(0, rows),
    m: m.slice(0, rows),
    w: w.slice(0, rows),
    sumXLnM,
    sumLnM,
    total,
    weightByX,
  };
}

function spendLogLikelihood(p: number, q: number, v: number, d: SpendData): number {
  let sum = d.total * (q * Math.log(v) - gammaln(q)) + p * d.sumXLnM - d.sumLnM;
  for (const [x, w] of d.weightByX) {
    sum += w * (gammaln(p * x + q) - gammaln(p * x) + p * x * Math.log(x));
  }
  for (let i = 0; i < d.x.length; i++) {
    const x = d.x[i] ?? 0;
    sum -= (d.w[i] ?? 0) * (p * x + q) * Math.log(x * (d.m[i] ?? 0) + v);
  }
  return sum;
}

/** Gamma-Gamma log-likelihood of the mean repeat spend of customers with x > 0. */
export function gammaGammaLogLikelihood(
  p: number,
  q: number,
  v: number,
  data: readonly CustomerHistory[],
): number {
  return spendLogLikelihood(p, q, v, prepareSpend(data));
}

/**
 * The Gamma-Gamma log-likelihood and its gradient over (ln p, ln q, ln v). Per repeat buyer,
 * LL = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v).
 */
function spendLogLikelihoodGradient(
  p: number,
  q: number,
  v: number,
  d: SpendData,
): { ll: number; gradient: [number, number, number] } {
  let ll = d.total * (q * Math.log(v) - gammaln(q)) + p * d.sumXLnM - d.sumLnM;
  let gp = d.sumXLnM;
  let gq = d.total * (Math.log(v) - digamma(q));
  let gv = (d.total * q) / v;
  for (const [x, w] of d.weightByX) {
    const psi = digamma(p * x + q);
    ll += w * (gammaln(p * x + q) - gammaln(p * x) + p * x * Math.log(x));
    gp += w * x * (psi - digamma(p * x) + Math.log(x));
    gq += w * psi;
  }
  for (let i = 0; i < d.x.length; i++) {
    const x = d.x[i] ?? 0;
    const w = d.w[i] ?? 0;
    const xmv = x * (d.m[i] ?? 0) + v;
    const ln = Math.log(xmv);
    ll -= w * (p * x + q) * ln;
    gp -= w * x * ln;
    gq -= w * ln;
    gv -= (w * (p * x + q)) / xmv;
  }
  return { ll, gradient: [gp * p, gq * q, gv * v] };
}

/** Fits Gamma-Gamma by maximum likelihood. */
export function fitGammaGamma(
  data: readonly CustomerHistory[] | SpendData,
  /** A starting point, e.g. the fit of a neighbouring period. @default p = q = v = 1 */
  start?: Omit<GammaGamma, 'logLikelihood'>,
  limits?: FitLimits,
): GammaGamma {
  const prepared = isSpendData(data) ? data : prepareSpend(data);
  const { params, ll, inverseHessian } = maximizeLikelihood(
    ([p = 1, q = 1, v = 1]) => spendLogLikelihoodGradient(p, q, v, prepared),
    start && [start.p, start.q, start.v],
    3,
    limits,
    start,
  );
  const [p = 1, q = 1, v = 1] = params;
  return { p, q, v, logLikelihood: ll, ...(inverseHessian ? { inverseHessian } : {}) };
}

/** Gamma-Gamma log-likelihood gradient, for tests. */
export function gammaGammaLogLikelihoodGradient(
  params: readonly [number, number, number],
  data: readonly CustomerHistory[],
): { ll: number; gradient: [number, number, number] } {
  return spendLogLikelihoodGradient(...params, prepareSpend(data));
}

/**
 * The NBD (Ehrenberg 1959): Poisson purchases with Gamma(r, α) rates and no dropout. It is
 * BG/NBD's limit as the dropout probabilities vanish (a → 0 or b → ∞, where the Beta(a, b)
 * mixing collapses onto 0): when the history shows nobody leaving, BG/NBD's fit runs off
 * there, and this is the model it is running to.
 */
export interface Nbd extends Curvature {
  readonly r: number;
  readonly alpha: number;
  readonly logLikelihood: number;
}

/**
 * NBD log-likelihood and gradient over (ln r, ln α): per customer
 * LL = ln Γ(r+x) − ln Γ(r) + r ln α − (r+x) ln(α+T) (t_x does not enter).
 */
export function nbdLogLikelihoodGradient(
  params: readonly [number, number],
  d: CountData,
): { ll: number; gradient: [number, number] } {
  const [r, alpha] = params;
  const psiR = digamma(r);
  const lnAlpha = Math.log(alpha);
  const perX = d.xs.map((x) => gammaln(r + x) - gammaln(r) + r * lnAlpha);
  const dPerX = d.xs.map((x) => digamma(r + x) - psiR + lnAlpha);
  const lnT = d.Ts.map((t) => Math.log(alpha + t));
  const invT = d.Ts.map((t) => 1 / (alpha + t));
  let ll = 0;
  let gr = 0;
  let ga = 0;
  for (let i = 0; i < d.w.length; i++) {
    const w = d.w[i] ?? 0;
    const k = d.xIndex[i] ?? 0;
    const x = d.xs[k] ?? 0;
    const t = d.TIndex[i] ?? 0;
    ll += w * ((perX[k] ?? 0) - (r + x) * (lnT[t] ?? 0));
    gr += w * ((dPerX[k] ?? 0) - (lnT[t] ?? 0));
    ga += w * (r / alpha - (r + x) * (invT[t] ?? 0));
  }
  return { ll, gradient: [gr * r, ga * alpha] };
}

/** Fits the NBD by maximum likelihood. */
export function fitNbd(
  data: readonly CustomerHistory[] | CountData,
  start?: Omit<Nbd, 'logLikelihood'>,
  limits?: FitLimits,
): Nbd {
  const prepared = isCountData(data) ? data : prepareCounts(data);
  const { params, ll, inverseHessian } = maximizeLikelihood(
    (p) => nbdLogLikelihoodGradient(p as [number, number], prepared),
    start && [start.r, start.alpha],
    2,
    limits,
    start,
  );
  const [r = 1, alpha = 1] = params;
  return { r, alpha, logLikelihood: ll, ...(inverseHessian ? { inverseHessian } : {}) };
}

/** NBD: expected purchases in the next `t` weeks, the posterior mean rate times t. */
export function nbdExpectedPurchases(
  m: Omit<Nbd, 'logLikelihood'>,
  c: CustomerHistory,
  t: number,
): number {
  return ((m.r + c.x) / (m.alpha + c.T)) * t;
}

/** Probability that a customer with this history is still active at the end of calibration. */
export function probabilityAlive(m: BgNbd, c: CustomerHistory): number {
  if (c.x === 0) return 1;
  const ratio =
    (m.a / (m.b + c.x - 1)) * Math.exp((m.r + c.x) * Math.log((m.alpha + c.T) / (m.alpha + c.tx)));
  return 1 / (1 + ratio);
}

/** Expected purchases in the next `t` weeks for a customer with this history. */
export function expectedPurchases(m: BgNbd, c: CustomerHistory, t: number): number {
  return purchasesIfAlive(m, c.x, c.T, t) / aliveFactor(m, c.x, c.tx, c.T);
}

/** Expected purchases in the next `t` weeks of every cell of `d`. */
export function expectedPurchasesOfCells(m: BgNbd, d: CountData, t: number): Float64Array {
  return ofCells(m, d, (x, T) => purchasesIfAlive(m, x, T, t));
}

/**
 * A BG/NBD prediction for every cell of `d`: `ifAlive(x, T)`, the part before 1/P(alive),
 * which depends on x and T but not t_x, so it is computed once per distinct (x, T), then
 * divided by each cell's 1/P(alive).
 */
function ofCells(m: BgNbd, d: CountData, ifAlive: (x: number, T: number) => number): Float64Array {
  const heads = new Map<number, number>();
  const out = new Float64Array(d.w.length);
  for (let i = 0; i < out.length; i++) {
    const xi = d.xIndex[i] ?? 0;
    const Ti = d.TIndex[i] ?? 0;
    const x = d.xs[xi] ?? 0;
    const T = d.Ts[Ti] ?? 0;
    const key = xi * d.Ts.length + Ti;
    let head = heads.get(key);
    if (head === undefined) heads.set(key, (head = ifAlive(x, T)));
    out[i] = head / aliveFactor(m, x, d.txs[d.txIndex[i] ?? 0] ?? 0, T);
  }
  return out;
}

/** BG/NBD's expected purchases in the next `t` weeks times the odds of being alive, 1/P(alive). */
function purchasesIfAlive(m: BgNbd, x: number, T: number, t: number): number {
  const { r, alpha, a, b } = m;
  const z = t / (alpha + T + t);
  const head = (a + b + x - 1) / (a - 1);
  const tail =
    1 - Math.pow((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z);
  return head * tail;
}

/** 1 / P(alive) of a history. */
function aliveFactor(m: BgNbd, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = m;
  return x > 0 ? 1 + (a / (b + x - 1)) * Math.pow((alpha + T) / (alpha + tx), r + x) : 1;
}

/**
 * Expected value of a customer's future purchases: Gamma-Gamma's conditional expectation
 * E(M | p, q, v, x, m) = p (v + x m) / (p x + q − 1) (Fader, Hardie & Lee 2005), which at
 * x = 0 is the population mean p v / (q − 1).
 */
export function expectedSpend(g: GammaGamma, c: CustomerHistory): number {
  return expectedSpendOf(g, c.x, c.mx ?? 0);
}

/**
 * expectedSpend of `x` repeat purchases with mean value `mx`. A repeat buyer whose repeat
 * purchases total 0 (a free item, a 100 % voucher; `mx` = 0, or NaN: none recorded) gets the
 * same conditional expectation with m = 0, p v / (p x + q − 1): Gamma-Gamma's likelihood has
 * no room for a mean of 0, so the fit leaves them out (spendData), but the posterior of their
 * spend rate given x purchases and a mean tending to 0 is still defined, and this is its
 * mean. The more zero-value purchases, the lower the expectation, never below 0.
 */
export function expectedSpendOf(g: GammaGamma, x: number, mx: number): number {
  const m = mx > 0 ? mx : 0;
  return (g.p * (g.v + x * m)) / (g.p * x + g.q - 1);
}

/**
 * The lifetime value's horizon and its discounting (docs/kpis.md, "CLV model"): the next 52
 * weeks in 12 slices of 52/12 weeks ("months"); the purchases expected in slice k (k = 1…12)
 * are discounted to the calibration end at an annual rate d, compounded monthly and paid at
 * the slice's end: a factor (1 + d)^(−k/12).
 */
export const HORIZON_WEEKS = 52;
export const HORIZON_SLICES = 12;

/** The discount factor of each slice at annual rate `d`: (1 + d)^(−k/12), k = 1…12. */
export function sliceDiscounts(annualRate: number): Float64Array {
  if (!(annualRate >= 0)) throw new Error(`not a discount rate: ${annualRate}`);
  return Float64Array.from(
    { length: HORIZON_SLICES },
    (_, k) => (1 + annualRate) ** (-(k + 1) / HORIZON_SLICES),
  );
}

/**
 * Σ_k factor_k (E[X(t_k)] − E[X(t_{k−1})]) over the slices' ends t_k = 52 k / 12 weeks, from
 * the expected purchases up to t (`upTo`). With no discount (every factor 1), E[X(52)]
 * itself, not the telescoped sum (the same double as the undiscounted prediction).
 */
function discounted(upTo: (t: number) => number, factors: Float64Array): number {
  if (factors.every((f) => f === 1)) return upTo(HORIZON_WEEKS);
  let sum = 0;
  let before = 0;
  for (let k = 0; k < factors.length; k++) {
    const now = upTo((HORIZON_WEEKS * (k + 1)) / factors.length);
    sum += (factors[k] ?? 1) * (now - before);
    before = now;
  }
  return sum;
}

/** BG/NBD: discounted expected purchases over the next 52 weeks (see sliceDiscounts). */
export function discountedPurchases(m: BgNbd, c: CustomerHistory, annualRate: number): number {
  const factors = sliceDiscounts(annualRate);
  return (
    discounted((t) => purchasesIfAlive(m, c.x, c.T, t), factors) / aliveFactor(m, c.x, c.tx, c.T)
  );
}

/** NBD: discounted expected purchases over the next 52 weeks, rate × Σ_k factor_k × 52/12. */
export function nbdDiscountedPurchases(
  m: Omit<Nbd, 'logLikelihood'>,
  c: CustomerHistory,
  annualRate: number,
): number {
  return discounted((t) => nbdExpectedPurchases(m, c, t), sliceDiscounts(annualRate));
}

/** BG/NBD: discountedPurchases of every cell of `d`. */
export function discountedPurchasesOfCells(
  m: BgNbd,
  d: CountData,
  annualRate: number,
): Float64Array {
  const factors = sliceDiscounts(annualRate);
  return ofCells(m, d, (x, T) => discounted((t) => purchasesIfAlive(m, x, T, t), factors));
}
