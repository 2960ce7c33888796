import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { flowDrivers, largestRemainder, revenueDrivers } from '../../functions/digest/drivers.ts';
import { formatter } from '../../functions/digest/format.ts';
import { messagesFor } from '../../functions/digest/messages.ts';
import { driverSentence, importance, rankedMoves } from '../../functions/digest/movers.ts';
import type { KpiResult, Report } from '../../functions/report/report.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/report-2026-W47.json', import.meta.url), 'utf8'),
) as Report;

describe('revenue = buyers × orders per buyer × average order value (issue 15, item 2)', () => {
  test('hand-worked: 80 → 96 buyers (+20 %), 1.25 orders each, $10 → $11 a order', () => {
    // Δln revenue = ln 1.32 = 0.277632; buyers ln 1.2 = 0.182322, order value ln 1.1 = 0.095310.
    // Shares of +$320.00: 32,000 × 0.182322 / 0.277632 = 21,014.49 cents and 10,985.51 cents;
    // rounded down 21,014 + 10,985 = 31,999, the missing cent goes to the larger remainder.
    const d = revenueDrivers(
      { revenue: 1320, orders: 120, buyers: 96 },
      { revenue: 1000, orders: 100, buyers: 80 },
    );
    expect(d).toEqual({
      totalCents: 32_000,
      parts: [
        { factor: 'buyers', cents: 21_014 },
        { factor: 'aov', cents: 10_986 },
        { factor: 'frequency', cents: 0 },
      ],
    });
  });

  test('hand-worked: fewer orders from the same 40 buyers at the same $40 a order', () => {
    const d = revenueDrivers(
      { revenue: 1800, orders: 45, buyers: 40 },
      { revenue: 2000, orders: 50, buyers: 40 },
    );
    expect(d?.parts).toEqual([
      { factor: 'frequency', cents: -20_000 },
      { factor: 'buyers', cents: 0 },
      { factor: 'aov', cents: 0 },
    ]);
  });

  test('hand-worked: parts of both signs add up (+$100 = +$100 − $100 + $100)', () => {
    // 100 → 110 buyers, 1 → 1/1.1 orders each, $10 → $11 a order: each factor is ±ln 1.1.
    const d = revenueDrivers(
      { revenue: 1100, orders: 100, buyers: 110 },
      { revenue: 1000, orders: 100, buyers: 100 },
    );
    expect(d?.totalCents).toBe(10_000);
    expect(Object.fromEntries(d?.parts.map((p) => [p.factor, p.cents]) ?? [])).toEqual({
      buyers: 10_000,
      frequency: -10_000,
      aov: 10_000,
    });
  });

  test('no split without a move or without positive counts on both sides', () => {
    const same = { revenue: 500, orders: 5, buyers: 4 };
    expect(revenueDrivers(same, same)).toBeNull();
    expect(revenueDrivers(same, { revenue: 0, orders: 0, buyers: 0 })).toBeNull();
    expect(revenueDrivers(same, { revenue: 400, orders: null, buyers: 4 })).toBeNull();
  });

  test('property: the rounded parts add up to the move, to the cent', () => {
    const side = fc.record({
      revenue: fc.integer({ min: 1, max: 1e9 }).map((c) => c / 100),
      orders: fc.integer({ min: 1, max: 1e5 }),
      buyers: fc.integer({ min: 1, max: 1e5 }),
    });
    fc.assert(
      fc.property(side, side, (now, before) => {
        const d = revenueDrivers(now, before);
        if (d === null) return;
        expect(d.parts.reduce((s, p) => s + p.cents, 0)).toBe(d.totalCents);
        expect(d.totalCents).toBe(Math.round(now.revenue * 100) - Math.round(before.revenue * 100));
        for (const p of d.parts) expect(Number.isInteger(p.cents)).toBe(true);
      }),
    );
  });

  test('largest remainder: whole units that add up, the largest part first', () => {
    expect(
      largestRemainder(
        [
          { factor: 'a', cents: 1.5 },
          { factor: 'b', cents: 1.5 },
          { factor: 'c', cents: 1 },
        ],
        4,
      ).reduce((s, p) => s + p.cents, 0),
    ).toBe(4);
    expect(
      largestRemainder(
        [
          { factor: 'x', cents: -2.4 },
          { factor: 'y', cents: -0.6 },
        ],
        -3,
      ),
    ).toEqual([
      { factor: 'x', cents: -2 },
      { factor: 'y', cents: -1 },
    ]);
  });

  test('the sentence, on the sample week: parts that add up to the move shown', () => {
    const en = messagesFor('en');
    const s = driverSentence(fixture, 'revenue', formatter('en', 'USD', en.m.units), en) ?? '';
    const amounts = [...s.matchAll(/([+−-])\$([\d,]+\.\d\d)/g)].map(
      (m) => (m[1] === '+' ? 1 : -1) * Math.round(Number((m[2] ?? '').replaceAll(',', '')) * 100),
    );
    const total = amounts.pop() ?? 0;
    expect(amounts.length).toBeGreaterThanOrEqual(2);
    expect(amounts.reduce((a, b) => a + b, 0)).toBe(total);
    const k = fixture.kpis.revenue;
    expect(total).toBe(Math.round((k.value ?? 0) * 100) - Math.round((k.previous ?? 0) * 100));
    expect(s).toMatch(/^Why: more buyers \+\$[\d,.]+, more orders per buyer/);
  });
});

