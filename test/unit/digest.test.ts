import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { toEml } from '../../functions/digest/eml.ts';
import { formatter } from '../../functions/digest/format.ts';
import { fill, LOCALES, messagesFor } from '../../functions/digest/messages.ts';
import { whatMoved } from '../../functions/digest/movers.ts';
import { renderDigest, renderFullReport, subjectOf } from '../../functions/digest/render.ts';
import type { KpiId } from '../../functions/kpis/definitions.ts';
import {
  reportedKpis,
  type KpiResult,
  type Report,
  type ReportPeriod,
} from '../../functions/report/report.ts';

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/report-2026-W47.json', import.meta.url), 'utf8'),
) as Report;

function inLocale(locale: string, currency: string, r: Report = fixture): Report {
  return { ...r, report: { ...r.report, locale, currency } };
}

/** A KPI result that moved from `previous` to `value`, with a 12-period trend. */
function moved(
  k: KpiResult,
  value: number,
  previous: number,
  earlier: number[],
  anomaly = false,
): KpiResult {
  const absolute = value - previous;
  const good = k.direction === 'neutral' ? 'neutral' : absolute > 0 === (k.direction === 'up');
  return {
    ...k,
    value,
    previous,
    trend: [...earlier, previous, value],
    anomaly,
    change: {
      ...k.change,
      previous: {
        absolute,
        relative: absolute / Math.abs(previous),
        verdict: good === 'neutral' ? 'neutral' : good ? 'good' : 'bad',
      },
    },
  };
}

/** The fixture with nothing moving at all: every value equals its references. */
function quiet(): Report {
  const kpis = Object.fromEntries(
    reportedKpis(fixture).map(({ id, k }) => {
      const flat = { absolute: 0, relative: 0, verdict: 'flat' as const };
      return [
        id,
        {
          ...k,
          previous: k.value,
          yearAgo: k.value,
          anomaly: false,
          change: { previous: flat, yearAgo: flat, trailing: flat },
        },
      ];
    }),
  ) as Record<KpiId, KpiResult>;
  return { ...fixture, kpis };
}

describe('what moved', () => {
  const en = messagesFor('en');
  const f = formatter('en', 'USD', en.m.units);

  test('names an unusual rise in churn first, with its place in the 12-week trend', () => {
    const r: Report = {
      ...quiet(),
      kpis: {
        ...quiet().kpis,
        churn_rate: {
          ...moved(
            fixture.kpis.churn_rate,
            0.041,
            0.032,
            [0.03, 0.031, 0.029, 0.03, 0.033, 0.032, 0.03, 0.031, 0.03, 0.029],
            true,
          ),
          anomalyRule: 'seasonal',
          expected: 0.03,
        },
        orders: moved(fixture.kpis.orders, 5500, 5000, [4800, 5600, 5100, 5000]),
      },
    };
    expect(whatMoved(r, f, en)).toEqual([
      'Unusual: Churn rate rose to 4.1% from 3.2%, the highest in 12 weeks; about 3.0% was usual for the season.',
      'Orders rose to 5,500 from 5,000.',
    ]);
    // Judged by the recent changes alone (no year of history), there is no seasonal figure.
    const recent = {
      ...r,
      kpis: {
        ...r.kpis,
        churn_rate: { ...r.kpis.churn_rate, anomalyRule: 'recent' as const, expected: null },
      },
    };
    expect(whatMoved(recent, f, en)[0]).toBe(
      'Unusual: Churn rate rose to 4.1% from 3.2%, the highest in 12 weeks.',
    );
  });

  test('a fall to the lowest of the trend, with what drove it; what that explains is not repeated', () => {
    const r: Report = {
      ...quiet(),
      kpis: {
        ...quiet().kpis,
        // Orders are neutral and moved more (20%) than revenue (10%): revenue comes first.
        orders: moved(fixture.kpis.orders, 6000, 5000, [6500, 5000, 5000, 5000]),
        revenue: moved(fixture.kpis.revenue, 90_000, 100_000, [95_000, 97_000, 99_000, 98_000]),
      },
    };
    // Why (issue 15, item 2): orders 5,000 → 6,000 from the same buyers is ln 1.2 = 0.18232
    // of the −0.10536 log-change (ln 0.9); × −$10,000 is +$17,304.54, and the order value
    // ($20 → $15) the rest. Orders, which that explains, are not said again.
    expect(whatMoved(r, f, en)).toEqual([
      'Revenue fell to $90,000.00 from $100,000.00, the lowest in 12 weeks. Why: smaller orders −$27,304.54, more orders per buyer +$17,304.54 (together −$10,000.00).',
      'Customer retention rate held at 97.2% (97.2% in Week 46, 2026).',
    ]);
  });

  test('a quiet week still says two things: what held', () => {
    expect(whatMoved(quiet(), f, en)).toEqual([
      'Customer retention rate held at 97.2% (97.2% in Week 46, 2026).',
      'Revenue held at $325,988.22 ($325,988.22 in Week 46, 2026).',
    ]);
  });

  test('says two to four sentences for the sample week, in both locales (golden)', async () => {
    for (const locale of LOCALES) {
      const msg = messagesFor(locale);
      const lines = whatMoved(fixture, formatter(locale, 'USD', msg.m.units), msg);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.length).toBeLessThanOrEqual(4);
      await expect(`${lines.join('\n')}\n`).toMatchFileSnapshot(`../golden/moved.${locale}.txt`);
    }
  });
});

