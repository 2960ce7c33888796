/// <reference lib="dom" />
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatter } from '../../functions/digest/format.ts';
import { messagesFor } from '../../functions/digest/messages.ts';
import { renderDigest, renderFullReport } from '../../functions/digest/render.ts';
import { DEFAULT_HEADLINE, kpiDefinition } from '../../functions/kpis/definitions.ts';
import { reportedKpis, type Report } from '../../functions/report/report.ts';
import { launchBrowser } from '../browser.ts';

const SCREENS = fileURLToPath(new URL('../../out/screens/', import.meta.url));
const base = JSON.parse(
  readFileSync(new URL('../fixtures/report-2026-W47.json', import.meta.url), 'utf8'),
) as Report;

function inLocale(locale: string, currency: string): Report {
  return { ...base, report: { ...base.report, locale, currency } };
}

let browser: Browser | undefined;
function started(): Browser {
  if (!browser) throw new Error('the browser did not start');
  return browser;
}
beforeAll(async () => {
  mkdirSync(SCREENS, { recursive: true });
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/**
 * The digest as AWS sends it: both links presigned, each with the expiry it states; and
 * without a full report to link (no archive), when it carries the details itself.
 */
const SENT = {
  atRiskLink: 'https://archive.example.com/at-risk.csv?X-Amz-Expires=21540&X-Amz-Signature=1',
  atRiskLinkExpires: new Date('2026-11-23T10:29:00Z'),
  reportLink: 'https://archive.example.com/report.html?X-Amz-Expires=21540&X-Amz-Signature=2',
  reportLinkExpires: new Date('2026-11-23T10:29:00Z'),
};
const NO_FULL_REPORT = { atRiskLink: SENT.atRiskLink, atRiskLinkExpires: SENT.atRiskLinkExpires };

/** At 375 px: the first screen, and the whole email (about four phone screens). */
const FIRST_SCREEN_PX = 900;
const WHOLE_EMAIL_PX = 3600;

/** What each page measured, printed at the end: the first screen's content and the total. */
const measured: string[] = [];
afterAll(() => {
  if (measured.length > 0) console.info(`heights in Chromium:\n${measured.sort().join('\n')}`);
});

describe.each([
  ['en', 'USD'],
  ['ru', 'RUB'],
])('the %s digest in Chromium', (locale, currency) => {
  const report = inLocale(locale, currency);

  test.each([
    ['as sent', 375, 'light'],
    ['as sent', 375, 'dark'],
    ['as sent', 800, 'light'],
    ['as sent', 800, 'dark'],
    ['without a full report', 375, 'light'],
    ['without a full report', 375, 'dark'],
    ['without a full report', 800, 'light'],
    ['without a full report', 800, 'dark'],
  ] as const)(
    '%s, at %i px in %s mode: nothing overflows, every headline number shows, the header, what moved and the headline KPIs on the first screen',
    async (kind, width, scheme) => {
      const sent = kind === 'as sent';
      const digest = await renderDigest(report, sent ? SENT : NO_FULL_REPORT);
      const page = await started().newPage({
        viewport: { width, height: 900 },
        colorScheme: scheme,
      });
      try {
        // Nothing may load from the network: block every request the page would make.
        await page.route('**/*', (route) => route.abort());
        await page.setContent(digest.html, { waitUntil: 'load' });
        const layout = await page.evaluate(() => {
          const bottom = (selector: string): number[] =>
            Array.from(document.querySelectorAll(selector)).map(
              (e) => e.getBoundingClientRect().bottom + window.scrollY,
            );
          return {
            scrollWidth: document.documentElement.scrollWidth,
            innerWidth: window.innerWidth,
            text: document.body.innerText,
            dark: window.matchMedia('(prefers-color-scheme: dark)').matches,
            background: getComputedStyle(document.body).backgroundColor,
            moved: bottom('.moved'),
            tiles: bottom('.tile'),
            height: document.documentElement.scrollHeight,
          };
        });
        expect(layout.dark).toBe(scheme === 'dark');
        expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
        // Dark mode really changes the page, not only the media query.
        expect(layout.background === 'rgb(15, 20, 25)').toBe(scheme === 'dark');

        const f = formatter(locale, currency, messagesFor(locale).m.units);
        const text = layout.text.replace(/\s+/g, ' ');
        for (const id of DEFAULT_HEADLINE) {
          const value = f.value(kpiDefinition(id).unit, report.kpis[id]?.value ?? null);
          expect({ id, shown: text.includes(value.replace(/\s+/g, ' ')) }).toEqual({
            id,
            shown: true,
          });
        }
        // The header comes first; "What moved" and the last headline tile end within the
        // first screen, and the details the digest links are not in it.
        expect(layout.moved).toHaveLength(1);
        expect(layout.tiles).toHaveLength(DEFAULT_HEADLINE.length);
        const firstScreen = Math.round(Math.max(...layout.moved, ...layout.tiles));
        measured.push(
          `${locale} digest ${kind}, ${width} px ${scheme}: first screen ends at ${firstScreen} px (what moved ${Math.round(layout.moved[0] ?? 0)}, last headline KPI ${Math.round(Math.max(...layout.tiles))}), ${layout.height} px in all, ${(Buffer.byteLength(digest.html) / 1024).toFixed(1)} KB of HTML`,
        );
        if (width === 375) {
          expect(firstScreen).toBeLessThanOrEqual(FIRST_SCREEN_PX);
          // The email as sent is about four phone screens; without a full report to link it
          // carries every detail below them, and is longer.
          if (sent) expect(layout.height).toBeLessThanOrEqual(WHOLE_EMAIL_PX);
        }
        const msg = messagesFor(locale).m;
        expect(text.includes(msg.table.glossary)).toBe(!sent);
        expect(text.includes(msg.more.report)).toBe(sent);
        await page.screenshot({
          path: `${SCREENS}digest-${sent ? '' : 'no-full-report-'}${locale}-${width}-${scheme}.png`,
          fullPage: true,
        });
      } finally {
        await page.close();
      }
    },
    30_000,
  );

  test.each([
    [375, 'light'],
    [375, 'dark'],
    [800, 'light'],
    [800, 'dark'],
  ] as const)(
    'the full report at %i px in %s mode: nothing overflows; every KPI, the cohort grid and the segment table',
    async (width, scheme) => {
      // Strict MJML: renderFullReport throws on a page MJML finds invalid.
      const html = await renderFullReport(report, NO_FULL_REPORT);
      const page = await started().newPage({
        viewport: { width, height: 900 },
        colorScheme: scheme,
      });
      try {
        await page.route('**/*', (route) => route.abort());
        await page.setContent(html, { waitUntil: 'load' });
        const seen = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          text: document.body.innerText.replace(/\s+/g, ' '),
          cohortCells: document.querySelectorAll('.cohorts td[bgcolor]').length,
          glossary: Array.from(document.querySelectorAll('[id^="g-"]')).map((e) => e.id),
          height: document.documentElement.scrollHeight,
        }));
        expect(seen.scrollWidth).toBeLessThanOrEqual(seen.innerWidth);
        const msg = messagesFor(locale);
        const f = formatter(locale, currency, msg.m.units);
        const kpis = reportedKpis(report);
        for (const { id, k } of kpis) {
          const value = f.value(kpiDefinition(id).unit, k.value).replace(/\s+/g, ' ');
          expect({
            id,
            name: seen.text.includes(msg.kpiName(id)),
            value: seen.text.includes(value),
          }).toEqual({
            id,
            name: true,
            value: true,
          });
        }
        expect(seen.glossary.sort()).toEqual(kpis.map(({ id }) => `g-${id}`).sort());
        // 12 cohorts, each with its months up to the end: 12 + 11 + … + 1 graded cells.
        expect(seen.cohortCells).toBe(78);
        for (const segment of report.beyond?.rfm.segments.filter((s) => s.customers > 0) ?? []) {
          expect(seen.text).toContain(
            `${(msg.m.beyond.segments as Record<string, string>)[segment.segment] ?? segment.segment} ${f.count(segment.customers)}`.replace(
              /\s+/g,
              ' ',
            ),
          );
        }
        measured.push(
          `${locale} full report, ${width} px ${scheme}: ${seen.height} px in all, ${(Buffer.byteLength(html) / 1024).toFixed(1)} KB of HTML`,
        );
        await page.screenshot({
          path: `${SCREENS}report-${locale}-${width}-${scheme}.png`,
          fullPage: true,
        });
      } finally {
        await page.close();
      }
    },
    30_000,
  );
});

test('report data shows as text in Chromium, never as markup', async () => {
  const name = `<script>document.title = 'run'</script><i>Weekly</i> & "KPIs"`;
  const digest = await renderDigest({ ...base, report: { ...base.report, name } });
  const page = await started().newPage();
  try {
    await page.route('**/*', (route) => route.abort());
    await page.setContent(digest.html, { waitUntil: 'load' });
    const seen = await page.evaluate(() => ({
      title: document.title,
      text: document.body.innerText,
      scripts: document.querySelectorAll('script').length,
      italics: document.querySelectorAll('i').length,
    }));
    expect(seen).toMatchObject({ title: digest.subject, scripts: 0, italics: 0 });
    expect(seen.text).toContain(`${name} · Week 47, 2026`);
  } finally {
    await page.close();
  }
}, 30_000);
