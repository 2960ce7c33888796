import { kpiDefinition, type KpiId } from '../kpis/definitions.ts';
import type { NoModel } from '../kpis/beyond.ts';
import type { Change } from '../kpis/judge.ts';
import type { KpiResult, Report } from '../report/report.ts';
import type { Formatter } from './format.ts';
import { fill, type Messages } from './messages.ts';

/*
 * What the digest says, in words, shared by the HTML email and its plain-text part: the
 * moves, the reasons for a missing value, a KPI's target band and benchmarks, the sentences
 * of the cohort and segment sections, the subject.
 */

const UP = '▲';
const DOWN = '▼';

export function arrow(c: Change): string {
  if (c.absolute === null || c.absolute === 0) return '';
  return c.absolute > 0 ? UP : DOWN;
}

/** Whether a change, as shown, is nothing: `0.0 pt`, `0.0%`, `$0.00`. */
export function shownAsZero(f: Formatter, id: KpiId, c: Change): boolean {
  if (c.absolute === null) return false;
  const unit = kpiDefinition(id).unit;
  const zero = f.magnitude(unit, 0, c.relative === null ? null : 0);
  return f.magnitude(unit, c.absolute, c.relative) === zero;
}

/** Why a KPI has no value: its denominator is zero (docs/kpis.md, "KPIs": null, shown as n/a). */
const NA_REASON: Partial<Record<KpiId, keyof Messages['m']['na']>> = {
  crr: 'noCustomersStart',
  churn_rate: 'noCustomersStart',
  aov: 'noOrders',
  arpu: 'noCustomersEnd',
  arppu: 'noBuyers',
  purchase_frequency: 'noBuyers',
  returning_buyer_rate: 'noBuyers',
  repeat_purchase_rate: 'noHistory',
  revenue_per_customer_to_date: 'noHistory',
  median_days_between_purchases: 'noRepeat',
  top10_spend_multiple: 'fewCustomers',
  top20_revenue_share: 'noActiveYear',
  at_risk_rate: 'noActiveYear',
  crr_12m: 'noYearBefore',
  nps: 'noNpsAnswers',
  csat: 'noCsatAnswers',
  cac: 'noCac',
  ltv_to_cac: 'noCac',
  clv_12m: 'noModel',
};

/** Why `clv_12m` has no value, from the report's own reason (`beyond.clv.unavailable`). */
const CLV_NA: Record<NoModel, keyof Messages['m']['na']> = {
  fewCustomers: 'noModel',
  boundary: 'noModelFit',
  timeLimit: 'noModelTime',
};

/** `n/a (no orders in the period)` for a missing value, else the formatted value. */
export function valueText(
  f: Formatter,
  msg: Messages,
  id: KpiId,
  v: number | null,
  r?: Pick<Report, 'beyond'>,
): string {
  if (v !== null) return f.value(kpiDefinition(id).unit, v);
  const clvWhy = id === 'clv_12m' ? r?.beyond?.clv.unavailable : undefined;
  const reason = clvWhy ? CLV_NA[clvWhy] : NA_REASON[id];
  return reason ? `${msg.m.units.na} (${msg.m.na[reason]})` : msg.m.units.na;
}

/** The subject: report name, period label and the headline movement. */
export function subjectOf(r: Report, f: Formatter, msg: Messages): string {
  const crr = r.kpis.crr;
  const s = msg.m.subject;
  const move = (c: Change): string => {
    if (c.absolute === null) return '';
    if (shownAsZero(f, 'crr', c)) return ` (${msg.m.units.unchanged})`;
    return ` (${arrow(c)}${f.magnitude('ratio', c.absolute, c.relative)})`;
  };
  const headline =
    crr.value === null
      ? fill(s.revenue, { value: f.value('money', r.kpis.revenue.value) })
      : `${fill(s.retention, { value: f.value('ratio', crr.value) })}${move(crr.change.previous)}`;
  const stale = r.dataQuality.fresh ? '' : `${s.stale} `;
  return `${stale}${r.report.name} ${r.period.label} — ${headline}`;
}

/** A card's notes, in words: the target band and its status, benchmarks, the trend's range. */
export function cardNotes(
  f: Formatter,
  msg: Messages,
  id: KpiId,
  k: KpiResult,
): {
  target: string | null;
  status: string | null;
  benchmarks: string | null;
  range: string | null;
} {
  const unit = kpiDefinition(id).unit;
  const c = msg.m.card;
  const values = k.trend.filter((v): v is number => v !== null);
  const hasTarget = k.target !== null && k.status !== null;
  const down = k.direction === 'down';
  const labels: Record<string, string> = c.benchmark;
  const met = (b: number): boolean => k.value !== null && (down ? k.value <= b : k.value >= b);
  return {
    target: hasTarget
      ? fill(down ? c.targetDown : c.targetUp, {
          value: f.value(unit, k.target),
          watch: f.value(unit, k.watchFrom),
        })
      : null,
    status: k.status === null ? null : c.status[k.status],
    benchmarks: k.benchmarks?.length
      ? fill(c.benchmarks, {
          list: k.benchmarks
            .map(
              (b) =>
                `${met(b.value) ? '✓ ' : ''}${labels[b.label] ?? b.label} ${f.value(unit, b.value)}`,
            )
            .join(' · '),
        })
      : null,
    range:
      values.length === 0
        ? null
        : fill(c.trend, {
            min: f.value(unit, Math.min(...values)),
            max: f.value(unit, Math.max(...values)),
          }),
  };
}

/** The sentences of the sections beyond the headline KPIs, shared by the HTML and the text. */
export function beyondSentences(
  r: Report,
  b: NonNullable<Report['beyond']>,
  f: Formatter,
  msg: Messages,
): {
  seg: (s: string) => string;
  month1: string | null;
  clv: string | null;
  moves: string | null;
  atRisk: string;
} {
  const m = msg.m.beyond;
  const seg = (s: string): string => (m.segments as Record<string, string>)[s] ?? s;
  const m1 = b.cohorts.month1;
  return {
    seg,
    month1: m1
      ? fill(m.month1, {
          cohort: m1.cohort,
          value: f.percent(m1.value),
          mean: m1.previousSixMean === null ? msg.m.units.na : f.percent(m1.previousSixMean),
        })
      : null,
    clv: b.clv.clv12m === null ? null : fill(m.clvLine, { value: f.value('money', b.clv.clv12m) }),
    moves:
      b.rfm.moves.length === 0
        ? null
        : fill(m.moves, {
            label: r.comparisons.previous.label,
            moves: b.rfm.moves
              .slice(0, 6)
              .map((mv) => `${seg(mv.from)} → ${seg(mv.to)} ${f.count(mv.customers)}`)
              .join(', '),
          }),
    atRisk: fill(m.atRisk, {
      count: f.count(b.atRisk.customers),
      from: String(r.settings.atRiskDays),
      to: '365',
      revenue: f.value('money', b.atRisk.revenueAtStake),
    }),
  };
}
