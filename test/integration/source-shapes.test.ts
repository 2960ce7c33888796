/**
 * Sources as companies store them: columns given as SQL expressions over an export's own
 * columns. Each export shape must give exactly the KPIs of the same orders in the canonical
 * layout; the fixtures hold 30,000 rows, past any reader's sample.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../functions/config/load.ts';
import type { ConfigInput } from '../../functions/config/schema.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { SourceError } from '../../functions/engines/query-engine.ts';
import { runReport } from '../../functions/pipeline.ts';
import { main } from '../../functions/cli/main.ts';
import type { Report } from '../../functions/report/report.ts';
import { ONLINE_RETAIL_RAW, ONLINE_RETAIL_READING, onlineRetailLines } from '../helpers.ts';

const ROWS = 30_000;
const WEEK = '2026-W47';

interface Order {
  id: string;
  customer: string;
  /** Whole seconds since the epoch (UTC). */
  at: number;
  cents: number;
  cancelled: boolean;
}

function shop(): Order[] {
  const start = Date.UTC(2026, 10, 2) / 1000;
  return Array.from({ length: ROWS }, (_, i) => ({
    id: String(500_000 + i),
    customer: i % 97 === 0 ? '' : String(10_000 + (i % 1_409)),
    at: start + ((i * 7_919) % (28 * 86_400)),
    cents: 150 + ((i * 37) % 9_000),
    cancelled: i % 41 === 0,
  }));
}

const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

function csv(header: string, lines: readonly string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kpi-shapes-')), 'orders.csv');
  writeFileSync(file, [header, ...lines].join('\n') + '\n');
  return file;
}

async function report(
  source: ConfigInput['source'],
  period = WEEK,
  kind: 'week' | 'month' = 'week',
): Promise<Report> {
  const config = parseConfig({
    source,
    reports: [{ id: 't', name: 'Test', period: kind, timeZone: 'Europe/London' }],
  });
  const engine = await DuckDbEngine.create();
  try {
    const [r] = config.reports;
    if (!r) throw new Error('no report');
    return await runReport({ report: r, source: config.source, period }, { engine });
  } finally {
    await engine.close();
  }
}

const values = (r: Report): Record<string, number | null> =>
  Object.fromEntries(Object.entries(r.kpis).map(([k, v]) => [k, v.value]));

