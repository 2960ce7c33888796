import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mockClient } from 'aws-sdk-client-mock';
import { TrinoSQL } from 'dt-sql-parser';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { AthenaEngine } from '../../functions/engines/athena.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { planRun, runFullReport, statementsOf } from '../../functions/pipeline.ts';
import { generateSample } from '../../functions/sample/generate.ts';
import { relationReads, runReads } from '../sql-reads.ts';

/**
 * Athena has no emulator. This stands in for it at the wire: the mocked client checks each
 * statement with a Trino grammar, runs it on DuckDB with the few Trino functions the dialect
 * uses defined as macros, and answers in Athena's shape (string cells, a header row, pages of
 * 1,000 rows). The report through AthenaEngine must equal the report on DuckDB directly.
 */
const TRINO_ON_DUCKDB = [
  'CREATE MACRO bitwise_or_agg(x) AS bit_or(x)',
  'CREATE MACRO bitwise_and(a, b) AS (a & b)',
  'CREATE MACRO bitwise_left_shift(v, k) AS (v << k)',
  'CREATE MACRO to_unixtime(t) AS (CAST(epoch_us(t) AS DOUBLE) / 1000000.0)',
  'CREATE MACRO min_by(v, k) AS arg_min(v, k)',
];

const athena = mockClient(AthenaClient);
let file = '';
let feedbackFile = '';
let spendFile = '';
let connection: DuckDBConnection;
let instance: DuckDBInstance;
const statements: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kpi-athena-'));
  file = join(dir, 'orders.parquet');
  feedbackFile = join(dir, 'feedback.parquet');
  spendFile = join(dir, 'spend.parquet');
  await generateSample(file, {
    customers: 3000,
    years: 2,
    end: new Date('2026-11-23T00:00:00Z'),
    seed: 7,
    extras: { feedback: feedbackFile, marketingSpend: spendFile },
  });
  instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  connection = await instance.connect();
  await connection.run('CREATE SCHEMA sales');
  await connection.run(`CREATE TABLE sales.orders AS SELECT * FROM read_parquet('${file}')`);
  await connection.run(
    `CREATE TABLE sales.feedback AS SELECT * FROM read_parquet('${feedbackFile}')`,
  );
  await connection.run(
    `CREATE TABLE sales.marketing_spend AS SELECT * FROM read_parquet('${spendFile}')`,
  );
  for (const m of TRINO_ON_DUCKDB) await connection.run(m);

  const results = new Map<
    string,
    { columns: { Name: string; Type: string }[]; rows: (string | undefined)[][] }
  >();
  athena.on(StartQueryExecutionCommand).callsFake(async (input: { QueryString: string }) => {
    statements.push(input.QueryString);
    // Athena keeps a CTAS result as Parquet in the work group's location; DuckDB as a table.
    // Trino spreads the fields of unnested ROWs into columns; DuckDB does with `recursive`.
    const sql = input.QueryString.replace(
      /^CREATE TABLE (\w+) WITH \([^)]*\) AS/,
      'CREATE TABLE $1 AS',
    ).replace(
      /CROSS JOIN UNNEST\(([^()]*)\) AS (\w+)\([^)]*\)/g,
      'CROSS JOIN (SELECT unnest($1, recursive := true)) AS $2',
    );
    const reader = await connection.runAndReadAll(sql);
    const id = `q-${results.size + 1}`;
    results.set(id, {
      columns: reader.columnNames().map((name, i) => ({
        Name: name,
        Type: String(reader.columnTypes()[i]).toLowerCase().replace(/\(.*$/, ''),
      })),
      rows: reader
        .getRowsJson()
        .map((r) =>
          r.map((v) =>
            v === null ? undefined : typeof v === 'object' ? JSON.stringify(v) : String(v),
          ),
        ),
    });
    return { QueryExecutionId: id };
  });
  athena
    .on(GetQueryExecutionCommand)
    .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  athena
    .on(GetQueryResultsCommand)
    .callsFake((input: { QueryExecutionId: string; NextToken?: string }) => {
      const r = results.get(input.QueryExecutionId);
      if (!r) throw new Error('no such query');
      const all = [r.columns.map((c) => c.Name), ...r.rows];
      const from = Number(input.NextToken ?? 0);
      const next = from + 1000;
      return {
        ResultSet: {
          ResultSetMetadata: { ColumnInfo: r.columns.map((c) => ({ ...c, Label: c.Name })) },
          Rows: all.slice(from, next).map((row) => ({
            Data: row.map((v) => (v === undefined ? {} : { VarCharValue: v })),
          })),
        },
        ...(next < all.length ? { NextToken: String(next) } : {}),
      };
    });
}, 60_000);

