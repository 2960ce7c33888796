import type { TargetConfig } from '../config/schema.ts';
import type { Direction } from './definitions.ts';

/** A change against one reference value. */
export interface Change {
  /** `value − reference`, in the KPI's unit (fraction points for ratios). */
  readonly absolute: number | null;
  /** `(value − reference) / |reference|`; null when the reference is zero or missing. */
  readonly relative: number | null;
  /** Whether the move is good, bad or neither for this KPI's direction. */
  readonly verdict: 'good' | 'bad' | 'flat' | 'neutral' | null;
}

/** Multiplier that turns a median absolute deviation into a robust standard deviation. */
const MAD_TO_SIGMA = 1.4826;
/** The anomaly threshold in robust deviations (docs/kpis.md, "Anomalies"). */
export const ANOMALY_DEVIATIONS = 3;
/** Fewer earlier period-to-period changes than this give no anomaly verdict. */
export const ANOMALY_MIN_HISTORY = 4;

/** The change of `value` against `reference`, judged by `direction`. */
export function changeOf(
  value: number | null,
  reference: number | null,
  direction: Direction,
): Change {
  if (value === null || reference === null)
    return { absolute: null, relative: null, verdict: null };
  const absolute = value - reference;
  const relative = reference === 0 ? null : absolute / Math.abs(reference);
  let verdict: Change['verdict'];
  if (absolute === 0) verdict = 'flat';
  else if (direction === 'neutral') verdict = 'neutral';
  else verdict = absolute > 0 === (direction === 'up') ? 'good' : 'bad';
  return { absolute, relative, verdict };
}

