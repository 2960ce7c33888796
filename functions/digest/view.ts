import { DEFAULT_HEADLINE, kpiDefinition, type KpiId } from '../kpis/definitions.ts';
import type { NoModel } from '../kpis/beyond.ts';
import type { Change } from '../kpis/judge.ts';
import { EXCLUSION_REASONS } from '../sql/report-query.ts';
import { reportedKpis, type KpiResult, type Report } from '../report/report.ts';
import type { Formatter } from './format.ts';
import { fill, type Messages } from './messages.ts';
import { anomalyNote, partName, rankedMoves, whatMoved } from './movers.ts';

/*
 * What the digest says, worked out once: the words and numbers of the HTML email's view
 * model (filled into templates/ by render.ts) and of the plain-text part. Every string here
 * is plain text, formatted and translated; the templates escape it. No markup, no styles:
 * a tone is the name of a class of templates/head.mjml, a colour only where it is computed.
 */

export interface RenderOptions {
  /** KPIs shown as cards; @default the eight of the default configuration. */
  readonly headline?: readonly KpiId[];
  /** How to run the report again, shown in the footer. */
  readonly adHocHint?: string;
  /** Where the at-risk list is (an expiring link, or a file); the list is never in the email. */
  readonly atRiskLink?: string;
  /** When the link stops working (a presigned URL's true expiry), stated next to it. */
  readonly atRiskLinkExpires?: Date;
  /**
   * Where the full report is (`report.html` beside the digest, or an expiring link). With
   * it the digest is one short page that links the details; without it (nowhere to link)
   * the digest carries the details itself, below the same first screen.
   */
  readonly reportLink?: string;
  /** When the full report's link stops working, stated next to it. */
  readonly reportLinkExpires?: Date;
}

/** A link with the words before it and the sentence stating when it stops working. */
export interface LinkView {
  readonly label: string;
  readonly href: string;
  readonly text: string;
  readonly expires: string | null;
}

/** A move as the email shows it: an arrow, its size, coloured by what it means; or "unchanged". */
export interface ChangeView {
  /** `good`, `bad`, `neutral`, `flat` or `muted` (no verdict, or unchanged). */
  readonly tone: string;
  readonly up: boolean;
  readonly down: boolean;
  /** `25.4%`, `0.1 pt`, or the word for unchanged. */
  readonly text: string;
}

/** A KPI's value and moves, with its target band and benchmarks: one row of the KPI table. */
export interface KpiView {
  /** The KPI's id, the anchor of its glossary entry (`#g-<id>`). */
  readonly id: KpiId;
  readonly name: string;
  /** Beyond 3 robust deviations of its trend: marked ⚠. */
  readonly anomaly: boolean;
  /** The value, or `n/a`. */
  readonly value: string;
  /** Why there is no value, e.g. `n/a (no orders in the period)`; null with a value. */
  readonly na: string | null;
  readonly previous: ChangeView;
  readonly yearAgo: ChangeView;
  /** `Target ≥ 85.0%, watch from 83.0%`, its status in words and as `good`/`watch`/`bad`. */
  readonly target: {
    readonly text: string;
    readonly status: string;
    readonly level: string;
  } | null;
  /** `Benchmarks: ✓ median across industries 20.0% · …`. */
  readonly benchmarks: string | null;
}

/** One bar of a card's 12-period trend; its height in pixels. */
export interface BarView {
  readonly height: number;
  /** No value that period. */
  readonly empty: boolean;
  /** The period of the report (the last bar). */
  readonly current: boolean;
}

/** A headline KPI's card. */
export interface CardView extends KpiView {
  /** `Last 12: 95.7% – 97.3%`, or '' without a trend. */
  readonly range: string;
  /** The bars, oldest first, and the height of the tallest possible bar in pixels. */
  readonly trend: { readonly max: number; readonly bars: readonly BarView[] };
  /** The same bars, lower: the digest's compact tile. */
  readonly spark: { readonly max: number; readonly bars: readonly BarView[] };
}

