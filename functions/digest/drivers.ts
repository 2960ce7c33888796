import type { SegmentRetention } from '../kpis/structures.ts';
import type { Report } from '../report/report.ts';
import type { Segment } from '../sql/structures-query.ts';

/**
 * What drove a move (docs/email.md, "What moved"): parts whose sum is the move itself, to the
 * cent for money and exactly for counts.
 */

/** One factor of revenue = buyers × orders per buyer × average order value. */
export type RevenueFactor = 'buyers' | 'frequency' | 'aov';

export interface RevenueDrivers {
  /** Revenue now less revenue in the previous period, in cents. */
  readonly totalCents: number;
  /** Each factor's share of that, in cents, largest first; the shares add up to the total. */
  readonly parts: readonly { factor: RevenueFactor; cents: number }[];
}

interface RevenueSide {
  readonly revenue: number | null;
  readonly orders: number | null;
  readonly buyers: number | null;
}

/**
 * Splits a revenue move over buyers, orders per buyer and average order value by their
 * log-changes: factor i gets `Δln(xᵢ) / Δln(revenue) × Δrevenue`. Since revenue is exactly
 * their product, the log-changes add up to the revenue's, and so do the shares. The shares
 * are rounded to cents by largest remainder, so the rounded parts add up to the rounded
 * total. Null when either side lacks a positive revenue, order or buyer count, or revenue
 * did not move.
 */
export function revenueDrivers(now: RevenueSide, before: RevenueSide): RevenueDrivers | null {
  const sides = [now, before];
  if (!sides.every((s) => (s.revenue ?? 0) > 0 && (s.orders ?? 0) > 0 && (s.buyers ?? 0) > 0))
    return null;
  const r1 = now.revenue ?? 0;
  const r0 = before.revenue ?? 0;
  const totalCents = Math.round(r1 * 100) - Math.round(r0 * 100);
  if (totalCents === 0) return null;
  const o1 = now.orders ?? 0;
  const o0 = before.orders ?? 0;
  const b1 = now.buyers ?? 0;
  const b0 = before.buyers ?? 0;
  const logs: Record<RevenueFactor, number> = {
    buyers: Math.log(b1 / b0),
    frequency: Math.log(o1 / b1 / (o0 / b0)),
    aov: Math.log(r1 / o1 / (r0 / o0)),
  };
  const totalLog = logs.buyers + logs.frequency + logs.aov;
  const factors: RevenueFactor[] = ['buyers', 'frequency', 'aov'];
  const exact = factors.map((factor) => ({
    factor,
    cents: (logs[factor] / totalLog) * totalCents,
  }));
  return { totalCents, parts: largestRemainder(exact, totalCents) };
}

/**
 * Rounds parts to whole units so that they add up to `total` exactly: each is rounded down,
 * then the units still missing go one each to the parts with the largest remainders
 * (Hamilton's method). Largest part first.
 */
export function largestRemainder<K>(
  parts: readonly { factor: K; cents: number }[],
  total: number,
): { factor: K; cents: number }[] {
  const floors = parts.map((p) => ({
    ...p,
    cents: Math.floor(p.cents),
    rest: p.cents - Math.floor(p.cents),
  }));
  let missing = total - floors.reduce((s, p) => s + p.cents, 0);
  const byRest = [...floors].sort((a, b) => b.rest - a.rest);
  for (let i = 0; missing > 0; i = (i + 1) % byRest.length, missing--) {
    const p = byRest[i];
    if (p) p.cents += 1;
  }
  return floors
    .map(({ factor, cents }) => ({ factor, cents }))
    .sort((a, b) => Math.abs(b.cents) - Math.abs(a.cents));
}

/** One flow of the customer base: end = start − lost + new + reactivated. */
export type Flow = 'new' | 'reactivated' | 'lost';

export interface FlowDrivers {
  readonly start: number;
  readonly end: number;
  readonly new: number;
  readonly reactivated: number;
  readonly lost: number;
  /**
   * The flow that changed most from the previous period, in the direction of its effect on
   * the base (more lost counts negative), with that change; null without a previous period.
   */
  readonly moved: { flow: Flow; change: number } | null;
}

/**
 * The customer base's move as its flows (`end − start = new + reactivated − lost`, exactly,
 * docs/kpis.md, "The customer base"), and the flow that moved most against the previous
 * period.
 */
export function flowDrivers(r: Report): FlowDrivers {
  const f = r.customerFlow;
  const before = {
    new: r.kpis.new_customers.previous,
    reactivated: r.kpis.reactivated_customers.previous,
    lost: r.kpis.lost_customers.previous,
  };
  const changes = (['new', 'reactivated', 'lost'] as const).flatMap((flow) => {
    const prev = before[flow];
    if (prev === null) return [];
    const change = (f[flow] - prev) * (flow === 'lost' ? -1 : 1);
    return change === 0 ? [] : [{ flow, change }];
  });
  const moved = changes.sort((a, b) => Math.abs(b.change) - Math.abs(a.change))[0] ?? null;
  return {
    start: f.start,
    end: f.end,
    new: f.new,
    reactivated: f.reactivated,
    lost: f.lost,
    moved,
  };
}

