/**
 * `npm run bench`: for 1M, 5M and 10M orders (generated once, cached under .cache/bench),
 * the wall time and peak memory of one full weekly report (all KPIs, all comparisons, the
 * 12-period trend) next to the least work any full-history retention figure needs: one
 * per-customer pass over the same file. Each figure is the median of RUNS runs, each in
 * a fresh process. Set BENCH_SIZES=1000000,5000000 to choose sizes, BENCH_RUNS to repeat.
 * Then the lifetime-model fit for 100k and 1M simulated customers (BENCH_CLV to choose),
 * and, on the smallest file, the full report: the KPIs plus cohorts, RFM, the at-risk list
 * and the lifetime model refitted at each of the 13 compared period ends.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSample } from '../../functions/sample/generate.ts';
import { SAMPLE_END } from '../../functions/cli/main.ts';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const sizes = (process.env.BENCH_SIZES ?? '1000000,5000000,10000000')
  .split(',')
  .filter(Boolean)
  .map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 3);
/** Order rows per customer in the sample shop (312,779 rows for 50,000 customers). */
const ROWS_PER_CUSTOMER = 6.26;

interface Sample {
  ms: number;
  maxRssMb: number;
  rows: number;
}

function measure(mode: 'report' | 'full' | 'baseline', file: string): Sample {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', resolve(root, 'test/bench/measure-one.ts'), mode, file],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Sample;
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

const results: string[] = [];
for (const size of sizes) {
  const file = resolve(root, `.cache/bench/orders-${size}.parquet`);
  if (!existsSync(file)) {
    const t0 = performance.now();
    const s = await generateSample(file, {
      customers: Math.round(size / ROWS_PER_CUSTOMER),
      end: SAMPLE_END,
      seed: size,
    });
    process.stderr.write(
      `bench: generated ${s.rows} rows (${s.customers} customers) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  }
  const base: Sample[] = [];
  const full: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(measure('baseline', file));
    full.push(measure('report', file));
  }
  const rows = full[0]?.rows ?? 0;
  const b = medianOf(base.map((s) => s.ms));
  const f = medianOf(full.map((s) => s.ms));
  const line =
    `${String(rows).padStart(11)} rows | weekly report ${(f / 1000).toFixed(2)} s, peak ${Math.max(...full.map((s) => s.maxRssMb)).toFixed(0)} MB` +
    ` | per-customer pass ${(b / 1000).toFixed(2)} s, peak ${Math.max(...base.map((s) => s.maxRssMb)).toFixed(0)} MB` +
    ` | ratio ${(f / b).toFixed(2)}× (target ≤ 3×, peak < 1536 MB)`;
  results.push(line);
  process.stdout.write(`${line}\n`);
}
process.stdout.write(`\nmedian of ${runs} runs each, ${String(runs)} fresh processes per figure\n`);

// The lifetime models: BG/NBD + Gamma-Gamma fitted on simulated customers (target: 1M < 10 s).
const clvSizes = (process.env.BENCH_CLV ?? '100000,1000000').split(',').filter(Boolean).map(Number);
for (const n of clvSizes) {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', resolve(root, 'test/bench/clv-fit.ts'), String(n)],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ms: number; cells: number };
  process.stdout.write(
    `CLV fit ${String(n).padStart(9)} customers (${r.cells} distinct histories): ${(r.ms / 1000).toFixed(2)} s (target < 10 s for 1M)\n`,
  );
}

// The full report on the smallest file: what a scheduled run computes before it renders.
const smallest = sizes.length ? Math.min(...sizes) : 0;
if (smallest > 0) {
  const file = resolve(root, `.cache/bench/orders-${smallest}.parquet`);
  const full: Sample[] = [];
  for (let i = 0; i < runs; i++) full.push(measure('full', file));
  process.stdout.write(
    `full report (KPIs, cohorts, RFM, at-risk list, 13 lifetime fits) ${String(full[0]?.rows ?? 0).padStart(9)} rows: ${(medianOf(full.map((s) => s.ms)) / 1000).toFixed(2)} s, peak ${Math.max(...full.map((s) => s.maxRssMb)).toFixed(0)} MB\n`,
  );
}
