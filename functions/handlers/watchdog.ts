/**
 * The dead man's switch: every alarm of the stack fires on something happening, and this
 * one fires when the leadership digest simply does not go out (the schedule disabled, every
 * attempt failed or skipped, the function never invoked). A daily schedule asks, for each
 * report, whether the latest period that is past its due time was delivered to the
 * leadership list, and the ledger answers.
 */
import { DateTime } from 'luxon';
import type { Config, ReportConfig } from '../config/schema.ts';
import type { LedgerStore } from '../delivery/ledger.ts';
import {
  lastCompletePeriod,
  localMidnight,
  previousPeriod,
  type Period,
} from '../periods/period.ts';
import { deliveryKey } from './run.ts';

export { WATCHDOG_EVENT } from './events.ts';

/**
 * How long after a report's last schedule slot its digest may still arrive: the function's
 * own retries of that slot (minutes apart) and their runs.
 */
export const DELIVERY_GRACE_HOURS = 2;

/** When the digest of a report is overdue: its first slot, its retry hours, the grace. */
function overdueAfterMs(report: ReportConfig): number {
  return (report.schedule.retryHours + DELIVERY_GRACE_HOURS) * 3_600_000;
}

const WEEK_DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;

/** When the digest of `period` is due: the report's schedule, after the period ends. */
export function dueTime(report: ReportConfig, period: Period): Date {
  const s = report.schedule;
  const end = DateTime.fromJSDate(localMidnight(period.end, report.timeZone), {
    zone: report.timeZone,
  });
  const days = report.period === 'week' ? WEEK_DAYS.indexOf(s.weekDay) : s.day - 1;
  return end.plus({ days }).set({ hour: s.hour, minute: s.minute }).toJSDate();
}

export interface DeliveryCheck {
  readonly report: string;
  readonly period: string;
  readonly due: string;
  readonly delivered: boolean;
}

/**
 * For each report with recipients: the latest period whose digest is overdue (past its
 * last schedule slot by DELIVERY_GRACE_HOURS), and whether the ledger records it as sent to the leadership
 * list.
 */
export async function checkDeliveries(
  config: Config,
  ledger: LedgerStore,
  now: Date,
): Promise<DeliveryCheck[]> {
  const out: DeliveryCheck[] = [];
  for (const report of config.reports) {
    if (report.recipients.length === 0) continue;
    const deadline = now.getTime() - overdueAfterMs(report);
    let period = lastCompletePeriod(report.period, now, report.timeZone);
    while (dueTime(report, period).getTime() > deadline) period = previousPeriod(period);
    const due = dueTime(report, period);
    const found = await ledger.read(deliveryKey(report.id, period.label, 'leaders'));
    // Sent: the run recorded its sends (a refused address or an uncertain batch has its
    // own alarm; the digest went out).
    const delivered =
      found !== null &&
      found.record.state !== 'in-progress' &&
      found.record.batches.some((b) => b.state === 'sent');
    out.push({
      report: report.id,
      period: period.label,
      due: due.toISOString(),
      delivered,
    });
  }
  return out;
}
