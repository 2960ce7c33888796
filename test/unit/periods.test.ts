import { describe, expect, test } from 'vitest';
import {
  comparisonsOf,
  lastCompletePeriod,
  localMidnight,
  nextPeriod,
  parsePeriod,
  PeriodError,
  periodInstants,
  previousPeriod,
  yearAgoPeriod,
} from '../../functions/periods/period.ts';
import { measuredPeriod } from '../../functions/kpis/measure.ts';

describe('parsePeriod', () => {
  test.each([
    ['2026-W47', 'week', '2026-11-16', '2026-11-23'],
    ['2026-W53', 'week', '2026-12-28', '2027-01-04'],
    ['2027-W01', 'week', '2027-01-04', '2027-01-11'],
    ['2025-W01', 'week', '2024-12-30', '2025-01-06'],
    ['2026-11', 'month', '2026-11-01', '2026-12-01'],
    ['2024-02', 'month', '2024-02-01', '2024-03-01'],
    ['2026-Q4', 'quarter', '2026-10-01', '2027-01-01'],
    ['2026', 'year', '2026-01-01', '2027-01-01'],
    ['2026-11-01..2026-11-15', 'custom', '2026-11-01', '2026-11-16'],
    ['2026-11-01..2026-11-01', 'custom', '2026-11-01', '2026-11-02'],
  ])('%s', (label, kind, start, end) => {
    const p = parsePeriod(label);
    expect(p).toEqual({ kind, label, start, end });
  });

  test.each([
    '2025-W53',
    '2026-W00',
    '2026-13',
    '2026-Q5',
    '26',
    '2026-11-15..2026-11-01',
    'W47',
    '',
  ])('rejects %j', (label) => {
    expect(() => parsePeriod(label)).toThrow(PeriodError);
  });
});

describe('comparisons', () => {
  test('a week: previous, year-ago, trailing 4, trend 12 oldest first', () => {
    const c = comparisonsOf(parsePeriod('2026-W02'));
    expect(c.previous.label).toBe('2026-W01');
    expect(c.yearAgo.label).toBe('2025-W02');
    expect(c.trailing.map((p) => p.label)).toEqual([
      '2025-W50',
      '2025-W51',
      '2025-W52',
      '2026-W01',
    ]);
    expect(c.trend).toHaveLength(12);
    expect(c.trend[0]?.label).toBe('2025-W43');
    expect(c.trend.at(-1)?.label).toBe('2026-W02');
  });

  test('ISO week 53 compares with week 52 of the previous ISO year', () => {
    expect(yearAgoPeriod(parsePeriod('2026-W53')).label).toBe('2025-W52');
    expect(previousPeriod(parsePeriod('2027-W01')).label).toBe('2026-W53');
    expect(nextPeriod(parsePeriod('2026-W53')).label).toBe('2027-W01');
    // 2020 had 53 weeks: W53 of 2021 does not exist, so 2021-W52 → 2020-W52
    expect(yearAgoPeriod(parsePeriod('2021-W52')).label).toBe('2020-W52');
  });

  test('month, quarter, year and custom', () => {
    expect(comparisonsOf(parsePeriod('2026-01')).previous.label).toBe('2025-12');
    expect(yearAgoPeriod(parsePeriod('2026-01')).label).toBe('2025-01');
    expect(comparisonsOf(parsePeriod('2026-03')).trailing.map((p) => p.label)).toEqual([
      '2025-12',
      '2026-01',
      '2026-02',
    ]);
    expect(comparisonsOf(parsePeriod('2026-Q1')).previous.label).toBe('2025-Q4');
    expect(comparisonsOf(parsePeriod('2026-Q1')).trailing.map((p) => p.label)).toEqual([
      '2025-Q3',
      '2025-Q4',
    ]);
    expect(comparisonsOf(parsePeriod('2026')).trailing.map((p) => p.label)).toEqual(['2025']);
    const custom = comparisonsOf(parsePeriod('2026-11-01..2026-11-15'));
    expect(custom.previous.label).toBe('2026-10-17..2026-10-31');
    expect(custom.yearAgo.label).toBe('2025-11-02..2025-11-16'); // 52 weeks back
    expect(custom.trailing).toHaveLength(4);
    // 11 steps of 15 days back from 2026-11-01 is 2026-05-20
    expect(custom.trend[0]?.label).toBe('2026-05-20..2026-06-03');
    expect(custom.trend.at(-2)?.label).toBe('2026-10-17..2026-10-31');
  });
});

