import { z } from 'zod';
import { allowedDomains, type Config, type ReportConfig } from '../config/schema.ts';
import type { QueryEngine } from '../engines/query-engine.ts';
import type { Archive } from '../delivery/archive.ts';
import { OUTPUT_FORMATS, renderOutputs } from '../delivery/files.ts';
import type { Mailer } from '../delivery/ses.ts';
import { renderDigest } from '../digest/render.ts';
import { parsePeriod, PeriodError } from '../periods/period.ts';
import { resolvePeriod, runReport } from '../pipeline.ts';

/** The deployed function's name: `kpi invoke` calls it. */
export const REPORT_FUNCTION_NAME = 'kpi-digest-report';

/**
 * What a run is asked to do. A schedule sends `{ report, scheduled: true }`; an analyst
 * may send any period, to other recipients (within the report's allowed domains), or
 * only archive it (`dryRun`).
 */
export const runPayload = z
  .object({
    report: z.string().min(1),
    period: z.string().min(1).optional(),
    recipients: z
      .array(z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'expected an email address'))
      .min(1)
      .optional(),
    dryRun: z.boolean().default(false),
    format: z.enum(OUTPUT_FORMATS).default('all'),
    scheduled: z.boolean().default(false),
  })
  .strict();
export type RunPayload = z.input<typeof runPayload>;

/** The payload is wrong: nothing was queried. */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

export interface RunnerDeps {
  readonly config: Config;
  readonly engine: () => Promise<QueryEngine>;
  readonly mailer: Mailer;
  readonly archive?: Archive | undefined;
  readonly sender: string;
  readonly clock?: () => Date;
  /** How an analyst reruns this report, shown in the footer. */
  readonly adHocHint?: (report: ReportConfig, period: string) => string;
}

export interface RunResult {
  readonly report: string;
  readonly period: string;
  readonly fresh: boolean;
  /** Who the digest went to; empty for a dry run. */
  readonly sentTo: string[];
  readonly messageIds: string[];
  /** Where the report and digest were archived. */
  readonly archived: string[];
  /**
   * `leaders` (the report's recipients), `owners` (the data was stale), `requested` (an
   * ad-hoc run's recipients), or `none` (a dry run, or nobody to tell).
   */
  readonly audience: 'leaders' | 'owners' | 'requested' | 'none';
}

/** Checks a payload completely, before any query; every problem is named. */
export function validatePayload(
  input: unknown,
  config: Config,
  now: Date,
): { payload: z.output<typeof runPayload>; report: ReportConfig } {
  const parsed = runPayload.safeParse(input);
  if (!parsed.success) {
    throw new PayloadError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '),
    );
  }
  const payload = parsed.data;
  const report = config.reports.find((r) => r.id === payload.report);
  if (!report) {
    throw new PayloadError(
      `report: expected one of ${config.reports.map((r) => r.id).join(', ')}; received "${payload.report}"`,
    );
  }
  try {
    if (payload.period) parsePeriod(payload.period);
    resolvePeriod({ report, source: config.source, period: payload.period, now }, now);
  } catch (e) {
    if (e instanceof PeriodError) throw new PayloadError(`period: ${e.message}`);
    throw e;
  }
  if (payload.recipients) {
    const allowed = allowedDomains(report);
    const outside = payload.recipients.filter(
      (r) => !allowed.includes((r.split('@')[1] ?? '').toLowerCase()),
    );
    if (outside.length > 0) {
      throw new PayloadError(
        `recipients: ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} outside the allowed domains (${allowed.join(', ') || 'none configured'})`,
      );
    }
  }
  if (!payload.dryRun && !payload.recipients && report.recipients.length === 0) {
    throw new PayloadError(
      `recipients: report "${report.id}" has no recipients; give some or set dryRun`,
    );
  }
  return { payload, report };
}

/**
 * One run: validate, measure, render, archive, send. Stale data never reaches the
 * leadership list: a scheduled run then tells the report's owners instead.
 */
export async function runOnce(input: unknown, deps: RunnerDeps): Promise<RunResult> {
  const now = (deps.clock ?? (() => new Date()))();
  const { payload, report } = validatePayload(input, deps.config, now);
  const engine = await deps.engine();
  let result;
  try {
    result = await runReport(
      { report, source: deps.config.source, period: payload.period, now },
      { engine },
    );
  } finally {
    await engine.close();
  }
  const label = result.period.label;
  const hint = deps.adHocHint?.(report, label);
  const options = { headline: report.headline, ...(hint ? { adHocHint: hint } : {}) };
  const envelope = { from: deps.sender, to: report.recipients, date: now };
  const archived = deps.archive
    ? await deps.archive.put(
        `reports/${report.id}/${label}/${now.toISOString().replace(/[:.]/g, '-')}/`,
        await renderOutputs(result, payload.format, envelope, options),
      )
    : [];

  const fresh = result.dataQuality.fresh;
  const [audience, to]: [RunResult['audience'], readonly string[]] = payload.dryRun
    ? ['none', []]
    : payload.recipients
      ? ['requested', payload.recipients]
      : fresh
        ? ['leaders', report.recipients]
        : ['owners', report.owners];
  if (to.length === 0) {
    return {
      report: report.id,
      period: label,
      fresh,
      sentTo: [],
      messageIds: [],
      archived,
      audience: 'none',
    };
  }
  const digest = await renderDigest(result, options);
  const sent = await deps.mailer.send({ from: deps.sender, to, digest, date: now });
  return {
    report: report.id,
    period: label,
    fresh,
    sentTo: sent.recipients,
    messageIds: sent.messageIds,
    archived,
    audience,
  };
}
