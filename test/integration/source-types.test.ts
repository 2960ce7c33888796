/**
 * Every input read exactly or refused. The fixtures hold 30,000 rows, past the 20,480 rows
 * DuckDB's CSV reader samples to guess types, and the odd value comes after the sample: a
 * reader that guessed would round cents, cut times to midnight or fail, where declared
 * types give the same numbers as a clean file, or a refusal naming the file, line, column
 * and value (exit 2, nothing written).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { main } from '../../functions/cli/main.ts';
import { parseConfig } from '../../functions/config/load.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { measureExtras } from '../../functions/kpis/extra.ts';
import { parsePeriod } from '../../functions/periods/period.ts';
import type { Report } from '../../functions/report/report.ts';
import { reportOn } from '../helpers.ts';

const ROWS = 30_000;
/** Rows before the odd ones: past DuckDB's sample of 20,480 rows. */
const SAMPLE = 25_000;
const HEADER = 'order_id,customer_id,ordered_at,amount,status';
const WEEK = '2026-W47'; // 2026-11-16 .. 2026-11-22 (UTC)

interface Order {
  id: string;
  customer: string;
  /** Whole seconds since the epoch (UTC). */
  at: number;
  cents: number;
  status: string;
}

/** A shop of ROWS orders over four weeks of November 2026, deterministic. */
function shop(): Order[] {
  const start = Date.UTC(2026, 10, 2) / 1000;
  return Array.from({ length: ROWS }, (_, i) => ({
    id: String(100_000 + i),
    // Ids that look numeric: "007" and "7" are two customers.
    customer: i % 2 === 0 ? String(i % 1_013) : String(i % 1_013).padStart(3, '0'),
    // Midnight in the sample (written as bare dates in one variant), any time after it.
    at: i < SAMPLE ? start + (i % 28) * 86_400 : start + ((i * 7_919) % (28 * 86_400)),
    // Whole amounts in the sample, cents after it.
    cents: i < SAMPLE ? (10 + (i % 9)) * 100 : 1_000 + ((i * 37) % 5_000),
    status: i % 50 === 0 ? 'cancelled' : 'completed',
  }));
}

const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
const money = (cents: number): string =>
  cents % 100 === 0 ? String(cents / 100) : (cents / 100).toFixed(2);

function write(lines: readonly string[], name = 'orders.csv', header = HEADER): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpi-types-'));
  const file = join(dir, name);
  writeFileSync(file, [header, ...lines].join('\n') + '\n');
  return file;
}

const canonical = (orders: readonly Order[]): string[] =>
  orders.map((o) => [o.id, o.customer, iso(o.at), money(o.cents), o.status].join(','));

/** The week's revenue in cents and its customers, by hand from the rows. */
function byHand(orders: readonly Order[]): { revenue: number; orders: number } {
  const from = Date.UTC(2026, 10, 16) / 1000;
  const to = Date.UTC(2026, 10, 23) / 1000;
  const valid = orders.filter((o) => o.status !== 'cancelled' && o.at >= from && o.at < to);
  return { revenue: valid.reduce((s, o) => s + o.cents, 0), orders: valid.length };
}

const values = (r: Report): Record<string, number | null> =>
  Object.fromEntries(Object.entries(r.kpis).map(([k, v]) => [k, v.value]));

async function kpi(args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(args, { stdout: () => undefined, stderr: (t) => (err += t) });
  return { code, err: err.trim().split('\n').at(-1) ?? '' };
}

