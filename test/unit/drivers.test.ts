import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  flowDrivers,
  largestRemainder,
  retentionDrivers,
  revenueDrivers,
  partContributions,
  shownTenths,
  whereDrivers,
} from '../../functions/digest/drivers.ts';
import { formatter } from '../../functions/digest/format.ts';
import { messagesFor } from '../../functions/digest/messages.ts';
import {
  driverSentence,
  importance,
  rankedMoves,
  whereSentence,
} from '../../functions/digest/movers.ts';
import type { KpiId } from '../../functions/kpis/definitions.ts';
import type { SegmentRetention } from '../../functions/kpis/structures.ts';
import type { BreakdownPart, KpiResult, Report } from '../../functions/report/report.ts';
import { SEGMENTS } from '../../functions/sql/structures-query.ts';

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

describe('retention by the segment that moved it most (issue 15, item 2)', () => {
  const seg = (
    segment: SegmentRetention['segment'],
    start: [now: number, before: number],
    retained: [now: number, before: number],
  ): SegmentRetention => ({
    segment,
    start: { now: start[0], before: start[1] },
    retained: { now: retained[0], before: retained[1] },
  });
  // Before: Champions 10 at the start, 10 retained; Loyal 5, none retained: S₀ = 15, crr 10/15.
  // Now: Champions 10, 9 retained; Loyal 6, 1 retained: S₁ = 16, crr 10/16.
  const worked = [seg('Champions', [10, 10], [9, 10]), seg('Loyal', [6, 5], [1, 0])];

  test('hand-worked: symmetric shift-share parts, the largest named, the rest rounded to add up', () => {
    // C₀ = 10/15 = 0.666667, C₁ = 10/16 = 0.625, C̄ = 0.645833; Δcrr = −0.041667 (−4.2 pt).
    // Champions: w 0.666667 → 0.625 (w̄ 0.645833, Δw −0.041667), c 1 → 0.9 (c̄ 0.95):
    //   0.645833 × −0.1 + −0.041667 × (0.95 − 0.645833) = −0.064583 − 0.012674 = −0.077257.
    // Loyal: w 0.333333 → 0.375 (w̄ 0.354167, Δw +0.041667), c 0 → 0.166667 (c̄ 0.083333):
    //   0.354167 × 0.166667 + 0.041667 × (0.083333 − 0.645833) = 0.059028 − 0.023438 = +0.035590.
    // Together −0.041667. In tenths of a point −77.257 and +35.590: rounded down −78 + 35 =
    // −43, the missing tenth to the larger remainder (0.743 against 0.590): −77 + 35 = −42.
    const d = retentionDrivers(worked);
    expect(d?.total).toBeCloseTo(-0.041667, 6);
    expect(d?.contributions.map((c) => [c.segment, c.contribution])).toEqual([
      ['Champions', expect.closeTo(-0.077257, 6)],
      ['Loyal', expect.closeTo(0.03559, 6)],
    ]);
    expect(d?.top).toMatchObject({ segment: 'Champions', now: 0.9, before: 1 });
    expect(d?.top.share.now).toBeCloseTo(0.625, 12);
    expect(d?.shown).toEqual({ total: -42, part: -77, rest: 35 });
  });

  test('hand-worked: a segment at one start only counts by its share', () => {
    // Before: Loyal 4, 3 retained. Now: Loyal 4, 3 retained; New 4, 1 retained.
    // crr 75 % → 50 %: −25.0 pt; C̄ = 0.625. Loyal: c 0.75 both, w 1 → 0.5:
    // −0.5 × (0.75 − 0.625) = −0.0625. New: c 0.25 (now only), w 0 → 0.5:
    // 0.5 × (0.25 − 0.625) = −0.1875: the new segment's low retention moved it most.
    const d = retentionDrivers([seg('Loyal', [4, 4], [3, 3]), seg('New', [4, 0], [1, 0])]);
    expect(d?.total).toBe(-0.25);
    expect(d?.top).toEqual({
      segment: 'New',
      contribution: -0.1875,
      share: { now: 0.5, before: 0 },
      now: 0.25,
      before: null,
    });
    expect(d?.contributions[1]).toEqual({
      segment: 'Loyal',
      contribution: -0.0625,
      share: { now: 0.5, before: 1 },
      now: 0.75,
      before: 0.75,
    });
    // −187.5 and −62.5 tenths: −188 − 63 = −251, the missing tenth to the first of equal
    // remainders.
    expect(d?.shown).toEqual({ total: -250, part: -187, rest: -63 });
  });

  test('no split without the breakdown, without customers at a start, or with no move shown', () => {
    expect(retentionDrivers(null)).toBeNull();
    expect(retentionDrivers(undefined)).toBeNull();
    expect(retentionDrivers([seg('Loyal', [0, 5], [0, 4])])).toBeNull();
    // 800/1000 → 8001/10000: +0.01 pt, shown as no move.
    expect(retentionDrivers([seg('Loyal', [10_000, 1000], [8001, 800])])).toBeNull();
  });

  test('property: contributions add up to the move, the shown parts to the move shown', () => {
    const side = fc
      .integer({ min: 0, max: 5000 })
      .chain((start) =>
        fc.record({ start: fc.constant(start), retained: fc.integer({ min: 0, max: start }) }),
      );
    const segments = fc
      .uniqueArray(fc.constantFrom(...SEGMENTS), { minLength: 1 })
      .chain((names) =>
        fc.tuple(
          ...names.map((name) =>
            fc
              .tuple(side, side)
              .map(([now, before]) =>
                seg(name, [now.start, before.start], [now.retained, before.retained]),
              ),
          ),
        ),
      );
    fc.assert(
      fc.property(segments, (list) => {
        const d = retentionDrivers(list);
        const s1 = list.reduce((t, x) => t + x.start.now, 0);
        const s0 = list.reduce((t, x) => t + x.start.before, 0);
        if (d === null) {
          if (s1 === 0 || s0 === 0) return;
          const r1 = list.reduce((t, x) => t + x.retained.now, 0);
          const r0 = list.reduce((t, x) => t + x.retained.before, 0);
          expect(shownTenths(r1 / s1 - r0 / s0)).toBe(0);
          return;
        }
        const sum = d.contributions.reduce((t, c) => t + c.contribution, 0);
        expect(Math.abs(sum - d.total)).toBeLessThan(1e-12);
        expect(d.shown.part + d.shown.rest).toBe(d.shown.total);
        expect(d.shown.total).toBe(shownTenths(d.total));
        // Each shown part within a tenth of its exact value.
        expect(Math.abs(d.shown.part - d.top.contribution * 1000)).toBeLessThan(1);
        expect(Math.abs(d.shown.rest - (d.total - d.top.contribution) * 1000)).toBeLessThan(1);
        for (const c of d.contributions)
          expect(Math.abs(c.contribution)).toBeLessThanOrEqual(Math.abs(d.top.contribution));
      }),
      { numRuns: 500 },
    );
  });

  test('shown tenths are the formatter’s: −4.25 pt shows as −4.3', () => {
    const en = messagesFor('en');
    const f = formatter('en', 'USD', en.m.units);
    for (const x of [-0.0425, 0.00049, 0.0005, -0.119048, 0.0625, 0.123456]) {
      expect(f.change('ratio', shownTenths(x) / 1000)).toBe(f.change('ratio', x));
    }
  });

  test('the sentence, hand-worked, for retention and for churn (the other way), in both locales', () => {
    // The KPIs of the same customers: crr 10/15 → 10/16, churn 5/15 → 6/16.
    const kpi = (id: 'crr' | 'churn_rate', value: number, previous: number): KpiResult => {
      const k = fixture.kpis[id];
      const change = {
        ...k.change,
        previous: { ...k.change.previous, absolute: value - previous },
      };
      return { ...k, value, previous, change };
    };
    const r = {
      ...fixture,
      kpis: {
        ...fixture.kpis,
        crr: kpi('crr', 10 / 16, 10 / 15),
        churn_rate: kpi('churn_rate', 6 / 16, 5 / 15),
      },
      beyond: fixture.beyond && {
        ...fixture.beyond,
        rfm: { ...fixture.beyond.rfm, retention: worked },
      },
    } as Report;
    const say = (locale: string, id: 'crr' | 'churn_rate'): string | null => {
      const m = messagesFor(locale);
      return driverSentence(r, id, formatter(locale, 'USD', m.m.units), m);
    };
    expect(say('en', 'crr')).toBe(
      'Why: Champions (66.7% → 62.5% of the customers at the start, retention 100.0% → 90.0%) −7.7 pt of the −4.2 pt, the other segments +3.5 pt.',
    );
    expect(say('en', 'churn_rate')).toBe(
      'Why: Champions (66.7% → 62.5% of the customers at the start, retention 100.0% → 90.0%) +7.7 pt of the +4.2 pt, the other segments −3.5 pt.',
    );
    // Intl puts a no-break space before % in Russian.
    expect(say('ru', 'crr')?.replace(/\u00a0/g, ' ')).toBe(
      'Почему: сегмент «Чемпионы» (66,7 % → 62,5 % клиентов на начало, удержание 100,0 % → 90,0 %) −7,7 п. п. из −4,2 п. п., остальные сегменты +3,5 п. п.',
    );
    // Segments that do not add up to the KPI's move as shown say nothing.
    const other = { ...r, kpis: { ...r.kpis, crr: kpi('crr', 0.7, 0.6) } };
    const en = messagesFor('en');
    expect(driverSentence(other, 'crr', formatter('en', 'USD', en.m.units), en)).toBeNull();
  });

  test('the sample week: the segments add up to the report’s own retention move', () => {
    const retention = fixture.beyond?.rfm.retention ?? [];
    const k = fixture.kpis;
    const sum = (f: (s: SegmentRetention) => number): number =>
      retention.reduce((t, s) => t + f(s), 0);
    expect(sum((s) => s.start.now)).toBe(k.customers_start.value);
    expect(sum((s) => s.retained.now)).toBe(
      (k.customers_start.value ?? 0) - (k.lost_customers.value ?? 0),
    );
    expect(sum((s) => s.start.before)).toBe(k.customers_start.previous);
    const d = retentionDrivers(retention);
    expect(d?.total).toBeCloseTo(k.crr.change.previous.absolute ?? Number.NaN, 12);
    const en = messagesFor('en');
    const f = formatter('en', 'USD', en.m.units);
    const s = driverSentence(fixture, 'crr', f, en) ?? '';
    // The total in the sentence is the move as the card shows it.
    expect(s).toContain(`of the ${f.change('ratio', k.crr.change.previous.absolute)},`);
    const shown = [...s.matchAll(/([+−])(\d+\.\d) pt/g)].map(
      (m) => (m[1] === '−' ? -1 : 1) * Number(m[2]),
    );
    // part, total, rest: part + rest = total, in tenths.
    expect(Math.round((shown[0] ?? 0) * 10) + Math.round((shown[2] ?? 0) * 10)).toBe(
      Math.round((shown[1] ?? 0) * 10),
    );
  });
});

