/**
 * Outputs are all-or-nothing, and what leaves the process is clean: a failed write leaves
 * the folder as it was; a killed run leaves no partial file; CSV cells are quoted and
 * neutralised, as a CSV parser reads them back; logs hold no address.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { csvDocument } from '../../functions/csv.ts';
import { writeOutputs } from '../../functions/delivery/files.ts';
import { uniqueMailboxes } from '../../functions/delivery/ses.ts';
import { echo, redact } from '../../functions/echo.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { atRiskCsv } from '../../functions/kpis/beyond.ts';

const fresh = (): string => mkdtempSync(join(tmpdir(), 'kpi-out-'));

/**
 * Whether an output file is whole (not cut short), by what its format ends with; the
 * at-risk CSV has as many lines as the uncut run's.
 */
function whole(name: string, text: string, uncut: string): boolean {
  if (name.endsWith('.json')) {
    try {
      JSON.parse(text);
      return true;
    } catch {
      return false;
    }
  }
  if (name.endsWith('.html')) return text.trimEnd().endsWith('</html>');
  if (name.endsWith('.eml')) return /--\r\n$/.test(text);
  if (name.endsWith('.txt'))
    return text.trimEnd().endsWith(uncut.trimEnd().split('\n').at(-1) ?? '');
  return text.endsWith('\n') && text.split('\n').length === uncut.split('\n').length;
}

describe('writeOutputs: all or nothing', () => {
  test('a write that fails part-way leaves the folder as it was', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'report.json'), 'old report');
    const files = new Map<string, string>([
      ['report.json', 'new report'],
      // A name the staging folder cannot hold: the second write fails.
      ['no/such/folder.txt', 'x'],
    ]);
    await expect(writeOutputs(dir, files)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['report.json']);
    expect(readFileSync(join(dir, 'report.json'), 'utf8')).toBe('old report');
  });

  test('all files appear together; the hidden folder of a killed run is removed by the next', async () => {
    const dir = fresh();
    // What a run killed with -9 leaves: its hidden folder (its process is gone).
    mkdirSync(join(dir, '.kpi-partial-999999999-abc'));
    writeFileSync(join(dir, '.kpi-partial-999999999-abc', 'report.json'), '{"half');
    const written = await writeOutputs(
      dir,
      new Map([
        ['report.json', '{}'],
        ['digest.txt', 'text'],
      ]),
    );
    expect(written).toEqual([join(dir, 'report.json'), join(dir, 'digest.txt')]);
    expect(readdirSync(dir).sort()).toEqual(['digest.txt', 'report.json']);
  });

  test('kpi run --format all and kpi backfill killed with -9 at any point: no partial file', async () => {
    const root = new URL('../../', import.meta.url).pathname;
    const source = join(fresh(), 'orders.csv');
    writeFileSync(
      source,
      [
        'order_id,customer_id,ordered_at,amount,status',
        ...Array.from(
          { length: 20_000 },
          (_, i) =>
            `${i},c${i % 3_000},2026-${String(1 + (i % 11)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z,${10 + (i % 50)}.25,completed`,
        ),
      ].join('\n'),
    );
    const complete = [
      'at-risk.csv',
      'digest.eml',
      'digest.html',
      'digest.txt',
      'report.html',
      'report.json',
    ];
    // The whole run, then kills spread over it.
    const run = (
      out: string,
      killAfterMs?: number,
      command = ['run', '--period', '2026-W47'],
    ): Promise<number | null> =>
      new Promise((resolve) => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'bin/kpi.ts',
            ...command,
            '--source',
            source,
            '--format',
            'all',
            '--out',
            out,
          ],
          { cwd: root, stdio: 'ignore' },
        );
        if (killAfterMs !== undefined)
          setTimeout(() => {
            child.kill('SIGKILL');
          }, killAfterMs);
        child.on('exit', (code) => {
          resolve(code);
        });
      });
    const started = Date.now();
    const uncut = fresh();
    expect(await run(uncut)).toBe(0);
    const duration = Date.now() - started;
    expect(readdirSync(uncut).sort()).toEqual(complete);
    for (const fraction of [0.5, 0.8, 0.9, 0.95, 0.98, 1]) {
      const out = fresh();
      writeFileSync(join(out, 'report.json'), '"before"');
      await run(out, Math.round(duration * fraction));
      // Each file is the one that was there, or the run's whole file (renamed into place
      // once all were written); never a part of one.
      for (const f of readdirSync(out).filter((name) => !name.startsWith('.'))) {
        const now = readFileSync(join(out, f));
        if (f === 'report.json' && now.toString() === '"before"') continue;
        expect(complete).toContain(f);
        expect(whole(f, now.toString(), readFileSync(join(uncut, f), 'utf8'))).toBe(true);
      }
    }
    // Backfill: each period's folder holds all of its files or none (a killed period's folder
    // may exist, created before its files were staged, with only the hidden staging folder).
    const backfill = ['backfill', '--from', '2026-W44', '--to', '2026-W47', '--kpis-only'];
    const t0 = Date.now();
    const all = fresh();
    expect(await run(all, undefined, backfill)).toBe(0);
    const backfillMs = Date.now() - t0;
    expect(readdirSync(join(all, 'adhoc')).sort()).toEqual([
      '2026-W44',
      '2026-W45',
      '2026-W46',
      '2026-W47',
    ]);
    const periodFiles = ['digest.eml', 'digest.html', 'digest.txt', 'report.html', 'report.json'];
    for (const fraction of [0.6, 0.85, 0.95]) {
      const out = fresh();
      await run(out, Math.round(backfillMs * fraction), backfill);
      const reports = join(out, 'adhoc');
      const periods = existsSync(reports)
        ? readdirSync(reports).filter((p) => !p.startsWith('.'))
        : [];
      for (const period of periods) {
        const files = readdirSync(join(reports, period)).filter((f) => !f.startsWith('.'));
        if (files.length > 0) expect(files.sort()).toEqual(periodFiles);
        for (const f of files) {
          const text = readFileSync(join(reports, period, f), 'utf8');
          expect(whole(f, text, readFileSync(join(all, 'adhoc', period, f), 'utf8'))).toBe(true);
        }
      }
    }
  }, 240_000);
});

