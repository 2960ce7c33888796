import { describe, expect, test } from 'vitest';
import { expectedSpendOf, spendData, type GammaGamma } from '../../functions/clv/models.ts';

/**
 * The lifetime values' definitions (docs/kpis.md, "CLV model"), worked by hand: the
 * zero-spend rule.
 */

const GG: GammaGamma = { p: 2, q: 3, v: 10, logLikelihood: 0 };

describe('expected value per purchase: Gamma-Gamma conditional expectation p (v + x m) / (p x + q − 1)', () => {
  test('no repeat purchase: the population mean p v / (q − 1)', () => {
    // 2 · 10 / (3 − 1) = 10.
    expect(expectedSpendOf(GG, 0, Number.NaN)).toBe(10);
  });

  test('repeat purchases worth something: the posterior mean between the population and the own mean', () => {
    // x = 2 of mean 25: 2 (10 + 2 · 25) / (2 · 2 + 3 − 1) = 120 / 6 = 20.
    expect(expectedSpendOf(GG, 2, 25)).toBe(20);
  });

  test('repeat purchases that total 0 (a free item, a 100 % voucher): the same expectation with m = 0', () => {
    // Not the population mean 10: x = 1 of mean 0 gives 2 · 10 / (2 · 1 + 3 − 1) = 20 / 4 = 5,
    // x = 4 gives 20 / (8 + 2) = 2: the more free repeats, the lower, never below 0.
    expect(expectedSpendOf(GG, 1, 0)).toBe(5);
    expect(expectedSpendOf(GG, 4, 0)).toBe(2);
    // None recorded (NaN) counts as 0 too; and it is the limit of a mean tending to 0.
    expect(expectedSpendOf(GG, 4, Number.NaN)).toBe(2);
    expect(Math.abs(expectedSpendOf(GG, 4, 1e-9) - 2)).toBeLessThan(1e-8);
  });

  test('zero-spend repeat buyers stay out of the fit: the likelihood has no room for a mean of 0', () => {
    const d = spendData({
      x: [0, 1, 2, 3],
      txDays: [0, 7, 14, 21],
      TDays: [30, 30, 30, 30],
      mx: [Number.NaN, 0, 25, 40],
    });
    expect([...d.x]).toEqual([2, 3]);
    expect([...d.m]).toEqual([25, 40]);
  });
});
