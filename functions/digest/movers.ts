import { kpiDefinition, KPI_IDS, type KpiId } from '../kpis/definitions.ts';
import { median } from '../kpis/judge.ts';
import {
  flowDrivers,
  retentionDrivers,
  revenueDrivers,
  shownTenths,
  whereDrivers,
} from './drivers.ts';
import { reportedKpis, type KpiResult, type Report } from '../report/report.ts';
import type { Formatter } from './format.ts';
import { fill, type Messages } from './messages.ts';

/** Moves smaller than this (relative to the reference) are not news. */
const NOTABLE_PREVIOUS = 0.01;
const NOTABLE_YEAR_AGO = 0.05;
const MAX_SENTENCES = 4;
const MAX_PREVIOUS = 3;
/** Earlier trend values needed before "the highest in 12 weeks" means something. */
const MIN_TREND_FOR_EXTREME = 4;

/** How far a KPI moved: relative change, or 1 when it moved off zero. */
function size(absolute: number | null, relative: number | null): number {
  if (absolute === null || absolute === 0) return 0;
  return relative === null ? 1 : Math.abs(relative);
}

/** `highest`/`lowest` when the value beats every earlier value of the 12-period trend. */
function extreme(trend: readonly (number | null)[]): 'highest' | 'lowest' | null {
  const value = trend.at(-1);
  const earlier = trend.slice(0, -1).filter((v): v is number => v !== null);
  if (value === null || value === undefined || earlier.length < MIN_TREND_FOR_EXTREME) return null;
  if (earlier.every((v) => value > v)) return 'highest';
  if (earlier.every((v) => value < v)) return 'lowest';
  return null;
}

/** Multiplier that turns a median absolute deviation into a robust standard deviation. */
const MAD_TO_SIGMA = 1.4826;
/** Importance never counts a move as more than this many usual variations. */
const MAX_DEVIATIONS = 10;

/**
 * How much a KPI's move against the previous period matters (docs/email.md, "What moved"):
 * its size in usual variations (the move against the robust spread of the trend's earlier
 * period-to-period changes; without a spread, its relative size in 10 % steps), at most 10;
 * × 1.5 when unusual; + 2 when the target is missed, + 1 when on watch; × 1.2 when the move
 * is bad, × 0.5 for a KPI without a good direction. 0 for no move.
 */
export function importance(k: KpiResult): number {
  const move = k.change.previous.absolute;
  if (move === null || move === 0) return 0;
  const diffs: number[] = [];
  for (let i = 1; i < k.trend.length - 1; i++) {
    const a = k.trend[i - 1];
    const b = k.trend[i];
    if (a !== null && a !== undefined && b !== null && b !== undefined) diffs.push(b - a);
  }
  const center = median(diffs) ?? 0;
  const spread = MAD_TO_SIGMA * (median(diffs.map((d) => Math.abs(d - center))) ?? 0);
  const size =
    diffs.length >= 4 && spread > 0
      ? Math.abs(move) / spread
      : k.change.previous.relative === null
        ? 1
        : Math.abs(k.change.previous.relative) * 10;
  let score = Math.min(size, MAX_DEVIATIONS) * (k.anomaly ? 1.5 : 1);
  score += k.status === 'bad' ? 2 : k.status === 'watch' ? 1 : 0;
  if (k.change.previous.verdict === 'bad') score *= 1.2;
  if (k.direction === 'neutral') score *= 0.5;
  return score;
}

/** The KPIs whose move is news, most important first (ties: the KPI listed first). */
export function rankedMoves(r: Report): { id: KpiId; k: KpiResult; importance: number }[] {
  const order = (id: KpiId): number => KPI_IDS.indexOf(id);
  return reportedKpis(r)
    .filter(({ id }) => id !== 'customers_start')
    .filter(({ k }) => k.value !== null && k.previous !== null)
    .map((c) => ({
      ...c,
      importance: importance(c.k),
      size: size(c.k.change.previous.absolute, c.k.change.previous.relative),
    }))
    .filter((c) => c.importance > 0 && (c.k.anomaly || c.size >= NOTABLE_PREVIOUS))
    .sort((a, b) => b.importance - a.importance || order(a.id) - order(b.id))
    .map(({ id, k, importance }) => ({ id, k, importance }));
}

/**
 * The "what moved" paragraph: two to four plain sentences, deterministic. The three most
 * important moves against the previous period (`rankedMoves`), each with what drove it where
 * a driver applies, skipping KPIs a driver already explained; then the biggest move against
 * the year-ago period; a quiet period says what held. Ties go to the KPI listed first.
 */