export interface CohortCellView {
  /** The share still buying, in percent without the sign: `25`. */
  readonly percent: string;
  /** Near white to mid blue with the share (light mode). */
  readonly color: string;
  /** Its step in tenths, `hm0`–`hm10`: the class dark mode colours it by. */
  readonly step: string;
  /** The month is not over (the report's `beyond.cohorts.partial`): marked `*`. */
  readonly partial: boolean;
}

export interface BeyondView {
  readonly cohorts: {
    readonly title: string;
    /** The first column's header, then the months since the first order: 0 to 11. */
    readonly headers: { readonly cohort: string; readonly months: readonly number[] };
    readonly rows: readonly {
      readonly cohort: string;
      readonly size: string;
      /** The cohort's month is not over: its customers so far, marked `*`. */
      readonly partial: boolean;
      /** Twelve cells; null after the report's end. */
      readonly cells: readonly (CohortCellView | null)[];
    }[];
    /** The sentence on the latest cohort's second month; null without one. */
    readonly month1: string | null;
    /** The footnote to `*`: the month not over and the days it has; null when none is. */
    readonly partial: string | null;
  };
  readonly segments: {
    readonly title: string;
    readonly headers: {
      readonly segment: string;
      readonly customers: string;
      readonly revenue: string;
      readonly clv: string;
    };
    readonly rows: readonly {
      readonly name: string;
      readonly customers: string;
      readonly revenue: string;
      readonly clv: string;
    }[];
    /** The sentences under the table; null when there is nothing to say. */
    readonly clvLine: string | null;
    readonly moves: string | null;
    readonly atRisk: string;
    /** Where the at-risk list is: the words before the link, the link, its expiry sentence. */
    readonly link: LinkView | null;
  };
}

/** The KPIs a breakdown table shows for each value (docs/email.md, "By dimension"). */
export const BREAKDOWN_KPIS = ['revenue', 'crr', 'new_customers'] as const;

/** One breakdown as a compact table: a row per value, a cell per KPI with its change. */
export interface BreakdownView {
  readonly title: string;
  readonly note: string;
  readonly headers: { readonly value: string; readonly kpis: readonly string[] };
  readonly rows: readonly {
    readonly name: string;
    readonly cells: readonly { readonly value: string; readonly change: ChangeView }[];
  }[];
}

/** A table of KPIs: its title, column headers and rows. */
export interface KpiTableView {
  readonly title: string;
  readonly kpi: string;
  readonly period: string;
  readonly rows: readonly KpiView[];
}

/** Everything the templates get (docs: "Editing the email"). */
export interface DigestView {
  readonly lang: string;
  /** The subject, as the HTML title. */
  readonly title: string;
  /** The inbox preview line: the first sentence of "what moved". */
  readonly preview: string;
  readonly header: {
    readonly name: string;
    readonly period: string;
    /** `16–22 Nov 2026 · Europe/London`. */
    readonly when: string;
    /** `Data through 22 Nov 2026, 23:55`. */
    readonly through: string;
    /** The warning of a stale report; null when the data is fresh. */
    readonly stale: string | null;
    /**
     * The verdict on the targets, in parts toned by what they say: `Targets: 2 of 3 met`,
     * `off target: Repeat purchase rate` (`bad`), `near target: …` (`badge-watch`); empty
     * when no KPI has a target.
     */
    readonly verdict: readonly { readonly text: string; readonly tone: string }[];
  };
  readonly moved: { readonly title: string; readonly lines: readonly string[] };
  /**
   * The headline KPIs, two to a row: the full report's cards, and the digest's tiles (a
   * card's name, value, move, spark and status); `spacer` fills a row with only one.
   */
  readonly cardRows: readonly { readonly cards: readonly CardView[]; readonly spacer: boolean }[];
  /** Column headers and notes shared by the cards and the table. */
  readonly vsPrevious: string;
  readonly vsYearAgo: string;
  /** The ⚠'s tooltip on a card. */
  readonly unusual: string;
  readonly flow: {
    readonly title: string;
    readonly range: string;
    /** Start, lost, new, reactivated, end; the last one is the `total`. */
    readonly rows: readonly {
      readonly label: string;
      readonly value: string;
      /** `good`, `bad`, or ''. */
      readonly tone: string;
      readonly total: boolean;
    }[];
  };
  /** The cohorts and the segments; null when the report has no such sections. */
  readonly beyond: BeyondView | null;
  /** The report's breakdowns, each a compact table. */
  readonly breakdowns: readonly BreakdownView[];
  /** Every reported KPI that has no card. */
  readonly table: KpiTableView;
  /**
   * The digest's "More": the at-risk sentence and its link, and the link to the full report;
   * null when there is nothing to say.
   */
  readonly more: {
    readonly title: string;
    readonly atRisk: string | null;
    readonly atRiskLink: LinkView | null;
    readonly report: LinkView | null;
  } | null;
  /**
   * The details the digest carries itself when there is no full report to link: every KPI
   * in one table (the cohorts, segments and glossary are `beyond` and `glossary`); null when
   * the digest links the full report.
   */
  readonly details: { readonly table: KpiTableView } | null;
  readonly glossary: {
    readonly title: string;
    readonly entries: readonly {
      readonly id: KpiId;
      readonly name: string;
      readonly definition: string;
    }[];
  };
  readonly footer: {
    readonly lines: readonly string[];
    /** `Run this report yourself: `, then the command. */
    readonly adHoc: string;
    readonly command: string;
    readonly generated: string;
  };
}