describe('declared types: a file whose values change after the first rows reads exactly', () => {
  const orders = shop();
  const expected = byHand(orders);
  let clean: Report;

  test('the clean file gives the hand-computed week', async () => {
    clean = await reportOn(write(canonical(orders)), WEEK);
    expect(clean.kpis.revenue.value).toBe(expected.revenue / 100);
    expect(clean.kpis.orders.value).toBe(expected.orders);
  }, 60_000);

  test.each([
    ['whole amounts first, cents later: no cent rounded away', () => canonical(orders)],
    [
      'dates first, times with an offset later: each order on its UTC day',
      () =>
        orders.map((o, i) => {
          // In the sample, midnight UTC as a bare date; after it, the same instant written in
          // New York time (UTC−5), often a day earlier on the wall clock.
          const at =
            i < SAMPLE
              ? iso(o.at).slice(0, 10)
              : new Date((o.at - 5 * 3600) * 1000).toISOString().slice(0, 19) + '-05:00';
          return [o.id, o.customer, at, money(o.cents), o.status].join(',');
        }),
    ],
    [
      'numeric order ids first, credit-note ids later',
      () =>
        orders.map((o, i) =>
          [i >= SAMPLE ? `CN-${o.id}` : o.id, o.customer, iso(o.at), money(o.cents), o.status].join(
            ',',
          ),
        ),
    ],
  ])(
    '%s',
    async (_, lines) => {
      const report = await reportOn(write(lines()), WEEK);
      expect(values(report)).toEqual(values(clean));
      expect(report.kpis.revenue.value).toBe(expected.revenue / 100);
    },
    60_000,
  );

  test('a run is the same in any machine time zone (DuckDB session zone is UTC)', () => {
    const file = write(
      orders.map((o) =>
        // Times with an offset: read as TIMESTAMPTZ, then UTC.
        [o.id, o.customer, iso(o.at).replace('Z', '+00:00'), money(o.cents), o.status].join(','),
      ),
    );
    const out = mkdtempSync(join(tmpdir(), 'kpi-tz-'));
    const root = new URL('../../', import.meta.url).pathname;
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bin/kpi.ts',
        'run',
        '--source',
        file,
        '--period',
        WEEK,
        '--out',
        out,
        '--format',
        'json',
        '--kpis-only',
      ],
      { cwd: root, env: { ...process.env, TZ: 'America/Los_Angeles' }, stdio: 'ignore' },
    );
    const report = JSON.parse(
      execFileSync('cat', [join(out, 'report.json')], { encoding: 'utf8' }),
    ) as Report;
    expect(values(report)).toEqual(values(clean));
  }, 120_000);

  test('a folder is read whole: any case of extension, gzipped or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-folder-'));
    const lines = canonical(orders);
    writeFileSync(join(dir, 'part-1.CSV'), [HEADER, ...lines.slice(0, 12_000)].join('\n'));
    mkdirSync(join(dir, '2026'));
    writeFileSync(
      join(dir, '2026', 'part-2.csv.gz'),
      gzipSync([HEADER, ...lines.slice(12_000)].join('\n') + '\n'),
    );
    // Written by Spark and Hive beside their files: not data.
    writeFileSync(join(dir, '_SUCCESS'), '');
    writeFileSync(join(dir, '.part-1.CSV.crc'), 'x');
    expect(values(await reportOn(dir, WEEK))).toEqual(values(clean));
  }, 60_000);

  test('a file name with glob characters is that file, not a pattern', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-glob-'));
    writeFileSync(join(dir, 'orders[1].csv'), [HEADER, ...canonical(orders)].join('\n'));
    // What the pattern orders[1].csv would match instead.
    writeFileSync(join(dir, 'orders1.csv'), `${HEADER}\n1,a,2026-11-17T10:00:00Z,99,completed\n`);
    expect(values(await reportOn(join(dir, 'orders[1].csv'), WEEK))).toEqual(values(clean));
  }, 60_000);
});

