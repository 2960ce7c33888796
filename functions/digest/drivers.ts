import type { SegmentRetention } from '../kpis/structures.ts';
import { kpiDefinition, type CoreKpiId, type KpiId } from '../kpis/definitions.ts';
import type { BreakdownPart, KpiResult, Report } from '../report/report.ts';
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

/** A KPI a breakdown splits exactly: a sum over customers, or a ratio of two sums. */
const ADDITIVE: readonly KpiId[] = [
  'customers_end',
  'new_customers',
  'reactivated_customers',
  'lost_customers',
  'revenue',
  'orders',
  'buyers',
  'at_risk_customers',
];
/** Ratio KPIs and the additive KPI that is their denominator. */
const RATIO_OF: Partial<Record<KpiId, KpiId>> = {
  crr: 'customers_start',
  churn_rate: 'customers_start',
  aov: 'orders',
  arpu: 'customers_end',
  arppu: 'buyers',
  returning_buyer_rate: 'buyers',
};

/** One part's share of a KPI's move against the previous period. */
export interface PartContribution {
  /** The value the part stands for ('' blank); null for the others together. */
  readonly value: string | null;
  /** In the others' part, how many values it holds. */
  readonly values: number;
  readonly now: number | null;
  readonly before: number | null;
  /**
   * Its part of the move: the part's own move for a sum; for a ratio, the symmetric
   * shift-share `w̄·Δc + Δw·(c̄ − C̄)` with `w` its share of the denominator (as for retention
   * by segment, retentionDrivers). The parts add up to the move.
   */
  readonly contribution: number;
}

export interface WhereDrivers {
  /** The dimension whose one part explains most of the move. */
  readonly dimension: string;
  readonly total: number;
  /** Every part of that dimension, largest contribution (in absolute value) first. */
  readonly contributions: readonly PartContribution[];
  readonly top: PartContribution;
  /**
   * As the digest shows them, in the KPI's smallest shown step (cents, customers, tenths of a
   * point): the move, the top part's share and the rest, rounded by largest remainder so
   * that `part + rest = total`.
   */
  readonly shown: { readonly total: number; readonly part: number; readonly rest: number };
}

/** The share of a move one part must explain to be named. */
export const WHERE_MIN_SHARE = 0.5;

/**
 * A move in the KPI's smallest shown steps, rounded as the digest shows it (half away from
 * zero): tenths of a point for ratios (shownTenths), cents for money, units for counts.
 */
function shownSteps(id: KpiId, x: number): number {
  const unit = kpiDefinition(id).unit;
  if (unit === 'ratio') return shownTenths(x);
  const n =
    unit === 'money' ? Math.round(Number(Math.abs(x).toFixed(2)) * 100) : Math.round(Math.abs(x));
  return x < 0 && n > 0 ? -n : n;
}

/** How many of a KPI's smallest shown steps are in `x`: cents for money, tenths of a point. */
function steps(id: KpiId, x: number): number {
  const unit = kpiDefinition(id).unit;
  if (unit === 'ratio') return x * 1000;
  if (unit === 'money') return x * 100;
  return x;
}

/**
 * Where a KPI moved (docs/email.md, "What moved"): over the parts of each breakdown, each
 * part's contribution to the move against the previous period; the dimension whose largest
 * part explains the largest share of the move, when that is more than half of it. Null
 * without such a part, without breakdowns, for a KPI that is neither a sum nor a ratio of
 * sums over customers, or when the move shows as none.
 */
