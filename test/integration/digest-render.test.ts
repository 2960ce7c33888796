/// <reference lib="dom" />
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatter } from '../../functions/digest/format.ts';
import { messagesFor } from '../../functions/digest/messages.ts';
import { renderDigest } from '../../functions/digest/render.ts';
import { DEFAULT_HEADLINE, kpiDefinition } from '../../functions/kpis/definitions.ts';
import type { Report } from '../../functions/report/report.ts';
import { findBrowser } from '../browser.ts';

/** A browser already on the machine (.ci/run installs Debian's chromium); never a download. */
const CHROMIUM = findBrowser();
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
  // One line that says what to do, and no second error from the clean-up.
  if (CHROMIUM instanceof Error) throw CHROMIUM;
  mkdirSync(SCREENS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe.each([
  ['en', 'USD'],
  ['ru', 'RUB'],
])('the %s digest in Chromium', (locale, currency) => {
  const report = inLocale(locale, currency);

  test.each([
    [375, 'light'],
    [375, 'dark'],
    [800, 'light'],
    [800, 'dark'],
  ] as const)(
    'at %i px in %s mode: nothing overflows and every headline number shows',
    async (width, scheme) => {
      const digest = await renderDigest(report);
      const page = await started().newPage({
        viewport: { width, height: 900 },
        colorScheme: scheme,
      });
      try {
        // Nothing may load from the network: block every request the page would make.
        await page.route('**/*', (route) => route.abort());
        await page.setContent(digest.html, { waitUntil: 'load' });
        const layout = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          text: document.body.innerText,
          dark: window.matchMedia('(prefers-color-scheme: dark)').matches,
          background: getComputedStyle(document.body).backgroundColor,
        }));
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
        await page.screenshot({
          path: `${SCREENS}digest-${locale}-${width}-${scheme}.png`,
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
    expect(seen.text).toContain(`${name} · 2026-W47`);
  } finally {
    await page.close();
  }
}, 30_000);
