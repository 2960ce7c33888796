import gammaln from '@stdlib/math-base-special-gammaln';
import hyp2f1 from '@stdlib/math-base-special-hyp2f1';
import { minimize } from './nelder-mead.ts';

/**
 * Customer-lifetime models of KPI-SPEC.md (`clv_12m`): BG/NBD for the number of purchases
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

export interface BgNbd {
  readonly r: number;
  readonly alpha: number;
  readonly a: number;
  readonly b: number;
  readonly logLikelihood: number;
}

export interface GammaGamma {
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
  const base = gammaln(a + b) - gammaln(b) - gammaln(r) + r * Math.log(alpha);
  // The log-gamma terms depend on x alone: computed once per distinct x.
  const byX = new Map<number, number>();
  const lnA = Math.log(a);
  let sum = 0;
  for (const c of data) {
    const { x, tx, T } = c;
    let a1 = byX.get(x);
    if (a1 === undefined) {
      a1 = gammaln(r + x) + gammaln(b + x) - gammaln(a + b + x);
      byX.set(x, a1);
    }
    const a3 = -(r + x) * Math.log(alpha + T);
    const ll =
      x > 0 ? logAddExp(a3, lnA - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx)) : a3;
    sum += (c.weight ?? 1) * (base + a1 + ll);
  }
  return sum;
}

/** Fits BG/NBD by maximum likelihood (over log-parameters, so each stays positive). */
export function fitBgNbd(data: readonly CustomerHistory[]): BgNbd {
  const nll = (p: readonly number[]): number => {
    const [r, alpha, a, b] = p.map(Math.exp) as [number, number, number, number];
    const ll = bgnbdLogLikelihood(r, alpha, a, b, data);
    return Number.isFinite(ll) ? -ll : Number.MAX_VALUE;
  };
  const best = minimize(nll, [0, 0, 0, 0]);
  const [r, alpha, a, b] = best.x.map(Math.exp) as [number, number, number, number];
  return { r, alpha, a, b, logLikelihood: -best.fx };
}

/** Gamma-Gamma log-likelihood of the mean repeat spend of customers with x > 0. */
export function gammaGammaLogLikelihood(
  p: number,
  q: number,
  v: number,
  data: readonly CustomerHistory[],
): number {
  let sum = 0;
  for (const c of data) {
    const { x, mx } = c;
    if (x <= 0 || mx === undefined || mx <= 0) continue;
    const px = p * x;
    sum +=
      (c.weight ?? 1) *
      (gammaln(px + q) -
        gammaln(px) -
        gammaln(q) +
        q * Math.log(v) +
        (px - 1) * Math.log(mx) +
        px * Math.log(x) -
        (px + q) * Math.log(x * mx + v));
  }
  return sum;
}

export function fitGammaGamma(data: readonly CustomerHistory[]): GammaGamma {
  const nll = (w: readonly number[]): number => {
    const [p, q, v] = w.map(Math.exp) as [number, number, number];
    const ll = gammaGammaLogLikelihood(p, q, v, data);
    return Number.isFinite(ll) ? -ll : Number.MAX_VALUE;
  };
  const best = minimize(nll, [0, 0, 0]);
  const [p, q, v] = best.x.map(Math.exp) as [number, number, number];
  return { p, q, v, logLikelihood: -best.fx };
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
  const { r, alpha, a, b } = m;
  const { x, tx, T } = c;
  const z = t / (alpha + T + t);
  const head = (a + b + x - 1) / (a - 1);
  const tail =
    1 - Math.pow((alpha + T) / (alpha + T + t), r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z);
  const alive = x > 0 ? 1 + (a / (b + x - 1)) * Math.pow((alpha + T) / (alpha + tx), r + x) : 1;
  return (head * tail) / alive;
}

/** Expected value of a customer's future purchases (the population mean when x = 0). */
export function expectedSpend(g: GammaGamma, c: CustomerHistory): number {
  const x = c.x;
  const mx = c.mx ?? 0;
  if (x === 0 || mx <= 0) return (g.p * g.v) / (g.q - 1);
  return (g.p * (g.v + x * mx)) / (g.p * x + g.q - 1);
}