describe('last complete period before an instant, in a time zone', () => {
  test.each([
    // Monday 06:00 in London reports the week that ended at Monday 00:00
    ['2026-11-23T06:00:00Z', 'Europe/London', 'week', '2026-W47'],
    // 23:30 UTC on Sunday is already Monday in Tokyo: that week is complete there
    ['2026-11-22T23:30:00Z', 'Asia/Tokyo', 'week', '2026-W47'],
    ['2026-11-22T23:30:00Z', 'UTC', 'week', '2026-W46'],
    // 04:00 UTC on Dec 1 is still Nov 30 in New York
    ['2026-12-01T04:00:00Z', 'America/New_York', 'month', '2026-10'],
    ['2026-12-01T05:00:00Z', 'America/New_York', 'month', '2026-11'],
    ['2027-01-01T00:00:00Z', 'UTC', 'quarter', '2026-Q4'],
    ['2027-01-01T00:00:00Z', 'UTC', 'year', '2026'],
    // Exactly at local midnight the week just ended is complete
    ['2026-11-23T00:00:00Z', 'UTC', 'week', '2026-W47'],
  ] as const)('%s in %s, %s → %s', (now, zone, kind, label) => {
    expect(lastCompletePeriod(kind, new Date(now), zone).label).toBe(label);
  });
});

describe('local midnights across daylight saving', () => {
  test.each([
    // Europe/London: BST ends 2026-10-25, starts 2026-03-29
    ['2026-W43', 'Europe/London', '2026-10-18T23:00:00.000Z', '2026-10-26T00:00:00.000Z'],
    ['2026-W13', 'Europe/London', '2026-03-23T00:00:00.000Z', '2026-03-29T23:00:00.000Z'],
    // America/New_York: DST starts 2026-03-08, ends 2026-11-01
    ['2026-W10', 'America/New_York', '2026-03-02T05:00:00.000Z', '2026-03-09T04:00:00.000Z'],
    ['2026-W44', 'America/New_York', '2026-10-26T04:00:00.000Z', '2026-11-02T05:00:00.000Z'],
    // East of UTC
    ['2026-W47', 'Asia/Tokyo', '2026-11-15T15:00:00.000Z', '2026-11-22T15:00:00.000Z'],
    ['2026-04', 'Australia/Sydney', '2026-03-31T13:00:00.000Z', '2026-04-30T14:00:00.000Z'],
  ])('%s in %s', (label, zone, start, end) => {
    const i = periodInstants(parsePeriod(label), zone);
    expect(i.start.toISOString()).toBe(start);
    expect(i.end.toISOString()).toBe(end);
  });

  test('the London week holding the October change lasts 169 hours', () => {
    const i = periodInstants(parsePeriod('2026-W43'), 'Europe/London');
    expect((i.end.getTime() - i.start.getTime()) / 3_600_000).toBe(169);
  });

  test('window arithmetic is in local calendar days, so boundaries stay on midnight', () => {
    // 90 local days before 2026-11-02 (New York) is 2026-08-04, a daylight-time midnight
    const m = measuredPeriod(parsePeriod('2026-W44'), 'America/New_York', 90, 180);
    expect(m.endWindow.toISOString()).toBe('2026-08-04T04:00:00.000Z');
    expect(m.start.toISOString()).toBe('2026-10-26T04:00:00.000Z');
    expect(m.yearBeforeEnd.toISOString()).toBe('2025-11-02T04:00:00.000Z');
  });

  test('a zone whose midnight is skipped starts the day at its first instant', () => {
    // America/Santiago moved clocks from 00:00 to 01:00 on 2024-09-08
    expect(localMidnight('2024-09-08', 'America/Santiago').toISOString()).toBe(
      '2024-09-08T04:00:00.000Z',
    );
  });
});
