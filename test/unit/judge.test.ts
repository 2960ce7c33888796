import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  changeOf,
  isAnomaly,
  judgeAnomaly,
  meanOf,
  median,
  recentAnomaly,
  targetStatus,
  type AnomalyInput,
} from '../../functions/kpis/judge.ts';

describe('changeOf', () => {
  test.each([
    [0.8, 0.75, 'up', 0.05, 0.05 / 0.75, 'good'],
    [0.04, 0.03, 'down', 0.01, 1 / 3, 'bad'],
    [100, 100, 'up', 0, 0, 'flat'],
    [120, 100, 'neutral', 20, 0.2, 'neutral'],
    [5, 0, 'up', 5, null, 'good'],
  ] as const)('%d vs %d (%s)', (v, ref, dir, abs, rel, verdict) => {
    const c = changeOf(v, ref, dir);
    expect(c.absolute).toBeCloseTo(abs, 12);
    if (rel === null) expect(c.relative).toBeNull();
    else expect(c.relative).toBeCloseTo(rel, 12);
    expect(c.verdict).toBe(verdict);
  });

  test('a missing side gives no change', () => {
    expect(changeOf(null, 1, 'up')).toEqual({ absolute: null, relative: null, verdict: null });
    expect(changeOf(1, null, 'up')).toEqual({ absolute: null, relative: null, verdict: null });
  });
});

describe('anomaly: latest change beyond 3 robust deviations of earlier changes', () => {
  test('a steady trend with noise is not an anomaly', () => {
    expect(isAnomaly([10, 11, 10, 12, 11, 12, 13, 12, 13, 14, 13, 14])).toBe(false);
  });
  test('a jump far outside the spread is', () => {
    // earlier changes: +1,−1,+2,−1,+1,+1,−1,+1,+1,−1 → median 1, MAD 0 or 1; jump +20
    expect(isAnomaly([10, 11, 10, 12, 11, 12, 13, 12, 13, 14, 13, 33])).toBe(true);
  });
  test('the threshold: changes with median 0 and MAD 1 flag beyond 3 × 1.4826', () => {
    const base = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]; // changes ±1: median over 10 is 0, MAD 1
    expect(isAnomaly([...base, 4.4])).toBe(false); // 4.4 < 4.4478
    expect(isAnomaly([...base, 4.5])).toBe(true);
  });
  test('too little history or missing values give no verdict', () => {
    expect(isAnomaly([1, 2, 100])).toBe(false);
    expect(isAnomaly([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, null])).toBe(false);
  });
  test('a constant series that moves is an anomaly', () => {
    expect(isAnomaly([5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6])).toBe(true);
    expect(isAnomaly([5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5])).toBe(false);
  });
});

/**
 * A weekly shop over two years: 1,000 a week growing 30 % a year, ±1.5 % of wiggle, and a
 * peak in week `peakWeek[year]` of `peak[year]` times a usual week. The trend is weeks
 * 37–48 of the second year; each week's references are the same week of the first year
 * and the weeks either side of it, as the report measures them.
 */
function shop(
  o: { peak?: [number, number]; peakWeek?: [number, number]; scale?: number } = {},
): AnomalyInput {
  const [peak1, peak2] = o.peak ?? [2.5, 2.5];
  const [week1, week2] = o.peakWeek ?? [48, 48];
  const value = (year: 0 | 1, week: number): number => {
    const wiggle = 1 + 0.015 * Math.sin(week * 2.7 + year * 1.3);
    const growth = Math.pow(1.3, year + week / 52);
    const peak = week === (year === 0 ? week1 : week2) ? (year === 0 ? peak1 : peak2) : 1;
    return (o.scale ?? 1) * 1000 * growth * wiggle * peak;
  };
  const weeks = Array.from({ length: 12 }, (_, i) => 37 + i);
  return {
    trend: weeks.map((w) => value(1, w)),
    references: weeks.map((w) => [value(0, w), value(0, w - 1), value(0, w + 1)]),
    scale: 'log',
  };
}

