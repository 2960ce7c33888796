import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../functions/config/load.ts';
import type { ConfigInput } from '../functions/config/schema.ts';
import { DuckDbEngine } from '../functions/engines/duckdb.ts';
import { runReport } from '../functions/pipeline.ts';
import type { Report } from '../functions/report/report.ts';
import type { QueryEngine, Row } from '../functions/engines/query-engine.ts';
import { customerTable } from '../functions/kpis/base.ts';
import { buildClvSummaryQuery } from '../functions/sql/clv-query.ts';
import type { Dialect } from '../functions/sql/dialect.ts';
import type { OrderColumns } from '../functions/sql/orders.ts';

/** One canonical order row of a test fixture. */
export interface OrderRow {
  order_id: string;
  customer_id: string | null;
  ordered_at: string;
  amount: number | string;
  status?: string;
}

/** The canonical column names of an orders source, as the fixtures write them. */
export const CANONICAL_COLUMNS = {
  order_id: 'order_id',
  customer_id: 'customer_id',
  ordered_at: 'ordered_at',
  amount: 'amount',
  status: 'status',
} as const;

/** Writes canonical order rows to a CSV file in a fresh temporary folder. */
export function writeOrdersCsv(rows: readonly OrderRow[], name = 'orders.csv'): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpi-test-'));
  const file = join(dir, name);
  const lines = rows.map((r) =>
    [r.order_id, r.customer_id ?? '', r.ordered_at, String(r.amount), r.status ?? 'completed'].join(
      ',',
    ),
  );
  writeFileSync(file, ['order_id,customer_id,ordered_at,amount,status', ...lines].join('\n'));
  return file;
}

type ReportInput = ConfigInput['reports'][number];

/** Runs the real pipeline on DuckDB over a file with one report configuration. */
export async function reportOn(
  file: string,
  period: string,
  report: Partial<ReportInput> = {},
  engine?: DuckDbEngine,
): Promise<Report> {
  const config = parseConfig({
    source: { relation: { kind: 'file', path: file } },
    reports: [{ id: 't', name: 'Test', period: 'week', ...report }],
  });
  const own = engine ?? (await DuckDbEngine.create());
  try {
    const [r] = config.reports;
    if (!r) throw new Error('no report');
    return await runReport({ report: r, source: config.source, period }, { engine: own });
  } finally {
    if (!engine) await own.close();
  }
}

/** The value of one KPI in a report. */
export function kpi(report: Report, id: keyof Report['kpis']): number | null {
  const k = report.kpis[id];
  if (!k) throw new Error(`the report has no ${id}`);
  return k.value;
}

/**
 * The lifetime summaries of an orders relation at `ends` (buildClvSummaryQuery without
 * segments), through a customer table of its own; `statements` are the two it sends.
 */
export async function clvSummaries(
  engine: QueryEngine,
  input: {
    readonly relation: string;
    readonly columns: OrderColumns;
    readonly excludedStatuses: readonly string[];
    readonly ends: readonly string[];
    readonly timeZone: string;
  },
): Promise<Row[]> {
  const { create, drop, summary } = clvStatements(engine.dialect, input);
  await engine.query(create);
  try {
    return await engine.query(summary);
  } finally {
    await engine.query(drop);
  }
}

/** The statements clvSummaries sends, in a dialect: create the table, read it, drop it. */
export function clvStatements(
  dialect: Dialect,
  input: Parameters<typeof clvSummaries>[1],
): { create: string; summary: string; drop: string } {
  const table = customerTable(dialect, {
    relation: input.relation,
    columns: input.columns,
    excludedStatuses: input.excludedStatuses,
    lifetime: { ends: input.ends, timeZone: input.timeZone },
  });
  return {
    create: table.create,
    summary: buildClvSummaryQuery({
      base: table.name,
      ends: input.ends,
      segments: false,
      ids: true,
    }),
    drop: table.drop,
  };
}
