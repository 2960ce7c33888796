import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { kpiDefinition, type KpiId } from '../kpis/definitions.ts';
import type { Change } from '../kpis/judge.ts';
import { reportedKpis, type KpiResult, type Report } from '../report/report.ts';
import { formatter, type Formatter } from './format.ts';
import { fill, messagesFor, type Messages } from './messages.ts';
import {
  arrow,
  beyondSentences,
  breakdownViews,
  cardNotes,
  digestFacts,
  digestView,
  monthsBetween,
  shownAsZero,
  valueText,
  type DigestFacts,
  type DigestView,
  type RenderOptions,
} from './view.ts';

export { subjectOf, type RenderOptions } from './view.ts';

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

/** Folder of the MJML templates and partials; the Lambda bundle sets KPI_TEMPLATES_DIR. */
export const TEMPLATES_DIR =
  process.env.KPI_TEMPLATES_DIR ?? fileURLToPath(new URL('../../templates/', import.meta.url));

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

/**
 * The digest's own Handlebars, so its partials meet no other template. Strict: a field the
 * view model lacks is an error, not a blank. `{{ }}` escapes; nothing is left unescaped.
 */
const hbs = Handlebars.create();
const COMPILE = { strict: true } as const;
/** A template file, without the line break that ends the file (partials are used inline). */
const readTemplate = (path: string): string => readFileSync(path, 'utf8').replace(/\n$/, '');
const PARTIALS = join(TEMPLATES_DIR, 'partials');
for (const file of readdirSync(PARTIALS).filter((name) => name.endsWith('.mjml'))) {
  hbs.registerPartial(
    basename(file, '.mjml'),
    hbs.compile(readTemplate(join(PARTIALS, file)), COMPILE),
  );
}
const DIGEST = hbs.compile<DigestView>(readTemplate(join(TEMPLATES_DIR, 'digest.mjml')), COMPILE);
const FULL_REPORT = hbs.compile<DigestView>(
  readTemplate(join(TEMPLATES_DIR, 'report.mjml')),
  COMPILE,
);

/**
 * Handlebars also escapes ' ` = (as &#x27; &#x60; &#x3D;), escapeHtml only & < > "; every
 * attribute in templates/ is double-quoted, where those three are plain characters, so they
 * are put back. A link's `?X-Amz-Expires=…` then reaches the href as it is (some mail tools
 * never decode entities there, handlebars.js#1175), and the email is byte for byte what
 * escapeHtml made. Handlebars 4 cannot be told its escape set (handlebars.js#1746).
 */
