/**
 * The anomaly survey of issue 15: a weekly report for every week of the sample shop's last
 * year, counting the KPIs marked unusual (⚠) and the "Unusual" sentences of "What moved".
 * Paths in the configuration are relative to the repository (the demo's sample files).
 * Run alone with `npx tsx test/bench/anomalies.ts`; `npm run bench` prints it too.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_END, SAMPLE_EXTRAS, SAMPLE_PATH } from '../../functions/cli/main.ts';
import { generateSample, sampleIsCurrent } from '../../functions/sample/generate.ts';
import { loadConfig } from '../../functions/config/load.ts';
import { formatter } from '../../functions/digest/format.ts';
import { messagesFor } from '../../functions/digest/messages.ts';
import { whatMoved } from '../../functions/digest/movers.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { parsePeriod, periodsEndingWith, localMidnight } from '../../functions/periods/period.ts';
import { runReport } from '../../functions/pipeline.ts';
import { reportedKpis } from '../../functions/report/report.ts';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface WeekFlags {
  readonly week: string;
  readonly flagged: string[];
  readonly unusual: string[];
}

/** Every week of the year before the sample's last complete week, each judged as a report. */
export async function anomalySurvey(last = '2026-W47', weeks = 52): Promise<WeekFlags[]> {
  const config = await loadConfig(resolve(root, 'kpi.config.ts'));
  const report = config.reports[0];
  if (!report) throw new Error('no report');
  const source = {
    ...config.source,
    relation: { ...config.source.relation, path: resolve(root, SAMPLE_PATH) },
  } as typeof config.source;
  // The sample shop as `npm start` makes it.
  const extras = {
    feedback: resolve(root, SAMPLE_EXTRAS.feedback),
    marketingSpend: resolve(root, SAMPLE_EXTRAS.marketingSpend),
  };
  if (
    ![resolve(root, SAMPLE_PATH), extras.feedback, extras.marketingSpend].every(existsSync) ||
    !(await sampleIsCurrent(resolve(root, SAMPLE_PATH)))
  ) {
    await generateSample(resolve(root, SAMPLE_PATH), { end: SAMPLE_END, extras });
  }
  const engine = await DuckDbEngine.create();
  const out: WeekFlags[] = [];
  try {
    for (const p of periodsEndingWith(parsePeriod(last), weeks)) {
      const now = localMidnight(p.end, report.timeZone);
      const r = await runReport({ report, source, period: p.label, now }, { engine });
      const msg = messagesFor('en');
      const f = formatter(r.report.locale, r.report.currency, msg.m.units);
      out.push({
        week: p.label,
        flagged: reportedKpis(r)
          .filter(({ k }) => k.anomaly)
          .map(({ id }) => id),
        unusual: whatMoved(r, f, msg).filter((s) => s.startsWith(msg.m.moved.unusual)),
      });
    }
  } finally {
    await engine.close();
  }
  return out;
}

/** The survey as lines: one per week that flags anything, and the totals. */
export function surveyLines(rows: readonly WeekFlags[]): string[] {
  const flaggedWeeks = rows.filter((r) => r.flagged.length > 0);
  return [
    `weeks ${rows[0]?.week} … ${rows.at(-1)?.week}: ${flaggedWeeks.length} of ${rows.length} flag a KPI; ⚠ ${rows.reduce((a, r) => a + r.flagged.length, 0)} in all; "Unusual" sentences ${rows.reduce((a, r) => a + r.unusual.length, 0)}`,
    ...flaggedWeeks.map(
      (r) =>
        `  ${r.week}: ⚠ ${r.flagged.length} (${r.flagged.join(', ')})${r.unusual.map((s) => `\n      ${s}`).join('')}`,
    ),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const rows = await anomalySurvey(process.argv[2], Number(process.argv[3] ?? 52));
  console.log(surveyLines(rows).join('\n'));
}
