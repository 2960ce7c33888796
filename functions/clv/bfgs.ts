import type { MinimizeResult } from './nelder-mead.ts';

/**
 * BFGS quasi-Newton minimization with a backtracking line search (Armijo's sufficient
 * decrease, or Hager and Zhang's approximate Wolfe conditions where rounding noise hides the
 * decrease), for smooth
 * functions whose gradient is known (Nocedal & Wright 2006, algorithm 6.1; the first inverse
 * Hessian scaled by eq. 6.20). A few dozen gradient steps where the simplex needs hundreds of
 * evaluations. Returns null when it cannot make progress (a non-finite value or gradient at
 * the start, or a line search that finds no lower point), so that the caller can fall back.
 * After `maxIterations` it returns the best point so far: a function that keeps falling
 * towards infinity has no minimum, and the caller judges where it got to.
 */
export interface BfgsOptions {
  /** Stop when every gradient component is within this, relative to max(1, |f|). @default 1e-10 */
  readonly gTolerance?: number;
  /**
   * Stop when no step along the search direction moving every coordinate by less than this
   * lowers the function (near the minimum its rounding noise outweighs the decrease).
   * @default 1e-10
   */
  readonly xTolerance?: number;
  readonly maxIterations?: number;
  /**
   * The first inverse Hessian, e.g. where a neighbouring problem's minimization ended: from
   * a nearby start, its first step is then a quasi-Newton step rather than one of steepest
   * descent. @default the identity, rescaled after the first step
   */
  readonly inverseHessian?: readonly (readonly number[])[];
}

/** A BFGS result, with the inverse Hessian approximation where it ended. */
export interface BfgsResult extends MinimizeResult {
  readonly inverseHessian: number[][];
}

export function minimizeBfgs(
  fg: (x: readonly number[]) => { f: number; g: number[] },
  start: readonly number[],
  options: BfgsOptions = {},
): BfgsResult | null {
  const gTolerance = options.gTolerance ?? 1e-10;
  const xTolerance = options.xTolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? 500;
  const n = start.length;
  const finite = (v: { f: number; g: number[] }): boolean =>
    Number.isFinite(v.f) && v.g.every(Number.isFinite);
  let x = start.slice();
  let cur = fg(x);
  if (!finite(cur)) return null;
  // Inverse Hessian approximation, row-major.
  const given = options.inverseHessian;
  const usable =
    given?.length === n && given.every((row) => row.length === n && row.every(Number.isFinite));
  let H = usable ? given.map((row) => row.slice()) : identity(n);
  let scaled = usable;
  for (let k = 1; k <= maxIterations; k++) {
    if (Math.max(...cur.g.map(Math.abs)) <= gTolerance * Math.max(1, Math.abs(cur.f))) {
      return { x, fx: cur.f, iterations: k - 1, inverseHessian: H };
    }
    let d = times(H, cur.g).map((v) => -v);
    let slope = dot(cur.g, d);
    if (!(slope < 0)) {
      // Not a descent direction: start again from steepest descent.
      H = identity(n);
      d = cur.g.map((v) => -v);
      slope = dot(cur.g, d);
    }
    let t = 1;
    let next: { f: number; g: number[] } | null = null;
    let xNext = x;
    let finiteTrial = false;
    const longest = Math.max(...d.map(Math.abs));
    for (let halvings = 0; halvings < 60; halvings++) {
      // No lower point within a step that moves no coordinate by more than xTolerance: the
      // minimum as far as the function's own rounding lets it be told apart.
      if (finiteTrial && t * longest < xTolerance) {
        return { x, fx: cur.f, iterations: k, inverseHessian: H };
      }
      xNext = x.map((v, i) => v + t * (d[i] ?? 0));
      const trial = fg(xNext);
      // Armijo's sufficient decrease; or, near the minimum, where the decrease is lost in the
      // function's rounding, Hager and Zhang's approximate Wolfe conditions (2005): a value
      // no higher within that rounding, and a slope along d that has fallen far enough.
      if (finite(trial)) {
        const trialSlope = dot(trial.g, d);
        if (
          trial.f <= cur.f + 1e-4 * t * slope ||
          (trial.f <= cur.f + NOISE * Math.abs(cur.f) &&
            trialSlope >= 0.9 * slope &&
            trialSlope <= -0.8 * slope)
        ) {
          next = trial;
          break;
        }
      }
      finiteTrial ||= finite(trial);
      t /= 2;
    }
    if (!next) return null;
    const s = xNext.map((v, i) => v - (x[i] ?? 0));
    const y = next.g.map((v, i) => v - (cur.g[i] ?? 0));
    const sy = dot(s, y);
    x = xNext;
    const before = cur.f;
    cur = next;
    if (sy > 1e-300) {
      if (!scaled) {
        H = identity(n).map((row) => row.map((v) => (v * sy) / dot(y, y)));
        scaled = true;
      }
      H = update(H, s, y, 1 / sy);
    }
    // Converged in value and in the step as well: nothing left to gain in double precision.
    if (
      before - cur.f <= 1e-15 * Math.max(1, Math.abs(cur.f)) &&
      Math.max(...s.map(Math.abs)) < 1e-12
    ) {
      return { x, fx: cur.f, iterations: k, inverseHessian: H };
    }
  }
  return { x, fx: cur.f, iterations: maxIterations, inverseHessian: H };
}

/** The relative rounding of a long sum of likelihood terms, below which values are level. */
const NOISE = 1e-12;

function identity(n: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  );
}

function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, v, i) => s + v * (b[i] ?? 0), 0);
}

function times(m: readonly (readonly number[])[], v: readonly number[]): number[] {
  return m.map((row) => dot(row, v));
}

/** H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ. */
function update(H: number[][], s: number[], y: number[], rho: number): number[][] {
  const Hy = times(H, y);
  const yHy = dot(y, Hy);
  return H.map((row, i) =>
    row.map(
      (h, j) =>
        h -
        rho * ((Hy[i] ?? 0) * (s[j] ?? 0) + (s[i] ?? 0) * (Hy[j] ?? 0)) +
        (rho * rho * yHy + rho) * (s[i] ?? 0) * (s[j] ?? 0),
    ),
  );
}
