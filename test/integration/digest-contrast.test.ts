/// <reference lib="dom" />
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { renderDigest, renderFullReport } from '../../functions/digest/render.ts';
import type { Report } from '../../functions/report/report.ts';
import { launchBrowser } from '../browser.ts';
import { contrastRatio, flatten, parseColor, requiredRatio, toHex } from '../contrast.ts';

const base = JSON.parse(
  readFileSync(new URL('../fixtures/report-2026-W47.json', import.meta.url), 'utf8'),
) as Report;

/**
 * The sample week, and the same week with the states it lacks, so their colours are read
 * too: stale data (the red header line), a KPI on watch, and one cohort whose cells run
 * over every share from 100% down to 0%.
 */
function variants(locale: string, currency: string): [string, Report, number][] {
  const report: Report = { ...base, report: { ...base.report, locale, currency } };
  const kpis = { ...report.kpis };
  kpis.crr = { ...kpis.crr, status: 'watch' };
  const b = report.beyond;
  if (!b) throw new Error('the fixture has no cohort table');
  const [first, ...rest] = b.cohorts.cohorts;
  if (!first) throw new Error('the fixture has no cohorts');
  const spread = { ...first, retention: Array.from({ length: 12 }, (_, k) => 1 - k / 11) };
  const states: Report = {
    ...report,
    kpis,
    dataQuality: { ...report.dataQuality, fresh: false },
    beyond: { ...b, cohorts: { ...b.cohorts, cohorts: [spread, ...rest] } },
  };
  // 12 cohorts, each with its months up to the end: 12 + 11 + … + 1 graded cells.
  return [
    ['the sample week', report, 78],
    ['stale, on watch, every share', states, 78],
  ];
}

/** With the at-risk link, so a link's own colour is checked too. */
const OPTIONS = {
  atRiskLink: 'https://example.com/at-risk.csv?X-Amz-Expires=604800',
  atRiskLinkExpires: new Date('2026-11-23T10:29:00Z'),
};
/** The digest as AWS sends it: it links the full report too. */
const SENT = {
  ...OPTIONS,
  reportLink: 'https://example.com/report.html?X-Amz-Expires=604800',
  reportLinkExpires: new Date('2026-11-23T10:29:00Z'),
};

/**
 * The pages read: the digest as sent (no cohorts in it), the digest without a full report
 * to link (it carries the details), and the full report; the least text nodes each has.
 */
const DOCUMENTS = [
  ['the digest', (r: Report) => renderDigest(r, SENT).then((d) => d.html), false, 60],
  [
    'the digest without a full report',
    (r: Report) => renderDigest(r, OPTIONS).then((d) => d.html),
    true,
    200,
  ],
  ['the full report', (r: Report) => renderFullReport(r, OPTIONS), true, 200],
] as const;

let browser: Browser | undefined;
function started(): Browser {
  if (!browser) throw new Error('the browser did not start');
  return browser;
}
beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
const checked: string[] = [];
afterAll(async () => {
  await browser?.close();
  if (checked.length > 0) console.info(`text nodes checked:\n${checked.join('\n')}`);
});

/** What the page reports about one visible text node: computed styles, no maths. */
interface TextSample {
  text: string;
  where: string;
  color: string;
  fontSize: string;
  fontWeight: string;
  /** The element and its ancestors, the root first. */
  layers: { background: string; opacity: string; image: string; tag: string }[];
  cohortCell: boolean;
}

/**
 * Every visible, non-blank text node of the page with the computed colour of its element
 * and the backgrounds and opacities of its ancestors. Runs in the page.
 */
function sampleTextNodes(): { canvas: string; samples: TextSample[] } {
  // The colour the browser paints under a page that paints nothing, for the used scheme.
  const probe = document.createElement('div');
  probe.style.backgroundColor = 'Canvas';
  document.documentElement.appendChild(probe);
  const canvas = getComputedStyle(probe).backgroundColor;
  probe.remove();

  const samples: TextSample[] = [];
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = (node.nodeValue ?? '').replace(/\s+/g, ' ').trim();
    const el = node.parentElement;
    if (text === '' || !el) continue;
    if (el.closest('head, style, title, script, noscript, template')) continue;
    // display:none anywhere up (the preview text), visibility:hidden, opacity 0.
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0 && r.height > 0);
    if (rects.length === 0) continue;
    const chain: Element[] = [];
    for (let e: Element | null = el; e; e = e.parentElement) chain.unshift(e);
    const style = getComputedStyle(el);
    const cls = (e: Element): string =>
      `${e.tagName.toLowerCase()}${Array.from(e.classList)
        .filter((c) => !c.startsWith('mj-'))
        .map((c) => `.${c}`)
        .join('')}`;
    // The nearest classes of the digest's own (mjml's layout classes say nothing).
    const own = (e: Element): boolean => Array.from(e.classList).some((c) => !c.startsWith('mj-'));
    const classed = chain.filter(own).slice(-2);
    samples.push({
      text,
      where: [...new Set([...classed.map(cls), cls(el)])].join(' › '),
      color: style.color,
      fontSize: style.fontSize,
      fontWeight: style.fontWeight,
      layers: chain.map((e) => {
        const s = getComputedStyle(e);
        return {
          background: s.backgroundColor,
          opacity: s.opacity,
          image: s.backgroundImage,
          tag: cls(e),
        };
      }),
      cohortCell: el.closest('.cohorts td[bgcolor]') !== null,
    });
  }
  return { canvas, samples };
}

