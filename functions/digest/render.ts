import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mjml2html from 'mjml';
import { DEFAULT_HEADLINE, kpiDefinition, type KpiId } from '../kpis/definitions.ts';
import type { NoModel } from '../kpis/beyond.ts';
import type { Change } from '../kpis/judge.ts';
import { EXCLUSION_REASONS } from '../sql/report-query.ts';
import { reportedKpis, type KpiResult, type Report } from '../report/report.ts';
import { formatter, type Formatter } from './format.ts';
import { fill, messagesFor, type Messages } from './messages.ts';
import { whatMoved } from './movers.ts';

/** A file that goes with the email; inline ones are referenced as `cid:<cid>`. */
export interface DigestAttachment {
  readonly filename: string;
  readonly contentType: string;
  readonly content: Buffer;
  /** Content-ID for an inline part. */
  readonly cid?: string;
}

/** The rendered digest: a view of the JSON report. */
export interface Digest {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  /** Inline images and other parts; the trend bars are drawn with tables, so none today. */
  readonly attachments: readonly DigestAttachment[];
}

export interface RenderOptions {
  /** KPIs shown as cards; @default the eight of the default configuration. */
  readonly headline?: readonly KpiId[];
  /** How to run the report again, shown in the footer. */
  readonly adHocHint?: string;
  /** Where the at-risk list is (an expiring link, or a file); the list is never in the email. */
  readonly atRiskLink?: string;
  /** When the link stops working (a presigned URL's true expiry), stated next to it. */
  readonly atRiskLinkExpires?: Date;
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

/**
 * A cohort cell's step in tenths, `hm0` to `hm10`: dark mode cannot recolour an inline
 * bgcolor by its value, so templates/head.mjml gives each step a dark background instead.
 */
function cellClass(share: number): string {
  return `hm${Math.round(Math.max(0, Math.min(1, share)) * 10)}`;
}

/** The sentences of the sections beyond the headline KPIs, shared by the HTML and the text. */
function beyondSentences(
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

/** The sections beyond the headline KPIs, when the report has them. */
function beyondSections(r: Report, f: Formatter, msg: Messages, options: RenderOptions): string {
  const b = r.beyond;
  if (!b) return '';
  const m = msg.m.beyond;
  const pct = (v: number): string => String(Math.round(v * 100));
  const header = Array.from({ length: 12 }, (_, k) => `<th align="right">${k}</th>`).join('');
  const rows = b.cohorts.cohorts
    .map((c) => {
      const cells = Array.from({ length: 12 }, (_, k) => {
        const v = c.retention[k];
        return v === undefined
          ? '<td></td>'
          : `<td align="right" bgcolor="${cellColor(v)}" class="${cellClass(v)}">${pct(v)}</td>`;
      }).join('');
      return `<tr><td>${escapeHtml(c.cohort)}<br><span class="muted">${f.count(c.size)}</span></td>${cells}</tr>`;
    })
    .join('\n');
  const { seg, month1, clv, moves, atRisk } = beyondSentences(r, b, f, msg);
  const segRows = b.rfm.segments
    .filter((s) => s.customers > 0)
    .map(
      (s) =>
        `<tr><td>${escapeHtml(seg(s.segment))}</td><td class="num" align="right">${f.count(s.customers)}</td><td class="num" align="right">${escapeHtml(f.value('money', s.revenue))}</td><td class="num" align="right">${escapeHtml(f.value('money', b.clv.bySegment[s.segment] ?? null))}</td></tr>`,
    )
    .join('\n');
  const link = options.atRiskLink
    ? `<p style="margin:4px 0;">${escapeHtml(fill(m.atRiskLink, { link: '' }))}<a href="${escapeHtml(options.atRiskLink)}">${escapeHtml(options.atRiskLink.startsWith('http') ? 'at-risk.csv' : options.atRiskLink)}</a>${options.atRiskLinkExpires ? ` ${escapeHtml(fill(m.linkValidUntil, { until: f.instant(options.atRiskLinkExpires.toISOString(), r.period.timeZone) }))}` : ''}</p>`
    : '';
  return `<mj-section background-color="#ffffff" css-class="card" padding="8px 0">
      <mj-column>
        <mj-text font-weight="700" padding="4px 16px 0">${escapeHtml(m.cohortsTitle)}</mj-text>
        <mj-table css-class="cohorts" font-size="10px" line-height="13px" padding="4px 16px">
          <tr><th align="left">${escapeHtml(m.cohort)}</th>${header}</tr>
          ${rows}
        </mj-table>
        ${month1 ? `<mj-text font-size="12px" padding="2px 16px 8px"><div class="muted">${escapeHtml(month1)}</div></mj-text>` : ''}
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" css-class="card" padding="8px 0">
      <mj-column>
        <mj-text font-weight="700" padding="4px 16px 0">${escapeHtml(m.segmentsTitle)}</mj-text>
        <mj-table css-class="kpis" font-size="12px" padding="4px 16px">
          <tr class="muted"><th align="left">${escapeHtml(m.segment)}</th><th class="num" align="right">${escapeHtml(m.customers)}</th><th class="num" align="right">${escapeHtml(m.revenue)}</th><th class="num" align="right">${escapeHtml(m.clv)}</th></tr>
          ${segRows}
        </mj-table>
        <mj-text font-size="12px" padding="2px 16px 8px">${[clv, moves].map((line) => (line === null ? '' : `<p style="margin:4px 0;">${escapeHtml(line)}</p>`)).join('')}<p style="margin:4px 0;font-weight:700;">${escapeHtml(atRisk)}</p>${link}</mj-text>
      </mj-column>
    </mj-section>`;
}

/** Folder of the MJML templates and partials; the Lambda bundle sets KPI_TEMPLATES_DIR. */
export const TEMPLATES_DIR =
  process.env.KPI_TEMPLATES_DIR ?? fileURLToPath(new URL('../../templates/', import.meta.url));
const SKELETON = readFileSync(join(TEMPLATES_DIR, 'digest.mjml'), 'utf8');

/**
 * MJML 5 ignores mj-include unless told otherwise; includes may only come from
 * `templates/`. No web fonts: nothing in the email may load from the network.
 */
const MJML_OPTIONS = {
  validationLevel: 'strict',
  filePath: TEMPLATES_DIR,
  ignoreIncludes: false,
  includePath: TEMPLATES_DIR,
  fonts: {},
  keepComments: false,
  minify: false,
} as Parameters<typeof mjml2html>[1];

const UP = '▲';
const DOWN = '▼';
const COLORS = {
  bar: '#c3cbd6',
  current: '#2f6feb',
  none: '#eef1f4',
} as const;

/** HTML text escaping for the digest and the owners' notice. */
export function escapeHtml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function arrow(c: Change): string {
  if (c.absolute === null || c.absolute === 0) return '';
  return c.absolute > 0 ? UP : DOWN;
}

/** The colour class of a change: green when good for this KPI, red when bad. */
function tone(c: Change): string {
  return c.verdict ?? 'muted';
}

/** Whether a change, as shown, is nothing: `0.0 pt`, `0.0%`, `$0.00`. */
function shownAsZero(f: Formatter, id: KpiId, c: Change): boolean {
  if (c.absolute === null) return false;
  const unit = kpiDefinition(id).unit;
  const zero = f.magnitude(unit, 0, c.relative === null ? null : 0);
  return f.magnitude(unit, c.absolute, c.relative) === zero;
}

/** `▲ 25.4%` or `▼ 0.1 pt`: arrow and size, coloured by what the move means; or "unchanged". */
function changeHtml(f: Formatter, id: KpiId, c: Change, unchanged: string): string {
  if (shownAsZero(f, id, c)) return `<span class="muted">${escapeHtml(unchanged)}</span>`;
  const size = f.magnitude(kpiDefinition(id).unit, c.absolute, c.relative);
  const a = arrow(c);
  return `<span class="${tone(c)}">${a ? `${a}&nbsp;` : ''}${escapeHtml(size)}</span>`;
}

function changeText(f: Formatter, id: KpiId, c: Change, unchanged: string): string {
  if (shownAsZero(f, id, c)) return unchanged;
  const a = arrow(c);
  return `${a ? `${a} ` : ''}${f.magnitude(kpiDefinition(id).unit, c.absolute, c.relative)}`;
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
function valueText(
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

/** Twelve bars drawn with table cells (Outlook keeps cell heights and bgcolor). */
function bars(k: KpiResult): string {
  const values = k.trend.filter((v): v is number => v !== null);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const MAX = 30;
  const cells = k.trend.map((v, i) => {
    const h =
      v === null ? 2 : hi === lo ? MAX / 2 : Math.round(4 + ((v - lo) / (hi - lo)) * (MAX - 4));
    const color = v === null ? COLORS.none : i === k.trend.length - 1 ? COLORS.current : COLORS.bar;
    return `<td valign="bottom" style="padding:0 1px"><table cellpadding="0" cellspacing="0" width="100%"><tr><td height="${h}" bgcolor="${color}" style="height:${h}px;font-size:1px">&nbsp;</td></tr></table></td>`;
  });
  return `<tr valign="bottom" style="height:${MAX}px;">${cells.join('')}</tr>`;
}

/** A card's notes, in words: the target band and its status, benchmarks, the trend's range. */
function cardNotes(
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

/** The target band with its status, and the benchmarks, as small HTML lines (or nothing). */
function judgementHtml(notes: ReturnType<typeof cardNotes>, k: KpiResult): string {
  const target =
    notes.target === null || notes.status === null
      ? ''
      : `<div class="small">${escapeHtml(notes.target)} · <span class="badge-${k.status ?? ''}">${escapeHtml(notes.status)}</span></div>`;
  const benchmarks =
    notes.benchmarks === null
      ? ''
      : `<div class="small muted">${escapeHtml(notes.benchmarks)}</div>`;
  return target + benchmarks;
}

function card(r: Report, f: Formatter, msg: Messages, id: KpiId, k: KpiResult): string {
  const unit = kpiDefinition(id).unit;
  const c = msg.m.card;
  const notes = cardNotes(f, msg, id, k);
  const status = judgementHtml(notes, k);
  const range = notes.range ?? '';
  return `<mj-column css-class="card-col" padding="6px" inner-background-color="#ffffff" inner-border-radius="8px">
        <mj-text padding="12px 14px 0">
          <div class="kpi-name"><a href="#g-${id}" style="color:inherit;text-decoration:none;">${escapeHtml(msg.kpiName(id))}</a>${k.anomaly ? ` <span class="bad" title="${escapeHtml(c.unusual)}">⚠</span>` : ''}</div>
          <div class="kpi-value">${escapeHtml(f.value(unit, k.value))}</div>${k.value === null ? `<div class="small muted">${escapeHtml(valueText(f, msg, id, null, r))}</div>` : ''}
          <div class="small">${changeHtml(f, id, k.change.previous, msg.m.units.unchanged)} <span class="muted">${escapeHtml(fill(c.vsPrevious, { label: r.comparisons.previous.label }))}</span> · ${changeHtml(f, id, k.change.yearAgo, msg.m.units.unchanged)} <span class="muted">${escapeHtml(fill(c.vsYearAgo, { label: r.comparisons.yearAgo.label }))}</span></div>
          ${status}
        </mj-text>
        <mj-table padding="8px 14px 0" table-layout="fixed">${bars(k)}</mj-table>
        <mj-text padding="2px 14px 12px" css-class="muted"><div class="small muted">${escapeHtml(range)}</div></mj-text>
      </mj-column>`;
}

/** Renders the JSON report as the leadership email (MJML, strict validation) and its text. */
export async function renderDigest(r: Report, options: RenderOptions = {}): Promise<Digest> {
  const msg = messagesFor(r.report.locale);
  const m = msg.m;
  const f = formatter(r.report.locale, r.report.currency, m.units);
  // A headline KPI the report lacks (an optional one not measured) is left out.
  const headline = (options.headline ?? DEFAULT_HEADLINE).filter((id) => r.kpis[id]);
  const kpis = reportedKpis(r);
  const subject = subjectOf(r, f, msg);
  // Definitions in plain words: the report's own windows, never a configuration key.
  const definitionOf = (id: KpiId): string =>
    fill(msg.kpiDefinition(id), {
      window: f.count(r.settings.activeWindowDays),
      atRisk: f.count(r.settings.atRiskDays),
    });
  const dq = r.dataQuality;
  const command = options.adHocHint ?? `npm run kpi -- run --period ${r.period.label}`;
  const range = f.dateRange(r.period.firstDay, r.period.lastDay);
  const latest = dq.latestValidOrderedAt;
  const through = latest === null ? m.units.na : f.instant(latest, r.period.timeZone);
  const moved = whatMoved(r, f, msg);
  const flow = r.customerFlow;
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
    m.footer.anomaly,
  ].filter((line) => line !== '');
  const generated = fill(m.footer.generated, {
    instant: f.instant(r.generatedAt, r.period.timeZone),
    report: r.report.name,
  });

  const header = `<mj-section background-color="#ffffff" css-class="card" padding="8px 0 4px">
      <mj-column>
        <mj-text font-size="20px" line-height="26px" font-weight="700" padding="12px 16px 2px">${escapeHtml(r.report.name)} · ${escapeHtml(r.period.label)}</mj-text>
        <mj-text css-class="muted" padding="0 16px 10px"><div class="muted">${escapeHtml(fill(m.header.period, { range, timeZone: r.period.timeZone }))} · ${escapeHtml(fill(m.header.dataThrough, { instant: through }))}</div></mj-text>
        ${dq.fresh ? '' : `<mj-text padding="0 16px 12px"><div class="bad" style="font-weight:700;">${escapeHtml(m.header.stale)}</div></mj-text>`}
      </mj-column>
    </mj-section>`;
  const movedSection = `<mj-section background-color="#ffffff" css-class="card" padding="0 0 8px">
      <mj-column>
        <mj-text font-weight="700" padding="4px 16px 0">${escapeHtml(m.moved.title)}</mj-text>
        <mj-text padding="2px 16px 8px">${moved.map((s) => `<p style="margin:4px 0;">${escapeHtml(s)}</p>`).join('')}</mj-text>
      </mj-column>
    </mj-section>`;
  const cardRows: string[] = [];
  for (let i = 0; i < headline.length; i += 2) {
    const pair = headline.slice(i, i + 2);
    cardRows.push(`<mj-section padding="0 10px">
      ${pair.map((id) => card(r, f, msg, id, r.kpis[id] as KpiResult)).join('\n      ')}
      ${pair.length === 1 ? '<mj-column padding="6px"><mj-spacer height="1px" /></mj-column>' : ''}
    </mj-section>`);
  }
  const flowRows = [
    [m.flow.start, f.count(flow.start), ''],
    [m.flow.lost, flow.lost === 0 ? f.count(0) : `−${f.count(flow.lost)}`, 'bad'],
    [m.flow.new, `+${f.count(flow.new)}`, 'good'],
    [m.flow.reactivated, `+${f.count(flow.reactivated)}`, 'good'],
    [m.flow.end, f.count(flow.end), ''],
  ]
    .map(
      ([label = '', value = '', cls = ''], i) =>
        `<tr${i === 4 ? ' style="font-weight:700;"' : ''}><td>${escapeHtml(label)}</td><td class="num" align="right"><span class="${cls}">${escapeHtml(value)}</span></td></tr>`,
    )
    .join('');
  const flowSection = `<mj-section background-color="#ffffff" css-class="card" padding="8px 0">
      <mj-column>
        <mj-text font-weight="700" padding="4px 16px 0">${escapeHtml(m.flow.title)} · ${escapeHtml(range)}</mj-text>
        <mj-table css-class="kpis" padding="4px 16px 8px">${flowRows}</mj-table>
      </mj-column>
    </mj-section>`;
  // The headline KPIs have their cards above; the table holds the rest.
  const tableRows = kpis
    .filter(({ id }) => !headline.includes(id))
    .map(({ id, k }) => {
      const why =
        k.value === null
          ? `<div class="small muted">${escapeHtml(valueText(f, msg, id, null, r))}</div>`
          : '';
      const judged = judgementHtml(cardNotes(f, msg, id, k), k);
      return `<tr><td><a href="#g-${id}">${escapeHtml(msg.kpiName(id))}</a>${k.anomaly ? ' <span class="bad">⚠</span>' : ''}${why}${judged}</td><td class="num" align="right">${escapeHtml(f.value(kpiDefinition(id).unit, k.value))}</td><td class="num" align="right">${changeHtml(f, id, k.change.previous, msg.m.units.unchanged)}</td><td class="num" align="right">${changeHtml(f, id, k.change.yearAgo, msg.m.units.unchanged)}</td></tr>`;
    })
    .join('\n');
  const tableSection = `<mj-section background-color="#ffffff" css-class="card" padding="8px 0">
      <mj-column>
        <mj-text font-weight="700" padding="4px 16px 0">${escapeHtml(m.table.title)}</mj-text>
        <mj-table css-class="kpis" font-size="12px" padding="4px 16px 8px">
          <tr class="muted"><th align="left">${escapeHtml(m.table.kpi)}</th><th class="num" align="right">${escapeHtml(r.period.label)}</th><th class="num" align="right">${escapeHtml(fill(m.card.vsPrevious, { label: r.comparisons.previous.label }))}</th><th class="num" align="right">${escapeHtml(fill(m.card.vsYearAgo, { label: r.comparisons.yearAgo.label }))}</th></tr>
          ${tableRows}
        </mj-table>
      </mj-column>
    </mj-section>`;
  const glossary = `<mj-section background-color="#ffffff" css-class="card glossary" padding="8px 0">
      <mj-column>
        <mj-text font-weight="700" padding="4px 16px 0">${escapeHtml(m.table.glossary)}</mj-text>
        <mj-text font-size="12px" line-height="17px" padding="2px 16px 10px">${kpis.map(({ id }) => `<p id="g-${id}" style="margin:4px 0;"><a name="g-${id}"></a><b>${escapeHtml(msg.kpiName(id))}</b> — ${escapeHtml(definitionOf(id))}</p>`).join('')}</mj-text>
      </mj-column>
    </mj-section>`;
  const footer = `<mj-section padding="8px 0 16px">
      <mj-column>
        <mj-text font-size="12px" line-height="17px" padding="4px 16px"><div class="muted">${footerLines.map((l) => `<p style="margin:3px 0;">${escapeHtml(l)}</p>`).join('')}<p style="margin:3px 0;">${escapeHtml(fill(m.footer.adHoc, { command: '' }))}<code>${escapeHtml(command)}</code></p><p style="margin:3px 0;">${escapeHtml(generated)}</p></div></mj-text>
      </mj-column>
    </mj-section>`;

  const parts: Record<string, string> = {
    lang: msg.locale,
    title: escapeHtml(subject),
    preview: escapeHtml(moved[0] ?? subject),
    header,
    moved: movedSection,
    cards: cardRows.join('\n    '),
    flow: flowSection + beyondSections(r, f, msg, options),
    table: tableSection,
    glossary,
    footer,
  };
  const source = SKELETON.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, key: string) => {
    const part = parts[key];
    if (part === undefined) throw new Error(`templates/digest.mjml: no part {{${key}}}`);
    return part;
  });
  const compiled = await mjml2html(source, MJML_OPTIONS);
  // Indentation only: a line break stays, so the page renders the same, a fifth smaller
  // (Gmail clips messages over about 102 KB).
  const html = compiled.html.replace(/\n[ \t]+/g, '\n');

  const text = textPart(r, f, msg, {
    subject,
    range,
    through,
    moved,
    headline,
    footerLines,
    command,
  });
  return { subject, html, text, attachments: [] };
}

/** The text of the sections beyond the headline KPIs: the same numbers as the HTML. */
function beyondText(r: Report, f: Formatter, msg: Messages): string[] {
  const b = r.beyond;
  if (!b) return [];
  const m = msg.m.beyond;
  const { seg, month1, clv, moves, atRisk } = beyondSentences(r, b, f, msg);
  return [
    '',
    m.cohortsTitle.toUpperCase(),
    ...b.cohorts.cohorts.map(
      (c) =>
        `${c.cohort.padEnd(9)}${String(c.size).padStart(7)}  ${c.retention.map((v) => String(Math.round(v * 100)).padStart(4)).join('')}`,
    ),
    ...(month1 === null ? [] : [month1]),
    '',
    m.segmentsTitle.toUpperCase(),
    ...b.rfm.segments
      .filter((s) => s.customers > 0)
      .map(
        (s) =>
          `${seg(s.segment).padEnd(24)}${f.count(s.customers).padStart(8)}  ${f.value('money', s.revenue).padStart(16)}  ${f.value('money', b.clv.bySegment[s.segment] ?? null)}`,
      ),
    ...[clv, moves].filter((line): line is string => line !== null),
    atRisk,
  ];
}

/** A KPI's target band, benchmarks and (for a headline KPI) trend range as indented text lines. */
function notesText(
  f: Formatter,
  msg: Messages,
  id: KpiId,
  k: KpiResult,
  withRange: boolean,
): string[] {
  const n = cardNotes(f, msg, id, k);
  const target = n.target !== null && n.status !== null ? `${n.target} (${n.status})` : null;
  const line = [target, withRange ? n.range : null]
    .filter((x): x is string => x !== null)
    .join(' · ');
  return [line, n.benchmarks ?? ''].filter((x) => x !== '').map((x) => `  ${x}`);
}

/** The plain-text part: the same numbers, in reading order. */
function textPart(
  r: Report,
  f: Formatter,
  msg: Messages,
  t: {
    subject: string;
    range: string;
    through: string;
    moved: readonly string[];
    headline: readonly KpiId[];
    footerLines: readonly string[];
    command: string;
  },
): string {
  const m = msg.m;
  const flow = r.customerFlow;
  const pad = (s: string, n: number): string => (s.length >= n ? `${s} ` : s.padEnd(n));
  const prev = fill(m.card.vsPrevious, { label: r.comparisons.previous.label });
  const year = fill(m.card.vsYearAgo, { label: r.comparisons.yearAgo.label });
  const row = (id: KpiId): string => {
    const k = r.kpis[id] as KpiResult;
    const name = `${msg.kpiName(id)}${k.anomaly ? ' ⚠' : ''}`;
    const line = `${pad(name, 40)}${pad(f.value(kpiDefinition(id).unit, k.value), 16)}${pad(changeText(f, id, k.change.previous, msg.m.units.unchanged), 14)}${changeText(f, id, k.change.yearAgo, msg.m.units.unchanged)}`;
    return k.value === null ? `${line}\n  ${valueText(f, msg, id, null, r)}` : line;
  };
  const header = `${pad(m.table.kpi, 40)}${pad(r.period.label, 16)}${pad(prev, 14)}${year}`;
  const lines = [
    t.subject,
    `${fill(m.header.period, { range: t.range, timeZone: r.period.timeZone })} · ${fill(m.header.dataThrough, { instant: t.through })}`,
    r.dataQuality.fresh ? '' : `!! ${m.header.stale}`,
    '',
    m.moved.title.toUpperCase(),
    ...t.moved.map((s) => `- ${s}`),
    '',
    header,
    ...t.headline.flatMap((id) => [
      row(id),
      ...notesText(f, msg, id, r.kpis[id] as KpiResult, true),
    ]),
    '',
    `${m.flow.title.toUpperCase()} · ${t.range}`,
    `${pad(m.flow.start, 40)}${f.count(flow.start)}`,
    `${pad(m.flow.lost, 40)}${flow.lost === 0 ? f.count(0) : `−${f.count(flow.lost)}`}`,
    `${pad(m.flow.new, 40)}+${f.count(flow.new)}`,
    `${pad(m.flow.reactivated, 40)}+${f.count(flow.reactivated)}`,
    `${pad(m.flow.end, 40)}${f.count(flow.end)}`,
    ...beyondText(r, f, msg),
    '',
    m.table.title.toUpperCase(),
    header,
    ...reportedKpis(r)
      .filter(({ id }) => !t.headline.includes(id))
      .flatMap(({ id, k }) => [row(id), ...notesText(f, msg, id, k, false)]),
    '',
    ...t.footerLines,
    fill(m.footer.adHoc, { command: t.command }),
  ];
  return `${lines.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n')}\n`;
}