/** What the HTML and the text part both say. */
export interface DigestFacts {
  readonly subject: string;
  /** The date range of the period, e.g. `16–22 Nov 2026`. */
  readonly range: string;
  /** When the latest valid order was, or `n/a`. */
  readonly through: string;
  readonly moved: readonly string[];
  /** The headline KPIs the report has. */
  readonly headline: readonly KpiId[];
  readonly footerLines: readonly string[];
  readonly command: string;
}

/**
 * A cohort cell's background: near white to mid blue with the share (email-safe, no CSS
 * gradient). The blue end stays light enough for the table's dark text (#1f2933 on #6a98f2
 * is 5.2:1), so every cell's number meets WCAG AA on its own colour at any share.
 */
function cellColor(share: number): string {
  const t = Math.max(0, Math.min(1, share));
  const mix = (from: number, to: number): string =>
    Math.round(from + (to - from) * t)
      .toString(16)
      .padStart(2, '0');
  return `#${mix(0xf4, 0x6a)}${mix(0xf6, 0x98)}${mix(0xf8, 0xf2)}`;
}

/** Months from one `YYYY-MM` to another: 1 from `2026-10` to `2026-11`. */
export function monthsBetween(from: string, to: string): number {
  const months = (label: string): number => {
    const [y = 0, m = 0] = label.split('-').map(Number);
    return y * 12 + m;
  };
  return months(to) - months(from);
}

/**
 * A cohort cell's step in tenths, `hm0` to `hm10`: dark mode cannot recolour an inline
 * bgcolor by its value, so templates/head.mjml gives each step a dark background instead.
 */
function cellClass(share: number): string {
  return `hm${Math.round(Math.max(0, Math.min(1, share)) * 10)}`;
}

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
  clv_12m_all: 'noModel',
  new_customer_clv: 'noModel',
};

/** Why a lifetime value has no value although the model fitted: its group is empty. */
const CLV_EMPTY: Partial<Record<KpiId, keyof Messages['m']['na']>> = {
  clv_12m: 'noCustomersEnd',
  new_customer_clv: 'noNewCustomers',
};

/** Why a lifetime value has no value, from the report's own reason (`beyond.clv.unavailable`). */
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
  const clv = id === 'clv_12m' || id === 'clv_12m_all' || id === 'new_customer_clv';
  const clvWhy = clv ? r?.beyond?.clv.unavailable : undefined;
  const fitted = clv && (r?.beyond?.clv.model ?? null) !== null;
  const reason = clvWhy ? CLV_NA[clvWhy] : ((fitted ? CLV_EMPTY[id] : undefined) ?? NA_REASON[id]);
  return reason ? `${msg.m.units.na} (${msg.m.na[reason]})` : msg.m.units.na;
}