afterAll(() => {
  connection.closeSync();
  instance.closeSync();
  athena.restore();
});

describe('the same KPI SQL on Athena (Trino dialect) and on DuckDB', () => {
  test.each([
    ['2026-W47', 'week', 'Europe/London'],
    ['2026-10', 'month', 'America/New_York'],
    ['2026-Q3', 'quarter', 'Asia/Tokyo'],
  ] as const)(
    '%s (%s, %s) gives the same report, with the optional sources, the lifetime model and a breakdown',
    async (period, kind, timeZone) => {
      const report = {
        id: 'r',
        name: 'R',
        period: kind,
        timeZone,
        activeWindowDays: 120,
        breakdowns: ['channel'],
        breakdownTop: 3,
      };
      const onAthena = parseConfig({
        source: {
          relation: { kind: 'table', table: 'sales.orders' },
          dimensions: { channel: 'channel' },
          feedback: { relation: { kind: 'table', table: 'sales.feedback' } },
          marketingSpend: { relation: { kind: 'table', table: 'sales.marketing_spend' } },
        },
        reports: [report],
      });
      const onDuckDb = parseConfig({
        source: {
          relation: { kind: 'file', path: file },
          dimensions: { channel: 'channel' },
          feedback: { relation: { kind: 'file', path: feedbackFile } },
          marketingSpend: { relation: { kind: 'file', path: spendFile } },
        },
        reports: [report],
      });
      const athenaEngine = new AthenaEngine({
        client: new AthenaClient({ region: 'eu-west-1' }),
        workGroup: 'kpi',
        sleep: () => Promise.resolve(),
      });
      const duckdb = await DuckDbEngine.create();
      const now = new Date('2026-11-23T00:00:00Z');
      const [athenaReport] = onAthena.reports;
      const [duckdbReport] = onDuckDb.reports;
      if (!athenaReport || !duckdbReport) throw new Error('no report');
      statements.length = 0;
      const viaAthena = await runFullReport(
        { report: athenaReport, source: onAthena.source, period, now },
        { engine: athenaEngine },
      );
      const direct = await runFullReport(
        { report: duckdbReport, source: onDuckDb.source, period, now },
        { engine: duckdb },
      );
      await duckdb.close();
      expect(viaAthena.report.kpis).toEqual(direct.report.kpis);
      expect(viaAthena.report.customerFlow).toEqual(direct.report.customerFlow);
      expect(viaAthena.report.dataQuality).toEqual(direct.report.dataQuality);
      expect(viaAthena.report.marketingSpend).toEqual(direct.report.marketingSpend);
      expect(viaAthena.report.beyond).toEqual(direct.report.beyond);
      expect(viaAthena.atRiskList).toEqual(direct.atRiskList);
      expect(viaAthena.report.breakdowns).toEqual(direct.report.breakdowns);
      expect(viaAthena.report.breakdowns?.[0]?.parts.map((p) => p.value)).toEqual([
        expect.any(String),
        expect.any(String),
        expect.any(String),
        null,
      ]);
      expect(viaAthena.report.kpis.customers_end.value).toBeGreaterThan(100);
      for (const id of [
        'nps',
        'csat',
        'cac',
        'ltv_to_cac',
        'clv_12m',
        'clv_12m_all',
        'new_customer_clv',
        'crr_12m',
      ] as const) {
        const value = viaAthena.report.kpis[id]?.value;
        expect({ id, measured: typeof value === 'number' && Number.isFinite(value) }).toEqual({
          id,
          measured: true,
        });
      }
      // Every statement Athena received is valid Trino; the orders were read once, by the
      // first, and the run's own table was dropped by the last.
      const trino = new TrinoSQL();
      for (const sql of statements) expect(trino.validate(sql)).toEqual([]);
      expect(runReads(statements).get('sales.orders')).toBe(1);
      expect(relationReads(statements[0] ?? '').get('sales.orders')).toBe(1);
      expect(statements.at(-1)).toMatch(/^DROP TABLE IF EXISTS kpi_run_[0-9a-f]{32}$/);
      // What `--print-sql` prints (statementsOf) is what the run sent, in the same order
      // (each plan names its own table).
      const plan = await planRun(
        { report: athenaReport, source: onAthena.source, period, now },
        athenaEngine,
        { now, beyond: true },
      );
      const anyTable = (sql: string): string => sql.replaceAll(/kpi_run_[0-9a-f]{32}/g, 'kpi_run_');
      expect(statementsOf(plan).map(anyTable)).toEqual(statements.map(anyTable));
      const tables = await connection.runAndReadAll(
        "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name LIKE 'kpi_run_%'",
      );
      expect(Number(tables.getRowObjectsJson()[0]?.n)).toBe(0);
    },
    120_000,
  );
});
