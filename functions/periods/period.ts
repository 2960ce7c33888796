import { DateTime, IANAZone } from 'luxon';
import { echo } from '../echo.ts';

/** The kinds of reporting period (docs/kpis.md, "Time"). */
export const PERIOD_KINDS = ['week', 'month', 'quarter', 'year', 'custom'] as const;
export type PeriodKind = (typeof PERIOD_KINDS)[number];

/**
 * A reporting period as local calendar dates: `[start, end)`, `end` exclusive.
 * It is independent of any time zone; `periodInstants` places it in one.
 */
export interface Period {
  readonly kind: PeriodKind;
  readonly label: string;
  /** First local date of the period, `YYYY-MM-DD`. */
  readonly start: string;
  /** First local date after the period, `YYYY-MM-DD` (exclusive). */
  readonly end: string;
}

/** A bad period label, time zone or period arithmetic request. */
export class PeriodError extends Error {
  override name = 'PeriodError';
}

const UTC = { zone: 'utc' } as const;

/** A local calendar date as a luxon value in UTC (calendar arithmetic only, no instants). */
function day(iso: string): DateTime {
  const d = DateTime.fromISO(iso, UTC);
  if (!d.isValid || !/^\d{4}-\d{2}-\d{2}$/.test(iso)) {
    throw new PeriodError(`${echo(iso)} is not a calendar date (expected YYYY-MM-DD)`);
  }
  return d;
}

function iso(d: DateTime): string {
  return d.toISODate() ?? '';
}

/** Adds `n` local calendar days (negative to go back) to a `YYYY-MM-DD` date. */
export function addDays(date: string, n: number): string {
  return iso(day(date).plus({ days: n }));
}

/** Whole calendar days from `a` to `b`. */
export function daysBetween(a: string, b: string): number {
  return Math.round(day(b).diff(day(a), 'days').days);
}

/** Length of a period in calendar days. */
export function periodDays(p: Period): number {
  return daysBetween(p.start, p.end);
}

function weeksInIsoYear(year: number): number {
  return DateTime.fromObject({ year, month: 12, day: 28 }, UTC).weekNumber;
}

function week(year: number, weekNo: number): Period {
  if (weekNo < 1 || weekNo > weeksInIsoYear(year)) {
    throw new PeriodError(`ISO year ${year} has no week ${weekNo}`);
  }
  const start = DateTime.fromObject({ weekYear: year, weekNumber: weekNo, weekday: 1 }, UTC);
  return {
    kind: 'week',
    label: `${year}-W${String(weekNo).padStart(2, '0')}`,
    start: iso(start),
    end: iso(start.plus({ weeks: 1 })),
  };
}

function month(year: number, monthNo: number): Period {
  const start = DateTime.fromObject({ year, month: monthNo, day: 1 }, UTC);
  return {
    kind: 'month',
    label: `${year}-${String(monthNo).padStart(2, '0')}`,
    start: iso(start),
    end: iso(start.plus({ months: 1 })),
  };
}

function quarter(year: number, q: number): Period {
  const start = DateTime.fromObject({ year, month: 3 * (q - 1) + 1, day: 1 }, UTC);
  return {
    kind: 'quarter',
    label: `${year}-Q${q}`,
    start: iso(start),
    end: iso(start.plus({ months: 3 })),
  };
}

function year(y: number): Period {
  return { kind: 'year', label: String(y), start: `${y}-01-01`, end: `${y + 1}-01-01` };
}

/** A custom range from its first date and its exclusive end date. */
export function customPeriod(start: string, end: string): Period {
  if (daysBetween(start, end) < 1) {
    throw new PeriodError(`custom period ${start}..${end} must span at least one day`);
  }
  return { kind: 'custom', label: `${start}..${addDays(end, -1)}`, start, end };
}

/**
 * Parses a period label: `2026-W47`, `2026-11`, `2026-Q4`, `2026` or
 * `2026-11-01..2026-11-15` (end date inclusive).
 */
export function parsePeriod(label: string): Period {
  const text = label.trim();
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})-W(\d{2})$/.exec(text))) return week(Number(m[1]), Number(m[2]));
  if ((m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text))) return month(Number(m[1]), Number(m[2]));
  if ((m = /^(\d{4})-Q([1-4])$/.exec(text))) return quarter(Number(m[1]), Number(m[2]));
  if ((m = /^(\d{4})$/.exec(text))) return year(Number(m[1]));
  if ((m = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(text))) {
    const [, first = '', last = ''] = m;
    if (daysBetween(first, last) < 0) {
      throw new PeriodError(`period "${label}": the end date ${last} is before the start ${first}`);
    }
    return customPeriod(first, addDays(last, 1));
  }
  throw new PeriodError(
    `period ${echo(label)} is not one of 2026-W47, 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15`,
  );
}

/** The period of `kind` that contains the local date `date`. */
export function periodContaining(kind: Exclude<PeriodKind, 'custom'>, date: string): Period {
  const d = day(date);
  switch (kind) {
    case 'week':
      return week(d.weekYear, d.weekNumber);
    case 'month':
      return month(d.year, d.month);
    case 'quarter':
      return quarter(d.year, d.quarter);
    case 'year':
      return year(d.year);
  }
}