/** The subject: report name, period label and the headline movement. */
export function subjectOf(r: Report, f: Formatter, msg: Messages): string {
  const crr = r.kpis.crr;
  const s = msg.m.subject;
  const moveOf = (id: KpiId, c: Change): string => {
    if (c.absolute === null) return '';
    if (shownAsZero(f, id, c)) return ` (${msg.m.units.unchanged})`;
    return ` (${arrow(c)}${f.magnitude(kpiDefinition(id).unit, c.absolute, c.relative)})`;
  };
  // The most important move names the email; a quiet period keeps the retention line.
  const top = rankedMoves(r)[0];
  const headline = top
    ? `${msg.kpiName(top.id)} ${f.value(top.k.unit, top.k.value)}${moveOf(top.id, top.k.change.previous)}`
    : crr.value === null
      ? fill(s.revenue, { value: f.value('money', r.kpis.revenue.value) })
      : `${fill(s.retention, { value: f.value('ratio', crr.value) })}${moveOf('crr', crr.change.previous)}`;
  const stale = r.dataQuality.fresh ? '' : `${s.stale} `;
  return `${stale}${r.report.name} · ${f.period(r.period)} — ${headline}`;
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
  /** The footnote on the month the period ends inside; null when it ends on a month's start. */
  partial: string | null;
  clv: string | null;
  moves: string | null;
  atRisk: string;
} {
  const m = msg.m.beyond;
  const seg = (s: string): string => (m.segments as Record<string, string>)[s] ?? s;
  const m1 = b.cohorts.month1;
  // Null in a report written before the field existed, too.
  const p = b.cohorts.partial ?? null;
  return {
    seg,
    partial: p
      ? fill(m.partial, {
          month: f.month(p.month),
          days: f.count(p.days),
          total: f.count(p.daysInMonth),
          through: f.dateRange(p.through, p.through),
        })
      : null,
    month1: m1
      ? fill(m.month1, {
          cohort: f.month(m1.cohort),
          value: f.percent(m1.value),
          mean: m1.previousSixMean === null ? msg.m.units.na : f.percent(m1.previousSixMean),
        })
      : null,
    clv:
      b.clv.clv12m === null
        ? null
        : fill(m.clvLine, {
            basis:
              b.clv.basis.grossMargin === null
                ? m.clvRevenue
                : fill(m.clvMargin, { margin: f.percent(b.clv.basis.grossMargin) }),
            rate: f.percent(b.clv.basis.annualDiscountRate),
            value: f.value('money', b.clv.clv12m),
            acquired: f.value('money', b.clv.newCustomerClv),
          }),
    moves:
      b.rfm.moves.length === 0
        ? null
        : fill(m.moves, {
            label: f.period(r.comparisons.previous),
            moves: b.rfm.moves
              .slice(0, 6)
              .map((mv) => `${seg(mv.from)} → ${seg(mv.to)} ${f.count(mv.customers)}`)
              .join(', '),
          }),
    atRisk: `${fill(m.atRisk, {
      count: f.count(b.atRisk.customers),
      from: String(r.settings.atRiskDays),
      to: '365',
      revenue: f.value('money', b.atRisk.revenueAtStake),
    })}${b.clv.model?.purchases === 'nbd' ? ` ${m.noDropout}` : ''}`,
  };
}

