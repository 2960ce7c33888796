/**
 * The dead man's switch: for each report, the latest period past its due time (plus the
 * retries' grace) is checked in the ledger; a digest that never reached the leadership list
 * is reported, whatever the reason (schedule disabled, every attempt failed or skipped).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { DirLedgerStore, type DeliveryRecord } from '../../functions/delivery/ledger.ts';
import { deliveryKey } from '../../functions/handlers/run.ts';
import { checkDeliveries, dueTime } from '../../functions/handlers/watchdog.ts';
import { parsePeriod } from '../../functions/periods/period.ts';

const config = parseConfig({
  source: { relation: { kind: 'file', path: 'orders.parquet' } },
  reports: [
    {
      id: 'weekly',
      name: 'Weekly',
      period: 'week',
      timeZone: 'Europe/London',
      recipients: ['ceo@example.com'],
      schedule: { weekDay: 'MON', hour: 7, minute: 30 },
    },
    {
      id: 'monthly',
      name: 'Monthly',
      period: 'month',
      timeZone: 'America/New_York',
      recipients: ['cfo@example.com'],
      schedule: { day: 2, hour: 6, minute: 0 },
    },
    // No recipients: nothing is due to the leadership list.
    { id: 'drafts', name: 'Drafts', period: 'week' },
  ],
});

function record(
  key: string,
  state: DeliveryRecord['state'],
  batch: 'sent' | 'pending' | 'failed',
): DeliveryRecord {
  return {
    key,
    runId: 'r',
    leaseUntil: '2026-01-01T00:00:00Z',
    state,
    batches: [{ recipients: ['ceo@example.com'], state: batch }],
  };
}

describe('the delivery watchdog', () => {
  test('a period is due at its schedule after the period ends, in the report’s zone', () => {
    const [weekly, monthly] = config.reports;
    if (!weekly || !monthly) throw new Error('reports');
    expect(dueTime(weekly, parsePeriod('2026-W47')).toISOString()).toBe('2026-11-23T07:30:00.000Z');
    // Summer time in London: 07:30 BST is 06:30 UTC.
    expect(dueTime(weekly, parsePeriod('2026-W26')).toISOString()).toBe('2026-06-29T06:30:00.000Z');
    // The 2nd of the next month at 06:00 in New York (EST, UTC−5).
    expect(dueTime(monthly, parsePeriod('2026-11')).toISOString()).toBe('2026-12-02T11:00:00.000Z');
  });

  test('the latest period past due plus grace is checked; only a sent digest counts as delivered', async () => {
    const ledger = new DirLedgerStore(mkdtempSync(join(tmpdir(), 'kpi-watchdog-')));
    // Monday 23 Nov, 12:00 UTC: W47 is due at 07:30, but its retry slots (08:30, 09:30,
    // 10:30) and their grace run until 12:30, so W46 is the one checked. October is the monthly report's latest past due.
    const noon = new Date('2026-11-23T12:00:00Z');
    expect(await checkDeliveries(config, ledger, noon)).toEqual([
      { report: 'weekly', period: '2026-W46', due: '2026-11-16T07:30:00.000Z', delivered: false },
      { report: 'monthly', period: '2026-10', due: '2026-11-02T11:00:00.000Z', delivered: false },
    ]);
    await ledger.create(record(deliveryKey('weekly', '2026-W46', 'leaders'), 'completed', 'sent'));
    await ledger.create(
      record(deliveryKey('monthly', '2026-10', 'leaders'), 'in-progress', 'pending'),
    );
    // Sent to someone else (an ad-hoc run) is not a delivery to the leadership list.
    await ledger.create(
      record(deliveryKey('weekly', '2026-W47', 'adhoc-0123456789abcdef'), 'completed', 'sent'),
    );
    const later = new Date('2026-11-23T18:00:00Z');
    expect(await checkDeliveries(config, ledger, later)).toEqual([
      { report: 'weekly', period: '2026-W47', due: '2026-11-23T07:30:00.000Z', delivered: false },
      { report: 'monthly', period: '2026-10', due: '2026-11-02T11:00:00.000Z', delivered: false },
    ]);
    await ledger.create(record(deliveryKey('weekly', '2026-W47', 'leaders'), 'sent', 'sent'));
    expect((await checkDeliveries(config, ledger, later)).map((c) => c.delivered)).toEqual([
      true,
      false,
    ]);
  });

  test('a report without retry hours is overdue two hours after its one slot', async () => {
    const ledger = new DirLedgerStore(mkdtempSync(join(tmpdir(), 'kpi-watchdog-')));
    const once = parseConfig({
      ...config,
      reports: [
        { ...config.reports[0], schedule: { weekDay: 'MON', hour: 7, minute: 30, retryHours: 0 } },
      ],
    });
    const checks = await checkDeliveries(once, ledger, new Date('2026-11-23T09:31:00Z'));
    expect(checks.map((c) => c.period)).toEqual(['2026-W47']);
    const before = await checkDeliveries(once, ledger, new Date('2026-11-23T09:29:00Z'));
    expect(before.map((c) => c.period)).toEqual(['2026-W46']);
  });

  test('a late first slot gets as many retry hours as its day has left', () => {
    const late = parseConfig({
      ...config,
      reports: [{ ...config.reports[0], schedule: { weekDay: 'MON', hour: 22, minute: 0 } }],
    });
    expect(late.reports[0]?.schedule.retryHours).toBe(1);
    expect(config.reports[0]?.schedule.retryHours).toBe(3);
  });
});