export function whatMoved(r: Report, f: Formatter, msg: Messages): string[] {
  const m = msg.m.moved;
  const span = msg.m.span[r.period.kind];
  const candidates = reportedKpis(r).filter(({ id }) => id !== 'customers_start');
  const order = (id: KpiId): number => KPI_IDS.indexOf(id);

  // A KPI a driver sentence already explains is not said again.
  const explained: Partial<Record<KpiId, readonly KpiId[]>> = {
    revenue: ['orders', 'buyers', 'aov', 'purchase_frequency', 'arpu', 'arppu'],
    customers_end: ['new_customers', 'reactivated_customers', 'lost_customers'],
    // Churn is 1 − crr: one move, told once, by segment.
    crr: ['churn_rate'],
    churn_rate: ['crr'],
  };
  const vsPrevious: ReturnType<typeof rankedMoves> = [];
  const told = new Set<KpiId>();
  for (const c of rankedMoves(r)) {
    if (vsPrevious.length >= MAX_PREVIOUS) break;
    if (told.has(c.id)) continue;
    vsPrevious.push(c);
    for (const id of explained[c.id] ?? []) told.add(id);
  }

  const sentences = vsPrevious.map(({ id, k }) => {
    const unit = kpiDefinition(id).unit;
    const ext = extreme(k.trend);
    const value = f.value(unit, k.value);
    const previous = f.value(unit, k.previous);
    // A move too small to show reads as held, never "rose to 73.6% from 73.6%".
    const text =
      value === previous
        ? fill(m.held, {
            name: msg.kpiName(id),
            value,
            previous,
            label: f.period(r.comparisons.previous),
          })
        : fill((k.change.previous.absolute ?? 0) > 0 ? m.rose : m.fell, {
            name: msg.kpiName(id),
            value,
            previous,
            extreme: ext === null ? '' : fill(ext === 'highest' ? m.highest : m.lowest, { span }),
          });
    const why =
      [driverSentence(r, id, f, msg), whereSentence(r, id, f, msg)]
        .filter((x): x is string => x !== null)
        .join(' ') || null;
    const withWhy = why === null ? text : `${text} ${why}`;
    if (!k.anomaly) return withWhy;
    // What the season predicted, when it was the season that judged.
    const expected =
      k.anomalyRule === 'seasonal' && k.expected !== null
        ? `${text.replace(/\.$/, '')}${fill(m.expected, { expected: f.value(unit, k.expected) })}`
        : text;
    return `${m.unusual}${why === null ? expected : `${expected} ${why}`}`;
  });

  const used = new Set<KpiId>(vsPrevious.map((c) => c.id));
  const yearAgo = candidates
    .filter(({ id, k }) => !used.has(id) && k.direction !== 'neutral')
    .filter(({ k }) => k.value !== null && k.yearAgo !== null)
    .map((c) => ({ ...c, size: size(c.k.change.yearAgo.absolute, c.k.change.yearAgo.relative) }))
    .filter((c) => c.size >= NOTABLE_YEAR_AGO)
    .sort((a, b) => b.size - a.size || order(a.id) - order(b.id))[0];
  if (yearAgo && sentences.length < MAX_SENTENCES) {
    const { id, k } = yearAgo;
    const unit = kpiDefinition(id).unit;
    const c = k.change.yearAgo;
    sentences.push(
      fill((c.absolute ?? 0) > 0 ? m.yearAgoUp : m.yearAgoDown, {
        name: msg.kpiName(id),
        change: f.magnitude(unit, c.absolute, c.relative),
        label: f.period(r.comparisons.yearAgo),
        reference: f.value(unit, k.yearAgo),
      }),
    );
    used.add(id);
  }

  // A quiet period still gets two sentences: say what held.
  for (const id of ['crr', 'revenue', 'orders'] as const) {
    if (sentences.length >= 2) break;
    const k = r.kpis[id];
    if (used.has(id) || k.value === null || k.previous === null) continue;
    const unit = kpiDefinition(id).unit;
    sentences.push(
      fill(m.held, {
        name: msg.kpiName(id),
        value: f.value(unit, k.value),
        previous: f.value(unit, k.previous),
        label: f.period(r.comparisons.previous),
      }),
    );
  }
  return sentences;
}

/**
 * The footnote on ⚠: the seasonal rule, the recent rule when no KPI had a year of history,
 * or the seasonal rule and the KPIs that fell back to the recent one or had no verdict.
 */
export function anomalyNote(r: Report, msg: Messages): string {
  const m = msg.m.footer;
  const kpis = reportedKpis(r);
  const names = (list: typeof kpis): string => list.map(({ id }) => msg.kpiName(id)).join(', ');
  const seasonal = kpis.filter(({ k }) => k.anomalyRule === 'seasonal');
  const recent = kpis.filter(({ k }) => k.anomalyRule === 'recent');
  if (seasonal.length === 0) return recent.length === 0 ? m.anomaly : m.anomalyRecent;
  const unjudged = kpis.filter(({ k }) => k.anomalyRule === null && k.value !== null);
  return [
    m.anomaly,
    recent.length > 0 ? fill(m.anomalyMixed, { names: names(recent) }) : '',
    unjudged.length > 0 ? fill(m.anomalyNone, { names: names(unjudged) }) : '',
  ]
    .filter((s) => s !== '')
    .join(' ');
}

