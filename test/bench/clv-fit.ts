/**
 * The lifetime-model trend benchmark: N customers simulated from the BG/NBD and Gamma-Gamma
 * processes (CDNOW's parameters, purchase days over three years, seeded), summarized at 13
 * weekly ends as a weekly report's trend is, and fitted as the report fits them: `fitTrend`,
 * oldest end first, each fit warm-started from the one before. Usage: tsx
 * test/bench/clv-fit.ts N → one JSON line { ms, fits, customers, cells, clv, maxRssMb }.
 */
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { countCells } from '../../functions/clv/models.ts';
import { fitTrend, type Calibration } from '../../functions/kpis/beyond.ts';

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
/** Days of history before the newest end, and the weekly ends (days before it). */
const HISTORY_DAYS = 156 * 7;
const ENDS = Array.from({ length: 13 }, (_, k) => HISTORY_DAYS - 7 * k);
// Every customer's purchase days (from day 0 of the history) and spend, flat.
const first = new Int32Array(n);
const start = new Int32Array(n + 1);
const days: number[] = [];
const spends: number[] = [];
for (let i = 0; i < n; i++) {
  const birth = Math.floor(u() * HISTORY_DAYS);
  const lambda = gamma(r) / alpha;
  const dropout = gamma(a) / (gamma(a) + gamma(b));
  const nu = gamma(q) / v;
  first[i] = birth;
  start[i] = days.length;
  days.push(birth);
  spends.push(gamma(p) / nu);
  let t = 0;
  for (let x = 0; x < 500; x++) {
    if (u() < dropout && x > 0) break;
    t += -Math.log(u()) / lambda;
    const day = birth + Math.floor(t * 7);
    if (day >= HISTORY_DAYS) break;
    const amount = gamma(p) / nu;
    // Purchases on one day are one purchase day, as the report counts them.
    if (day === days.at(-1)) spends[spends.length - 1] = (spends.at(-1) ?? 0) + amount;
    else {
      days.push(day);
      spends.push(amount);
    }
  }
}
start[n] = days.length;

/** The histories at ends[i], as the report's summaries give them (weeks of whole days). */
function historiesAt(i: number): Calibration {
  const end = ENDS[i] ?? HISTORY_DAYS;
  let m = 0;
  for (let c = 0; c < n; c++) if ((first[c] ?? 0) < end) m++;
  const h = {
    x: new Float64Array(m),
    txDays: new Float64Array(m),
    TDays: new Float64Array(m),
    mx: new Float64Array(m),
    row: new Uint32Array(m),
    // A weekly report's groups: active in the last 90 days, acquired in the last 7.
    activeWindowDays: 90,
    periodDays: 7,
  };
  let k = 0;
  for (let c = 0; c < n; c++) {
    const f = first[c] ?? 0;
    if (f >= end) continue;
    let x = -1;
    let last = f;
    let repeat = 0;
    for (let j = start[c] ?? 0; j < (start[c + 1] ?? 0) && (days[j] ?? 0) < end; j++) {
      x++;
      last = days[j] ?? 0;
      if (x > 0) repeat += spends[j] ?? 0;
    }
    h.x[k] = x;
    h.txDays[k] = last - f;
    h.TDays[k] = end - 1 - f;
    h.mx[k] = x > 0 ? repeat / x : Number.NaN;
    h.row[k] = c;
    k++;
  }
  return h;
}

let cells = 0;
let building = 0;
const started = performance.now();
const fits = fitTrend(
  ENDS,
  (i) => {
    const t0 = performance.now();
    const h = historiesAt(i);
    cells += countCells(h).data.w.length;
    building += performance.now() - t0;
    return h;
  },
  600_000,
  { grossMargin: null, annualDiscountRate: 0.1 },
);
// The summaries stand in for the SQL statement's rows: not part of the fits' time.
const ms = performance.now() - started - building;
const reported = fits[0];
process.stdout.write(
  `${JSON.stringify({
    ms,
    fits: fits.filter((f) => 'model' in f).length,
    customers: n,
    cells,
    clv: reported && 'means' in reported ? reported.means.active : null,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
