import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { DirLedgerStore } from '../../functions/delivery/ledger.ts';
import type { Mailer } from '../../functions/delivery/ses.ts';
import { renderDigest } from '../../functions/digest/render.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { runOnce } from '../../functions/handlers/run.ts';
import { CORE_KPI_IDS } from '../../functions/kpis/definitions.ts';
import type { Report } from '../../functions/report/report.ts';
import { reportOn, writeOrdersCsv, type OrderRow } from '../helpers.ts';

/** Every number the digest prints is real: no NaN, Infinity, undefined or null leaks. */
async function expectCleanDigest(r: Report): Promise<string> {
  for (const locale of ['en', 'ru']) {
    const d = await renderDigest({ ...r, report: { ...r.report, locale } });
    for (const part of [d.subject, d.text, d.html]) {
      expect(part).not.toMatch(/NaN|Infinity|undefined|\bnull\b/);
    }
  }
  return (await renderDigest(r)).text;
}

const order = (id: string, customer: string, at: string, amount = 10): OrderRow => ({
  order_id: id,
  customer_id: customer,
  ordered_at: at,
  amount,
});

describe('empty and degenerate periods', () => {
  test('a brand-new shop: nobody at the start, no year-ago data, n/a with its reason', async () => {
    const file = writeOrdersCsv([
      order('1', 'a', '2026-11-17T10:00:00Z'),
      order('2', 'b', '2026-11-18T10:00:00Z', 25),
      order('3', 'a', '2026-11-20T10:00:00Z', 5),
    ]);
    const r = await reportOn(file, '2026-W47', { timeZone: 'UTC' });
    expect(r.kpis.customers_start.value).toBe(0);
    expect(r.kpis.crr.value).toBeNull();
    expect(r.kpis.churn_rate.value).toBeNull();
    expect(r.kpis.revenue.yearAgo).toBe(0);
    expect(r.kpis.aov.yearAgo).toBeNull();
    expect(r.kpis.aov.change.yearAgo).toEqual({ absolute: null, relative: null, verdict: null });
    expect(r.kpis.top10_spend_multiple.value).toBeNull();
    const text = await expectCleanDigest(r);
    expect(text).toContain('  n/a (no active customers at the start)');
    expect(text).toContain('  n/a (fewer than 10 customers in the last 365 days)');
  });

  test('a period without a single order: n/a (no orders in the period)', async () => {
    const file = writeOrdersCsv([
      order('1', 'a', '2026-11-03T10:00:00Z'),
      order('2', 'b', '2026-11-04T10:00:00Z'),
    ]);
    const r = await reportOn(file, '2026-W47', { timeZone: 'UTC' });
    expect(r.kpis.orders.value).toBe(0);
    expect(r.kpis.revenue.value).toBe(0);
    expect(r.kpis.aov.value).toBeNull();
    expect(r.kpis.customers_start.value).toBe(2);
    expect(r.kpis.crr.value).toBe(1);
    const text = await expectCleanDigest(r);
    expect(text).toMatch(/Average order value\s+n\/a\s.*\n {2}n\/a \(no orders in the period\)/);
  });

  test('an empty source: every count is 0, every ratio n/a, nothing divides by zero', async () => {
    const r = await reportOn(writeOrdersCsv([]), '2026-W47', { timeZone: 'UTC' });
    for (const id of CORE_KPI_IDS) {
      const v = r.kpis[id].value;
      expect(v === null || (Number.isFinite(v) && v === 0)).toBe(true);
    }
    expect(r.dataQuality).toMatchObject({ rowsRead: 0, latestValidOrderedAt: null, fresh: false });
    await expectCleanDigest(r);
  });

  test.each([
    ['skip', 0, 'empty-period'],
    ['send', 1, undefined],
  ] as const)(
    'emptyPeriod: %s decides whether a period without orders is mailed',
    async (policy, messages, skipped) => {
      const file = writeOrdersCsv([
        order('1', 'a', '2026-11-03T10:00:00Z'),
        order('2', 'b', '2026-11-24T10:00:00Z'),
      ]);
      let sent = 0;
      const mailer: Mailer = {
        sendMessage: () => Promise.resolve(`m${++sent}`),
        send: () => Promise.reject(new Error('unused')),
      };
      const result = await runOnce(
        { report: 'w', period: '2026-W47' },
        {
          config: parseConfig({
            source: { relation: { kind: 'file', path: file } },
            reports: [
              {
                id: 'w',
                name: 'W',
                period: 'week',
                recipients: ['ceo@example.com'],
                emptyPeriod: policy,
              },
            ],
          }),
          engine: () => DuckDbEngine.create(),
          mailer,
          ledger: new DirLedgerStore(mkdtempSync(join(tmpdir(), 'kpi-ledger-'))),
          sender: 'kpi@example.com',
          clock: () => new Date('2026-11-25T07:00:00Z'),
        },
      );
      expect(sent).toBe(messages);
      expect(result.skipped).toBe(skipped);
    },
  );
});
