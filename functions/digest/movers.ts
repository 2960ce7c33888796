import { kpiDefinition, KPI_IDS, type KpiId } from '../kpis/definitions.ts';
import { reportedKpis, type Report } from '../report/report.ts';
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

/**
 * The "what moved" paragraph: two to four plain sentences, deterministic. Anomalies come
 * first, then the biggest moves against the previous period (KPIs that have a good
 * direction before neutral ones), then the biggest move against the year-ago period.
 * Ties go to the KPI listed first.
 */
export function whatMoved(r: Report, f: Formatter, msg: Messages): string[] {
  const m = msg.m.moved;
  const span = msg.m.span[r.period.kind];
  const candidates = reportedKpis(r).filter(({ id }) => id !== 'customers_start');
  const order = (id: KpiId): number => KPI_IDS.indexOf(id);

  const vsPrevious = candidates
    .filter(({ k }) => k.value !== null && k.previous !== null)
    .map((c) => ({ ...c, size: size(c.k.change.previous.absolute, c.k.change.previous.relative) }))
    .filter((c) => c.k.anomaly || c.size >= NOTABLE_PREVIOUS)
    .sort(
      (a, b) =>
        Number(b.k.anomaly) - Number(a.k.anomaly) ||
        Number(b.k.direction !== 'neutral') - Number(a.k.direction !== 'neutral') ||
        b.size - a.size ||
        order(a.id) - order(b.id),
    )
    .slice(0, MAX_PREVIOUS);

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
            label: r.comparisons.previous.label,
          })
        : fill((k.change.previous.absolute ?? 0) > 0 ? m.rose : m.fell, {
            name: msg.kpiName(id),
            value,
            previous,
            extreme: ext === null ? '' : fill(ext === 'highest' ? m.highest : m.lowest, { span }),
          });
    if (!k.anomaly) return text;
    // What the season predicted, when it was the season that judged.
    const expected =
      k.anomalyRule === 'seasonal' && k.expected !== null
        ? `${text.replace(/\.$/, '')}${fill(m.expected, { expected: f.value(unit, k.expected) })}`
        : text;
    return `${m.unusual}${expected}`;
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
        label: r.comparisons.yearAgo.label,
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
        label: r.comparisons.previous.label,
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
