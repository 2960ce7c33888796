/**
 * What the report function needs on Athena, measured offline. Athena runs the SQL; the
 * function holds only each statement's result, fits the lifetime model and renders the
 * digest. So a run is recorded once on DuckDB (every result, in order, one file each) and
 * replayed in a fresh process by an engine that returns those results and loads no
 * database: that process's peak memory and time are the function's own, without Athena's
 * query time (which the function spends waiting).
 *
 * Usage: tsx test/bench/function-memory.ts record FILE DIR | replay DIR
 * Prints one JSON line: { ms, maxRssMb, customers, statements } (record: customersEver).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../functions/config/load.ts';
import { renderOutputs } from '../../functions/delivery/files.ts';
import type { NumberColumns, QueryEngine, Row } from '../../functions/engines/query-engine.ts';
import { runFullReport } from '../../functions/pipeline.ts';
import { duckdbDialect } from '../../functions/sql/dialect.ts';

const [mode, a, b] = process.argv.slice(2);
const SAMPLE_END = new Date('2026-11-23T00:00:00Z');

/** Numbers by column, stored as a JSON header line and the Float64 data after it. */
function writeNumbers(path: string, columns: NumberColumns): void {
  const names = Object.keys(columns);
  const header = Buffer.from(
    `${JSON.stringify(names.map((n) => [n, columns[n]?.length ?? 0]))}\n`,
    'utf8',
  );
  writeFileSync(
    path,
    Buffer.concat([
      header,
      ...names.map((n) => Buffer.from(columns[n]?.buffer ?? new ArrayBuffer(0))),
    ]),
  );
}

function readNumbers(path: string): NumberColumns {
  const buf = readFileSync(path);
  const nl = buf.indexOf(10);
  const names = JSON.parse(buf.subarray(0, nl).toString('utf8')) as [string, number][];
  const out: NumberColumns = {};
  let at = nl + 1;
  for (const [name, n] of names) {
    const column = new Float64Array(n);
    Buffer.from(column.buffer).set(buf.subarray(at, at + n * 8));
    out[name] = column;
    at += n * 8;
  }
  return out;
}

/** Returns the recorded results in order; no database in this process. */
class ReplayEngine implements QueryEngine {
  readonly dialect = duckdbDialect;
  statements = 0;
  constructor(private readonly dir: string) {}
  relation(): Promise<string> {
    return Promise.resolve('"orders"');
  }
  private next(): string {
    return join(this.dir, String(this.statements++).padStart(4, '0'));
  }
  query<T extends Row = Row>(): Promise<T[]> {
    return Promise.resolve(JSON.parse(readFileSync(`${this.next()}.json`, 'utf8')) as T[]);
  }
  queryNumbers(): Promise<NumberColumns> {
    return Promise.resolve(readNumbers(`${this.next()}.bin`));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function fullRun(engine: QueryEngine, path: string) {
  const config = parseConfig({
    source: { relation: { kind: 'file', path } },
    reports: [{ id: 'bench', name: 'Bench', period: 'week', timeZone: 'Europe/London' }],
  });
  const [report] = config.reports;
  if (!report) throw new Error('no report');
  const full = await runFullReport({ report, source: config.source, now: SAMPLE_END }, { engine });
  // What the function renders and archives besides: the digest, the files, the at-risk CSV.
  const files = await renderOutputs(
    full.report,
    'all',
    { from: 'kpi@example.com', to: ['ceo@example.com'], date: SAMPLE_END },
    {},
    full.atRiskList,
  );
  return { customers: full.report.kpis.customers_end.value ?? 0, files: files.size };
}

if (mode === 'record' && a && b) {
  const { DuckDbEngine } = await import('../../functions/engines/duckdb.ts');
  const engine = await DuckDbEngine.create();
  mkdirSync(b, { recursive: true });
  let i = 0;
  const name = () => join(b, String(i++).padStart(4, '0'));
  const query = engine.query.bind(engine);
  const queryNumbers = engine.queryNumbers.bind(engine);
  // As on Athena: no schema check or column listing by the engine.
  const recording = Object.assign(Object.create(engine) as QueryEngine, {
    checkSource: undefined,
    columnsOf: undefined,
    query: async (sql: string, params?: readonly (string | number)[]) => {
      const rows = await query(sql, params);
      writeFileSync(`${name()}.json`, JSON.stringify(rows));
      return rows;
    },
    queryNumbers: async (sql: string) => {
      const columns = await queryNumbers(sql);
      writeNumbers(`${name()}.bin`, columns);
      return columns;
    },
  });
  const out = await fullRun(recording, a);
  const [ever] = await query(
    `SELECT count(DISTINCT customer_id) AS n FROM ${await engine.relation({ kind: 'file', path: a })}`,
  );
  await engine.close();
  process.stdout.write(
    `${JSON.stringify({ statements: i, ...out, customersEver: Number(ever?.n ?? 0) })}\n`,
  );
} else if (mode === 'replay' && a) {
  const engine = new ReplayEngine(a);
  const started = performance.now();
  const out = await fullRun(engine, 'orders.parquet');
  const ms = performance.now() - started;
  process.stdout.write(
    `${JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024, statements: engine.statements, ...out })}\n`,
  );
} else {
  process.stderr.write('usage: function-memory.ts record FILE DIR | replay DIR\n');
  process.exit(2);
}