describe('where it moved: the parts of a breakdown (issue 16, item 1)', () => {
  /** A KPI result with only what the drivers read: the value now and before. */
  const k = (value: number | null, previous: number | null): KpiResult =>
    ({
      value,
      previous,
      change: {
        previous: {
          absolute: value === null || previous === null ? null : value - previous,
          relative: null,
          verdict: null,
        },
      },
    }) as unknown as KpiResult;
  /** A report with a whole and the parts of one breakdown (`value` null: the others). */
  function withParts(
    whole: Partial<Record<KpiId, KpiResult>>,
    parts: { value: string | null; values?: number; kpis: Partial<Record<KpiId, KpiResult>> }[],
  ): Report {
    return {
      ...fixture,
      kpis: { ...fixture.kpis, ...whole },
      breakdowns: [
        {
          dimension: 'country',
          values: parts.length,
          parts: parts.map((p) => ({
            value: p.value,
            values: p.values ?? 1,
            customers: 1,
            kpis: p.kpis as BreakdownPart['kpis'],
            customerFlow: fixture.customerFlow,
          })),
        },
      ],
    };
  }

  test('hand-worked, a ratio: retention fell in France, the rest held', () => {
    // France: 100 → 100 at the start, retention 72 % → 64 %; the rest: 300 → 300, 80 % → 80 %.
    // Whole: (72 + 240) / 400 = 78 % → (64 + 240) / 400 = 76 %: −2 pt.
    // France: w̄ = 0.25, Δc = −8 pt, Δw = 0 → −2 pt; the rest: 0.75 × 0 = 0.
    const r = withParts({ crr: k(0.76, 0.78), customers_start: k(400, 400) }, [
      { value: 'France', kpis: { crr: k(0.64, 0.72), customers_start: k(100, 100) } },
      { value: null, values: 3, kpis: { crr: k(0.8, 0.8), customers_start: k(300, 300) } },
    ]);
    const w = whereDrivers(r, 'crr');
    expect(w?.dimension).toBe('country');
    expect(w?.top.value).toBe('France');
    expect(w?.top.contribution).toBeCloseTo(-0.02, 12);
    expect(w?.shown).toEqual({ total: -20, part: -20, rest: 0 });
    const f = formatter('en', 'USD', messagesFor('en').m.units);
    expect(whereSentence(r, 'crr', f, messagesFor('en'))).toBe(
      'By country: France 72.0% → 64.0% (−2.0 pt of the −2.0 pt), the others together unchanged.',
    );
  });

  test('hand-worked, a ratio whose shares move: shift-share parts that add up', () => {
    // A: 100 → 200 at the start, retention 90 % → 90 %; B: 100 → 100, 50 % → 60 %.
    // Whole: (90 + 50) / 200 = 70 % → (180 + 60) / 300 = 80 %: +10 pt. C̄ = 75 %.
    // A: w 0.5 → 2/3, w̄ = 7/12, Δc = 0, Δw = 1/6, c̄ − C̄ = 15 pt → +2.5 pt.
    // B: w 0.5 → 1/3, w̄ = 5/12, Δc = +10 pt → +4.1667 pt; Δw = −1/6, c̄ − C̄ = −20 pt → +3.3333.
    // B: +7.5 pt; A + B = +10 pt.
    const r = withParts({ crr: k(0.8, 0.7), customers_start: k(300, 200) }, [
      { value: 'A', kpis: { crr: k(0.9, 0.9), customers_start: k(200, 100) } },
      { value: 'B', kpis: { crr: k(0.6, 0.5), customers_start: k(100, 100) } },
    ]);
    const w = whereDrivers(r, 'crr');
    expect(w?.top.value).toBe('B');
    expect(w?.contributions.map((c) => c.contribution)).toEqual([
      expect.closeTo(0.075, 12),
      expect.closeTo(0.025, 12),
    ]);
    expect(w?.shown).toEqual({ total: 100, part: 75, rest: 25 });
    const ru = messagesFor('ru');
    const said = whereSentence(r, 'crr', formatter('ru', 'RUB', ru.m.units), ru);
    // Russian numbers have narrow no-break spaces before % (compared as plain spaces).
    expect(said?.replace(/\s/g, ' ')).toBe(
      'Срез «country»: B 50,0 % → 60,0 % (+7,5 п. п. из +10,0 п. п.), остальные +2,5 п. п.',
    );
  });

  test('hand-worked, a sum: revenue to the cent; the others and a blank value by name', () => {
    // +$1,000.01 = (blank) +$1,200.00 + the 2 others −$199.99.
    const r = withParts({ revenue: k(5000.01, 4000) }, [
      { value: '', kpis: { revenue: k(3000, 1800) } },
      { value: null, values: 2, kpis: { revenue: k(2000.01, 2200) } },
    ]);
    const f = formatter('en', 'USD', messagesFor('en').m.units);
    expect(whereSentence(r, 'revenue', f, messagesFor('en'))).toBe(
      'By country: (blank) $1,800.00 → $3,000.00 (+$1,200.00 of the +$1,000.01), the others −$199.99.',
    );
    const others = withParts({ revenue: k(5000.01, 4000) }, [
      { value: 'UK', kpis: { revenue: k(3000, 2900) } },
      { value: null, values: 2, kpis: { revenue: k(2000.01, 1100) } },
    ]);
    expect(whereSentence(others, 'revenue', f, messagesFor('en'))).toBe(
      'By country: the 2 other values $1,100.00 → $2,000.01 (+$900.01 of the +$1,000.01), the others +$100.00.',
    );
  });

  test('hand-worked: the part named moved the way the whole did, and has a value on both sides', () => {
    // Orders +10 = A −40 + B +25 + C +25: A is the largest part but moved against the whole.
    const r = withParts({ orders: k(110, 100) }, [
      { value: 'A', kpis: { orders: k(10, 50) } },
      { value: 'B', kpis: { orders: k(50, 25) } },
      { value: 'C', kpis: { orders: k(50, 25) } },
    ]);
    const f = formatter('en', 'USD', messagesFor('en').m.units);
    expect(whereSentence(r, 'orders', f, messagesFor('en'))).toBe(
      'By country: B 25 → 50 (+25 of the +10), the others −15.',
    );
    // A new value (no customers at the start before) explains the move but has no retention
    // before: it is not named as "n/a → …".
    const fresh = withParts({ crr: k(0.8, 0.75), customers_start: k(200, 100) }, [
      { value: 'new', kpis: { crr: k(0.85, null), customers_start: k(100, 0) } },
      { value: 'old', kpis: { crr: k(0.75, 0.75), customers_start: k(100, 100) } },
    ]);
    expect(whereDrivers(fresh, 'crr')).toBeNull();
  });

  test('no sentence without a breakdown, for a KPI no breakdown splits, or when the parts do not add up', () => {
    expect(whereDrivers({ ...fixture, breakdowns: [] }, 'revenue')).toBeNull();
    expect(whereDrivers(fixture, 'median_days_between_purchases')).toBeNull();
    const wrong = withParts({ revenue: k(5000, 4000) }, [
      { value: 'A', kpis: { revenue: k(3000, 2000) } },
      { value: 'B', kpis: { revenue: k(2000, 1999) } },
    ]);
    expect(whereDrivers(wrong, 'revenue')).toBeNull();
  });

  test('property: contributions add up to the move, the shown parts to the move shown', () => {
    const part = fc.record({
      s0: fc.integer({ min: 1, max: 5000 }),
      s1: fc.integer({ min: 1, max: 5000 }),
      r0: fc.integer({ min: 0, max: 5000 }),
      r1: fc.integer({ min: 0, max: 5000 }),
    });
    fc.assert(
      fc.property(fc.array(part, { minLength: 2, maxLength: 6 }), (ps) => {
        const q = ps.map((p) => ({ ...p, r0: Math.min(p.r0, p.s0), r1: Math.min(p.r1, p.s1) }));
        const sum = (f: (p: (typeof q)[number]) => number) => q.reduce((t, p) => t + f(p), 0);
        const whole = k(sum((p) => p.r1) / sum((p) => p.s1), sum((p) => p.r0) / sum((p) => p.s0));
        const r = withParts(
          {
            crr: whole,
            customers_start: k(
              sum((p) => p.s1),
              sum((p) => p.s0),
            ),
          },
          q.map((p, i) => ({
            value: `v${i}`,
            kpis: { crr: k(p.r1 / p.s1, p.r0 / p.s0), customers_start: k(p.s1, p.s0) },
          })),
        );
        const move = (whole.value ?? 0) - (whole.previous ?? 0);
        const parts = r.breakdowns?.[0]?.parts ?? [];
        const c = partContributions(parts, 'crr') ?? [];
        const added = c.reduce((t, x) => t + x.contribution, 0);
        if (Math.abs(added - move) > 1e-12) return false;
        const w = whereDrivers(r, 'crr');
        // Named exactly when a part that moved the whole's way explains more than half of a
        // move that shows: the largest such part.
        const same = c.filter((x) => Math.sign(x.contribution) === Math.sign(move));
        const most = Math.max(0, ...same.map((x) => Math.abs(x.contribution)));
        if (shownTenths(move) === 0 || most <= Math.abs(move) / 2) return w === null;
        return (
          w !== null &&
          Math.abs(w.top.contribution) === most &&
          w.shown.part + w.shown.rest === w.shown.total &&
          w.shown.total === shownTenths(move)
        );
      }),
    );
  });

  test('the sample week: revenue rose in every channel, none explains most of it, none is named', () => {
    const parts = fixture.breakdowns?.[0]?.parts ?? [];
    const c = partContributions(parts, 'revenue') ?? [];
    const cents = (v: number | null): number => Math.round((v ?? 0) * 100);
    // The channels' moves add up to the shop's, to the cent.
    expect(c.reduce((t, x) => t + Math.round(x.contribution * 100), 0)).toBe(
      cents(fixture.kpis.revenue.value) - cents(fixture.kpis.revenue.previous),
    );
    expect(c.map((x) => x.value)).toEqual(['search', 'social', 'email', 'referral', 'direct']);
    expect(c.every((x) => x.contribution > 0)).toBe(true);
    expect(whereDrivers(fixture, 'revenue')).toBeNull();
  });
});
