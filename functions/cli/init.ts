/**
 * `kpi init --source FILE|FOLDER`: reads a company's export (its header and a sample of its
 * rows) and proposes the source part of a configuration: which column is which, the grain,
 * how times are written and in which zone, the encoding and the delimiter. It says what it
 * chose and why, and what it could not decide, instead of guessing silently.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ConfigInput } from '../config/schema.ts';
import { stringLiteral } from '../sql/dialect.ts';
import { isReservedWord } from '../sql/expression.ts';

/** How many rows the proposal looks at. */
const SAMPLE_ROWS = 50_000;

/** Usual names of each contract column in exports, compared without case and punctuation. */
const NAMES = {
  order_id: [
    'order_id',
    'orderid',
    'order',
    'invoiceno',
    'invoice',
    'invoice_no',
    'invoice_id',
    'order_number',
    'ordernumber',
    'order_no',
    'name',
    'id',
  ],
  customer_id: [
    'customer_id',
    'customerid',
    'customer',
    'client_id',
    'client',
    'email',
    'customer_email',
    'user_id',
    'buyer_id',
  ],
  ordered_at: [
    'ordered_at',
    'created_at',
    'order_date',
    'orderdate',
    'invoicedate',
    'invoice_date',
    'date',
    'processed_at',
    'purchase_date',
    'timestamp',
    'created',
  ],
  amount: [
    'amount',
    'total',
    'total_price',
    'totalprice',
    'net_total',
    'grand_total',
    'order_total',
    'revenue',
    'value',
    'subtotal',
  ],
  status: ['status', 'financial_status', 'order_status', 'state'],
  quantity: ['quantity', 'qty'],
  unit_price: ['unit_price', 'unitprice', 'price', 'item_price'],
} as const;

/** Markers exports write for "no customer" (a guest checkout). */
const GUEST_MARKERS = ['(blank)', 'NULL', 'null', 'N/A', 'n/a', 'guest', 'Guest', '-'];

/** A country's usual time zone and currency, for the suggestion. */
const COUNTRIES: Record<string, { timeZone: string; currency: string }> = {
  'United Kingdom': { timeZone: 'Europe/London', currency: 'GBP' },
  UK: { timeZone: 'Europe/London', currency: 'GBP' },
  GB: { timeZone: 'Europe/London', currency: 'GBP' },
  'United States': { timeZone: 'America/New_York', currency: 'USD' },
  USA: { timeZone: 'America/New_York', currency: 'USD' },
  US: { timeZone: 'America/New_York', currency: 'USD' },
  Germany: { timeZone: 'Europe/Berlin', currency: 'EUR' },
  France: { timeZone: 'Europe/Paris', currency: 'EUR' },
  Spain: { timeZone: 'Europe/Madrid', currency: 'EUR' },
  Netherlands: { timeZone: 'Europe/Amsterdam', currency: 'EUR' },
  Russia: { timeZone: 'Europe/Moscow', currency: 'RUB' },
  Australia: { timeZone: 'Australia/Sydney', currency: 'AUD' },
  Canada: { timeZone: 'America/Toronto', currency: 'CAD' },
};

export interface Proposal {
  readonly source: NonNullable<ConfigInput['source']>;
  readonly timeZone?: string;
  readonly currency?: string;
  /** What was chosen, and from what. */
  readonly chosen: string[];
  /** What could not be decided, and what to do about it. */
  readonly undecided: string[];
}