describe('customers at end = start − lost + new + reactivated', () => {
  test('the sample week: the flows add up to the move, and the flow that moved most is named', () => {
    const d = flowDrivers(fixture);
    expect(d.start - d.lost + d.new + d.reactivated).toBe(d.end);
    // Against 2026-W46: new +124 (730 vs 606) is the biggest change of a flow.
    expect(d.moved).toEqual({
      flow: 'new',
      change: d.new - (fixture.kpis.new_customers.previous ?? 0),
    });
    const en = messagesFor('en');
    const s = driverSentence(fixture, 'customers_end', formatter('en', 'USD', en.m.units), en);
    expect(s).toBe(
      `Active customers ${d.start.toLocaleString('en')} → ${d.end.toLocaleString('en')}: ${d.new} new + ${d.reactivated} reactivated − ${d.lost} lost; most of the difference: ${d.moved?.change} more new customers than in Week 46, 2026.`,
    );
  });

  test('hand-worked: more lost counts against the base', () => {
    const r = {
      ...fixture,
      customerFlow: { start: 100, lost: 30, new: 10, reactivated: 5, end: 85 },
      kpis: {
        ...fixture.kpis,
        new_customers: { ...fixture.kpis.new_customers, previous: 12 },
        reactivated_customers: { ...fixture.kpis.reactivated_customers, previous: 5 },
        lost_customers: { ...fixture.kpis.lost_customers, previous: 20 },
      },
    } as Report;
    expect(flowDrivers(r).moved).toEqual({ flow: 'lost', change: -10 });
    const en = messagesFor('en');
    expect(driverSentence(r, 'customers_end', formatter('en', 'USD', en.m.units), en)).toBe(
      'Active customers 100 → 85: 10 new + 5 reactivated − 30 lost; most of the difference: 10 more lost than in Week 46, 2026.',
    );
  });
});

describe('what matters most (issue 15, item 3)', () => {
  const base = fixture.kpis.crr;
  const k = (o: Partial<KpiResult>): KpiResult => ({ ...base, ...o });
  const steady = [0.9, 0.91, 0.9, 0.91, 0.9, 0.91, 0.9, 0.91, 0.9, 0.91, 0.9, 0.93];
  const move = (absolute: number, verdict: 'good' | 'bad') => ({
    ...base.change,
    previous: { absolute, relative: absolute / 0.9, verdict },
  });

  test('size against the usual variation, a missed target and a bad move weigh more', () => {
    const good = k({ trend: steady, change: move(0.03, 'good'), status: null, anomaly: false });
    const bad = k({ ...good, change: move(-0.03, 'bad') });
    const missed = k({ ...bad, status: 'bad' });
    expect(importance(bad)).toBeGreaterThan(importance(good));
    expect(importance(missed)).toBeGreaterThan(importance(bad));
    expect(importance(k({ ...good, anomaly: true }))).toBeGreaterThan(importance(good));
    expect(importance(k({ ...good, direction: 'neutral' }))).toBeCloseTo(importance(good) / 2, 9);
    expect(importance(k({ ...good, change: move(0, 'good') }))).toBe(0);
  });

  test('the sample week: revenue (+25 %) matters more than retention (−0.1 pt), and names the subject', () => {
    const ranked = rankedMoves(fixture).map((m) => m.id);
    expect(ranked[0]).toBe('revenue');
    expect(ranked.indexOf('revenue')).toBeLessThan(
      ranked.indexOf('crr') === -1 ? Infinity : ranked.indexOf('crr'),
    );
  });
});
