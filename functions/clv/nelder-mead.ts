/**
 * Nelder–Mead simplex minimization (Lagarias et al. 1998 coefficients), restarted from its
 * own optimum until a restart no longer improves it: the likelihoods here are smooth and
 * low-dimensional (3–4 parameters), where the simplex is robust and needs no gradient.
 * The general minimizers on npm are small and no longer maintained, so this one lives here.
 */
export interface MinimizeOptions {
  /** Stop when the simplex's values differ by less than this, relative to them. @default 1e-12 */
  readonly fTolerance?: number;
  /** …and its points by less than this. @default 1e-10 */
  readonly xTolerance?: number;
  readonly maxIterations?: number;
  /** Initial step per coordinate. @default 0.5 */
  readonly step?: number;
}

export interface MinimizeResult {
  readonly x: number[];
  readonly fx: number;
  readonly iterations: number;
}

function simplexRun(
  f: (x: readonly number[]) => number,
  start: readonly number[],
  o: Required<MinimizeOptions>,
): MinimizeResult {
  const n = start.length;
  let points = [start.slice()];
  for (let i = 0; i < n; i++) {
    const p = start.slice();
    p[i] = (p[i] ?? 0) + o.step;
    points.push(p);
  }
  let values = points.map(f);
  let iterations = 0;
  const order = (): void => {
    const idx = values.map((_, i) => i).sort((a, b) => (values[a] ?? 0) - (values[b] ?? 0));
    points = idx.map((i) => points[i] as number[]);
    values = idx.map((i) => values[i] as number);
  };
  order();
  while (iterations < o.maxIterations) {
    iterations++;
    const best = values[0] as number;
    const worst = values[n] as number;
    const spread = Math.max(
      ...points
        .slice(1)
        .map((p) => Math.max(...p.map((v, j) => Math.abs(v - (points[0]?.[j] ?? 0))))),
    );
    const fScale = Math.max(1, Math.abs(best));
    if (Math.abs(worst - best) <= o.fTolerance * fScale && spread <= o.xTolerance) break;
    const centroid = Array.from(
      { length: n },
      (_, j) => points.slice(0, n).reduce((s, p) => s + (p[j] ?? 0), 0) / n,
    );
    const towards = (t: number): number[] =>
      centroid.map((c, j) => c + t * ((points[n]?.[j] ?? 0) - c));
    const reflected = towards(-1);
    const fr = f(reflected);
    if (fr < best) {
      const expanded = towards(-2);
      const fe = f(expanded);
      if (fe < fr) {
        points[n] = expanded;
        values[n] = fe;
      } else {
        points[n] = reflected;
        values[n] = fr;
      }
    } else if (fr < (values[n - 1] as number)) {
      points[n] = reflected;
      values[n] = fr;
    } else {
      const outside = fr < worst;
      const contracted = towards(outside ? -0.5 : 0.5);
      const fc = f(contracted);
      if (fc < (outside ? fr : worst)) {
        points[n] = contracted;
        values[n] = fc;
      } else {
        // Shrink towards the best point.
        for (let i = 1; i <= n; i++) {
          points[i] = (points[i] as number[]).map(
            (v, j) => (points[0]?.[j] ?? 0) + 0.5 * (v - (points[0]?.[j] ?? 0)),
          );
          values[i] = f(points[i] as number[]);
        }
      }
    }
    order();
  }
  return { x: points[0] as number[], fx: values[0] as number, iterations };
}

export function minimize(
  f: (x: readonly number[]) => number,
  start: readonly number[],
  options: MinimizeOptions = {},
): MinimizeResult {
  const o: Required<MinimizeOptions> = {
    fTolerance: options.fTolerance ?? 1e-12,
    xTolerance: options.xTolerance ?? 1e-8,
    maxIterations: options.maxIterations ?? 20_000,
    step: options.step ?? 0.5,
  };
  let result = simplexRun(f, start, o);
  let total = result.iterations;
  for (let restart = 0; restart < 4; restart++) {
    const again = simplexRun(f, result.x, { ...o, step: o.step / 10 });
    total += again.iterations;
    const improved = result.fx - again.fx > o.fTolerance * Math.max(1, Math.abs(result.fx));
    result = again.fx < result.fx ? again : result;
    if (!improved) break;
  }
  return { ...result, iterations: total };
}