describe('a value or file that cannot be read exactly is refused: exit 2, its place named, nothing written', () => {
  const good = canonical(shop()).slice(0, SAMPLE + 1_000);
  /** The line of the bad row: the header is line 1. */
  const LINE = good.length + 2;
  const amountWanted =
    'not an amount with at most 16 digits before the decimal point (such as 1234.50)';
  const timeWanted =
    'not a timestamp (ISO 8601, such as 2026-11-23T07:00:00Z or 2026-11-23 07:00:00)';

  test.each<[string, () => string, (path: string) => string]>([
    [
      'a malformed timestamp late in the file (not counted as missing)',
      () => write([...good, '9,a,2026-11-31 10:00,12.50,completed', ...good.slice(0, 10)]),
      (p) =>
        `source "${p}" line ${LINE}: column ordered_at holds "2026-11-31 10:00", ${timeWanted}`,
    ],
    [
      // DuckDB would carry the zone over to the zone-less times after it: refused.
      'a zone name instead of an offset',
      () => write([...good, '9,a,2026-11-20T10:00:00 Europe/Paris,12.50,completed', ...good]),
      (p) =>
        `source "${p}" line ${LINE}: column ordered_at holds "2026-11-20T10:00:00 Europe/Paris", ${timeWanted}`,
    ],
    [
      'an amount of NaN',
      () => write([...good, '9,a,2026-11-20T10:00:00Z,NaN,completed']),
      (p) => `source "${p}" line ${LINE}: column amount holds "NaN", ${amountWanted}`,
    ],
    [
      'an amount of 1e20',
      () => write([...good, '9,a,2026-11-20T10:00:00Z,1e20,completed']),
      (p) => `source "${p}" line ${LINE}: column amount holds "1e20", ${amountWanted}`,
    ],
    [
      'a decimal too large for DECIMAL(18,2)',
      () => write([...good, '9,a,2026-11-20T10:00:00Z,12345678901234567.5,completed']),
      (p) =>
        `source "${p}" line ${LINE}: column amount holds "12345678901234567.5", ${amountWanted}`,
    ],
    [
      'an amount with a thousands separator',
      () => write([...good, '9,a,2026-11-20T10:00:00Z,"1,234.50",completed']),
      (p) => `source "${p}" line ${LINE}: column amount holds "1,234.50", ${amountWanted}`,
    ],
    [
      'a row with a field too many, late in the file',
      () => write([...good, '9,a,2026-11-20T10:00:00Z,12,completed,extra']),
      (p) => `source "${p}" line ${LINE}: it has 6 fields; the header has 5`,
    ],
    [
      'bytes that are not UTF-8, late in the file',
      () => {
        const file = write(good);
        writeFileSync(
          file,
          Buffer.from('9,a\xff\xfe,2026-11-20T10:00:00Z,12,completed\n', 'latin1'),
          {
            flag: 'a',
          },
        );
        return file;
      },
      (p) =>
        `source "${p}" line ${LINE}: it is not UTF-8 (save the file as UTF-8, or declare relation.encoding: 'latin-1')`,
    ],
    [
      'a header naming a column twice',
      () => write(good, 'orders.csv', 'order_id,customer_id,ordered_at,amount,Amount'),
      (p) => `source "${p}": the header names column "Amount" twice`,
    ],
    [
      'a named pipe',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'kpi-fifo-'));
        execFileSync('mkfifo', [join(dir, 'orders.csv')]);
        return join(dir, 'orders.csv');
      },
      (p) => `source "${p}" is not a regular file or folder`,
    ],
    [
      'a folder mixing CSV and Parquet',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'kpi-mixed-'));
        writeFileSync(join(dir, 'a.csv'), `${HEADER}\n`);
        writeFileSync(join(dir, 'b.parquet'), 'PAR1');
        return dir;
      },
      (p) =>
        `source folder "${p}" mixes csv ("a.csv") and parquet ("b.parquet") files; keep one format`,
    ],
    [
      'a folder whose files have different columns',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'kpi-differ-'));
        writeFileSync(join(dir, 'a.csv'), [HEADER, ...good].join('\n'));
        writeFileSync(
          join(dir, 'b.csv'),
          'order_id,customer_id,ordered_at,amount\n1,a,2026-11-20,1\n',
        );
        return dir;
      },
      (p) =>
        `source "b.csv" of "${p}": its header (order_id,customer_id,ordered_at,amount) differs from "a.csv" (${HEADER}); every file needs the same columns in the same order`,
    ],
    [
      'a folder holding a file of another kind',
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'kpi-other-'));
        writeFileSync(join(dir, 'a.csv'), [HEADER, ...good].join('\n'));
        writeFileSync(join(dir, 'notes.txt'), 'hello');
        return dir;
      },
      (p) =>
        `source folder "${p}" holds "notes.txt", which is neither .parquet nor .csv (move it out, or name the files to read)`,
    ],
  ])(
    '%s',
    async (_, make, message) => {
      const path = make();
      const out = join(mkdtempSync(join(tmpdir(), 'kpi-refused-')), 'out');
      const r = await kpi(['run', '--source', path, '--period', WEEK, '--out', out]);
      expect(r).toEqual({ code: 2, err: `kpi: ${message(path)}` });
      expect(existsSync(out)).toBe(false);
    },
    60_000,
  );

  test('Parquet: a NaN amount is refused with its file and row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-parquet-'));
    const file = join(dir, 'orders.parquet');
    const engine = await DuckDbEngine.create();
    try {
      await engine.query(`COPY (
        SELECT CAST(i AS VARCHAR) AS order_id, 'c' || (i % 700) AS customer_id,
          TIMESTAMP '2026-11-01 10:00:00' + INTERVAL (i % 22) DAY AS ordered_at,
          CASE WHEN i = 25000 THEN CAST('nan' AS DOUBLE) ELSE 10.5 END AS amount,
          'completed' AS status
        FROM range(30000) t(i)) TO '${file}'`);
    } finally {
      await engine.close();
    }
    const r = await kpi(['run', '--source', file, '--period', WEEK]);
    expect(r).toEqual({
      code: 2,
      err: `kpi: source "${file}" row 25001: column amount holds "nan", ${amountWanted}`,
    });
  }, 60_000);

  test('Parquet: a column of the wrong type is refused, naming the file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kpi-parquet-')), 'orders.parquet');
    const engine = await DuckDbEngine.create();
    try {
      await engine.query(`COPY (
        SELECT '1' AS order_id, 'c' AS customer_id, '2026-11-20T10:00:00Z' AS ordered_at,
          10.5 AS amount, 'completed' AS status) TO '${file}'`);
    } finally {
      await engine.close();
    }
    expect(await kpi(['run', '--source', file, '--period', WEEK])).toEqual({
      code: 2,
      err: `kpi: source "${file}": column ordered_at holds VARCHAR, not timestamps (store instants as TIMESTAMP)`,
    });
  });

  test('the optional sources too: a bad spend amount or feedback time is refused, not a query failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-extras-'));
    const orders = write(good);
    const spend = join(dir, 'spend.csv');
    writeFileSync(
      spend,
      [
        'spent_on,channel,amount',
        ...good.map((_, i) => `2026-11-${String(1 + (i % 28)).padStart(2, '0')},ads,${i % 7}`),
        '2026-11-20,ads,12.3.4',
      ].join('\n'),
    );
    const feedback = join(dir, 'feedback.csv');
    writeFileSync(
      feedback,
      [
        'submitted_at,kind,score',
        ...good.map(() => '2026-11-20T10:00:00Z,nps,9'),
        'yesterday,nps,9',
      ].join('\n'),
    );
    const engine = await DuckDbEngine.create();
    try {
      for (const [key, path, message] of [
        [
          'marketingSpend',
          spend,
          `source "${spend}" line ${LINE}: column amount holds "12.3.4", ${amountWanted}`,
        ],
        [
          'feedback',
          feedback,
          `source "${feedback}" line ${LINE}: column submitted_at holds "yesterday", ${timeWanted}`,
        ],
      ] as const) {
        const source = parseConfig({
          source: {
            relation: { kind: 'file', path: orders },
            [key]: { relation: { kind: 'file', path } },
          },
          reports: [{ id: 't', name: 'T', period: 'week' }],
        }).source;
        await expect(
          measureExtras({ engine, source, timeZone: 'UTC', periods: [parsePeriod(WEEK)] }),
        ).rejects.toThrow(message);
      }
    } finally {
      await engine.close();
    }
  }, 60_000);
});