const NARROWED: Readonly<Record<string, string>> = { '&#x27;': "'", '&#x60;': '`', '&#x3D;': '=' };
function narrowEscapes(s: string): string {
  return s.replace(/&#x(?:27|60|3D);/g, (entity) => NARROWED[entity] ?? entity);
}

/** HTML text escaping for the digest and the owners' notice. */
export function escapeHtml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** A template filled from the view model, compiled by MJML (strict validation). */
async function toHtml(template: HandlebarsTemplateDelegate<DigestView>, view: DigestView) {
  const compiled = await mjml2html(narrowEscapes(template(view)), MJML_OPTIONS);
  // Indentation only: a line break stays, so the page renders the same, a fifth smaller
  // (Gmail clips messages over about 102 KB).
  return compiled.html.replace(/\n[ \t]+/g, '\n');
}

/**
 * Renders the JSON report as the leadership email (MJML, strict validation) and its text.
 * With `options.reportLink` the email is short and links the full report for the details;
 * without, it carries them itself.
 */
export async function renderDigest(r: Report, options: RenderOptions = {}): Promise<Digest> {
  const msg = messagesFor(r.report.locale);
  const f = formatter(r.report.locale, r.report.currency, msg.m.units);
  const facts = digestFacts(r, f, msg, options);
  const html = await toHtml(DIGEST, digestView(r, f, msg, options, facts));
  return { subject: facts.subject, html, text: textPart(r, f, msg, facts), attachments: [] };
}

/**
 * The full report, the HTML page the digest links (`report.html`): every KPI with its card
 * or table row, the customer flow, the cohorts, the segments and the at-risk callout (with
 * `options.atRiskLink`), the definitions. The same partials as the digest.
 */
export async function renderFullReport(r: Report, options: RenderOptions = {}): Promise<string> {
  const msg = messagesFor(r.report.locale);
  const f = formatter(r.report.locale, r.report.currency, msg.m.units);
  const facts = digestFacts(r, f, msg, options);
  return toHtml(FULL_REPORT, digestView(r, f, msg, options, facts));
}

function changeText(f: Formatter, id: KpiId, c: Change, unchanged: string): string {
  if (shownAsZero(f, id, c)) return unchanged;
  const a = arrow(c);
  return `${a ? `${a} ` : ''}${f.magnitude(kpiDefinition(id).unit, c.absolute, c.relative)}`;
}

/** The text of the sections beyond the headline KPIs: the same numbers as the HTML. */
function beyondText(r: Report, f: Formatter, msg: Messages): string[] {
  const b = r.beyond;
  if (!b) return [];
  const m = msg.m.beyond;
  const { seg, month1, partial, clv, moves, atRisk } = beyondSentences(r, b, f, msg);
  const p = b.cohorts.partial ?? null;
  return [
    '',
    m.cohortsTitle.toUpperCase(),
    ...b.cohorts.cohorts.map((c) => {
      // The month not over is marked `*`: the cohort's own, and its cell k months on (the last).
      const cut = p ? monthsBetween(c.cohort, p.month) : -1;
      const cells = c.retention.map(
        (v, k) => `${String(Math.round(v * 100)).padStart(4)}${k === cut ? '*' : ''}`,
      );
      // 14 wide: the longest month, `февр. 2026 г.`, and its mark.
      const label = `${f.month(c.cohort)}${cut === 0 ? '*' : ''}`.padEnd(14);
      return `${label}${String(c.size).padStart(7)}  ${cells.join('')}`;
    }),
    ...(partial === null ? [] : [partial]),
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
function textPart(r: Report, f: Formatter, msg: Messages, t: DigestFacts): string {
  const m = msg.m;
  const flow = r.customerFlow;
  const pad = (s: string, n: number): string => (s.length >= n ? `${s} ` : s.padEnd(n));
  const prev = fill(m.card.vsPrevious, { label: f.period(r.comparisons.previous) });
  const year = fill(m.card.vsYearAgo, { label: f.period(r.comparisons.yearAgo) });
  const row = (id: KpiId): string => {
    const k = r.kpis[id] as KpiResult;
    const name = `${msg.kpiName(id)}${k.anomaly ? ' ⚠' : ''}`;
    const line = `${pad(name, 40)}${pad(f.value(kpiDefinition(id).unit, k.value), 16)}${pad(changeText(f, id, k.change.previous, msg.m.units.unchanged), 18)}${changeText(f, id, k.change.yearAgo, msg.m.units.unchanged)}`;
    return k.value === null ? `${line}\n  ${valueText(f, msg, id, null, r)}` : line;
  };
  const header = `${pad(m.table.kpi, 40)}${pad(f.period(r.period), 16)}${pad(prev, 18)}${year}`;
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
    ...breakdownViews(r, f, msg).flatMap((b) => [
      '',
      b.title.toUpperCase(),
      `${pad(b.headers.value, 24)}${b.headers.kpis.map((h) => pad(h, 28)).join('')}`.trimEnd(),
      ...b.rows.map((row) =>
        `${pad(row.name, 24)}${row.cells
          .map((c) =>
            pad(`${c.value} ${c.change.up ? '▲ ' : c.change.down ? '▼ ' : ''}${c.change.text}`, 28),
          )
          .join('')}`.trimEnd(),
      ),
      b.note,
    ]),
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
