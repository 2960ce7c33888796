import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
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

/** The UCI Online Retail export as published (test/data/online-retail/README.md). */
export const ONLINE_RETAIL_RAW = fileURLToPath(
  new URL('./data/online-retail/invoices-raw.csv', import.meta.url),
);

/**
 * How a config reads that export's own columns: quantity × unit price, `(blank)` for a guest,
 * `C…` invoices cancelled, M/D/YYYY H:MM in London wall-clock time.
 */
export const ONLINE_RETAIL_READING = {
  columns: {
    order_id: 'InvoiceNo',
    customer_id: "nullif(trim(CustomerID), '(blank)')",
    ordered_at: 'InvoiceDate',
    amount: 'round(Quantity * UnitPrice, 2)',
    status: "CASE WHEN InvoiceNo LIKE 'C%' THEN 'cancelled' END",
  },
  types: { Quantity: 'integer', UnitPrice: 'decimal' },
  timestamps: { format: '%m/%d/%Y %H:%M', timeZone: 'Europe/London' },
} as const satisfies Partial<ConfigInput['source']>;

/** One line of the export, read here independently of the product (luxon, integer cents). */
export interface OnlineRetailLine {
  /** The line as the file has it. */
  readonly line: string;
  readonly id: string;
  /** '' for a guest (`(blank)`). */
  readonly customer: string;
  readonly country: string;
  /** The time, in London. */
  readonly at: DateTime;
  /** Quantity × unit price in cents, rounded half away from zero. */
  readonly cents: number;
}

/** The export's header and its lines (Latin-1, CRLF), each read independently. */
export function onlineRetailLines(): { header: string; lines: OnlineRetailLine[] } {
  const [header = '', ...lines] = readFileSync(ONLINE_RETAIL_RAW, 'latin1')
    .split('\r\n')
    .filter(Boolean);
  return {
    header,
    lines: lines.map((line) => {
      const [id = '', date = '', customer = '', country = '', quantity = '', price = ''] =
        line.split(',');
      const [whole = '0', fraction = ''] = price.split('.');
      const micros = Number(whole) * 1e6 + Number(fraction.padEnd(6, '0'));
      const product = Number(quantity) * micros; // in millionths
      return {
        line,
        id,
        customer: customer.trim() === '(blank)' ? '' : customer.trim(),
        country,
        at: DateTime.fromFormat(date, 'M/d/yyyy H:mm', { zone: 'Europe/London' }),
        cents: Math.sign(product) * Math.floor((Math.abs(product) + 5_000) / 10_000),
      };
    }),
  };
}

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
