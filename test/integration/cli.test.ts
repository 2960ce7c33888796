import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { main, periodRange } from '../../functions/cli/main.ts';
import { parsePeriod } from '../../functions/periods/period.ts';
import type { Report } from '../../functions/report/report.ts';
import { TrinoSQL } from 'dt-sql-parser';
import { writeOrdersCsv } from '../helpers.ts';
import { relationReads, runReads } from '../sql-reads.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function kpi(
  args: string[],
  cwd = ROOT,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), cwd });
  return { code, out, err };
}

let source = '';
beforeAll(() => {
  source = writeOrdersCsv([
    { order_id: '1', customer_id: 'a', ordered_at: '2026-11-10T10:00:00Z', amount: 10 },
    { order_id: '2', customer_id: 'a', ordered_at: '2026-11-17T10:00:00Z', amount: 20 },
    { order_id: '3', customer_id: 'b', ordered_at: '2026-11-18T10:00:00Z', amount: 30.5 },
  ]);
});

describe('one way to run, and help per command', () => {
  test('without --source or --config, run reads ./kpi.config.ts, and says so when there is none', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kpi-empty-'));
    const r = await kpi(['run', '--period', '2026-W47'], empty);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'kpi: give --source FILE, or --config FILE (there is no kpi.config.ts here)\n',
    );
  });

  test('kpi <command> --help lists that command’s options only, with defaults', async () => {
    const run = await kpi(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^Usage: kpi run \[options\]/);
    expect(run.out).toMatch(/--engine E +duckdb \(local files\) or athena .*\(default: duckdb\)/);
    expect(run.out).not.toMatch(/--recipients|--from/);
    const backfill = await kpi(['backfill', '--help']);
    expect(backfill.out).toMatch(/--from LABEL/);
    expect(backfill.out).not.toMatch(/--engine|--print-sql/);
    const invoke = await kpi(['invoke', '--help']);
    expect(invoke.out).toMatch(/--recipients A,B/);
    expect(invoke.out).not.toMatch(/--source/);
  });

  test('--source with --config keeps the configured mapping', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-mapped-'));
    const file = join(dir, 'export.csv');
    writeFileSync(
      file,
      [
        'Nr;Kunde;Zeit;Betrag',
        '1;a;2026-11-10T10:00:00Z;10.00',
        '2;a;2026-11-17T10:00:00Z;20.00',
        '3;b;2026-11-18T10:00:00Z;30.50',
      ].join('\n') + '\n',
    );
    writeFileSync(
      join(dir, 'kpi.config.json'),
      JSON.stringify({
        source: {
          relation: { kind: 'file', path: 'elsewhere.csv', delimiter: ';' },
          columns: {
            order_id: 'Nr',
            customer_id: 'Kunde',
            ordered_at: 'Zeit',
            amount: 'Betrag',
            status: null,
          },
        },
        reports: [{ id: 'weekly', name: 'Weekly', period: 'week' }],
      }),
    );
    const r = await kpi(
      ['run', '--config', 'kpi.config.json', '--source', 'export.csv', '--period', '2026-W47'],
      dir,
    );
    expect(r.err).not.toMatch(/error|no column/);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as Report).kpis.revenue.value).toBe(50.5);
  });
});

