import { describe, expect, test } from 'vitest';
import { changeOf, isAnomaly, meanOf, median, targetStatus } from '../../functions/kpis/judge.ts';

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