/** The subject, the period, "what moved", the footer: said by both parts. */
export function digestFacts(
  r: Report,
  f: Formatter,
  msg: Messages,
  options: RenderOptions,
): DigestFacts {
  const m = msg.m;
  const dq = r.dataQuality;
  const latest = dq.latestValidOrderedAt;
  const through = latest === null ? m.units.na : f.instant(latest, r.period.timeZone);
  const reasons = EXCLUSION_REASONS.filter((reason) => dq.leftOut[reason] > 0)
    .map((reason) => `${m.reasons[reason]} ${f.count(dq.leftOut[reason])}`)
    .join(', ');
  const footerLines = [
    fill(m.footer.rows, {
      read: f.count(dq.rowsRead),
      valid: f.count(dq.validOrders),
      leftOut: f.count(dq.rowsLeftOut),
      reasons: reasons ? ` (${reasons})` : '',
    }),
    dq.duplicateOrderIds > 0
      ? fill(m.footer.duplicates, { count: f.count(dq.duplicateOrderIds) })
      : '',
    latest === null
      ? m.footer.noData
      : fill(dq.fresh ? m.footer.fresh : m.footer.stale, { instant: through }),
    anomalyNote(r, msg),
  ].filter((line) => line !== '');
  return {
    subject: subjectOf(r, f, msg),
    range: f.dateRange(r.period.firstDay, r.period.lastDay),
    through,
    moved: whatMoved(r, f, msg),
    // A headline KPI the report lacks (an optional one not measured) is left out.
    headline: (options.headline ?? DEFAULT_HEADLINE).filter((id) => r.kpis[id]),
    footerLines,
    command: options.adHocHint ?? `npm run kpi -- run --period ${r.period.label}`,
  };
}

/** A move, or "unchanged" when it shows as nothing. */
function changeView(f: Formatter, id: KpiId, c: Change, unchanged: string): ChangeView {
  if (shownAsZero(f, id, c)) return { tone: 'muted', up: false, down: false, text: unchanged };
  const a = arrow(c);
  return {
    tone: c.verdict ?? 'muted',
    up: a === UP,
    down: a === DOWN,
    text: f.magnitude(kpiDefinition(id).unit, c.absolute, c.relative),
  };
}

function kpiView(r: Report, f: Formatter, msg: Messages, id: KpiId, k: KpiResult): KpiView {
  const notes = cardNotes(f, msg, id, k);
  const unchanged = msg.m.units.unchanged;
  return {
    id,
    name: msg.kpiName(id),
    anomaly: k.anomaly,
    value: f.value(kpiDefinition(id).unit, k.value),
    na: k.value === null ? valueText(f, msg, id, null, r) : null,
    previous: changeView(f, id, k.change.previous, unchanged),
    yearAgo: changeView(f, id, k.change.yearAgo, unchanged),
    target:
      notes.target === null || notes.status === null || k.status === null
        ? null
        : { text: notes.target, status: notes.status, level: k.status },
    benchmarks: notes.benchmarks,
  };
}

/** Tallest bar of a card's trend, and of a tile's, in pixels. */
const BARS_HEIGHT = 30;
const SPARK_HEIGHT = 16;

/** Twelve bars (table cells: Outlook keeps cell heights and bgcolor), lowest 4 px. */
function bars(k: KpiResult, max: number): BarView[] {
  const values = k.trend.filter((v): v is number => v !== null);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return k.trend.map((v, i) => ({
    height:
      v === null ? 2 : hi === lo ? max / 2 : Math.round(4 + ((v - lo) / (hi - lo)) * (max - 4)),
    empty: v === null,
    current: i === k.trend.length - 1,
  }));
}

function cardView(r: Report, f: Formatter, msg: Messages, id: KpiId): CardView {
  const k = r.kpis[id] as KpiResult;
  return {
    ...kpiView(r, f, msg, id, k),
    range: cardNotes(f, msg, id, k).range ?? '',
    trend: { max: BARS_HEIGHT, bars: bars(k, BARS_HEIGHT) },
    spark: { max: SPARK_HEIGHT, bars: bars(k, SPARK_HEIGHT) },
  };
}

/** The sentence stating when a link stops working, in the report's zone; null if never. */
function validUntil(r: Report, f: Formatter, msg: Messages, expires?: Date): string | null {
  return expires
    ? fill(msg.m.beyond.linkValidUntil, {
        until: f.instant(expires.toISOString(), r.period.timeZone),
      })
    : null;
}

/** The at-risk list's link: a URL reads as the file's name, a path as itself. */
function atRiskLinkView(
  r: Report,
  f: Formatter,
  msg: Messages,
  options: RenderOptions,
): LinkView | null {
  const link = options.atRiskLink;
  if (!link) return null;
  return {
    label: fill(msg.m.beyond.atRiskLink, { link: '' }),
    href: link,
    text: link.startsWith('http') ? 'at-risk.csv' : link,
    expires: validUntil(r, f, msg, options.atRiskLinkExpires),
  };
}