describe('columns as expressions over an export’s own columns', () => {
  const orders = shop();

  test('an invoice export (quantity × unit price, a guest marker, C… cancellations) gives the canonical KPIs', async () => {
    const canonical = csv(
      'order_id,customer_id,ordered_at,amount,status',
      orders.map((o) =>
        [
          o.cancelled ? `C${o.id}` : o.id,
          o.customer,
          iso(o.at),
          (o.cents / 100).toFixed(2),
          o.cancelled ? 'cancelled' : 'completed',
        ].join(','),
      ),
    );
    const exported = csv(
      'InvoiceNo,When,Cust,Qty,Price',
      orders.map((o, i) => {
        const qty = 1 + (i % 3);
        // Four decimals, as exports store unit prices: qty × price rounds back to the cent.
        const price = (o.cents / qty / 100).toFixed(4);
        return [
          o.cancelled ? `C${o.id}` : o.id,
          iso(o.at),
          o.customer === '' ? '(blank)' : o.customer,
          qty,
          price,
        ].join(',');
      }),
    );
    const expected = await report({ relation: { kind: 'file', path: canonical } });
    const got = await report({
      relation: { kind: 'file', path: exported },
      columns: {
        order_id: 'InvoiceNo',
        customer_id: "nullif(trim(Cust), '(blank)')",
        ordered_at: 'When',
        amount: 'round(Qty * Price, 2)',
        status: "CASE WHEN InvoiceNo LIKE 'C%' THEN 'cancelled' END",
      },
      types: { Qty: 'integer', Price: 'decimal' },
    });
    expect(values(got)).toEqual(values(expected));
    expect(got.dataQuality).toEqual(expected.dataQuality);
    expect(got.kpis.revenue.value).toBeGreaterThan(0);
  }, 60_000);

  test('a Latin-1 export separated by semicolons, with a header that is no identifier', async () => {
    const canonical = csv(
      'order_id,customer_id,ordered_at,amount,status',
      orders.map((o) =>
        [
          o.id,
          o.customer && `Zoë-${o.customer}`,
          iso(o.at),
          (o.cents / 100).toFixed(2),
          o.cancelled ? 'cancelled' : 'completed',
        ].join(','),
      ),
    );
    const lines = [
      'Nº commande;Client;Créé le;Montant;État',
      ...orders.map((o) =>
        [
          o.id,
          o.customer && `Zoë-${o.customer}`,
          iso(o.at),
          (o.cents / 100).toFixed(2),
          o.cancelled ? 'annulée' : 'livrée',
        ].join(';'),
      ),
    ];
    const file = join(mkdtempSync(join(tmpdir(), 'kpi-latin1-')), 'commandes.csv');
    writeFileSync(file, Buffer.from(lines.join('\r\n') + '\r\n', 'latin1'));
    const mapped = {
      columns: {
        order_id: '"Nº commande"',
        customer_id: 'Client',
        ordered_at: '"Créé le"',
        amount: 'Montant',
        status: "CASE WHEN \"État\" = 'annulée' THEN 'cancelled' END",
      },
    };
    const expected = await report({ relation: { kind: 'file', path: canonical } });
    const got = await report({
      relation: { kind: 'file', path: file, encoding: 'latin-1', delimiter: ';' },
      ...mapped,
    });
    expect(values(got)).toEqual(values(expected));
    expect(got.dataQuality).toEqual(expected.dataQuality);
    // Read as UTF-8, the file is refused with what to do.
    await expect(
      report({ relation: { kind: 'file', path: file, delimiter: ';' }, ...mapped }),
    ).rejects.toThrow(
      /line 1: it is not UTF-8 \(save the file as UTF-8, or declare relation.encoding: 'latin-1'\)/,
    );
  }, 60_000);

  test.each([
    ["strftime(When, '%Y')", /strftime\(\) is not one of the functions both engines share/],
    ['Qty / 2', /division is not allowed: .*multiply instead \(cents \* 0\.01\)/],
    ['Cents / 100.0', /division is not allowed/],
    // DuckDB reads backslash escapes in E'…': a way out of the string, refused.
    ["E'\\'' || 1 || ''", /E '…' is not allowed: a string literal stands alone/],
    ["'a\\b'", /a backslash in a string literal is not allowed/],
    ["concat(Qty, 'x')", /concat\(\) is not one of the functions both engines share/],
    ['CAST(Price AS DECIMAL)', /CAST … AS decimal needs its precision and scale/],
    ['(SELECT max(x) FROM t)', /SELECT is not allowed: one expression, no subquery/],
    ['Qty; DROP TABLE orders', /";" is not allowed/],
    ['Qty -- a comment', /a comment is not allowed/],
    ['Qty AS amount', /AS is for CAST only/],
    ['round(Qty * Price, 2', /a "\(" is not closed/],
  ])('refused at config time: %s', (amount, message) => {
    expect(() =>
      parseConfig({
        source: { relation: { kind: 'file', path: 'x.csv' }, columns: { amount } },
        reports: [{ id: 't', name: 'T', period: 'week' }],
      }),
    ).toThrow(message);
  });

  test('refused at config time: a created Glue table for mapped columns; local times from an expression', () => {
    const mapped = {
      relation: { kind: 'file' as const, path: 'x.csv' },
      columns: { amount: 'round(Qty * Price, 2)' },
    };
    expect(() =>
      parseConfig({
        source: mapped,
        reports: [{ id: 't', name: 'T', period: 'week' }],
        aws: {
          sender: 'kpi@acme.test',
          athena: { database: 'sales', table: 'orders', createTable: { bucket: 'acme-orders' } },
        },
      }),
    ).toThrow(/aws\.athena\.createTable: expected no createTable: .* this source maps amount;/);
    expect(() =>
      parseConfig({
        source: {
          ...mapped,
          columns: { ordered_at: 'coalesce(ShippedAt, CreatedAt)' },
          timestamps: { timeZone: 'Europe/London' },
        },
        reports: [{ id: 't', name: 'T', period: 'week' }],
      }),
    ).toThrow(/source\.timestamps\.format: expected the format of the local times/);
  });

  test('an expression Athena could not parse is refused when the config file is loaded', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kpi-grammar-')), 'kpi.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        source: {
          relation: { kind: 'file', path: 'orders.csv' },
          columns: { status: "CASE WHEN InvoiceNo LIKE 'C%' THEN 'cancelled'" },
        },
        reports: [{ id: 't', name: 'T', period: 'week' }],
      }),
    );
    const error = await loadConfig(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      expect.stringMatching(
        /^source\.columns\.status: expected an expression Athena parses: .*; received "CASE WHEN InvoiceNo LIKE 'C%' THEN 'cancelled'"$/,
      ),
    ]);
  });
});