describe('kpi run --print-sql', () => {
  test('--engine athena prints every statement of the run, ended by ";" lines, and sends none', async () => {
    // The project's own config names the Athena work group and tables; no credentials exist
    // here, so a statement sent would fail.
    const saved = process.env;
    const credentials = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE']);
    process.env = {
      ...Object.fromEntries(Object.entries(saved).filter(([k]) => !credentials.has(k))),
      AWS_REGION: 'eu-west-1',
    };
    try {
      const r = await kpi(['run', '--engine', 'athena', '--period', '2026-W47', '--print-sql']);
      expect(r.code).toBe(0);
      expect(r.out.endsWith('\n;\n')).toBe(true);
      const statements = r.out.split(/\n;\n/).filter((s) => s.trim() !== '');
      expect(statements[0]).toMatch(/^CREATE TABLE kpi_run_[0-9a-f]{32} WITH \(format = 'PARQUET'/);
      expect(statements.at(-1)).toMatch(/^DROP TABLE IF EXISTS kpi_run_[0-9a-f]{32}$/);
      const trino = new TrinoSQL();
      for (const sql of statements) expect(trino.validate(sql)).toEqual([]);
      // As Trino plans them (WITH blocks inlined): the orders once in the run, nothing more
      // than twice in a statement, and for the breakdown by channel (kpi.config.ts), a
      // grouped read of the two ranking columns beside each read of the run's table.
      expect(runReads(statements).get('sales.orders')).toBe(1);
      for (const sql of statements) {
        expect(Math.max(0, ...relationReads(sql).values())).toBeLessThanOrEqual(
          sql.includes('part_0') ? 4 : 2,
        );
      }
      // --kpis-only leaves out cohorts, RFM, the at-risk list and the lifetime model.
      const kpisOnly = await kpi([
        'run',
        '--engine',
        'athena',
        '--period',
        '2026-W47',
        '--print-sql',
        '--kpis-only',
      ]);
      const fewer = kpisOnly.out.split(/\n;\n/).filter((s) => s.trim() !== '');
      expect(fewer.length).toBeLessThan(statements.length);
      expect(runReads(fewer).get('sales.orders')).toBe(1);
    } finally {
      process.env = saved;
    }
  });
});

describe('kpi run', () => {
  test('--format json without --out writes only the JSON report to stdout', async () => {
    const r = await kpi(['run', '--source', source, '--period', '2026-W47', '--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as Report;
    expect(report.kpis.revenue.value).toBe(50.5);
    expect(report.period).toMatchObject({ kind: 'week', label: '2026-W47', timeZone: 'UTC' });
    expect(r.err).toContain('kpi: running');
  });

  test('--breakdowns replaces the report’s (none: no breakdown), on DuckDB and in the statements for Athena', async () => {
    const args = ['run', '--config', 'kpi.config.ts', '--period', '2026-W47', '--kpis-only'];
    const none = await kpi([...args, '--engine', 'athena', '--print-sql', '--breakdowns', 'none']);
    expect(none.code).toBe(0);
    expect(none.out).not.toContain('GROUPING SETS');
    const by = await kpi([...args, '--engine', 'athena', '--print-sql']);
    expect(by.out).toContain('GROUPING SETS ((), (part_0))');
    const dir = mkdtempSync(join(tmpdir(), 'kpi-breakdowns-'));
    const file = writeOrdersCsv([
      { order_id: '1', customer_id: 'a', ordered_at: '2026-11-17T10:00:00Z', amount: 10 },
    ]);
    const config = join(dir, 'kpi.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        source: { relation: { kind: 'file', path: file }, dimensions: { shop: "'web'" } },
        reports: [{ id: 'w', name: 'W', period: 'week' }],
      }),
    );
    const r = await kpi([
      'run',
      '--config',
      config,
      '--period',
      '2026-W47',
      '--breakdowns',
      'shop',
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as Report;
    expect(report.breakdowns?.map((b) => [b.dimension, b.parts.map((p) => p.value)])).toEqual([
      ['shop', ['web']],
    ]);
  });

  test('--timezone moves the boundaries', async () => {
    const r = await kpi([
      'run',
      '--source',
      source,
      '--period',
      '2026-W47',
      '--timezone',
      'Asia/Tokyo',
    ]);
    expect((JSON.parse(r.out) as Report).period.start).toBe('2026-11-16T00:00:00.000+09:00');
  });

  test('--format all --out DIR writes the files, the digest linking the full report beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-out-'));
    const r = await kpi([
      'run',
      '--source',
      source,
      '--period',
      '2026-W47',
      '--format',
      'all',
      '--out',
      dir,
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    for (const f of ['report.json', 'digest.html', 'digest.txt', 'digest.eml', 'report.html']) {
      expect(existsSync(join(dir, f))).toBe(true);
    }
    expect(readFileSync(join(dir, 'digest.html'), 'utf8')).toContain('href="report.html"');
  });

  test('--format eml writes no full report, and the digest links none: it carries the details', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-out-'));
    const r = await kpi([
      'run',
      '--source',
      source,
      '--period',
      '2026-W47',
      '--format',
      'eml',
      '--out',
      dir,
    ]);
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toEqual(['digest.eml']);
    // Quoted-printable, decoded.
    const eml = Buffer.from(
      readFileSync(join(dir, 'digest.eml'), 'latin1')
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
    expect(eml).toContain('What the KPIs mean');
    expect(eml).not.toContain('report.html');
  });

  test.each([
    [['run', '--bogus'], /Unknown option '--bogus'/],
    [
      ['run', '--source', 'x.csv', '--period', '2026-W99'],
      /--period: ISO year 2026 has no week 99/,
    ],
    [['run', '--source', 'x.csv', '--timezone', 'Mars/Base'], /--timezone: time zone "Mars\/Base"/],
    [
      ['run', '--source', '/no/such/file.parquet', '--period', '2026-W47'],
      /source "\/no\/such\/file.parquet" does not exist/,
    ],
    [
      ['backfill', '--from', '2026-W01', '--to', '2026-W02', '--engine', 'athena'],
      /^kpi: --engine does not apply to backfill \(kpi backfill --help lists its options\)$/,
    ],
    [
      ['demo', '--period', '2026-W47', '--recipients', 'a@b.c'],
      /^kpi: --period, --recipients do not apply to demo/,
    ],
    [
      ['run', '--engine', 'athena', '--source', 'x.csv'],
      /^kpi: --source does not apply to --engine athena$/,
    ],
    [
      ['run', '--source', 'x.csv', '--workgroup', 'w'],
      /^kpi: --workgroup does not apply to --engine duckdb$/,
    ],
    [['run', '--source', 'x.csv', '--format', 'pdf'], /--format "pdf" is not one of/],
    // Empty values are refused, not replaced by defaults (an unset shell variable).
    [['run', '--source', 'x.csv', '--out', ''], /^kpi: --out needs a value; received ""$/],
    [
      ['run', '--source', 'x.csv', '--timezone', ''],
      /^kpi: --timezone needs a value; received ""$/,
    ],
    [['run', '--source', 'x.csv', '--report', ' '], /^kpi: --report needs a value; received " "$/],
    [['run', '--source', ''], /^kpi: --source needs a value; received ""$/],
    [
      ['run', '--source', 'x.csv', '--now', '0'],
      /^kpi: --now "0" is not an ISO-8601 date or instant \(such as 2026-11-23 or 2026-11-23T07:00:00Z\)$/,
    ],
    [
      ['run', '--source', 'x.csv', '--now', '2026-11-23T07:00'],
      /^kpi: --now "2026-11-23T07:00" is not an ISO-8601 date or instant/,
    ],
    [
      ['run', '--source', 'x.csv', '--out', 'package.json'],
      /^kpi: --out "package.json" is a file; name a folder$/,
    ],
    [
      ['run', '--source', 'x.csv', '--period', 'x'.repeat(100_000)],
      /^kpi: --period: period "x{39}…" is not one of/,
    ],
    [['frobnicate'], /unknown command "frobnicate"/],
    [
      ['run', '--config', 'kpi.config.ts', '--report', 'nope'],
      /--report "nope" is not in the configuration/,
    ],
    [
      ['run', '--source', 'x.csv', '--breakdowns', 'country'],
      /^kpi: --breakdowns "country": expected up to 3 different names of source.dimensions \(none configured\), or none$/,
    ],
    [
      ['run', '--engine', 'athena', '--breakdowns', 'channel,channel', '--print-sql'],
      /^kpi: --breakdowns "channel,channel": expected up to 3 different names of source.dimensions \(channel\), or none$/,
    ],
  ])('%j exits 2 with a one-line error', async (args, message) => {
    const r = await kpi(args);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    // Progress may come first; the error itself is the one last line.
    const lines = r.err.trim().split('\n');
    expect(lines.at(-1)).toMatch(message);
    expect(lines.filter((l) => !l.startsWith('kpi: running'))).toHaveLength(1);
  });

  test('a source whose column holds a value of the wrong type exits 2 naming its line', async () => {
    const bad = writeOrdersCsv([
      { order_id: '1', customer_id: 'a', ordered_at: 'not a time', amount: 1 },
    ]);
    const r = await kpi(['run', '--source', bad, '--period', '2026-W47']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n').at(-1)).toBe(
      `kpi: source "${bad}" line 2: column ordered_at holds "not a time", not a timestamp (ISO 8601, such as 2026-11-23T07:00:00Z or 2026-11-23 07:00:00)`,
    );
  });

  test('a bad config file lists every problem and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-cfg-'));
    const cfg = join(dir, 'bad.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      cfg,
      JSON.stringify({
        source: { relation: { kind: 'file', path: 'x' } },
        reports: [{ id: 'A', name: '', period: 'day' }],
      }),
    );
    const r = await kpi(['run', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/3 problems/);
    expect(r.err).toMatch(/reports\[0\]\.id/);
    expect(r.err).toMatch(/reports\[0\]\.name/);
    expect(r.err).toMatch(/reports\[0\]\.period/);
  });
});