export function whereDrivers(r: Report, id: KpiId): WhereDrivers | null {
  const den = RATIO_OF[id];
  if (!ADDITIVE.includes(id) && den === undefined) return null;
  const whole = r.kpis[id];
  const total = whole?.change.previous.absolute ?? null;
  if (!whole || total === null) return null;
  const shownTotal = shownSteps(id, total);
  if (shownTotal === 0) return null;
  let best: WhereDrivers | null = null;
  let bestShare = 0;
  for (const b of r.breakdowns ?? []) {
    if (b.parts.length < 2) continue;
    const contributions = partContributions(b.parts, id);
    // Parts that do not add up to the whole's move (they always do when measured together)
    // would tell a wrong story: none is told.
    const sum = contributions?.reduce((s, c) => s + c.contribution, 0) ?? NaN;
    if (contributions === null || !(Math.abs(steps(id, sum - total)) < 0.5)) continue;
    const sorted = [...contributions].sort(
      (a, c) => Math.abs(c.contribution) - Math.abs(a.contribution),
    );
    // The part named moved the way the whole did, and has a value on both sides.
    const top = sorted.find(
      (c) => Math.sign(c.contribution) === Math.sign(total) && c.now !== null && c.before !== null,
    );
    if (!top) continue;
    // A part is named only when it explains most of the move (and the most of any dimension).
    const share = top.contribution / total;
    if (share <= Math.max(bestShare, WHERE_MIN_SHARE)) continue;
    // A sum's parts are whole steps already (cents, customers); a ratio's are rounded.
    const part =
      RATIO_OF[id] === undefined
        ? Math.round(steps(id, top.contribution))
        : (largestRemainder(
            [
              { factor: 'part', cents: steps(id, top.contribution) },
              { factor: 'rest', cents: steps(id, total - top.contribution) },
            ],
            shownTotal,
          ).find((x) => x.factor === 'part')?.cents ?? 0);
    bestShare = share;
    best = {
      dimension: b.dimension,
      total,
      contributions: sorted,
      top,
      shown: { total: shownTotal, part, rest: shownTotal - part },
    };
  }
  return best;
}

/**
 * Each part's contribution to a KPI's move (see PartContribution), in the parts' order; null
 * for a KPI no breakdown splits, or a ratio without a denominator on one side.
 */
export function partContributions(
  parts: readonly BreakdownPart[],
  id: KpiId,
): PartContribution[] | null {
  const den = RATIO_OF[id];
  if (!ADDITIVE.includes(id) && den === undefined) return null;
  const of = (p: BreakdownPart, k: KpiId) => p.kpis[k as CoreKpiId] as KpiResult | undefined;
  if (den === undefined) {
    return parts.map((p) => {
      const k = of(p, id);
      return {
        value: p.value,
        values: p.values,
        now: k?.value ?? null,
        before: k?.previous ?? null,
        contribution: (k?.value ?? 0) - (k?.previous ?? 0),
      };
    });
  }
  const w = parts.map((p) => ({ now: of(p, den)?.value ?? 0, before: of(p, den)?.previous ?? 0 }));
  const d1 = w.reduce((s, x) => s + x.now, 0);
  const d0 = w.reduce((s, x) => s + x.before, 0);
  if (d1 === 0 || d0 === 0) return null;
  // The whole's ratio is the denominator-weighted mean of the parts'.
  const c1 = parts.reduce((s, p, i) => s + (w[i]?.now ?? 0) * (of(p, id)?.value ?? 0), 0) / d1;
  const c0 =
    parts.reduce((s, p, i) => s + (w[i]?.before ?? 0) * (of(p, id)?.previous ?? 0), 0) / d0;
  return parts.map((p, i) => {
    const k = of(p, id);
    const now = k?.value ?? null;
    const before = k?.previous ?? null;
    // A part without a denominator on one side counts by its share (as retentionDrivers).
    const r1 = now ?? before ?? 0;
    const r0 = before ?? now ?? 0;
    const w1 = (w[i]?.now ?? 0) / d1;
    const w0 = (w[i]?.before ?? 0) / d0;
    return {
      value: p.value,
      values: p.values,
      now,
      before,
      contribution: ((w0 + w1) / 2) * (r1 - r0) + (w1 - w0) * ((r0 + r1) / 2 - (c0 + c1) / 2),
    };
  });
}