describe('CSV export', () => {
  test('cells are quoted and neutralised, and DuckDB’s CSV parser reads back each value', async () => {
    const ids = [
      '=1+1',
      '+SUM(A1)',
      '-2',
      '@cmd',
      'a,b',
      'say "hi"',
      'line\nbreak',
      'cr\rhere',
      '\tTab',
      '007',
      'plain',
    ];
    const csv = atRiskCsv(
      ids.map((customer_id, i) => ({
        customer_id,
        last_order: '2026-11-20',
        orders: i + 1,
        lifetime_revenue: 10.5 * (i + 1),
        segment: 'At risk',
        p_alive: null,
        p_alive_note: null,
        clv_12m: null,
      })),
    );
    const file = join(fresh(), 'at-risk.csv');
    writeFileSync(file, csv);
    const engine = await DuckDbEngine.create();
    try {
      const rows = await engine.query(
        `SELECT customer_id, orders FROM read_csv('${file}', header = true, all_varchar = true, delim = ',', quote = '"', escape = '"') ORDER BY CAST(orders AS INTEGER)`,
      );
      expect(rows.map((r) => r.customer_id)).toEqual([
        "'=1+1",
        "'+SUM(A1)",
        "'-2",
        "'@cmd",
        'a,b',
        'say "hi"',
        'line\nbreak',
        'cr\rhere',
        "'\tTab",
        '007',
        'plain',
      ]);
    } finally {
      await engine.close();
    }
    expect(csvDocument(['a'], [[1.5], [null], [{ own: '-0.50' }]])).toBe('a\n1.5\n\n-0.50\n');
  });
});

describe('delivery and log hygiene', () => {
  test('one mailbox written with two domain cases is one recipient; local parts keep their case', () => {
    expect(
      uniqueMailboxes([
        'Ceo@Example.com',
        'ceo@example.COM',
        ' Ceo@EXAMPLE.com ',
        'ceo@example.com',
        '',
      ]),
    ).toEqual(['Ceo@Example.com', 'ceo@example.COM']);
  });

  test('log text holds no address, and echoes are short', () => {
    expect(redact('recipients: me@gmail.com, "x.y+z@a.co" are outside (example.com)')).toBe(
      'recipients: <address>, "<address>" are outside (example.com)',
    );
    expect(echo('x'.repeat(1_000_000))).toBe(`"${'x'.repeat(39)}…"`);
    expect(echo('short')).toBe('"short"');
  });
});