function beyondView(
  r: Report,
  f: Formatter,
  msg: Messages,
  options: RenderOptions,
): BeyondView | null {
  const b = r.beyond;
  if (!b) return null;
  const m = msg.m.beyond;
  const { seg, month1, partial, clv, moves, atRisk } = beyondSentences(r, b, f, msg);
  const months = Array.from({ length: 12 }, (_, k) => k);
  const p = b.cohorts.partial ?? null;
  return {
    cohorts: {
      title: m.cohortsTitle,
      headers: { cohort: m.cohort, months },
      rows: b.cohorts.cohorts.map((c) => {
        // The cell of the month not over: k months after the cohort's own.
        const cut = p ? monthsBetween(c.cohort, p.month) : -1;
        return {
          cohort: f.month(c.cohort),
          size: f.count(c.size),
          partial: cut === 0,
          cells: months.map((k) => {
            const v = c.retention[k];
            return v === undefined
              ? null
              : {
                  percent: String(Math.round(v * 100)),
                  color: cellColor(v),
                  step: cellClass(v),
                  partial: k === cut,
                };
          }),
        };
      }),
      month1,
      partial,
    },
    segments: {
      title: m.segmentsTitle,
      headers: { segment: m.segment, customers: m.customers, revenue: m.revenue, clv: m.clv },
      rows: b.rfm.segments
        .filter((s) => s.customers > 0)
        .map((s) => ({
          name: seg(s.segment),
          customers: f.count(s.customers),
          revenue: f.value('money', s.revenue),
          clv: f.value('money', b.clv.bySegment[s.segment] ?? null),
        })),
      clvLine: clv,
      moves,
      atRisk,
      link: atRiskLinkView(r, f, msg, options),
    },
  };
}

/** Each breakdown of the report as a compact table of BREAKDOWN_KPIS. */
export function breakdownViews(r: Report, f: Formatter, msg: Messages): BreakdownView[] {
  const m = msg.m.breakdown;
  const unchanged = msg.m.units.unchanged;
  // A breakdown without a part (no customer before the end) has no table.
  return (r.breakdowns ?? [])
    .filter((b) => b.parts.length > 0)
    .map((b) => {
      const dimension = b.dimension.replaceAll('_', ' ');
      return {
        title: fill(m.title, { dimension }),
        note: fill(m.note, { dimension, label: f.period(r.comparisons.previous) }),
        headers: {
          value: dimension.charAt(0).toUpperCase() + dimension.slice(1),
          kpis: BREAKDOWN_KPIS.map((id) => m.columns[id]),
        },
        rows: b.parts.map((p) => ({
          name: partName(msg, f, p),
          cells: BREAKDOWN_KPIS.map((id) => {
            const k = p.kpis[id];
            return {
              // Money to the whole unit: the table has four columns on a phone.
              value:
                kpiDefinition(id).unit === 'money'
                  ? f.wholeMoney(k.value)
                  : f.value(kpiDefinition(id).unit, k.value),
              change: changeView(f, id, k.change.previous, unchanged),
            };
          }),
        })),
      };
    });
}

/** How many KPIs with a target meet it, and which are off or near it (in the header). */
function verdictOf(
  kpis: readonly { id: KpiId; k: KpiResult }[],
  msg: Messages,
): { text: string; tone: string }[] {
  const v = msg.m.header.verdict;
  const judged = kpis.filter(({ k }) => k.status !== null);
  if (judged.length === 0) return [];
  const named = (status: KpiResult['status']): string =>
    judged
      .filter(({ k }) => k.status === status)
      .map(({ id }) => msg.kpiName(id))
      .join(', ');
  const met = judged.filter(({ k }) => k.status === 'good').length;
  const off = named('bad');
  const near = named('watch');
  return [
    { text: fill(v.met, { met: String(met), total: String(judged.length) }), tone: '' },
    ...(off ? [{ text: fill(v.off, { names: off }), tone: 'bad' }] : []),
    ...(near ? [{ text: fill(v.near, { names: near }), tone: 'badge-watch' }] : []),
  ];
}

