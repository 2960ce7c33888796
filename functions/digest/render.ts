import { fileURLToPath } from 'node:url';
import mjml2html from 'mjml';
import { kpiDefinition, KPI_IDS, type KpiId } from '../kpis/definitions.ts';
import type { Change } from '../kpis/judge.ts';
import type { Report } from '../report/report.ts';
import { formatter, type Formatter } from './format.ts';

/** The rendered digest: a view of the JSON report. */
export interface Digest {
  readonly subject: string;
  readonly html: string;
  readonly text: string;
}

export interface RenderOptions {
  /** KPIs listed first; @default the report's headline list or the first eight. */
  readonly headline?: readonly KpiId[];
  /** How to run the report again, shown in the footer. */
  readonly adHocHint?: string;
}

/** Folder of the MJML partials. */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

const ARROW = { up: '▲', down: '▼', flat: '•' } as const;

function escapeHtml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function arrow(c: Change): string {
  if (c.absolute === null) return '';
  return c.absolute > 0 ? ARROW.up : c.absolute < 0 ? ARROW.down : ARROW.flat;
}

function changeText(f: Formatter, id: KpiId, c: Change): string {
  const unit = kpiDefinition(id).unit;
  return c.absolute === null ? 'n/a' : `${arrow(c)} ${f.change(unit, c.absolute)}`;
}

function periodRange(r: Report): string {
  const p = r.period;
  return p.firstDay === p.lastDay ? p.firstDay : `${p.firstDay} – ${p.lastDay}`;
}

/** The subject: report name, period label and the headline movement. */
export function subjectOf(r: Report, f: Formatter): string {
  const crr = r.kpis.crr;
  const headline =
    crr.value === null
      ? `revenue ${f.value('money', r.kpis.revenue.value)}`
      : `retention ${f.value('ratio', crr.value)}${crr.change.previous.absolute === null ? '' : ` (${changeText(f, 'crr', crr.change.previous)})`}`;
  const stale = r.dataQuality.fresh ? '' : '[STALE DATA] ';
  return `${stale}${r.report.name} ${r.period.label} — ${headline}`;
}

/** Renders the JSON report as an MJML email (strict validation), plus its plain text. */
export async function renderDigest(r: Report, options: RenderOptions = {}): Promise<Digest> {
  const f = formatter(r.report.locale, r.report.currency);
  const headline = options.headline ?? KPI_IDS.slice(0, 8);
  const rest = KPI_IDS.filter((id) => !headline.includes(id));
  const ordered = [...headline, ...rest];
  const subject = subjectOf(r, f);
  const dq = r.dataQuality;
  const hint = options.adHocHint ?? `npm run kpi -- run --period ${r.period.label}`;

  const cls = (c: Change): string =>
    c.verdict === 'good' ? 'good' : c.verdict === 'bad' ? 'bad' : 'muted';
  const rows = ordered
    .map((id) => {
      const k = r.kpis[id];
      const def = kpiDefinition(id);
      const flag = k.anomaly ? ' ⚠' : '';
      return `<tr>
  <td>${escapeHtml(def.name)}${flag}</td>
  <td class="num">${escapeHtml(f.value(def.unit, k.value))}</td>
  <td class="num ${cls(k.change.previous)}">${escapeHtml(changeText(f, id, k.change.previous))}</td>
  <td class="num ${cls(k.change.yearAgo)}">${escapeHtml(changeText(f, id, k.change.yearAgo))}</td>
</tr>`;
    })
    .join('\n');
  const flow = r.customerFlow;
  const leftOut = Object.entries(dq.leftOut)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason.replaceAll('_', ' ')} ${f.count(n)}`)
    .join(', ');

  const mjml = `<mjml>
  <mj-include path="head.mjml" />
  <mj-body width="600px" background-color="#f5f7fa">
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-size="20px" line-height="26px" font-weight="bold">${escapeHtml(r.report.name)} · ${escapeHtml(r.period.label)}</mj-text>
        <mj-text css-class="muted">${escapeHtml(periodRange(r))} (${escapeHtml(r.period.timeZone)}) · data through ${escapeHtml(dq.latestOrderedAt ?? 'n/a')}</mj-text>
        ${dq.fresh ? '' : `<mj-text css-class="bad" font-weight="bold">The data does not reach the end of the period: these numbers are incomplete.</mj-text>`}
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff">
      <mj-column>
        <mj-text font-weight="bold">Customers</mj-text>
        <mj-text>${f.count(flow.start)} at start − ${f.count(flow.lost)} lost + ${f.count(flow.new)} new + ${f.count(flow.reactivated)} reactivated = ${f.count(flow.end)} at end</mj-text>
        <mj-table>
          <tr class="muted"><th align="left">KPI</th><th class="num">${escapeHtml(r.period.label)}</th><th class="num">vs ${escapeHtml(r.comparisons.previous.label)}</th><th class="num">vs ${escapeHtml(r.comparisons.yearAgo.label)}</th></tr>
          ${rows}
        </mj-table>
      </mj-column>
    </mj-section>
    <mj-section>
      <mj-column>
        <mj-text css-class="muted" font-size="12px" line-height="16px">Rows read ${f.count(dq.rowsRead)}; left out ${f.count(dq.rowsLeftOut)}${leftOut ? ` (${escapeHtml(leftOut)})` : ''}. Latest order ${escapeHtml(dq.latestOrderedAt ?? 'n/a')}. ⚠ marks a change beyond 3 robust deviations of the 12-period trend. Run it yourself: <code>${escapeHtml(hint)}</code></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
  const { html } = await mjml2html(mjml, {
    validationLevel: 'strict',
    filePath: TEMPLATES_DIR,
    minify: false,
  });

  const pad = (s: string, n: number): string => s.padEnd(n);
  const text = [
    subject,
    `${periodRange(r)} (${r.period.timeZone}), data through ${dq.latestOrderedAt ?? 'n/a'}`,
    dq.fresh
      ? ''
      : 'WARNING: the data does not reach the end of the period; numbers are incomplete.',
    '',
    `Customers: ${f.count(flow.start)} at start - ${f.count(flow.lost)} lost + ${f.count(flow.new)} new + ${f.count(flow.reactivated)} reactivated = ${f.count(flow.end)} at end`,
    '',
    `${pad('KPI', 40)}${pad(r.period.label, 16)}${pad(`vs ${r.comparisons.previous.label}`, 18)}vs ${r.comparisons.yearAgo.label}`,
    ...ordered.map((id) => {
      const k = r.kpis[id];
      const def = kpiDefinition(id);
      return `${pad(def.name + (k.anomaly ? ' (!)' : ''), 40)}${pad(f.value(def.unit, k.value), 16)}${pad(changeText(f, id, k.change.previous), 18)}${changeText(f, id, k.change.yearAgo)}`;
    }),
    '',
    `Rows read ${f.count(dq.rowsRead)}; left out ${f.count(dq.rowsLeftOut)}${leftOut ? ` (${leftOut})` : ''}.`,
    `(!) marks a change beyond 3 robust deviations of the 12-period trend.`,
    `Run it yourself: ${hint}`,
  ]
    .filter((line, i, all) => !(line === '' && all[i - 1] === ''))
    .join('\n');
  return { subject, html, text: `${text}\n` };
}