describe('local wall-clock times', () => {
  const orders = shop();
  const local = (o: Order): string =>
    DateTime.fromSeconds(o.at, { zone: 'Europe/London' }).toFormat("yyyy-MM-dd'T'HH:mm:ss");
  const lines = (at: (o: Order, i: number) => string): string[] =>
    orders.map((o, i) =>
      [
        o.id,
        o.customer,
        at(o, i),
        (o.cents / 100).toFixed(2),
        o.cancelled ? 'cancelled' : 'completed',
      ].join(','),
    );
  const HEADER = 'order_id,customer_id,ordered_at,amount,status';

  test('ISO times without an offset in a declared zone read as the instants they name', async () => {
    const expected = await report({
      relation: {
        kind: 'file',
        path: csv(
          HEADER,
          lines((o) => iso(o.at)),
        ),
      },
    });
    const got = await report({
      relation: { kind: 'file', path: csv(HEADER, lines(local)) },
      timestamps: { timeZone: 'Europe/London' },
    });
    expect(values(got)).toEqual(values(expected));
    expect(got.dataQuality).toEqual(expected.dataQuality);
  }, 60_000);

  test('a time that does not match the declared format is refused, naming it and the format', async () => {
    const file = csv(
      HEADER,
      lines((o, i) =>
        i === 25_000
          ? '2011-12-09 12:50'
          : DateTime.fromSeconds(o.at, { zone: 'Europe/London' }).toFormat('M/d/yyyy H:mm'),
      ),
    );
    const error = await report({
      relation: { kind: 'file', path: file },
      timestamps: { format: '%m/%d/%Y %H:%M', timeZone: 'Europe/London' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toMatch(
      /column holds the time "2011-12-09 12:50", not one written %m\/%d\/%Y %H:%M \(source\.timestamps\.format\)$/,
    );
  }, 60_000);

  test('a value with an offset among local times is refused with its line', async () => {
    const file = csv(
      HEADER,
      lines((o, i) => (i === 25_000 ? `${local(o)}+01:00` : local(o))),
    );
    await expect(
      report({ relation: { kind: 'file', path: file }, timestamps: { timeZone: 'Europe/London' } }),
    ).rejects.toThrow(
      /line 25002: column ordered_at holds ".*\+01:00", not a local date and time without an offset/,
    );
  }, 60_000);
});

describe('order lines instead of orders', () => {
  const orders = shop();
  const HEADER = 'order_id,customer_id,ordered_at,amount,status';
  const status = (o: Order): string => (o.cancelled ? 'cancelled' : 'completed');

  test('lines summed into their orders give the order-level KPIs; read as orders they would not', async () => {
    const orderLevel = csv(
      HEADER,
      orders.map((o) =>
        [o.id, o.customer, iso(o.at), (o.cents / 100).toFixed(2), status(o)].join(','),
      ),
    );
    // One to three lines per order, their cents adding up to the order's; in some orders the
    // first line was stamped a minute before the others (the order's time is its latest).
    const lines = orders.flatMap((o, i) => {
      const n = 1 + (i % 3);
      const share = Math.floor(o.cents / n);
      return Array.from({ length: n }, (_, j) => {
        const cents = j === n - 1 ? o.cents - share * (n - 1) : share;
        const at = j === 0 && n > 1 && i % 5 === 0 ? o.at - 60 : o.at;
        return [o.id, o.customer, iso(at), (cents / 100).toFixed(2), status(o)].join(',');
      });
    });
    const lineLevel = csv(HEADER, lines);
    const expected = await report({ relation: { kind: 'file', path: orderLevel } });
    const got = await report({ relation: { kind: 'file', path: lineLevel }, grain: 'line' });
    expect(values(got)).toEqual(values(expected));
    expect(got.dataQuality).toEqual(expected.dataQuality);
    // The same file read as orders keeps one line of each order: less revenue, "duplicates".
    const wrong = await report({ relation: { kind: 'file', path: lineLevel } });
    expect(wrong.kpis.revenue.value).toBeLessThan(expected.kpis.revenue.value ?? 0);
    expect(wrong.kpis.orders.value).toBe(expected.kpis.orders.value);
  }, 60_000);
});

describe('the Online Retail export as published (Latin-1, M/D/YYYY H:MM London time)', () => {
  const RAW = ONLINE_RETAIL_RAW;
  let canonicalFile = '';

  /** The canonical UTC file, converted here independently (luxon, integer cents). */
  beforeAll(() => {
    canonicalFile = csv(
      'order_id,customer_id,ordered_at,amount,status',
      onlineRetailLines().lines.map((r) =>
        [
          r.id,
          r.customer,
          r.at.toUTC().toISO({ suppressMilliseconds: true }),
          (r.cents / 100).toFixed(2),
          r.id.startsWith('C') ? 'cancelled' : 'completed',
        ].join(','),
      ),
    );
  });

  const exported: ConfigInput['source'] = {
    relation: { kind: 'file', path: RAW, encoding: 'latin-1' },
    ...ONLINE_RETAIL_READING,
  };

  test('kpi init proposes a config that reads it exactly, and never overwrites without --force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-init-'));
    let err = '';
    const io = { stdout: () => undefined, stderr: (t: string) => (err += t), cwd: dir };
    expect(await main(['init', '--source', RAW, '--json'], io)).toBe(0);
    expect(err).toMatch(/chose status: order ids starting with C \(\d+ in the sample\)/);
    expect(err).toMatch(/chose ordered_at: written %m\/%d\/%Y %H:%M/);
    expect(err).toMatch(/local time without a zone, taken as Europe\/London; check this/);
    expect(err).toMatch(/could not decide order ids starting with A/);
    expect(err).toMatch(/next: npm run kpi -- run --config kpi.config.json/);
    const proposed = await loadConfig(join(dir, 'kpi.config.json'));
    expect(proposed.reports[0]).toMatchObject({ timeZone: 'Europe/London', currency: 'GBP' });
    const expected = await report({ relation: { kind: 'file', path: canonicalFile } }, '2011-W13');
    const got = await report(proposed.source, '2011-W13');
    expect(values(got)).toEqual(values(expected));
    expect(got.dataQuality).toEqual(expected.dataQuality);
    err = '';
    expect(await main(['init', '--source', RAW, '--json'], io)).toBe(2);
    expect(err).toBe('kpi: kpi.config.json exists; add --force to replace it\n');
  }, 60_000);

  // Without timeZone, the summer periods differ (checked): the times are London's.
  test.each([
    ['2010-W49', 'week'],
    ['2011-W13', 'week'], // the first week of summer time
    ['2011-W44', 'week'], // the week winter time returns
    ['2011-03', 'month'],
    ['2011-10', 'month'],
  ] as const)(
    '%s: exactly the KPIs of its canonical UTC conversion',
    async (period, kind) => {
      const expected = await report(
        { relation: { kind: 'file', path: canonicalFile } },
        period,
        kind,
      );
      const got = await report(exported, period, kind);
      expect(values(got)).toEqual(values(expected));
      expect(got.dataQuality).toEqual(expected.dataQuality);
      expect(got.kpis.orders.value).toBeGreaterThan(0);
    },
    60_000,
  );
});