/** Mean of the non-null values, or null when there are none. */
export function meanOf(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Exact median (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const xs = [...values].sort((a, b) => a - b);
  const mid = xs.length >> 1;
  return xs.length % 2 ? (xs[mid] ?? null) : ((xs[mid - 1] ?? 0) + (xs[mid] ?? 0)) / 2;
}

/**
 * The recent rule: whether the latest change (last trend value against the one before) lies
 * more than 3 robust deviations from the median of the earlier period-to-period changes in
 * the trend. The robust deviation is 1.4826 × the median absolute deviation of those
 * changes. With no spread at all (MAD = 0), any departure from that constant change is an
 * anomaly. Null when there is no latest change or fewer than 4 earlier ones.
 */
export function recentAnomaly(trend: readonly (number | null)[]): boolean | null {
  const diffs: (number | null)[] = [];
  for (let i = 1; i < trend.length; i++) {
    const a = trend[i - 1];
    const b = trend[i];
    diffs.push(a === null || a === undefined || b === null || b === undefined ? null : b - a);
  }
  const latest = diffs.at(-1);
  if (latest === null || latest === undefined) return null;
  const history = diffs.slice(0, -1).filter((d): d is number => d !== null);
  if (history.length < ANOMALY_MIN_HISTORY) return null;
  const center = median(history) ?? 0;
  const mad = median(history.map((d) => Math.abs(d - center))) ?? 0;
  return beyond(latest - center, mad, Math.max(Math.abs(center), Math.abs(latest)));
}

/** The recent rule as a yes/no: no verdict is no anomaly. */
export function isAnomaly(trend: readonly (number | null)[]): boolean {
  return recentAnomaly(trend) ?? false;
}

/** Whether a deviation lies beyond 3 robust deviations of a spread given as its MAD. */
function beyond(deviation: number, mad: number, magnitude: number): boolean {
  // Relative epsilon: sums of decimals are exact, ratios carry floating-point noise.
  const eps = 1e-9 * Math.max(1, magnitude);
  if (mad * MAD_TO_SIGMA <= eps) return Math.abs(deviation) > eps;
  return Math.abs(deviation) > ANOMALY_DEVIATIONS * MAD_TO_SIGMA * mad;
}

/** Fewer earlier periods with a year-ago value than this fall back to the recent rule. */
export const SEASONAL_MIN_HISTORY = 6;

/** Which rule judged a KPI: the season's, the recent changes', or none (too little data). */
export type AnomalyRule = 'seasonal' | 'recent';

export interface AnomalyJudgement {
  readonly anomaly: boolean;
  /** The rule that judged; null when neither had enough evidence (no verdict). */
  readonly rule: AnomalyRule | null;
  /** What the season predicts for the latest value (seasonal rule only, else null). */
  readonly expected: number | null;
}

export interface AnomalyInput {
  /** The trend's values, oldest first, ending with the judged one; null is no evidence. */
  readonly trend: readonly (number | null)[];
  /**
   * Per trend value, its seasonal references: the year-ago value first, then the periods
   * either side of it (weeks only); null where there is no evidence. Null for a kind without
   * a season (years).
   */
  readonly references: readonly (readonly (number | null)[])[] | null;
  /** Compare by ratio (`log`: money, counts, days) or by difference (rates, scores). */
  readonly scale: 'log' | 'difference';
  /**
   * Values are counts (customers, orders): on the ratio scale their spread is at least the
   * counting noise of the value and its reference, √(1/value + 1/reference).
   */
  readonly counts?: boolean;
}

/**
 * The anomaly verdict (docs/kpis.md, "Anomalies"). With a year of history, the seasonal rule:
 * each trend value's year-over-year change (log ratio or difference) against the best-fitting
 * of its year-ago period and, for weeks, the weeks either side of it (a holiday that moved by
 * a week); the center is the median of the earlier periods' changes; the latest value is
 * unusual when its residual lies beyond 3 robust deviations of the earlier residuals (at
 * least SEASONAL_MIN_SPREAD, and the counting noise for counts) and the recent rule agrees.
 * Without enough year-ago values, the recent rule alone.
 */
export function judgeAnomaly(input: AnomalyInput): AnomalyJudgement {
  const seasonal = input.references ? seasonalAnomaly(input) : null;
  if (seasonal) {
    const recent = recentAnomaly(input.trend);
    return { ...seasonal, anomaly: seasonal.anomaly && recent !== false };
  }
  const recent = recentAnomaly(input.trend);
  return recent === null
    ? { anomaly: false, rule: null, expected: null }
    : { anomaly: recent, rule: 'recent', expected: null };
}

/**
 * Smallest robust deviation the seasonal rule uses: 2 % for amounts compared by ratio, half
 * a point (0.005) for rates and scores. A smoother series than that does not make a smaller
 * move news.
 */
export const SEASONAL_MIN_SPREAD = { log: 0.02, difference: 0.005 } as const;

function seasonalAnomaly(input: AnomalyInput): AnomalyJudgement | null {
  const { trend, references, scale } = input;
  if (!references) return null;
  const log = scale === 'log';
  /** The change from a reference to a value: log ratio or difference; null without both. */
  const change = (ref: number | null | undefined, v: number | null | undefined): number | null => {
    if (ref === null || ref === undefined || v === null || v === undefined) return null;
    if (!log) return v - ref;
    return ref > 0 && v > 0 ? Math.log(v / ref) : null;
  };
  const last = trend.length - 1;
  /** Period i's change against its reference k (0: the year-ago period, 1, 2: its neighbours). */
  const yoy = (i: number, k: number): number | null => change(references[i]?.[k], trend[i]);
  /** The reference of period i whose change is closest to `center`, or null without any. */
  const closest = (i: number, center: number): number | null => {
    let best: number | null = null;
    (references[i] ?? []).forEach((_, k) => {
      const c = yoy(i, k);
      const b = best === null ? null : yoy(i, best);
      if (c !== null && (b === null || Math.abs(c - center) < Math.abs(b - center))) best = k;
    });
    return best;
  };
  // Earlier periods with a year-ago value; the reported one must have one too.
  const earlier: number[] = [];
  for (let i = 0; i < last; i++) if (yoy(i, 0) !== null) earlier.push(i);
  if (earlier.length < SEASONAL_MIN_HISTORY || yoy(last, 0) === null) return null;
  // The recent year-over-year change: the median of the earlier changes, then again with
  // each period against its best-fitting reference (a holiday that moved by a week).
  const sameWeek = median(earlier.map((i) => yoy(i, 0) ?? 0)) ?? 0;
  const center =
    median(earlier.map((i) => yoy(i, closest(i, sameWeek) ?? 0) ?? sameWeek)) ?? sameWeek;
  const residual = (i: number): number => (yoy(i, closest(i, center) ?? 0) ?? center) - center;
  const mad = Math.max(
    median(earlier.map((i) => Math.abs(residual(i)))) ?? 0,
    SEASONAL_MIN_SPREAD[scale] / MAD_TO_SIGMA,
  );
  const ref = references[last]?.[closest(last, center) ?? 0] ?? null;
  const value = trend[last] ?? null;
  const counting =
    input.counts && log && value !== null && ref !== null && value > 0 && ref > 0
      ? Math.sqrt(1 / value + 1 / ref)
      : 0;
  const expected =
    ref === null || (log && ref <= 0) ? null : log ? ref * Math.exp(center) : ref + center;
  return {
    anomaly: beyond(residual(last), Math.max(mad, counting / MAD_TO_SIGMA), 1),
    rule: 'seasonal',
    expected,
  };
}

/** The tolerance of a target: configured, or 5 % of its value. */
function toleranceOf(target: TargetConfig): number {
  return target.tolerance ?? Math.abs(target.value) * 0.05;
}

/** The edge of the "watch" band: the target less its tolerance, or plus it for a KPI that should fall. */
export function watchFrom(target: TargetConfig | undefined, direction: Direction): number | null {
  if (!target) return null;
  const tolerance = toleranceOf(target);
  return direction === 'down' ? target.value + tolerance : target.value - tolerance;
}

/** Target status: good when met, watch when short by no more than the tolerance, else bad. */
export function targetStatus(
  value: number | null,
  target: TargetConfig | undefined,
  direction: Direction,
): 'good' | 'watch' | 'bad' | null {
  if (!target || value === null) return null;
  const tolerance = toleranceOf(target);
  // A neutral KPI with a target is judged as "reach at least the target".
  const shortfall = direction === 'down' ? value - target.value : target.value - value;
  if (shortfall <= 0) return 'good';
  return shortfall <= tolerance ? 'watch' : 'bad';
}