describe('the digest', () => {
  test('subject: report name, period and the move that matters most; retention in a quiet week', () => {
    const en = messagesFor('en');
    const f = formatter('en', 'USD', en.m.units);
    // Revenue rose 25 % while retention moved 0.1 pt (issue 15, item 3).
    expect(subjectOf(fixture, f, en)).toBe(
      'Weekly KPIs · Week 47, 2026 — Revenue $325,988.22 (▲25.4%)',
    );
    const stale = { ...fixture, dataQuality: { ...fixture.dataQuality, fresh: false } };
    expect(subjectOf(stale, f, en)).toBe(
      '[STALE DATA] Weekly KPIs · Week 47, 2026 — Revenue $325,988.22 (▲25.4%)',
    );
    expect(subjectOf(quiet(), f, en)).toBe(
      'Weekly KPIs · Week 47, 2026 — retention 97.2% (unchanged)',
    );
  });

  test.each([
    ['en', 'USD'],
    ['ru', 'RUB'],
  ])(
    '%s: strict MJML, under 90 KB with every KPI, nothing to load, golden text',
    async (locale, currency) => {
      const d = await renderDigest(inLocale(locale, currency));
      expect(Buffer.byteLength(d.html)).toBeLessThan(90 * 1024);
      // No SVG, no data: or remote images, no web fonts, no script; every image has alt text.
      expect(d.html).not.toMatch(/<svg|<script|@import|<link|url\(|\b(src|href)="(?!#)/i);
      for (const img of d.html.match(/<img\b[^>]*>/gi) ?? []) expect(img).toMatch(/\balt="/);
      // Every KPI is in the table, and its glossary entry is anchored.
      for (const { id } of reportedKpis(fixture)) {
        expect(d.html).toContain(`href="#g-${id}"`);
        expect(d.html).toContain(`id="g-${id}"`);
      }
      expect(d.html).toContain(`lang="${locale}"`);
      expect(d.attachments).toEqual([]);
      await expect(d.text).toMatchFileSnapshot(`../golden/digest.${locale}.txt`);
    },
  );

  test.each([
    ['en', 'Cohorts: share still buying', 'Customer segments (RFM', 'customers are at risk'],
    ['ru', 'Когорты: доля покупающих', 'Сегменты клиентов (RFM', 'В зоне риска'],
  ])(
    '%s: the cohort table, the segments and the at-risk callout, never the list',
    async (locale, cohorts, segments, atRisk) => {
      const link = 'https://example.com/at-risk.csv?X-Amz-Expires=604800';
      const d = await renderDigest(inLocale(locale, 'USD'), {
        atRiskLink: link,
        atRiskLinkExpires: new Date('2026-11-23T10:29:00Z'),
      });
      // The text part writes its section titles in capitals.
      for (const part of [d.html.toLowerCase(), d.text.toLowerCase()]) {
        expect(part).toContain(cohorts.toLowerCase());
        expect(part).toContain(segments.toLowerCase());
        expect(part).toContain(atRisk.toLowerCase());
      }
      expect(d.html).toContain(`href="${link}"`);
      // The link's true lifetime, in the report's zone (London: UTC in November).
      expect(d.html).toMatch(
        locale === 'en' ? /valid until [^<]*10:29/ : /действует до [^<]*10:29/,
      );
      // 12 cohorts, each with its months up to the end: 12 + 11 + … + 1 coloured cells.
      expect(d.html.match(/bgcolor="#[0-9a-f]{6}"[^>]*>\d+\*?</g)?.length).toBe(78);
      // The sample's customer ids look like C0047330: none may appear in the email.
      expect(d.html).not.toMatch(/C\d{7}/);
      expect(d.text).not.toMatch(/C\d{7}/);
      expect(Buffer.byteLength(d.html)).toBeLessThan(90 * 1024);
    },
  );

  test.each([
    [
      'en',
      'Nov 2026',
      "* Nov 2026 is not over: 22 of 30 days (through Nov 22, 2026). Its cohort and each row's last cell count only those days.",
    ],
    [
      'ru',
      'нояб. 2026 г.',
      '* Месяц нояб. 2026 г. не завершён: 22 из 30 дн. (по 22 нояб. 2026 г.). Его когорта и последняя ячейка каждой строки учитывают только эти дни.',
    ],
  ])(
    '%s: the month the period ends inside is marked * in the cohort grid, with a footnote',
    async (locale, month, footnote) => {
      const r = inLocale(locale, 'USD');
      for (const d of [await renderDigest(r), { html: await renderFullReport(r), text: '' }]) {
        // The newest cohort (customers so far) and each row's last cell (orders so far).
        expect(d.html).toContain(`<tr><td>${month}*<br>`);
        expect(d.html.match(/bgcolor="#[0-9a-f]{6}"[^>]*>\d+\*</g)).toHaveLength(12);
        expect(d.html).toContain(footnote);
      }
      const text = (await renderDigest(r)).text;
      expect(text).toContain(`\n${month}*`);
      expect(text).toContain(footnote);
      // A report ending on a month's start (a monthly one) has no month to mark.
      const beyond = r.beyond;
      if (!beyond) throw new Error('the fixture has a beyond section');
      const whole = { ...r, beyond: { ...beyond, cohorts: { ...beyond.cohorts, partial: null } } };
      for (const d of [
        await renderDigest(whole),
        { html: await renderFullReport(whole), text: '' },
      ]) {
        expect(d.html).not.toMatch(/bgcolor="#[0-9a-f]{6}"[^>]*>\d+\*</);
        expect(d.html).not.toContain(`${month}*`);
        expect(d.html).not.toContain(footnote.slice(0, 12));
      }
      expect((await renderDigest(whole)).text).not.toContain('*');
    },
  );

  test.each([
    [
      'en',
      'Target ≥ 85.0%, watch from 83.0%',
      'Target ≤ 15.0%, watch up to 17.0%',
      '✓ median across industries 20.0%',
    ],
    [
      'ru',
      'Цель ≥ 85,0 %, внимание от 83,0 %',
      'Цель ≤ 15,0 %, внимание до 17,0 %',
      '✓ медиана по отраслям 20,0 %',
    ],
  ])('%s: each target band and the benchmarks, in both parts', async (locale, up, down, median) => {
    const d = await renderDigest(inLocale(locale, 'USD'));
    const text = d.text.replace(/\u00a0|\u202f/g, ' ');
    const html = d.html.replace(/\u00a0|\u202f/g, ' ');
    for (const part of [text, html]) {
      expect(part).toContain(up);
      expect(part).toContain(down);
      expect(part).toContain(median);
    }
    // 32.2 % is below the small- and large-business marks: no tick on them.
    expect(text).not.toMatch(/✓ (good for a|хорошо для)/);
  });

  test('an optional KPI without its source is not in the email at all', async () => {
    const { nps, csat, cac, ltv_to_cac, ...kpis } = fixture.kpis;
    expect([nps, csat, cac, ltv_to_cac].every((k) => k !== undefined)).toBe(true);
    const d = await renderDigest({ ...fixture, kpis }, { headline: ['crr', 'nps'] });
    for (const part of [d.html, d.text]) {
      expect(part).not.toMatch(/Net promoter|Customer satisfaction|acquisition cost|LTV : CAC/);
    }
    expect(d.html).not.toContain('g-nps');
    // With them, they are there.
    const full = await renderDigest(fixture);
    expect(full.text).toMatch(/Net promoter score \(NPS\)\s+20\.3 /);
    expect(full.html).toContain('href="#g-ltv_to_cac"');
  });

  test('the text part carries every KPI value shown in the email', async () => {
    const d = await renderDigest(fixture);
    const f = formatter('en', 'USD', messagesFor('en').m.units);
    for (const { k } of reportedKpis(fixture)) {
      expect(d.text).toContain(f.value(k.unit, k.value));
    }
  });

  test('a stale report says so at the top of both parts', async () => {
    const stale = { ...fixture, dataQuality: { ...fixture.dataQuality, fresh: false } };
    const d = await renderDigest(stale);
    expect(d.text.split('\n')[2]).toMatch(/^!! The data does not reach the end of the period/);
    expect(d.html).toContain('these numbers are incomplete');
  });

  test('the .eml is multipart/alternative, with inline images related to the HTML', async () => {
    const d = await renderDigest(fixture);
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    const eml = (
      await toEml(
        {
          ...d,
          attachments: [
            { filename: 'trend.png', contentType: 'image/png', content: png, cid: 'trend@kpi' },
          ],
        },
        {
          from: 'kpi@example.com',
          to: ['ceo@example.com'],
          date: new Date('2026-11-23T07:00:00Z'),
        },
      )
    ).toString('utf8');
    expect(eml).toMatch(/Content-Type: multipart\/alternative/);
    expect(eml).toMatch(/Content-Type: multipart\/related/);
    expect(eml).toMatch(/Content-Type: text\/plain/);
    expect(eml).toMatch(/Content-ID: <trend@kpi>/);
    expect(eml).toMatch(/Subject: =\?UTF-8\?/);
  });
});

describe('what the lifetime model cannot say (issue 16, item 4)', () => {
  test('with the NBD (no dropout), the at-risk sentence says the chance of being active is not estimated', async () => {
    const beyond = fixture.beyond;
    if (!beyond?.clv.model) throw new Error('the fixture has a lifetime model');
    const nbd: Report = {
      ...fixture,
      beyond: {
        ...beyond,
        clv: { ...beyond.clv, model: { ...beyond.clv.model, purchases: 'nbd' } },
      },
    };
    for (const [locale, words] of [
      ['en', 'not estimated: the history shows no customer leaving'],
      ['ru', 'не оценивается: в истории никто не уходил'],
    ] as const) {
      const d = await renderDigest(inLocale(locale, 'USD', nbd));
      expect(d.text).toContain(words);
      expect(d.html).toContain(words);
    }
    // With BG/NBD, nothing of the kind.
    expect((await renderDigest(fixture)).text).not.toContain('not estimated');
  });
});

describe('a lifetime value the report could not give', () => {
  test.each([
    ['fewCustomers', 'too little history for the model'],
    ['boundary', 'the history does not fit the model'],
    ['timeLimit', 'the model did not finish in time'],
  ] as const)(
    '%s: n/a with its own reason, in the cards or table and the text',
    async (why, says) => {
      const clv = fixture.kpis.clv_12m;
      const beyond = fixture.beyond;
      if (!clv || !beyond) throw new Error('the fixture has clv_12m and beyond');
      const r: Report = {
        ...inLocale('en', 'USD'),
        kpis: { ...fixture.kpis, clv_12m: { ...clv, value: null } },
        beyond: { ...beyond, clv: { ...beyond.clv, clv12m: null, model: null, unavailable: why } },
      };
      const d = await renderDigest(r);
      expect(d.text).toContain(`n/a (${says})`);
      expect(d.html).toContain(`n/a (${says})`);
    },
  );
});

describe('plain words (issue 15, item 6)', () => {
  test('a change that rounds to nothing is "unchanged", never "+0.0 pt" or "−0"', () => {
    for (const locale of LOCALES) {
      const msg = messagesFor(locale);
      const f = formatter(locale, 'USD', msg.m.units);
      expect(f.change('ratio', -0.00004)).toBe(msg.m.units.unchanged);
      expect(f.change('ratio', 0)).toBe(msg.m.units.unchanged);
      expect(f.change('count', 0)).toBe(msg.m.units.unchanged);
      expect(f.change('money', -0.004)).toBe(msg.m.units.unchanged);
      expect(f.relative(-0.00001)).toBe(msg.m.units.unchanged);
      // A real move keeps its sign.
      expect(f.change('ratio', -0.012)).toMatch(/^−1[.,]2/);
    }
  });

  test('the glossary states the report’s own windows, never a configuration key', async () => {
    for (const locale of LOCALES) {
      const digest = await renderDigest({
        ...fixture,
        report: { ...fixture.report, locale },
        settings: { ...fixture.settings, activeWindowDays: 120, atRiskDays: 200 },
      });
      expect(digest.html).not.toMatch(/activeWindowDays|atRiskDays|\{window\}|\{atRisk\}/);
      expect(digest.html).toMatch(/ 120 /);
      expect(digest.html).toMatch(/ 200 /);
    }
  });

  test('in the cards, table and text, a move that rounds to nothing is "unchanged", with no arrow', async () => {
    const crr = fixture.kpis.crr;
    const still: Report = {
      ...fixture,
      kpis: {
        ...fixture.kpis,
        crr: {
          ...crr,
          change: {
            ...crr.change,
            previous: { absolute: 0.00004, relative: 0.00005, verdict: 'good' },
          },
        },
      },
    };
    const digest = await renderDigest(still);
    expect(digest.html).toMatch(/<span class="muted"[^>]*>unchanged<\/span>/);
    // The subject names the week's biggest move (revenue); a quiet week's is tested above.
    expect(digest.subject).not.toMatch(/0\.0 pt/);
    expect(digest.html).not.toMatch(/▲(&nbsp;| )0\.0 pt/);
    expect(digest.text).not.toMatch(/▲ 0\.0 pt/);
    expect(digest.text).toMatch(/unchanged/);
  });

  test('customers without a segment a year ago are said so, in both locales', async () => {
    const beyond = fixture.beyond;
    if (!beyond) throw new Error('the fixture has no beyond section');
    const withNew: Report = {
      ...fixture,
      beyond: {
        ...beyond,
        rfm: { ...beyond.rfm, moves: [{ from: 'none', to: 'Lost', customers: 3 }] },
      },
    };
    expect((await renderDigest(withNew)).html).toContain('no order in the year before → Lost 3');
    const ru = await renderDigest({ ...withNew, report: { ...withNew.report, locale: 'ru' } });
    expect(ru.html).toContain('без заказов годом ранее →');
  });

  test('periods, dates and cohort months in the reader’s locale, never a machine label', () => {
    const en = formatter('en', 'USD', messagesFor('en').m.units);
    const ru = formatter('ru', 'RUB', messagesFor('ru').m.units);
    const p = (kind: ReportPeriod['kind'], label: string, firstDay = '', lastDay = '') => ({
      kind,
      label,
      firstDay,
      lastDay,
    });
    const cases = [
      [p('week', '2026-W07'), 'Week 7, 2026', 'нед. 7, 2026'],
      [p('month', '2026-11'), 'November 2026', 'нояб. 2026 г.'],
      [p('quarter', '2026-Q4'), 'Q4 2026', '4 кв. 2026'],
      [p('year', '2026'), '2026', '2026'],
      [
        p('custom', '2026-03-01..2026-03-14', '2026-03-01', '2026-03-14'),
        'Mar 1 – 14, 2026',
        '1–14 мар. 2026 г.',
      ],
    ] as const;
    // Intl puts thin and no-break spaces around a range's dash: compared as plain spaces.
    const plain = (s: string): string => s.replace(/\s/gu, ' ');
    for (const [period, inEn, inRu] of cases) {
      expect(plain(en.period(period))).toBe(inEn);
      expect(plain(ru.period(period))).toBe(inRu);
    }
    expect(en.month('2025-12')).toBe('Dec 2025');
    expect(ru.month('2025-12')).toBe('дек. 2025 г.');
  });

  test('no customers lost is "0", not "−0"', async () => {
    const digest = await renderDigest({
      ...fixture,
      customerFlow: { ...fixture.customerFlow, lost: 0 },
    });
    expect(digest.text).not.toMatch(/−0\b/);
    expect(digest.html).not.toMatch(/−0</);
  });
});

describe('layout in templates/ (issue 15, item 7)', () => {
  const hostile = `<script>alert("x")</script> & 'co' a=b`;
  const escaped = `&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'co' a=b`;

  test('report data is escaped by the templates: a name or label with <script>&" is text', async () => {
    const crr = fixture.kpis.crr;
    const beyond = fixture.beyond;
    if (!beyond) throw new Error('the fixture has no beyond section');
    const r: Report = {
      ...fixture,
      report: { ...fixture.report, name: hostile },
      kpis: { ...fixture.kpis, crr: { ...crr, benchmarks: [{ label: hostile, value: 0.5 }] } },
      beyond: {
        ...beyond,
        cohorts: {
          ...beyond.cohorts,
          cohorts: beyond.cohorts.cohorts.map((c, i) => (i === 0 ? { ...c, cohort: hostile } : c)),
        },
      },
    };
    const d = await renderDigest(r, { atRiskLink: `https://example.com/a.csv?x="><script>&y=1` });
    expect(d.html).not.toMatch(/<script/i);
    // The header, the footer, the title, a card's benchmarks, a cohort: each as text.
    expect(d.html).toContain(`${escaped} · Week 47, 2026</div>`);
    expect(d.html).toContain(`for the report “${escaped}”.`);
    expect(d.html).toContain(`<title>${escaped} · Week 47, 2026 — Revenue`);
    expect(d.html).toContain(`Benchmarks: ✓ ${escaped} 50.0%`);
    expect(d.html).toContain(`<td>${escaped}<br>`);
    // Inside an attribute too; ' and = stay plain (every attribute is double-quoted).
    expect(d.html).toContain('href="https://example.com/a.csv?x=&quot;&gt;&lt;script&gt;&amp;y=1"');
    // The text part is not HTML: it says the name as it is.
    expect(d.text).toContain(hostile);
  });
});

describe('one phone screen to the point, the rest in the full report (issue 15, item 4)', () => {
  const links = {
    atRiskLink: 'at-risk.csv',
    reportLink: 'https://example.com/report.html?X-Amz-Expires=21540&X-Amz-Signature=abc',
    reportLinkExpires: new Date('2026-11-23T10:29:00Z'),
  };

  test.each([
    ['en', 'USD', 'Full report (all KPIs, cohorts, segments, definitions)', 'valid until'],
    ['ru', 'RUB', 'Полный отчёт (все показатели, когорты, сегменты, определения)', 'действует до'],
  ])(
    '%s: with the full report to link, the digest carries the headline KPIs, the flow and the at-risk sentence, and links the rest',
    async (locale, currency, words, valid) => {
      const r = inLocale(locale, currency);
      const d = await renderDigest(r, links);
      // 45 KB before issue 16; the breakdown by channel adds about 3 KB (far below the
      // 102 KB at which Gmail clips a message).
      expect(Buffer.byteLength(d.html)).toBeLessThan(48 * 1024);
      expect(d.html).toContain(
        fill(messagesFor(locale).m.breakdown.title, { dimension: 'channel' }),
      );
      expect(d.html).toContain(
        `<a href="${links.reportLink.replaceAll('&', '&amp;')}">${words}</a> (${valid} `,
      );
      expect(d.html).toContain('<a href="at-risk.csv">at-risk.csv</a>');
      // The only links: the list and the full report; nothing else to load or follow.
      expect(d.html.match(/\bhref="[^"]*"/g)).toHaveLength(2);
      expect(d.html).not.toMatch(/\bsrc="/);
      // Every headline tile, none of the details.
      expect(d.html.match(/class="card tile"/g)).toHaveLength(8);
      expect(d.html).not.toMatch(/id="g-|bgcolor="#[0-9a-f]{6}"[^>]*>\d+\*?</);
      const msg = messagesFor(locale);
      for (const title of [msg.m.table.glossary, msg.m.beyond.cohortsTitle, msg.m.more.allKpis]) {
        expect(d.html).not.toContain(title);
      }
      expect(d.html).toMatch(locale === 'en' ? /customers are at risk/ : /В зоне риска/);
      // The text part stays complete, whatever the HTML links.
      expect(d.text).toBe((await renderDigest(r)).text);
    },
  );

  test('without the full report, the digest carries every KPI, the cohorts, the segments and the glossary', async () => {
    const d = await renderDigest(fixture, { atRiskLink: 'at-risk.csv' });
    expect(d.html).toContain('All KPIs');
    expect(d.html).not.toContain('Full report');
    for (const { id } of reportedKpis(fixture)) expect(d.html).toContain(`id="g-${id}"`);
    expect(d.html.match(/bgcolor="#[0-9a-f]{6}"[^>]*>\d+\*?</g)).toHaveLength(78);
    // The at-risk sentence and its link once, in "More", not again under the segments.
    expect(d.html.match(/customers are at risk/g)).toHaveLength(1);
    expect(d.html.match(/href="at-risk.csv"/g)).toHaveLength(1);
  });

  test.each([
    ['en', 'USD'],
    ['ru', 'RUB'],
  ])(
    '%s: the full report is strict MJML with every KPI, its definition, the cohort grid, the segment table and the at-risk link',
    async (locale, currency) => {
      const r = inLocale(locale, currency);
      const html = await renderFullReport(r, { atRiskLink: 'at-risk.csv' });
      const msg = messagesFor(locale);
      const f = formatter(locale, currency, msg.m.units);
      for (const { id, k } of reportedKpis(r)) {
        expect(html).toContain(`href="#g-${id}"`);
        expect(html).toContain(`id="g-${id}"`);
        expect(html).toContain(f.value(k.unit, k.value));
      }
      expect(html.match(/bgcolor="#[0-9a-f]{6}"[^>]*>\d+\*?</g)).toHaveLength(78);
      for (const s of r.beyond?.rfm.segments.filter((x) => x.customers > 0) ?? []) {
        expect(html).toContain(`<td class="num" align="right">${f.count(s.customers)}</td>`);
      }
      expect(html).toContain(msg.m.beyond.segmentsTitle);
      expect(html).toContain('<a href="at-risk.csv">at-risk.csv</a>');
      expect(html).not.toContain(msg.m.more.report);
      expect(html).toContain(`lang="${locale}"`);
      expect(html).not.toMatch(/<svg|<script|@import|<link|url\(|\bsrc="/i);
    },
  );

  test('the header states the verdict on the targets: how many are met, which are off or near', async () => {
    const plain = (html: string) =>
      /class="verdict"[\s\S]*?<div[^>]*>([\s\S]*?)<\/div>/
        .exec(html)?.[1]
        ?.replace(/<[^>]+>/g, '')
        .trim();
    expect(plain((await renderDigest(fixture)).html)).toBe(
      'Targets: 2 of 3 met · off target: Repeat purchase rate',
    );
    const watch: Report = {
      ...fixture,
      kpis: { ...fixture.kpis, crr: { ...fixture.kpis.crr, status: 'watch' } },
    };
    expect(plain((await renderDigest(watch)).html)).toBe(
      'Targets: 1 of 3 met · off target: Repeat purchase rate · near target: Customer retention rate',
    );
    expect(plain(await renderFullReport(inLocale('ru', 'RUB')))).toBe(
      'Цели: выполнено 2 из 3 · вне цели: Доля повторных покупок',
    );
    const none: Report = {
      ...fixture,
      kpis: Object.fromEntries(
        Object.entries(fixture.kpis).map(([id, k]) => [id, { ...k, status: null }]),
      ) as Report['kpis'],
    };
    expect((await renderDigest(none)).html).not.toContain('class="verdict"');
  });
});