/** Whether a mapping entry is a plain column name (not an expression). */
const isPlain = (entry: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(entry);

const key = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

/** How a column is named in an expression: plain, or in double quotes. */
function ref(name: string): string {
  const plain = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !isReservedWord(name);
  return plain ? name : `"${name}"`;
}

function find(header: readonly string[], role: keyof typeof NAMES): string | undefined {
  for (const wanted of NAMES[role]) {
    const hit = header.find((h) => key(h) === wanted);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** The first `n` bytes of a file, uncompressed when it is gzipped: never the whole file. */
async function firstBytes(file: string, n: number): Promise<Buffer> {
  const input = createReadStream(file, { highWaterMark: 64 * 1024 });
  const stream = /\.gz$/i.test(file) ? input.pipe(createGunzip()) : input;
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= n) break;
    }
  } finally {
    input.destroy();
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** The first CSV-like file of a folder, or the file itself. */
async function firstFile(path: string): Promise<string> {
  if ((await stat(path)).isFile()) return path;
  const entries = (await readdir(path, { recursive: true }))
    .map(String)
    .filter((e) => /\.(csv|csv\.gz|parquet)$/i.test(e) && !/(^|\/)[._]/.test(e))
    .sort();
  if (!entries[0]) throw new Error(`${path} holds no .csv, .csv.gz or .parquet file`);
  return join(path, entries[0]);
}

/** A date-and-time format that every sampled value fits, or why there is none. */
function timeFormat(values: readonly string[]): {
  format?: string;
  zone: 'offset' | 'none';
  note?: string;
} {
  const v = values.filter((x) => x.trim() !== '');
  if (v.length === 0) return { zone: 'none', note: 'the time column is empty in the sample' };
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?/;
  if (v.every((x) => iso.test(x))) {
    const zoned = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)? ?(Z|[+-]\d{2}(:?\d{2})?)$/;
    const withZone = v.filter((x) => zoned.test(x)).length;
    if (withZone === v.length) return { zone: 'offset' };
    if (withZone === 0) return { zone: 'none' };
    return {
      zone: 'none',
      note: `${withZone} of ${v.length} sampled times carry an offset and the others none: make them alike`,
    };
  }
  const slash = /^(\d{1,2})\/(\d{1,2})\/(\d{4})( (\d{1,2}):(\d{2})(:(\d{2}))?)?$/;
  if (v.every((x) => slash.test(x))) {
    const parts = v.map((x) => slash.exec(x) ?? []);
    const firstOver12 = parts.some((p) => Number(p[1]) > 12);
    const secondOver12 = parts.some((p) => Number(p[2]) > 12);
    const time = parts.some((p) => p[8] !== undefined)
      ? ' %H:%M:%S'
      : parts.some((p) => p[4])
        ? ' %H:%M'
        : '';
    if (firstOver12 && !secondOver12) return { format: `%d/%m/%Y${time}`, zone: 'none' };
    if (secondOver12 && !firstOver12) return { format: `%m/%d/%Y${time}`, zone: 'none' };
    return {
      zone: 'none',
      note: 'dates written D/M/Y or M/D/Y cannot be told apart in the sample (no day above 12): set timestamps.format to %d/%m/%Y or %m/%d/%Y',
    };
  }
  return {
    zone: 'none',
    note: `times such as ${JSON.stringify(v[0])} are in no form recognised: set timestamps.format (docs/sources.md)`,
  };
}

/** Reads the export's header and sample, and proposes how to read it. */
export async function proposeSource(path: string): Promise<Proposal> {
  const file = await firstFile(path);
  const chosen: string[] = [];
  const undecided: string[] = [];
  const parquet = /\.parquet$/i.test(file);
  let encoding: 'utf-8' | 'latin-1' = 'utf-8';
  let delimiter = ',';
  if (!parquet) {
    const head = await firstBytes(file, 1024 * 1024);
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head);
      chosen.push('encoding: UTF-8 (the first megabyte decodes as UTF-8)');
    } catch {
      encoding = 'latin-1';
      chosen.push('encoding: Latin-1 (the file is not UTF-8)');
    }
    const firstLine = head.toString('latin1').split('\n')[0] ?? '';
    const counts = [',', ';', '\t', '|'].map((d) => [d, firstLine.split(d).length - 1] as const);
    const best = [...counts].sort((a, b) => b[1] - a[1])[0];
    if (best && best[1] > 0) delimiter = best[0];
    chosen.push(`delimiter: ${JSON.stringify(delimiter)} (the header's most frequent separator)`);
  }
  const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  const connection = await db.connect();
  let rows: Record<string, string | null>[];
  let header: string[];
  try {
    const read = parquet
      ? `read_parquet(${stringLiteral(file)})`
      : `read_csv(${stringLiteral(file)}, header = true, all_varchar = true, delim = ${stringLiteral(delimiter)}, quote = '"', escape = '"', encoding = '${encoding}')`;
    const reader = await connection.runAndReadAll(`SELECT * FROM ${read} LIMIT ${SAMPLE_ROWS}`);
    header = reader.columnNames();
    rows = (reader.getRowObjectsJson() as Record<string, unknown>[]).map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [
          k,
          v === null
            ? null
            : typeof v === 'object'
              ? JSON.stringify(v)
              : `${v as string | number | boolean}`,
        ]),
      ),
    );
  } finally {
    connection.closeSync();
    db.closeSync();
  }
  const values = (column: string): string[] =>
    rows.map((r) => r[column]).filter((v): v is string => v !== null);

  const columns: Record<string, string | null> = {};
  const types: Record<string, 'integer' | 'decimal'> = {};
  for (const role of ['order_id', 'customer_id', 'ordered_at', 'amount', 'status'] as const) {
    const hit = find(header, role);
    if (hit !== undefined) {
      columns[role] = hit;
      chosen.push(`${role}: ${JSON.stringify(hit)} (its name)`);
    }
  }
  if (columns.amount === undefined) {
    const quantity = find(header, 'quantity');
    const price = find(header, 'unit_price');
    if (quantity !== undefined && price !== undefined) {
      columns.amount = `round(${ref(quantity)} * ${ref(price)}, 2)`;
      types[quantity] = 'integer';
      types[price] = 'decimal';
      chosen.push(`amount: ${quantity} × ${price}, to the cent (no amount column)`);
    }
  }
  for (const role of ['order_id', 'customer_id', 'ordered_at', 'amount'] as const) {
    if (columns[role] === undefined) {
      undecided.push(
        `${role}: no column has a usual name for it; set source.columns.${role} (one of ${header.join(', ')})`,
      );
    }
  }
  if (columns.status === undefined) columns.status = null;

  // Guests: a marker standing for "no customer".
  const customer = columns.customer_id;
  if (customer && find(header, 'customer_id') === customer) {
    const present = values(customer);
    const marker = GUEST_MARKERS.find((m) => present.includes(m));
    if (marker) {
      columns.customer_id = `nullif(trim(${ref(customer)}), ${stringLiteral(marker)})`;
      chosen.push(`customer_id: ${JSON.stringify(marker)} means a guest (no customer)`);
    }
  }
  // Credit notes: numeric order ids, and some with a letter before the number. A `C`
  // (credit) marks cancellations in many exports; another letter is only reported.
  const orderId = columns.order_id;
  if (orderId && columns.status === null) {
    const ids = values(orderId);
    const numeric = ids.filter((v) => /^\d+$/.test(v)).length;
    const byLetter = new Map<string, number>();
    for (const v of ids) {
      if (/^[A-Z]\d+$/.test(v)) byLetter.set(v.charAt(0), (byLetter.get(v.charAt(0)) ?? 0) + 1);
    }
    if (numeric > ids.length / 2) {
      for (const [letter, n] of byLetter) {
        if (letter === 'C') {
          columns.status = `CASE WHEN ${ref(orderId)} LIKE 'C%' THEN 'cancelled' END`;
          chosen.push(
            `status: order ids starting with C (${n} in the sample) look like cancellations or credit notes: left out as cancelled; check this`,
          );
        } else {
          undecided.push(
            `order ids starting with ${letter} (${n} in the sample): if they are not orders, add them to the status rule`,
          );
        }
      }
    }
  }

  if (columns.status === null) chosen.push('status: none (no status column; every order counts)');

  // Grain: most order ids on several rows means order lines; a few repeats are duplicates.
  let grain: 'order' | 'line' = 'order';
  if (orderId) {
    const ids = values(orderId);
    const repeated = ids.length - new Set(ids).size;
    // Lines, unless the amount is the order's total repeated on each line (or only on one).
    const byId = new Map<string, Set<string | null>>();
    for (const r of rows) {
      const id = r[orderId];
      if (id === null || id === undefined) continue;
      const amounts = byId.get(id) ?? new Set<string | null>();
      amounts.add(columns.amount && isPlain(columns.amount) ? (r[columns.amount] ?? null) : 'line');
      byId.set(id, amounts);
    }
    const amount = columns.amount;
    const lineAmounts =
      (typeof amount === 'string' && !isPlain(amount)) ||
      [...byId.values()].some((a) => a.size > 1 && !a.has(null) && !a.has(''));
    if (repeated > ids.length / 5 && !lineAmounts) {
      undecided.push(
        `grain: ${repeated} of ${ids.length} sampled rows repeat an order id with the same amount (or an empty one): is it the order's total on each line? Set grain: 'line' and a line amount (quantity × unit price), or keep one row per order`,
      );
    } else if (repeated > ids.length / 5) {
      grain = 'line';
      chosen.push(
        `grain: line (${repeated} of ${ids.length} sampled rows repeat an order id: order lines, summed into orders)`,
      );
    } else if (repeated > 0) {
      chosen.push(
        `grain: order (${repeated} of ${ids.length} sampled rows repeat an order id: read as duplicates, one kept; if they are lines of one order, set grain: 'line')`,
      );
    } else chosen.push('grain: order (no order id repeats in the sample)');
  }

  // Times: their format, and whether they carry a zone.
  let timestamps: { format?: string; timeZone?: string } | undefined;
  let timeZone: string | undefined;
  let currency: string | undefined;
  const country = header.find((h) => key(h) === 'country');
  if (country) {
    const tally = new Map<string, number>();
    for (const v of values(country)) tally.set(v, (tally.get(v) ?? 0) + 1);
    const [top, n] = [...tally].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
    const known = COUNTRIES[top];
    if (known && n > rows.length / 2) {
      timeZone = known.timeZone;
      currency = known.currency;
      chosen.push(
        `time zone ${known.timeZone} and currency ${known.currency}: ${Math.round((100 * n) / rows.length)} % of the orders are from ${top}`,
      );
    }
  }
  if (columns.ordered_at && find(header, 'ordered_at') === columns.ordered_at) {
    const t = timeFormat(values(columns.ordered_at));
    if (t.note) undecided.push(`ordered_at: ${t.note}`);
    if (t.format) {
      timestamps = { format: t.format };
      chosen.push(`ordered_at: written ${t.format}`);
    }
    if (t.zone === 'none' && !t.note && !t.format) {
      undecided.push(
        `ordered_at: ISO times without a zone are read as UTC; if they are the shop's local time, set source.timestamps.timeZone${timeZone ? ` (the Country column suggests ${timeZone})` : ''}`,
      );
    } else if (t.zone === 'none' && !t.note) {
      if (timeZone) {
        timestamps = { ...timestamps, timeZone };
        chosen.push(`ordered_at: local time without a zone, taken as ${timeZone}; check this`);
      } else {
        undecided.push(
          'ordered_at: the times carry no zone; set source.timestamps.timeZone to the shop’s (or they are read as UTC)',
        );
      }
    }
  }
  if (!timeZone)
    undecided.push('reports[0].timeZone: no country column decides it; UTC is proposed');
  if (!currency) undecided.push('reports[0].currency: not decided; USD is proposed');

  const relation = {
    kind: 'file' as const,
    path,
    ...(encoding !== 'utf-8' ? { encoding } : {}),
    ...(delimiter !== ',' ? { delimiter } : {}),
  };
  return {
    source: {
      relation,
      columns,
      ...(Object.keys(types).length ? { types } : {}),
      ...(timestamps ? { timestamps } : {}),
      ...(grain === 'line' ? { grain } : {}),
    },
    ...(timeZone ? { timeZone } : {}),
    ...(currency ? { currency } : {}),
    chosen,
    undecided,
  };
}

/** The proposed configuration: the source, and one weekly report to start from. */
export function proposedConfig(p: Proposal): ConfigInput {
  return {
    source: p.source,
    reports: [
      {
        id: 'weekly',
        name: 'Weekly KPIs',
        period: 'week',
        timeZone: p.timeZone ?? 'UTC',
        currency: p.currency ?? 'USD',
      },
    ],
  };
}

/** The configuration as a commented TypeScript module. */
export function configModule(p: Proposal): string {
  const comment = (lines: readonly string[]): string => lines.map((l) => ` * - ${l}`).join('\n');
  return `/**
 * Proposed by \`kpi init\`. What it chose:
${comment(p.chosen)}
${p.undecided.length ? ` *\n * What it could not decide (check these):\n${comment(p.undecided)}\n` : ''} *
 * Every setting is explained in docs/sources.md and docs/kpis.md.
 */
export default ${JSON.stringify(proposedConfig(p), null, 2)};
`;
}
