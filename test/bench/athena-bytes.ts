/**
 * An estimate of the bytes Athena scans in one full weekly run over FILE, without AWS.
 * Athena bills the compressed Parquet column chunks a statement reads, once per read of a
 * relation: so each statement of the run (planned for Athena, as `--print-sql` prints it)
 * costs, for each relation, its reads (WITH blocks expanded as Trino does) times the sizes
 * of the columns named in the query around each read. The sizes come from FILE's own Parquet metadata and from the
 * run's customer table written as Parquet (Snappy) by DuckDB: Athena's writer differs, so
 * this is an estimate, not a bill.
 * Usage: tsx test/bench/athena-bytes.ts FILE [by-channel] → one JSON line; `by-channel`
 * breaks the report down by the orders' `channel`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { SAMPLE_END } from '../../functions/cli/main.ts';
import { AthenaEngine } from '../../functions/engines/athena.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { planRun, statementsOf, type RunRequest } from '../../functions/pipeline.ts';
import { relationReads } from '../sql-reads.ts';
import { benchRequest } from './bench-request.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: athena-bytes.ts FILE');
const ORDERS = 'sales.orders';
const byChannel = process.argv[3] === 'by-channel';

const request = (relation: RunRequest['source']['relation']): RunRequest =>
  benchRequest(relation, byChannel);

/** Compressed bytes per top-level column of a Parquet file. */
async function columnSizes(engine: DuckDbEngine, path: string): Promise<Map<string, number>> {
  const rows = await engine.query(
    `SELECT path_in_schema AS path, sum(total_compressed_size) AS bytes FROM parquet_metadata('${path}') GROUP BY path_in_schema`,
  );
  const sizes = new Map<string, number>();
  for (const r of rows) {
    const top = String(r.path).split(',')[0]?.trim().toLowerCase() ?? '';
    sizes.set(top, (sizes.get(top) ?? 0) + Number(r.bytes));
  }
  return sizes;
}

const athena = new AthenaEngine({
  client: new AthenaClient({ region: 'eu-west-1' }),
  workGroup: 'kpi',
});
const plan = await planRun(request({ kind: 'table', table: ORDERS }), athena, {
  now: SAMPLE_END,
  beyond: true,
});
const statements = statementsOf(plan);

// The customer table as DuckDB builds it for the same run, written as Parquet.
const duckdb = await DuckDbEngine.create();
const local = await planRun(request({ kind: 'file', path: file }), duckdb, {
  now: SAMPLE_END,
  beyond: true,
});
await duckdb.query(local.table.create);
const tablePath = join(mkdtempSync(join(tmpdir(), 'kpi-bytes-')), 'table.parquet');
await duckdb.query(
  `COPY ${local.table.name} TO '${tablePath}' (FORMAT parquet, COMPRESSION snappy)`,
);
const source = await columnSizes(duckdb, file);
const table = await columnSizes(duckdb, tablePath);
await duckdb.close();

const sourceColumns = ['order_id', 'customer_id', 'ordered_at', 'amount', 'status'];
// One read of the five columns of the contract: what the ratio is against, with or without
// the breakdown, whose create statement reads the channel too.
const oneRead = sourceColumns.reduce((s, c) => s + (source.get(c) ?? 0), 0);
const createRead = oneRead + (byChannel ? (source.get('channel') ?? 0) : 0);
const named = (sql: string, columns: Map<string, number>): number =>
  [...columns].reduce((s, [c, bytes]) => (new RegExp(`\\b${c}\\b`).test(sql) ? s + bytes : s), 0);
/**
 * The text of the innermost parenthesized query around position `at` (the whole statement
 * when there is none): the columns a read of a table there can need are named in it.
 */
function enclosing(sql: string, at: number): string {
  let depth = 0;
  let open = -1;
  for (let i = at; i >= 0; i--) {
    if (sql[i] === ')') depth++;
    else if (sql[i] === '(' && depth-- === 0) {
      open = i;
      break;
    }
  }
  if (open < 0) return sql;
  depth = 0;
  for (let i = open; i < sql.length; i++) {
    if (sql[i] === '(') depth++;
    else if (sql[i] === ')' && --depth === 0) return sql.slice(open, i + 1);
  }
  return sql;
}
/**
 * Bytes of the run table's reads in a statement: each place it is named costs the columns
 * named in the query around it, and reads a WITH block repeats (Trino inlines it) cost
 * that again.
 */
function tableBytes(sql: string): number {
  const reads = relationReads(sql).get(plan.table.name) ?? 0;
  const sites = [...sql.matchAll(new RegExp(`\\b${plan.table.name}\\b`, 'g'))];
  if (reads === 0 || sites.length === 0) return 0;
  // A site inside a `SELECT c.*` (the breakdown's parts joined to every column) needs what
  // the query around that one names: look one level further out.
  const around = (at: number): string => {
    let text = enclosing(sql, at);
    for (let i = 0; i < 5 && /\b\w+\.\*|SELECT \*/.test(text); i++) {
      const start = sql.indexOf(text);
      if (start <= 0) break;
      text = enclosing(sql, start - 1);
    }
    return text;
  };
  const perSite = sites.map((m) => named(around(m.index), table));
  return (perSite.reduce((s, b) => s + b, 0) * reads) / sites.length;
}
const perStatement = statements.map((sql) => {
  const reads = relationReads(sql);
  const bytes = (reads.get(ORDERS) ?? 0) * createRead + tableBytes(sql);
  return { statement: sql.trim().split(/\s+/).slice(0, 3).join(' '), bytes };
});
const total = perStatement.reduce((s, x) => s + x.bytes, 0);
process.stdout.write(
  `${JSON.stringify({
    oneReadBytes: oneRead,
    tableBytes: [...table.values()].reduce((s, b) => s + b, 0),
    totalBytes: total,
    ratio: total / oneRead,
    largestStatementBytes: Math.max(...perStatement.map((x) => x.bytes)),
    perStatement,
    ...(process.env.BYTES_COLUMNS ? { tableColumns: Object.fromEntries(table) } : {}),
  })}\n`,
);
