/**
 * One benchmark measurement in its own process, so that peak memory is this run's alone.
 * Usage: tsx test/bench/measure-one.ts MODE FILE, MODE one of
 * - `floor`: the least work the cleaning rules need, the deduplication pass (order ids seen
 *   twice) plus the per-customer pass;
 * - `report`: the weekly KPI report;
 * - `full`: the full report (KPIs, cohorts, RFM, the at-risk list and the lifetime model
 *   refitted at every compared period end);
 * - `scans`: the full report again, counting from DuckDB's own profile of each statement
 *   how many statements ran and how many of them scanned the orders file;
 * - `report-by-channel`, `full-by-channel`: the weekly KPI report and the full report broken
 *   down by the orders' `channel` (the top 5 values and the rest).
 * Prints one JSON line: { ms, maxRssMb, rows, statements?, sourceScans? }.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { runFullReport, runReport } from '../../functions/pipeline.ts';
import { benchRequest } from './bench-request.ts';

const MODES = ['floor', 'report', 'full', 'scans', 'report-by-channel', 'full-by-channel'] as const;
const [mode, file] = process.argv.slice(2) as [(typeof MODES)[number], string | undefined];
if (!MODES.includes(mode) || !file) {
  process.stderr.write(`usage: measure-one.ts ${MODES.join('|')} FILE\n`);
  process.exit(2);
}

/** The operators of a DuckDB JSON profile that read `file`. */
function scansOf(node: unknown, path: string): number {
  const n = node as { extra_info?: Record<string, unknown>; children?: unknown[] };
  const own =
    typeof n.extra_info?.['Filename(s)'] === 'string' &&
    resolve(n.extra_info['Filename(s)']) === path
      ? 1
      : 0;
  return own + (n.children ?? []).reduce<number>((s, c) => s + scansOf(c, path), 0);
}

const engine = await DuckDbEngine.create();
let statements = 0;
let sourceScans = 0;
if (mode === 'scans') {
  const profile = join(mkdtempSync(join(tmpdir(), 'kpi-profile-')), 'profile.json');
  await engine.query(`SET enable_profiling = 'json'`);
  await engine.query(`SET profiling_output = '${profile}'`);
  /** Runs `run`, then counts the statement and its scans of the orders file. */
  const counted = async <T>(run: () => Promise<T>): Promise<T> => {
    rmSync(profile, { force: true });
    const result = await run();
    statements++;
    // DESCRIBE (the schema check) reads the file's metadata only and leaves no profile.
    if (existsSync(profile)) {
      sourceScans += scansOf(JSON.parse(readFileSync(profile, 'utf8')), resolve(file));
    }
    return result;
  };
  const query = engine.query.bind(engine);
  const queryNumbers = engine.queryNumbers.bind(engine);
  engine.query = (sql: string, params?: readonly (string | number)[]) =>
    counted(() => query(sql, params));
  engine.queryNumbers = (sql: string) => counted(() => queryNumbers(sql));
}
const started = performance.now();
let checksum: number;
if (mode === 'floor') {
  const relation = await engine.relation({ kind: 'file', path: file });
  // Every output column is consumed, so the optimizer cannot drop any aggregate.
  await engine.query(`SELECT count(*) AS ids FROM (
    SELECT order_id FROM ${relation} WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1) d`);
  const rows = await engine.query(`SELECT count(*) AS customers, sum(n) AS orders,
      max(first_at) AS f, max(last_at) AS l, sum(revenue) AS r FROM (
    SELECT customer_id, count(*) AS n, min(ordered_at) AS first_at, max(ordered_at) AS last_at, sum(amount) AS revenue
    FROM ${relation} GROUP BY customer_id) t`);
  checksum = Number(rows[0]?.orders);
} else {
  const byChannel = mode.endsWith('-by-channel');
  const request = benchRequest({ kind: 'file', path: file }, byChannel);
  const kpisOnly = mode === 'report' || mode === 'report-by-channel';
  const result = kpisOnly
    ? await runReport(request, { engine })
    : (await runFullReport(request, { engine })).report;
  checksum = result.dataQuality.rowsRead;
  if (byChannel && (result.breakdowns?.[0]?.parts.length ?? 0) < 2) {
    process.stderr.write('bench: no breakdown by channel\n');
  }
  if (!kpisOnly && result.kpis.clv_12m?.value == null) {
    process.stderr.write('bench: clv_12m has no value\n');
  }
}
const ms = performance.now() - started;
await engine.close();
process.stdout.write(
  `${JSON.stringify({
    ms,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    rows: checksum,
    ...(mode === 'scans' ? { statements, sourceScans } : {}),
  })}\n`,
);