/** Throws unless `zone` is an IANA time-zone name this runtime knows. */
export function assertTimeZone(zone: string): void {
  if (!IANAZone.isValidZone(zone)) {
    throw new PeriodError(
      `time zone ${echo(zone)} is not an IANA time-zone name (e.g. Europe/London)`,
    );
  }
}

/** The local calendar date of an instant in a time zone. */
export function localDate(instant: Date, zone: string): string {
  assertTimeZone(zone);
  return iso(DateTime.fromJSDate(instant, { zone }));
}

/**
 * The instant at which the local date begins in `zone`: local midnight, or the first
 * existing local time of that day where a daylight-saving jump skips midnight.
 */
export function localMidnight(date: string, zone: string): Date {
  assertTimeZone(zone);
  const d = day(date);
  return DateTime.fromObject({ year: d.year, month: d.month, day: d.day }, { zone })
    .startOf('day')
    .toJSDate();
}

/** The last complete period of `kind` that ends at or before `now`, in `zone`. */
export function lastCompletePeriod(
  kind: Exclude<PeriodKind, 'custom'>,
  now: Date,
  zone: string,
): Period {
  const current = periodContaining(kind, localDate(now, zone));
  return previousPeriod(current);
}

/** The period of the same kind just before `p` (custom: same number of days). */
export function previousPeriod(p: Period): Period {
  if (p.kind === 'custom') {
    const n = periodDays(p);
    return customPeriod(addDays(p.start, -n), p.start);
  }
  return periodContaining(p.kind, addDays(p.start, -1));
}

/** The period of the same kind just after `p` (custom: same number of days). */
export function nextPeriod(p: Period): Period {
  if (p.kind === 'custom') return customPeriod(p.end, addDays(p.end, periodDays(p)));
  return periodContaining(p.kind, p.end);
}

/**
 * The year-ago period: the same ISO week of the previous ISO year (week 53 → 52),
 * the same month, quarter or year one year earlier, a custom range shifted back 52 weeks.
 */
export function yearAgoPeriod(p: Period): Period {
  const d = day(p.start);
  switch (p.kind) {
    case 'week': {
      const prevYear = d.weekYear - 1;
      return week(prevYear, Math.min(d.weekNumber, weeksInIsoYear(prevYear)));
    }
    case 'month':
      return month(d.year - 1, d.month);
    case 'quarter':
      return quarter(d.year - 1, d.quarter);
    case 'year':
      return year(d.year - 1);
    case 'custom':
      return customPeriod(addDays(p.start, -364), addDays(p.end, -364));
  }
}

/** The `n` periods of the same kind ending with `p`, oldest first. */
export function periodsEndingWith(p: Period, n: number): Period[] {
  const out: Period[] = [p];
  while (out.length < n) out.unshift(previousPeriod(out[0] ?? p));
  return out;
}

/** The 12-period trend: the last 12 periods of the same kind, oldest first, ending with `p`. */
export function trendPeriods(p: Period): Period[] {
  return periodsEndingWith(p, 12);
}

/** How many periods the trailing mean covers: 4 weeks, 3 months, 2 quarters, 1 year, 4 customs. */
export const TRAILING_COUNT: Readonly<Record<PeriodKind, number>> = {
  week: 4,
  month: 3,
  quarter: 2,
  year: 1,
  custom: 4,
};

/** The periods before `p` whose mean is the trailing comparison, oldest first. */
export function trailingPeriods(p: Period): Period[] {
  return periodsEndingWith(previousPeriod(p), TRAILING_COUNT[p.kind]);
}

/** Every period a report on `p` compares against. */
export interface Comparisons {
  readonly period: Period;
  readonly previous: Period;
  readonly yearAgo: Period;
  readonly trailing: readonly Period[];
  readonly trend: readonly Period[];
  /**
   * Per trend period, the periods the season compares it with: the year-ago period first,
   * then, for weeks, the week before and the week after it. Empty for years, which have no
   * season within them.
   */
  readonly seasonal: readonly (readonly Period[])[];
}

/** The periods without repeats (by label), in first-seen order. */
export function distinctPeriods(periods: readonly Period[]): Period[] {
  return [...new Map(periods.map((p) => [p.label, p])).values()];
}

/**
 * The periods the season compares `p` with (docs/kpis.md, "Anomalies"): its year-ago period,
 * and for a week also the weeks either side of that, so that a holiday a week later than
 * last year still finds last year's. A year has none.
 */
export function seasonalReferences(p: Period): Period[] {
  if (p.kind === 'year') return [];
  const y = yearAgoPeriod(p);
  return p.kind === 'week' ? [y, previousPeriod(y), nextPeriod(y)] : [y];
}

/** Resolves the comparison periods of `p` (docs/kpis.md, "Comparisons"). */
export function comparisonsOf(p: Period): Comparisons {
  const trend = trendPeriods(p);
  return {
    period: p,
    previous: previousPeriod(p),
    yearAgo: yearAgoPeriod(p),
    trailing: trailingPeriods(p),
    trend,
    seasonal: trend.map(seasonalReferences),
  };
}

/** The UTC instants of a period's boundaries in `zone`. */
export function periodInstants(p: Period, zone: string): { start: Date; end: Date } {
  return { start: localMidnight(p.start, zone), end: localMidnight(p.end, zone) };
}