describe('kpi backfill', () => {
  test('one report per period, from..to inclusive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-bf-'));
    const r = await kpi([
      'backfill',
      '--source',
      source,
      '--from',
      '2026-W45',
      '--to',
      '2026-W47',
      '--format',
      'json',
      '--out',
      dir,
    ]);
    expect(r.code).toBe(0);
    for (const w of ['2026-W45', '2026-W46', '2026-W47']) {
      expect(existsSync(join(dir, 'adhoc', w, 'report.json'))).toBe(true);
    }
    const w46 = JSON.parse(
      readFileSync(join(dir, 'adhoc', '2026-W46', 'report.json'), 'utf8'),
    ) as Report;
    expect(w46.kpis.revenue.value).toBe(10);
  });

  test('ranges of different kinds or reversed are refused', () => {
    expect(() => periodRange(parsePeriod('2026-W47'), parsePeriod('2026-11'))).toThrow(
      /different kinds/,
    );
    expect(() => periodRange(parsePeriod('2026-W47'), parsePeriod('2026-W45'))).toThrow(/after/);
    expect(
      periodRange(parsePeriod('2026-W52'), parsePeriod('2027-W02')).map((p) => p.label),
    ).toEqual(['2026-W52', '2026-W53', '2027-W01', '2027-W02']);
  });
});

