import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../functions/config/load.ts';
import type { ConfigInput } from '../functions/config/schema.ts';
import { DuckDbEngine } from '../functions/engines/duckdb.ts';
import { runReport } from '../functions/pipeline.ts';
import type { Report } from '../functions/report/report.ts';

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