/** A sample's colours as seen, the ratio and the ratio it needs; a reason when unreadable. */
function judge(canvasCss: string, s: TextSample) {
  const withImage = s.layers.find((l) => l.image !== 'none');
  if (withImage) {
    return { error: `background image on ${withImage.tag} (${withImage.image.slice(0, 60)})` };
  }
  const canvas = parseColor(canvasCss);
  if (canvas.a < 1) return { error: `canvas colour ${canvasCss} is not opaque` };
  const { foreground, background } = flatten(
    canvas,
    s.layers.map((l) => ({ background: parseColor(l.background), opacity: Number(l.opacity) })),
    parseColor(s.color),
  );
  const ratio = contrastRatio(foreground, background);
  const required = requiredRatio(parseFloat(s.fontSize), Number(s.fontWeight));
  return { foreground, background, ratio, required };
}

const PAGES = DOCUMENTS.flatMap(([doc]) =>
  (
    [
      ['the sample week', 375, 'light'],
      ['the sample week', 375, 'dark'],
      ['the sample week', 800, 'light'],
      ['the sample week', 800, 'dark'],
      ['stale, on watch, every share', 375, 'light'],
      ['stale, on watch, every share', 375, 'dark'],
    ] as const
  ).map(([name, width, scheme]) => [doc, name, width, scheme] as const),
);

describe.each([
  ['en', 'USD'],
  ['ru', 'RUB'],
])(
  'the %s digest and full report: every text meets WCAG AA contrast in Chromium',
  (locale, currency) => {
    const html = new Map<string, string>();
    const cells = new Map<string, number>();
    const least = new Map<string, number>();
    beforeAll(async () => {
      for (const [doc, render, cohorts, nodes] of DOCUMENTS) {
        least.set(doc, nodes);
        for (const [name, report, graded] of variants(locale, currency)) {
          html.set(`${doc}: ${name}`, await render(report));
          cells.set(`${doc}: ${name}`, cohorts ? graded : 0);
        }
      }
    });

    test.each(PAGES)(
      '%s, %s, at %i px in %s mode',
      async (doc, name, width, scheme) => {
        const key = `${doc}: ${name}`;
        const page = await started().newPage({ viewport: { width, height: 900 } });
        try {
          await page.emulateMedia({ colorScheme: scheme });
          // Nothing may load from the network: block every request the page would make.
          await page.route('**/*', (route) => route.abort());
          await page.setContent(html.get(key) ?? '', { waitUntil: 'load' });
          const dark = await page.evaluate(
            () => window.matchMedia('(prefers-color-scheme: dark)').matches,
          );
          expect(dark).toBe(scheme === 'dark');
          const { canvas, samples } = await page.evaluate(sampleTextNodes);

          const failures: string[] = [];
          let lowest = Infinity;
          for (const s of samples) {
            const j = judge(canvas, s);
            const head = `${scheme} ${width}px ${locale} "${s.text.slice(0, 40)}" (${s.where})`;
            if ('error' in j) failures.push(`${head}: ${j.error}`);
            else {
              lowest = Math.min(lowest, j.ratio / j.required);
              if (j.ratio < j.required) {
                failures.push(
                  `${head}: ${toHex(j.foreground)} on ${toHex(j.background)} ${j.ratio.toFixed(2)}:1, needs ${j.required}:1`,
                );
              }
            }
          }
          const graded = samples.filter((s) => s.cohortCell).length;
          checked.push(
            `${locale} ${key} ${width}px ${scheme}: ${samples.length} text nodes (${graded} in graded cohort cells), ${failures.length} failing, tightest at ${lowest.toFixed(2)}× the ratio it needs`,
          );
          expect(failures).toEqual([]);
          // Not vacuous: the whole page was read, the graded cells with it.
          expect(samples.length).toBeGreaterThan(least.get(doc) ?? Infinity);
          expect(graded).toBe(cells.get(key));
        } finally {
          await page.close();
        }
      },
      30_000,
    );
  },
);
