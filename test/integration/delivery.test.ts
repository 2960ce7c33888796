import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { DirArchive } from '../../functions/delivery/archive.ts';
import { DirLedgerStore } from '../../functions/delivery/ledger.ts';
import { SesMailer } from '../../functions/delivery/ses.ts';
import { renderDigest } from '../../functions/digest/render.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import {
  PayloadError,
  runOnce,
  StaleDataError,
  type RunnerDeps,
} from '../../functions/handlers/run.ts';
import type { Report } from '../../functions/report/report.ts';
import { generateSample } from '../../functions/sample/generate.ts';
import { recipientsOf, SesEmulator, type StoredEmail } from '../ses-emulator.ts';

let ses: SesEmulator;
let sample = '';
const END = new Date('2026-11-23T00:00:00Z');
const store = (): Promise<StoredEmail[]> => ses.emails();
const toOf = recipientsOf;

beforeAll(async () => {
  ses = await SesEmulator.start();
  sample = join(mkdtempSync(join(tmpdir(), 'kpi-ses-')), 'orders.parquet');
  await generateSample(sample, { customers: 2000, years: 2, end: END, seed: 3 });
}, 60_000);

afterAll(() => {
  ses.stop();
});

beforeEach(async () => {
  await ses.clear();
});

function deps(overrides: Partial<RunnerDeps> = {}): RunnerDeps & { engines: number } {
  const config = parseConfig({
    source: { relation: { kind: 'file', path: sample } },
    reports: [
      {
        id: 'weekly',
        name: 'Weekly KPIs',
        period: 'week',
        timeZone: 'Europe/London',
        recipients: ['ceo@example.com', 'cfo@example.com'],
        owners: ['data@example.org'],
      },
    ],
  });
  const state = { engines: 0 };
  return Object.assign(state, {
    config,
    engine: () => {
      state.engines++;
      return DuckDbEngine.create();
    },
    mailer: new SesMailer(ses.client()),
    archive: new DirArchive(mkdtempSync(join(tmpdir(), 'kpi-archive-'))),
    ledger: new DirLedgerStore(mkdtempSync(join(tmpdir(), 'kpi-ledger-'))),
    sender: 'KPI digest <kpi@example.com>',
    clock: () => new Date('2026-11-23T07:00:00Z'),
    ...overrides,
  });
}

