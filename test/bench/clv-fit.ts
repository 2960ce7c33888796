/**
 * The lifetime-model fit benchmark: N customers simulated from the BG/NBD and Gamma-Gamma
 * processes (CDNOW's parameters, times in weeks of whole days, seeded), then both models fitted as the
 * report would. Usage: tsx test/bench/clv-fit.ts N → one JSON line { ms, ... }.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import {
  compress,
  fitBgNbd,
  fitGammaGamma,
  type CustomerHistory,
} from '../../functions/clv/models.ts';

const n = Number(process.argv[2] ?? 100_000);
const rng = xoroshiro128plus(n);
const u = (): number => Math.max(uniformFloat64(rng), Number.MIN_VALUE);

/** Marsaglia–Tsang gamma sampler (shape k, scale 1). */
function gamma(k: number): number {
  if (k < 1) return gamma(k + 1) * Math.pow(u(), 1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      // Box–Muller normal.
      x = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const w = u();
    if (w < 1 - 0.0331 * x ** 4 || Math.log(w) < 0.5 * x * x + d * (1 - v + Math.log(v)))
      return d * v;
  }
}

const [r, alpha, a, b] = [0.2426, 4.4135, 0.7929, 2.4258];
const [p, q, v] = [6.25, 3.74, 15.44];
const histories: CustomerHistory[] = [];
for (let i = 0; i < n; i++) {
  // Whole days since the first purchase, in weeks, as the report's summaries.
  const T = (7 + Math.floor(u() * 156 * 7)) / 7;
  const lambda = gamma(r) / alpha;
  const dropout = gamma(a) / (gamma(a) + gamma(b));
  const nu = gamma(q) / v;
  let t = 0;
  let x = 0;
  let last = 0;
  let spend = 0;
  for (;;) {
    if (u() < dropout && x > 0) break;
    t += -Math.log(u()) / lambda;
    if (t >= T) break;
    x++;
    last = t;
    spend += gamma(p) / nu;
    if (x > 500) break;
  }
  histories.push({ x, tx: Math.floor(last * 7) / 7, T, ...(x > 0 ? { mx: spend / x } : {}) });
}

const started = performance.now();
const cells = compress(histories);
const bg = fitBgNbd(cells);
const bgMs = performance.now() - started;
const gg = fitGammaGamma(histories.filter((h) => h.x > 0));
const ms = performance.now() - started;
process.stderr.write(`BG/NBD ${Math.round(bgMs)} ms, Gamma-Gamma ${Math.round(ms - bgMs)} ms\n`);
process.stdout.write(
  `${JSON.stringify({ ms, customers: n, cells: cells.length, bg, gg, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
