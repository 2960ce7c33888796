/**
 * One benchmark measurement in its own process, so that peak memory is this run's alone.
 * Usage: tsx test/bench/measure-one.ts report|full|baseline FILE (`full`: the report with
 * cohorts, RFM, the at-risk list and the lifetime model refitted at every compared period end)
 * Prints one JSON line: { ms, maxRssMb, rows? }.
 */
import { parseConfig } from '../../functions/config/load.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { runFullReport, runReport } from '../../functions/pipeline.ts';
import { SAMPLE_END } from '../../functions/cli/main.ts';

const [mode, file] = process.argv.slice(2);
if ((mode !== 'report' && mode !== 'full' && mode !== 'baseline') || !file) {
  process.stderr.write('usage: measure-one.ts report|full|baseline FILE\n');
  process.exit(2);
}
const engine = await DuckDbEngine.create();
const started = performance.now();
let checksum: number;
if (mode === 'baseline') {
  const relation = await engine.relation({ kind: 'file', path: file });
  // Every output column is consumed, so the optimizer cannot drop any aggregate.
  const rows = await engine.query(`SELECT count(*) AS customers, sum(n) AS orders,
      max(first_at) AS f, max(last_at) AS l, sum(revenue) AS r FROM (
    SELECT customer_id, count(*) AS n, min(ordered_at) AS first_at, max(ordered_at) AS last_at, sum(amount) AS revenue
    FROM ${relation} GROUP BY customer_id) t`);
  checksum = Number(rows[0]?.orders);
} else {
  const config = parseConfig({
    source: { relation: { kind: 'file', path: file } },
    reports: [{ id: 'bench', name: 'Bench', period: 'week', timeZone: 'Europe/London' }],
  });
  const [report] = config.reports;
  if (!report) throw new Error('no report');
  const request = { report, source: config.source, now: SAMPLE_END };
  const result =
    mode === 'full'
      ? (await runFullReport(request, { engine })).report
      : await runReport(request, { engine });
  checksum = result.dataQuality.rowsRead;
}
const ms = performance.now() - started;
await engine.close();
process.stdout.write(
  `${JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, rows: checksum })}\n`,
);