describe('a run delivered through the local SES v2 emulator', () => {
  test('a scheduled run mails the last complete week to the leadership list', async () => {
    const d = deps();
    const result = await runOnce({ report: 'weekly', scheduled: true }, d);
    expect(result).toMatchObject({
      report: 'weekly',
      period: '2026-W47',
      fresh: true,
      audience: 'leaders',
      sentTo: ['ceo@example.com', 'cfo@example.com'],
    });
    // The at-risk list and the full report went first (the email links them), then, before
    // the send, the report, the digest, the full report again (the same page) and the
    // message every batch gets.
    expect(result.archived.map((p) => p.split('/').pop())).toEqual([
      'at-risk.csv',
      'report.json',
      'digest.html',
      'digest.txt',
      'digest.eml',
      'report.html',
      'message.json',
    ]);
    const [mail, ...more] = await store();
    expect(more).toEqual([]);
    expect(mail?.messageId).toBe(result.messageIds[0]);
    expect(mail?.from).toBe('"KPI digest" <kpi@example.com>');
    expect(toOf(mail)).toEqual(['ceo@example.com', 'cfo@example.com']);
    expect(mail?.subject).toMatch(/^Weekly KPIs · Week 47, 2026 — /);
    expect(mail?.body.html).toContain('What moved');
    expect(mail?.body.text).toContain('WHAT MOVED');
    expect(mail?.body.text).toContain('Customer retention rate');
    // The email links to the list and never carries it.
    expect(mail?.body.html).toContain('at-risk.csv');
    expect(mail?.body.html).not.toMatch(/customer_id,last_order/);
    // It links the full report in the archive for the details, and carries none of them.
    const page = result.archived.find((p) => p.endsWith('/report.html')) ?? '';
    expect(mail?.body.html).toContain(`href="${page}"`);
    expect(mail?.body.html).toContain('Full report (all KPIs, cohorts, segments, definitions)');
    expect(mail?.body.html).not.toContain('What the KPIs mean');
    expect(mail?.body.html).not.toContain('Cohorts: share still buying');
    const full = readFileSync(page, 'utf8');
    for (const title of ['What the KPIs mean', 'Cohorts: share still buying', 'More KPIs']) {
      expect(full).toContain(title);
    }
  }, 60_000);

  test('data that ends before the period end: no leadership message, one owner notice, the run fails', async () => {
    // A week after the data ends: 2026-W48 has no data at all.
    const d = deps({ clock: () => new Date('2026-11-30T07:00:00Z') });
    await expect(runOnce({ report: 'weekly', scheduled: true }, d)).rejects.toThrow(
      new StaleDataError(
        'weekly 2026-W48: the data ends at 2026-11-22T23:37:13.145Z, before 2026-11-29T00:00:00.000Z; the owners were told (1) and nothing went to the leadership list',
      ),
    );
    // The schedule retries; the owners are not told twice.
    await expect(runOnce({ report: 'weekly', scheduled: true }, d)).rejects.toThrow(StaleDataError);
    const mails = await store();
    expect(mails.map(toOf)).toEqual([['data@example.org']]);
    expect(mails[0]?.subject).toBe('[DATA NOT READY] Weekly KPIs 2026-W48');
    expect(mails[0]?.body.text).toBe(
      'The orders data ends at Nov 22, 2026, 23:37, but 2026-W48 needs data through Nov 29, 2026, 00:00. The digest was not sent to the leadership list; the scheduled run will try again.\n',
    );
  }, 60_000);

  test('an ad-hoc run sends any period to allowed recipients; a dry run only archives', async () => {
    const d = deps();
    const sent = await runOnce(
      { report: 'weekly', period: '2026-W40', recipients: ['analyst@example.com'] },
      d,
    );
    expect(sent).toMatchObject({
      period: '2026-W40',
      audience: 'requested',
      sentTo: ['analyst@example.com'],
    });
    const dry = await runOnce(
      { report: 'weekly', period: '2026-W41', dryRun: true, format: 'json' },
      d,
    );
    expect(dry).toMatchObject({ audience: 'none', sentTo: [] });
    expect(dry.archived.map((p) => p.split('/').pop())).toEqual(['at-risk.csv', 'report.json']);
    expect((await store()).map((m) => m.subject)).toEqual([
      expect.stringContaining('Week 40, 2026'),
    ]);
  }, 60_000);

  test.each([
    [{ report: 'daily' }, /report: expected one of weekly; received "daily"/],
    [{ report: 'weekly', period: '2026-W99' }, /^period: /],
    [
      { report: 'weekly', recipients: ['someone@gmail.com'] },
      /recipients: someone@gmail.com is outside the allowed domains \(example.com, example.org\)/,
    ],
    [{ report: 'weekly', dryRun: 'yes' }, /dryRun: /],
    [{ report: 'weekly', extra: 1 }, /Unrecognized key/],
  ])('a bad payload %j is rejected before any query', async (payload, message) => {
    const d = deps();
    await expect(runOnce(payload, d)).rejects.toThrow(PayloadError);
    await expect(runOnce(payload, d)).rejects.toThrow(message);
    expect(d.engines).toBe(0);
    expect(await store()).toEqual([]);
  });

  test('recipients go in batches of at most 50, and inline images arrive as related parts', async () => {
    const d = deps();
    const report = (await import('../fixtures/report-2026-W47.json', { with: { type: 'json' } }))
      .default as unknown as Report;
    const digest = await renderDigest(report);
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
        '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
      'hex',
    );
    const to = Array.from({ length: 120 }, (_, i) => `reader${i}@example.com`);
    const sent = await d.mailer.send({
      from: 'kpi@example.com',
      to,
      digest: {
        ...digest,
        html: digest.html.replace(
          '</body>',
          '<img src="cid:logo@kpi" alt="logo" width="1" height="1"></body>',
        ),
        attachments: [
          { filename: 'logo.png', contentType: 'image/png', content: png, cid: 'logo@kpi' },
        ],
      },
    });
    expect(sent.messageIds).toHaveLength(3);
    const mails = await store();
    expect(mails.map((m) => toOf(m).length)).toEqual([50, 50, 20]);
    expect(new Set(mails.flatMap(toOf)).size).toBe(120);
    expect(mails[0]?.attachments).toEqual([
      expect.objectContaining({ contentType: 'image/png', contentId: '<logo@kpi>', related: true }),
    ]);
  }, 60_000);
});
