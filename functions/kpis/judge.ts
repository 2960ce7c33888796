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
 * Whether the latest change (last trend value against the one before) lies more than
 * 3 robust deviations from the median of the earlier period-to-period changes in the trend.
 * The robust deviation is 1.4826 × the median absolute deviation of those changes. With no
 * spread at all (MAD = 0), any departure from that constant change is an anomaly.
 */
export function isAnomaly(trend: readonly (number | null)[]): boolean {
  const diffs: (number | null)[] = [];
  for (let i = 1; i < trend.length; i++) {
    const a = trend[i - 1];
    const b = trend[i];
    diffs.push(a === null || a === undefined || b === null || b === undefined ? null : b - a);
  }
  const latest = diffs.at(-1);
  if (latest === null || latest === undefined) return false;
  const history = diffs.slice(0, -1).filter((d): d is number => d !== null);
  if (history.length < ANOMALY_MIN_HISTORY) return false;
  const center = median(history) ?? 0;
  const mad = median(history.map((d) => Math.abs(d - center))) ?? 0;
  const deviation = Math.abs(latest - center);
  // Relative epsilon: sums of decimals are exact, ratios carry floating-point noise.
  const eps = 1e-9 * Math.max(1, Math.abs(center), Math.abs(latest));
  if (mad * MAD_TO_SIGMA <= eps) return deviation > eps;
  return deviation > ANOMALY_DEVIATIONS * MAD_TO_SIGMA * mad;
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