/**
 * Why a headline KPI moved, as one sentence whose numbers add up to the move: revenue over
 * buyers, orders per buyer and order value; active customers over their flows; customer
 * retention (and churn, its complement) over RFM segments at the period start, the segment
 * that moved it most and the others together. Null for other KPIs, or when the parts cannot
 * be told.
 */
export function driverSentence(r: Report, id: KpiId, f: Formatter, msg: Messages): string | null {
  const d = msg.m.drivers;
  if (id === 'revenue') {
    const side = (pick: 'value' | 'previous') => ({
      revenue: r.kpis.revenue[pick],
      orders: r.kpis.orders[pick],
      buyers: r.kpis.buyers[pick],
    });
    const drivers = revenueDrivers(side('value'), side('previous'));
    if (!drivers) return null;
    const parts = drivers.parts
      .filter((p) => p.cents !== 0)
      .map((p) =>
        fill(d.part, {
          name: d.revenue[p.factor][p.cents > 0 ? 'up' : 'down'],
          amount: f.change('money', p.cents / 100),
        }),
      );
    return fill(d.revenueWhy, {
      parts: parts.join(', '),
      total: f.change('money', drivers.totalCents / 100),
    });
  }
  if (id === 'customers_end') {
    const flow = flowDrivers(r);
    const moved = flow.moved;
    const most =
      moved === null
        ? ''
        : fill(
            d.flowMoved[moved.flow][
              (moved.flow === 'lost' ? -moved.change : moved.change) > 0 ? 'more' : 'fewer'
            ],
            {
              count: f.count(Math.abs(moved.change)),
              label: f.period(r.comparisons.previous),
            },
          );
    return fill(d.flow, {
      start: f.count(flow.start),
      end: f.count(flow.end),
      new: f.count(flow.new),
      reactivated: f.count(flow.reactivated),
      lost: f.count(flow.lost),
      most: most === '' ? '' : fill(d.flowMost, { most }),
    });
  }
  if (id === 'crr' || id === 'churn_rate') {
    const drivers = retentionDrivers(r.beyond?.rfm.retention);
    if (!drivers) return null;
    // Churn is 1 − crr: the same parts, the other way.
    const sign = id === 'crr' ? 1 : -1;
    // Only segments that add up to the move as the report shows it.
    const move = r.kpis[id].change.previous.absolute;
    if (move === null || shownTenths(move) !== sign * drivers.shown.total) return null;
    const pts = (tenths: number): string => f.change('ratio', (sign * tenths) / 1000);
    const { top, shown } = drivers;
    const alone = drivers.contributions.length === 1;
    return fill(alone ? d.retentionWhyAlone : d.retentionWhy, {
      segment: msg.m.beyond.segments[top.segment],
      share: f.percent(top.share.now),
      shareBefore: f.percent(top.share.before),
      before: f.value('ratio', top.before),
      now: f.value('ratio', top.now),
      part: pts(shown.part),
      total: pts(shown.total),
      rest: pts(shown.rest),
    });
  }
  return null;
}

/** A breakdown value as the digest names it: blank, or the others together. */
export function partName(
  msg: Messages,
  f: Formatter,
  p: { readonly value: string | null; readonly values: number },
): string {
  const d = msg.m.drivers;
  if (p.value === null) return fill(d.others, { count: f.count(p.values) });
  return p.value === '' ? d.blank : p.value;
}

/**
 * Where a KPI moved, as one sentence whose numbers add up to the move: the part of a
 * breakdown that explains the largest share of it (whereDrivers), its value before and now,
 * its share, and the other parts together. Null without a breakdown that splits the KPI.
 */
export function whereSentence(r: Report, id: KpiId, f: Formatter, msg: Messages): string | null {
  const w = whereDrivers(r, id);
  if (!w) return null;
  const unit = kpiDefinition(id).unit;
  const amount = (steps: number): string =>
    f.change(unit, unit === 'ratio' ? steps / 1000 : unit === 'money' ? steps / 100 : steps);
  const d = msg.m.drivers;
  const sentence = fill(w.shown.rest === 0 ? d.whereHeld : d.where, {
    dimension: w.dimension.replaceAll('_', ' '),
    value: partName(msg, f, w.top),
    before: f.value(unit, w.top.before),
    now: f.value(unit, w.top.now),
    part: amount(w.shown.part),
    total: amount(w.shown.total),
    rest: amount(w.shown.rest),
  });
  // Ended once: a unit may end in a period already ("п. п.").
  return sentence.endsWith('.') ? sentence : `${sentence}.`;
}
