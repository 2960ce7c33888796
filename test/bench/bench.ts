/**
 * `npm run bench`: for 1M, 5M and 10M orders (generated once, cached under .cache/bench), in
 * one run, each figure the median of RUNS fresh processes:
 * - the floor: the least work the cleaning rules need (the deduplication pass plus the
 *   per-customer pass);
 * - the weekly KPI report, and its ratio to the floor;
 * - the full report (KPIs, cohorts, RFM, the at-risk list and the lifetime model refitted at
 *   each of the 13 compared period ends), and its ratio to the KPI report;
 * - peak memory (max RSS) of each;
 * - the statements of a full report and how many of them scan the orders file, counted from
 *   DuckDB's own profile of each statement;
 * - the KPI and the full report broken down by the orders' channel, against each without;
 * and, for the largest file, an estimate of the bytes Athena scans in one full weekly run,
 * without and with the breakdown.
 * Then the lifetime-model trend, 13 weekly fits warm-started as the report fits them, for
 * 100k and 1M simulated customers (BENCH_CLV to choose).
 * Last, the anomaly survey: a weekly report for every week of the sample shop's last year and
 * what each flags (BENCH_ANOMALIES=0 to skip).
 * Set BENCH_SIZES=1000000,5000000 to choose sizes, BENCH_RUNS to repeat.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSample, sampleIsCurrent } from '../../functions/sample/generate.ts';
import { anomalySurvey, surveyLines } from './anomalies.ts';
import { SAMPLE_END } from '../../functions/cli/main.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import {
  COMPUTE_SECONDS_PER_MILLION_CUSTOMERS,
  computeSeconds,
  FUNCTION_BASE_MB,
  FUNCTION_KB_PER_CUSTOMER,
  memoryFor,
} from '../../functions/config/sizing.ts';

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
  statements?: number;
  sourceScans?: number;
}

function run(script: string, args: string[]): string {
  const out = execFileSync(process.execPath, ['--import', 'tsx', resolve(root, script), ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return out.trim().split('\n').at(-1) ?? '{}';
}

type Mode = 'floor' | 'report' | 'full' | 'scans' | 'report-by-channel' | 'full-by-channel';

function measure(mode: Mode, file: string): Sample {
  return JSON.parse(run('test/bench/measure-one.ts', [mode, file])) as Sample;
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const peak = (xs: Sample[]): string => `${Math.max(...xs.map((s) => s.maxRssMb)).toFixed(0)} MB`;

for (const size of sizes) {
  const file = resolve(root, `.cache/bench/orders-${size}.parquet`);
  // A file from before the orders had a channel is generated again.
  if (!existsSync(file) || !(await sampleIsCurrent(file))) {
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
  const floor: Sample[] = [];
  const kpis: Sample[] = [];
  const full: Sample[] = [];
  const kpisBy: Sample[] = [];
  const fullBy: Sample[] = [];
  // Interleaved, so that a slower minute weighs on each figure alike.
  for (let i = 0; i < runs; i++) {
    floor.push(measure('floor', file));
    kpis.push(measure('report', file));
    kpisBy.push(measure('report-by-channel', file));
    full.push(measure('full', file));
    fullBy.push(measure('full-by-channel', file));
  }
  const scans = measure('scans', file);
  const f = medianOf(floor.map((s) => s.ms));
  const k = medianOf(kpis.map((s) => s.ms));
  const r = medianOf(full.map((s) => s.ms));
  const kb = medianOf(kpisBy.map((s) => s.ms));
  const rb = medianOf(fullBy.map((s) => s.ms));
  process.stdout.write(
    [
      `${String(kpis[0]?.rows ?? 0).padStart(11)} rows`,
      `floor (dedup + per-customer pass) ${seconds(f)}, peak ${peak(floor)}`,
      `weekly KPI report ${seconds(k)}, peak ${peak(kpis)}, ${(k / f).toFixed(2)}× the floor (target ≤ 1.5×)`,
      `full report ${seconds(r)}, peak ${peak(full)}, ${(r / k).toFixed(2)}× the KPI report (target ≤ 2×, peak < 1536 MB)`,
      `full report: ${scans.statements ?? 0} statements, ${scans.sourceScans ?? 0} scan(s) of the orders file`,
      `by channel (5 values + Other): weekly KPI report ${seconds(kb)}, ${(kb / k).toFixed(2)}× without; full report ${seconds(rb)}, ${(rb / r).toFixed(2)}× without (target ≤ 1.5×); peak ${peak(fullBy)}`,
    ].join('\n  ') + '\n',
  );
}
process.stdout.write(`median of ${runs} fresh processes per figure\n`);

// The same orders as a CSV file, read with the declared types (issue 12's reading cost).
const largestCsv = sizes.length ? Math.max(...sizes) : 0;
if (largestCsv > 0) {
  const csv = resolve(root, `.cache/bench/orders-${largestCsv}.csv`);
  if (!existsSync(csv)) {
    const engine = await DuckDbEngine.create();
    try {
      const parquet = resolve(root, `.cache/bench/orders-${largestCsv}.parquet`);
      await engine.query(`COPY (
        SELECT order_id, customer_id,
          strftime(ordered_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS ordered_at, amount, status
        FROM read_parquet('${parquet}')) TO '${csv}' (HEADER)`);
    } finally {
      await engine.close();
    }
  }
  const csvRuns: Sample[] = [];
  for (let i = 0; i < runs; i++) csvRuns.push(measure('report', csv));
  process.stdout.write(
    `weekly KPI report of the same ${String(csvRuns[0]?.rows ?? 0)} orders as CSV (every column read with its declared type): ${seconds(medianOf(csvRuns.map((s) => s.ms)))}, peak ${peak(csvRuns)}\n`,
  );
}

// Athena: the bytes one full weekly run scans, estimated for the largest file, without and
// with the breakdown by channel.
const largest = sizes.length ? Math.max(...sizes) : 0;
if (largest > 0) {
  interface Bytes {
    oneReadBytes: number;
    totalBytes: number;
    ratio: number;
    largestStatementBytes: number;
    perStatement: { statement: string; bytes: number }[];
  }
  const parquet = resolve(root, `.cache/bench/orders-${largest}.parquet`);
  const e = JSON.parse(run('test/bench/athena-bytes.ts', [parquet])) as Bytes;
  const by = JSON.parse(run('test/bench/athena-bytes.ts', [parquet, 'by-channel'])) as Bytes;
  const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
  process.stdout.write(
    `Athena estimate, ${largest} orders: one read of the five columns ${mb(e.oneReadBytes)}; one full weekly run ${mb(e.totalBytes)} = ${e.ratio.toFixed(2)}× (target ≤ 2×); largest statement ${mb(e.largestStatementBytes)} (about ${mb(e.largestStatementBytes * (1e8 / largest))} at 100M orders, cutoff 10,000 MB)\n` +
      e.perStatement.map((s) => `  ${mb(s.bytes).padStart(9)}  ${s.statement}`).join('\n') +
      `\n  by channel: one full weekly run ${mb(by.totalBytes)} = ${(by.totalBytes / e.totalBytes).toFixed(2)}× without\n`,
  );
}

// The report function on Athena: its memory and its own computing time, per shop size,
// from a run recorded on DuckDB and replayed without a database (function-memory.ts);
// with the Athena bytes, the sizing table of docs/sizing.md.
if (sizes.length > 0) {
  const points: { customers: number; mb: number; ms: number }[] = [];
  const rows: string[] = [];
  for (const size of sizes) {
    const file = resolve(root, `.cache/bench/orders-${size}.parquet`);
    const dir = mkdtempSync(join(tmpdir(), 'kpi-replay-'));
    try {
      const rec = JSON.parse(run('test/bench/function-memory.ts', ['record', file, dir])) as {
        customersEver: number;
      };
      const replays: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        replays.push(JSON.parse(run('test/bench/function-memory.ts', ['replay', dir])) as Sample);
      }
      const mb = Math.max(...replays.map((r) => r.maxRssMb));
      const ms = medianOf(replays.map((r) => r.ms));
      points.push({ customers: rec.customersEver, mb, ms });
      const bytes = (
        JSON.parse(run('test/bench/athena-bytes.ts', [file])) as {
          perStatement: { statement: string; bytes: number }[];
        }
      ).perStatement
        // Athena bills each query at least 10 MB; DDL (the DROP at the end) is not billed.
        .filter((st) => !st.statement.startsWith('DROP'))
        .reduce((sum, st) => sum + Math.max(st.bytes, 10e6), 0);
      const memory = memoryFor(rec.customersEver);
      const seconds = computeSeconds(rec.customersEver, memory);
      // eu-west-1: Athena $5 per TB scanned (10 MB minimum per statement); Lambda on ARM
      // $0.0000133334 per GB-second, here for its own computing (Athena's wait comes on top).
      const athenaUsd = (bytes / 1e12) * 5;
      const lambdaUsd = (memory / 1024) * seconds * 0.0000133334;
      rows.push(
        `| ${size.toLocaleString('en-US')} | ${rec.customersEver.toLocaleString('en-US')} | ${mb.toFixed(0)} MB | ${memory} MB | ${(ms / 1000).toFixed(1)} s | ${seconds.toFixed(1)} s | ${(bytes / 1e9).toFixed(2)} GB | $${athenaUsd.toFixed(4)} | $${lambdaUsd.toFixed(5)} |`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  // Least squares over the sizes: peak MB = base + slope × customers.
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.customers, 0) / n;
  const my = points.reduce((s, p) => s + p.mb, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.customers - mx) ** 2, 0);
  const slope = n > 1 ? points.reduce((s, p) => s + (p.customers - mx) * (p.mb - my), 0) / sxx : 0;
  const perMillion =
    points.reduce((s, p) => s + p.ms / 1000, 0) / points.reduce((s, p) => s + p.customers / 1e6, 0);
  process.stdout.write(
    [
      'the report function on Athena (a full weekly run replayed without a database; median time, peak memory):',
      '| orders | customers | peak memory | memory given | computing here | computing in Lambda at that memory | Athena scans | Athena cost | Lambda cost |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      `fit: ${(my - slope * mx).toFixed(0)} MB + ${(slope * 1024 || 0).toFixed(2)} KB per customer (sizing.ts: ${FUNCTION_BASE_MB} MB + ${FUNCTION_KB_PER_CUSTOMER} KB); computing ${perMillion.toFixed(1)} s per million customers (sizing.ts: ${COMPUTE_SECONDS_PER_MILLION_CUSTOMERS} s)`,
    ].join('\n') + '\n',
  );
}

// The lifetime models: BG/NBD + Gamma-Gamma refitted at 13 weekly ends on simulated
// customers, each fit warm-started from the one before (target: all 13 for 1M < 10 s).
const clvSizes = (process.env.BENCH_CLV ?? '100000,1000000').split(',').filter(Boolean).map(Number);
for (const n of clvSizes) {
  const r = JSON.parse(run('test/bench/clv-fit.ts', [String(n)])) as {
    ms: number;
    fits: number;
    cells: number;
    maxRssMb: number;
  };
  process.stdout.write(
    `CLV trend ${String(n).padStart(9)} customers: ${r.fits} fits of 13 in ${seconds(r.ms)} (target < 10 s for 1M), ${r.cells} distinct histories in all, peak ${r.maxRssMb.toFixed(0)} MB\n`,
  );
}

// The anomaly rule on the sample shop: every week of the last year, as the report judges it.
if (process.env.BENCH_ANOMALIES !== '0') {
  process.stdout.write(
    `anomalies on the sample shop (docs/kpis.md, "Anomalies"):\n${surveyLines(await anomalySurvey()).join('\n')}\n`,
  );
}