/** One segment's part of a retention move (docs/email.md, "What moved"). */
export interface SegmentContribution {
  readonly segment: Segment;
  /**
   * `w̄·Δc + Δw·(c̄ − C̄)`: w the segment's share of the customers at the start, c its
   * retention, C the whole base's, bars the mean of the two periods. The first term is the
   * segment's own retention moving, the second its share moving against the average.
   */
  readonly contribution: number;
  /** The segment's share `w` of the customers at the start, now and before. */
  readonly share: { readonly now: number; readonly before: number };
  /** The segment's retention `c` (retained / at the start); null when it had nobody at the start. */
  readonly now: number | null;
  readonly before: number | null;
}

export interface RetentionDrivers {
  /** `crr` now less `crr` in the previous period, as a fraction. */
  readonly total: number;
  /** Every segment's contribution, largest in absolute value first; they add up to `total`. */
  readonly contributions: readonly SegmentContribution[];
  /** The segment whose contribution is largest in absolute value (ties: SEGMENTS order). */
  readonly top: SegmentContribution;
  /**
   * As the digest shows them, in tenths of a percentage point: the total as the KPI's change
   * is shown, the top segment's part and the other segments' together, rounded by largest
   * remainder so that `part + rest = total`.
   */
  readonly shown: { readonly total: number; readonly part: number; readonly rest: number };
}

/**
 * A ratio change in tenths of a percentage point, rounded as the digest shows it (the
 * formatter shows `|x| × 100` to one decimal, half away from zero, and puts the sign back).
 */
export function shownTenths(x: number): number {
  const tenths = Math.round(Number((Math.abs(x) * 100).toFixed(1)) * 10);
  return x < 0 && tenths > 0 ? -tenths : tenths;
}

/**
 * Splits a move of customer retention over RFM segments at the period's start
 * (docs/kpis.md, "Retention by segment"): with `w = S_seg / S` and `c = retained_seg / S_seg`,
 * `crr = Σ w·c`, and each segment's part of `Δcrr` is `w̄·Δc + Δw·(c̄ − C̄)` (the symmetric
 * shift-share: its own retention moving, and its share moving against the average C̄); the
 * parts add up to `Δcrr` exactly. A segment with nobody at one start counts by its share. Null without the breakdown, without
 * customers at either start, or when the move shows as none.
 */
export function retentionDrivers(
  retention: readonly SegmentRetention[] | null | undefined,
): RetentionDrivers | null {
  if (!retention) return null;
  const sum = (f: (s: SegmentRetention) => number): number =>
    retention.reduce((t, s) => t + f(s), 0);
  const s1 = sum((s) => s.start.now);
  const s0 = sum((s) => s.start.before);
  if (s1 === 0 || s0 === 0) return null;
  // w·c = (S_seg / S) · (retained_seg / S_seg) = retained_seg / S.
  const total = sum((s) => s.retained.now) / s1 - sum((s) => s.retained.before) / s0;
  const shownTotal = shownTenths(total);
  if (shownTotal === 0) return null;
  const c1 = sum((s) => s.retained.now) / s1;
  const c0 = sum((s) => s.retained.before) / s0;
  const contributions = retention
    .map((s) => {
      const now = s.start.now > 0 ? s.retained.now / s.start.now : null;
      const before = s.start.before > 0 ? s.retained.before / s.start.before : null;
      // A segment with nobody at one start has its other retention on both sides (w = 0 there).
      const r1 = now ?? before ?? 0;
      const r0 = before ?? now ?? 0;
      const w1 = s.start.now / s1;
      const w0 = s.start.before / s0;
      return {
        segment: s.segment,
        // w̄·Δc + Δw·c̄ = w₁·c₁ − w₀·c₀, and Σ Δw = 0: the parts add up to Δcrr.
        contribution: ((w0 + w1) / 2) * (r1 - r0) + (w1 - w0) * ((r0 + r1) / 2 - (c0 + c1) / 2),
        share: { now: w1, before: w0 },
        now,
        before,
      };
    })
    // Stable: ties keep the segments' order.
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  const top = contributions[0];
  if (!top) return null;
  const [part, rest] = largestRemainder(
    [
      { factor: 'part', cents: top.contribution * 1000 },
      { factor: 'rest', cents: (total - top.contribution) * 1000 },
    ],
    shownTotal,
  ).sort((a, b) => (a.factor === 'part' ? -1 : b.factor === 'part' ? 1 : 0));
  return {
    total,
    contributions,
    top,
    shown: { total: shownTotal, part: part?.cents ?? 0, rest: rest?.cents ?? 0 },
  };
}