/** The view model of the HTML email: every word and number of the templates, no markup. */
export function digestView(
  r: Report,
  f: Formatter,
  msg: Messages,
  options: RenderOptions,
  facts: DigestFacts,
): DigestView {
  const m = msg.m;
  const { headline } = facts;
  const kpis = reportedKpis(r);
  // Two cards to a row; a row with one card gets a spacer for the second column.
  const cardRows = Array.from({ length: Math.ceil(headline.length / 2) }, (_, row) => {
    const cards = headline.slice(row * 2, row * 2 + 2).map((id) => cardView(r, f, msg, id));
    return { cards, spacer: cards.length === 1 };
  });
  const flow = r.customerFlow;
  const flowRow = (label: string, value: string, tone = '', total = false) => ({
    label,
    value,
    tone,
    total,
  });
  const table = (title: string, which: (id: KpiId) => boolean): KpiTableView => ({
    title,
    kpi: m.table.kpi,
    period: f.period(r.period),
    rows: kpis.filter(({ id }) => which(id)).map(({ id, k }) => kpiView(r, f, msg, id, k)),
  });
  const atRisk = r.beyond ? beyondSentences(r, r.beyond, f, msg).atRisk : null;
  const report: LinkView | null = options.reportLink
    ? {
        label: '',
        href: options.reportLink,
        text: m.more.report,
        expires: validUntil(r, f, msg, options.reportLinkExpires),
      }
    : null;
  // Definitions in plain words: the report's own windows, never a configuration key.
  const definitionOf = (id: KpiId): string =>
    fill(msg.kpiDefinition(id), {
      window: f.count(r.settings.activeWindowDays),
      atRisk: f.count(r.settings.atRiskDays),
    });
  return {
    lang: msg.locale,
    title: facts.subject,
    preview: facts.moved[0] ?? facts.subject,
    header: {
      name: r.report.name,
      period: f.period(r.period),
      when: fill(m.header.period, { range: facts.range, timeZone: r.period.timeZone }),
      through: fill(m.header.dataThrough, { instant: facts.through }),
      stale: r.dataQuality.fresh ? null : m.header.stale,
      verdict: verdictOf(kpis, msg),
    },
    moved: { title: m.moved.title, lines: facts.moved },
    cardRows,
    vsPrevious: fill(m.card.vsPrevious, { label: f.period(r.comparisons.previous) }),
    vsYearAgo: fill(m.card.vsYearAgo, { label: f.period(r.comparisons.yearAgo) }),
    unusual: m.card.unusual,
    flow: {
      title: m.flow.title,
      range: facts.range,
      rows: [
        flowRow(m.flow.start, f.count(flow.start)),
        flowRow(m.flow.lost, flow.lost === 0 ? f.count(0) : `−${f.count(flow.lost)}`, 'bad'),
        flowRow(m.flow.new, `+${f.count(flow.new)}`, 'good'),
        flowRow(m.flow.reactivated, `+${f.count(flow.reactivated)}`, 'good'),
        flowRow(m.flow.end, f.count(flow.end), '', true),
      ],
    },
    beyond: beyondView(r, f, msg, options),
    breakdowns: breakdownViews(r, f, msg),
    // The headline KPIs have their cards above; the table holds the rest.
    table: table(m.table.title, (id) => !headline.includes(id)),
    more:
      atRisk === null && report === null
        ? null
        : {
            title: m.more.title,
            atRisk,
            atRiskLink: atRisk === null ? null : atRiskLinkView(r, f, msg, options),
            report,
          },
    details: report === null ? { table: table(m.more.allKpis, () => true) } : null,
    glossary: {
      title: m.table.glossary,
      entries: kpis.map(({ id }) => ({ id, name: msg.kpiName(id), definition: definitionOf(id) })),
    },
    footer: {
      lines: facts.footerLines,
      adHoc: fill(m.footer.adHoc, { command: '' }),
      command: facts.command,
      generated: fill(m.footer.generated, {
        instant: f.instant(r.generatedAt, r.period.timeZone),
        report: r.report.name,
      }),
    },
  };
}