describe('anomaly: the season first (docs/kpis.md, "Anomalies")', () => {
  test('a yearly peak of the usual size is not unusual; the recent rule alone would say it is', () => {
    const input = shop();
    expect(recentAnomaly(input.trend)).toBe(true);
    const j = judgeAnomaly(input);
    expect(j).toMatchObject({ anomaly: false, rule: 'seasonal' });
    // The season predicts last year's peak grown by the year's growth (1.3).
    expect(j.expected).toBeCloseTo((input.trend.at(-1) ?? 0) / 1, -2);
  });

  test('a peak twice the usual size is unusual', () => {
    // Usual: 2.5 × a week, an excess of 1.5; twice that excess is 4 × a week.
    expect(judgeAnomaly(shop({ peak: [2.5, 4] }))).toMatchObject({
      anomaly: true,
      rule: 'seasonal',
    });
    // The same shock in an ordinary week, too.
    expect(judgeAnomaly(shop({ peak: [1, 2.5] })).anomaly).toBe(true);
  });

  test('a peak that fell a week later than last year is still the season', () => {
    expect(judgeAnomaly(shop({ peakWeek: [47, 48] })).anomaly).toBe(false);
    expect(judgeAnomaly(shop({ peakWeek: [48, 47] })).anomaly).toBe(false);
  });

  test('a peak that did not come at all is not judged by the season alone', () => {
    // Against last year's neighbour (an ordinary week) an ordinary week is usual: the
    // neighbours forgive a missing peak too. The year-ago sentence of "What moved" says it.
    expect(judgeAnomaly(shop({ peak: [2.5, 1] })).anomaly).toBe(false);
  });

  test('without a year of history, the recent rule, and the report says which', () => {
    const { trend } = shop();
    expect(judgeAnomaly({ trend, references: null, scale: 'log' })).toEqual({
      anomaly: true,
      rule: 'recent',
      expected: null,
    });
    const noYear = trend.map(() => [null, null, null]);
    expect(judgeAnomaly({ trend, references: noYear, scale: 'log' }).rule).toBe('recent');
    // Five earlier year-ago values are too few; six are enough.
    const some = (n: number) => ({
      ...shop(),
      references: shop().references?.map((r, i) => (i >= 11 - n ? r : [null, null, null])) ?? null,
    });
    expect(judgeAnomaly(some(5)).rule).toBe('recent');
    expect(judgeAnomaly(some(6)).rule).toBe('seasonal');
  });

  test('periods with no data are no evidence: no verdict rather than a guess', () => {
    const empty = Array<null>(12).fill(null);
    expect(judgeAnomaly({ trend: empty, references: null, scale: 'log' })).toEqual({
      anomaly: false,
      rule: null,
      expected: null,
    });
    // A tiny shop: orders in 5 of 12 months, the rest left out as no evidence.
    const sparse = [3, null, null, 4, null, 2, null, null, 5, null, 3, 40];
    expect(judgeAnomaly({ trend: sparse, references: null, scale: 'log' }).rule).toBeNull();
  });

  test('counts: a small count moving within its counting noise is not news', () => {
    // About 38 a week a year ago and 49 expected now (30 % growth); 30 this week is 39 %
    // short, within 3 × √(1/30 + 1/38) on the ratio scale.
    const base = shop({ scale: 0.03, peakWeek: [30, 30] });
    expect(base.references?.[11]?.[0]).toBeCloseTo(37.8, 1);
    const trend = [...base.trend.slice(0, -1), 30];
    expect(judgeAnomaly({ ...base, trend, counts: false }).anomaly).toBe(true);
    expect(judgeAnomaly({ ...base, trend, counts: true }).anomaly).toBe(false);
  });

  test('a move within 6 % of what the season predicts is never unusual (2 % least spread)', () => {
    const base = shop();
    const at = (f: number) => {
      const trend = [...base.trend.slice(0, -1), (base.trend.at(-1) ?? 0) * f];
      return judgeAnomaly({ ...base, trend, references: base.references }).anomaly;
    };
    expect(at(1.05)).toBe(false);
    expect(at(0.95)).toBe(false);
    // Usual on the recent rule too? A 40 % jump is beyond both.
    expect(at(1.4)).toBe(true);
  });

  test('properties: a ratio-scale verdict ignores the unit; a rate verdict ignores an offset', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1e6, noNaN: true }),
        fc.constantFrom<[number, number]>([2.5, 2.5], [2.5, 4], [1, 2.5], [2.5, 1]),
        (k, peak) => {
          const a = shop({ peak });
          const b = shop({ peak, scale: k });
          expect(judgeAnomaly(b).anomaly).toBe(judgeAnomaly(a).anomaly);
        },
      ),
    );
    fc.assert(
      fc.property(fc.double({ min: -0.5, max: 0.5, noNaN: true }), (d) => {
        const a = shop();
        const rate = (x: AnomalyInput, off: number): AnomalyInput => ({
          trend: x.trend.map((v) => (v === null ? null : v / 10_000 + off)),
          references:
            x.references?.map((r) => r.map((v) => (v === null ? null : v / 10_000 + off))) ?? null,
          scale: 'difference',
        });
        expect(judgeAnomaly(rate(a, d)).anomaly).toBe(judgeAnomaly(rate(a, 0)).anomaly);
      }),
    );
  });
});

describe('target status', () => {
  test.each([
    [0.86, 'up', 'good'],
    [0.84, 'up', 'watch'],
    [0.8, 'up', 'bad'],
  ] as const)('crr %d against 0.85 ± 0.02', (v, dir, status) => {
    expect(targetStatus(v, { value: 0.85, tolerance: 0.02 }, dir)).toBe(status);
  });
  test('down is good for churn; default tolerance is 5 % of the target', () => {
    expect(targetStatus(0.14, { value: 0.15 }, 'down')).toBe('good');
    expect(targetStatus(0.157, { value: 0.15 }, 'down')).toBe('watch');
    expect(targetStatus(0.16, { value: 0.15 }, 'down')).toBe('bad');
    expect(targetStatus(null, { value: 0.15 }, 'down')).toBeNull();
    expect(targetStatus(0.1, undefined, 'down')).toBeNull();
  });
});

test('mean and exact median', () => {
  expect(meanOf([1, null, 3])).toBe(2);
  expect(meanOf([null])).toBeNull();
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([])).toBeNull();
});