describe('kpi demo (what npm start runs)', () => {
  test('writes a report and an MJML digest for the last complete week of the sample', async () => {
    const out = mkdtempSync(join(tmpdir(), 'kpi-demo-'));
    const r = await kpi(['demo', '--out', out]);
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.period.label).toBe('2026-W47');
    expect(report.dataQuality.fresh).toBe(true);
    expect(report.dataQuality.leftOut.duplicate).toBeGreaterThan(0);
    expect(report.dataQuality.leftOut.missing_customer).toBeGreaterThan(0);
    expect(report.dataQuality.leftOut.excluded_status).toBeGreaterThan(0);
    const html = readFileSync(join(out, 'digest.html'), 'utf8');
    expect(Buffer.byteLength(html)).toBeLessThan(90 * 1024);
    expect(html).toContain('href="report.html"');
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('What the KPIs mean');
    expect(html).toContain('Weekly KPIs');
    expect(html).not.toMatch(/<svg|src="data:|src="https?:/i);
    const text = readFileSync(join(out, 'digest.txt'), 'utf8');
    expect(text).toMatch(/^Weekly KPIs · Week 47, 2026 — /);
    const eml = readFileSync(join(out, 'digest.eml'), 'utf8');
    expect(eml).toMatch(/Content-Type: multipart\/alternative/);
    expect(eml).toMatch(/Content-Type: text\/plain/);
    expect(eml).toMatch(/Content-Type: text\/html/);
  });
});
