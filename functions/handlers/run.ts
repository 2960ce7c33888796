import { z } from 'zod';
import { formatIssues } from '../config/load.ts';
import { allowedDomains, type Config, type ReportConfig } from '../config/schema.ts';
import type { QueryEngine } from '../engines/query-engine.ts';
import type { Archive } from '../delivery/archive.ts';
import { AT_RISK_FILE, OUTPUT_FORMATS, REPORT_FILE, renderOutputs } from '../delivery/files.ts';
import type { Mailer } from '../delivery/ses.ts';
import { escapeHtml, renderDigest, renderFullReport, type Digest } from '../digest/render.ts';
import { formatter } from '../digest/format.ts';
import { fill, messagesFor } from '../digest/messages.ts';
import { Delivery, summarize, type Claim } from '../delivery/deliver.ts';
import {
  MESSAGE_FILE,
  messageFile,
  readMessageFile,
  sha256,
  swapLink,
  type RecordedLink,
  type RecordedMessage,
} from '../delivery/message.ts';
import type { DeliveryRecord, LedgerStore } from '../delivery/ledger.ts';
import type { Report } from '../report/report.ts';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { periodInstants, PeriodError, type Period } from '../periods/period.ts';
import { resolvePeriod, runFullReport } from '../pipeline.ts';
import { atRiskCsv, type AtRiskCustomer } from '../kpis/beyond.ts';
import { echo } from '../echo.ts';

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
    /** Operators only: send again even if this audience already has this period. Logged. */
    force: z.boolean().default(false),
    /**
     * The forced resend's own id (`kpi invoke --force` makes one): a retry of the same
     * event resumes that resend instead of mailing everyone again.
     */
    requestId: z
      .string()
      .regex(/^[A-Za-z0-9-]{8,64}$/, 'expected 8 to 64 letters, digits or dashes')
      .optional(),
  })
  .strict()
  .refine((p) => !p.force || p.requestId !== undefined, {
    message: 'force needs a requestId, so that a retried event does not resend again',
    path: ['requestId'],
  });
export type RunPayload = z.input<typeof runPayload>;

/** The payload is wrong: nothing was queried. */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

export interface RunnerDeps {
  readonly config: Config;
  /** The query engine of one run; `signal` fires when the run is abandoned. */
  readonly engine: (signal?: AbortSignal) => Promise<QueryEngine>;
  readonly mailer: Mailer;
  /** The delivery ledger that makes each send happen once. */
  readonly ledger: LedgerStore;
  readonly archive?: Archive | undefined;
  readonly sender: string;
  readonly clock?: () => Date;
  /** How long one run may hold a delivery before another may take it over. @default 15 min */
  readonly leaseMs?: number;
  /** How an analyst reruns this report, shown in the footer. */
  readonly adHocHint?: (report: ReportConfig, period: string) => string;
  /**
   * Fires when the run must give up (the function's deadline is near): queries are stopped,
   * no further batch starts, the lease is given back, and the run throws RunAbandoned.
   */
  readonly signal?: AbortSignal | undefined;
  /** Operational events, with counts only: never addresses or customer ids. */
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface RunResult {
  readonly report: string;
  readonly period: string;
  readonly fresh: boolean;
  /**
   * `leaders` (the report's recipients), `requested` (an ad-hoc run's recipients), `owners`
   * (a "data not ready" notice), or `none` (a dry run, or a run that sent nothing).
   */
  readonly audience: 'leaders' | 'owners' | 'requested' | 'none';
  /** Who has the digest from this run or an earlier attempt of it. */
  readonly sentTo: string[];
  readonly messageIds: string[];
  /** Addresses SES refused; the others still got theirs. */
  readonly failed: { recipient: string; error: string }[];
  /** A crashed attempt may or may not have reached these; they are not sent again. */
  readonly uncertain: string[];
  /** Where the report and digest were archived. */
  readonly archived: string[];
  /** Why nothing was sent by this invocation, when so. */
  readonly skipped?: 'already-sent' | 'in-progress' | 'empty-period';
}

/** The data does not reach the period end: the owners were told, the run fails to retry. */
export class StaleDataError extends Error {
  override name = 'StaleDataError';
}

/** Most addresses an ad-hoc run may name. */
export const MAX_ADHOC_RECIPIENTS = 50;
const DEFAULT_LEASE_MS = 15 * 60_000;

/** Checks a payload completely, before any query; every problem is named. */
export function validatePayload(
  input: unknown,
  config: Config,
  now: Date,
): { payload: z.output<typeof runPayload>; report: ReportConfig; period: Period } {
  const parsed = runPayload.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    throw new PayloadError(
      formatIssues(parsed.error)
        .map((line) => line.replace(/^\(root\)/, 'payload'))
        .join('; '),
    );
  }
  const payload = parsed.data;
  const report = config.reports.find((r) => r.id === payload.report);
  if (!report) {
    throw new PayloadError(
      `report: expected one of ${config.reports.map((r) => r.id).join(', ')}; received ${echo(payload.report)}`,
    );
  }
  let period: Period;
  try {
    period = resolvePeriod({ report, source: config.source, period: payload.period, now }, now);
  } catch (e) {
    if (e instanceof PeriodError) throw new PayloadError(`period: ${e.message}`);
    throw e;
  }
  if (periodInstants(period, report.timeZone).end.getTime() > now.getTime()) {
    throw new PayloadError(`period: ${period.label} has not ended yet in ${report.timeZone}`);
  }
  if (payload.recipients) {
    if (payload.recipients.length > MAX_ADHOC_RECIPIENTS) {
      throw new PayloadError(
        `recipients: at most ${MAX_ADHOC_RECIPIENTS} for an ad-hoc run; received ${payload.recipients.length}`,
      );
    }
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
  return { payload, report, period };
}

/** What an earlier attempt's ledger record says was delivered, in RunResult's terms. */
function delivered(
  record: DeliveryRecord,
): Pick<RunResult, 'sentTo' | 'messageIds' | 'failed' | 'uncertain'> {
  const { sent, messageIds, failed, uncertain } = summarize(record);
  return { sentTo: sent, messageIds, failed, uncertain };
}

/** The ledger key of one audience of one period of one report. */
export function deliveryKey(report: string, period: string, audience: string): string {
  return `${report}/${period}/${audience}`;
}

function audienceOf(recipients: readonly string[] | undefined): string {
  if (!recipients) return 'leaders';
  const sorted = [...new Set(recipients.map((r) => r.toLowerCase()))].sort().join(',');
  return `adhoc-${createHash('sha256').update(sorted).digest('hex').slice(0, 16)}`;
}

/** The short notice the owners get instead of a digest built on stale data. */
function staleNotice(result: Report): Digest {
  const msg = messagesFor(result.report.locale);
  const f = formatter(result.report.locale, result.report.currency, msg.m.units);
  const dq = result.dataQuality;
  const values = {
    name: result.report.name,
    label: result.period.label,
    latest: dq.latestValidOrderedAt
      ? f.instant(dq.latestValidOrderedAt, result.period.timeZone)
      : msg.m.notice.noData,
    required: f.instant(dq.requiredThrough, result.period.timeZone),
  };
  const body = fill(msg.m.notice.body, values);
  return {
    subject: fill(msg.m.notice.subject, values),
    text: `${body}\n`,
    html: `<!doctype html><html lang="${msg.locale}"><body><p>${escapeHtml(body)}</p></body></html>`,
    attachments: [],
  };
}

/**
 * One run: validate, claim the delivery, measure, gate on freshness, render, send each
 * batch once, archive. The leadership list never gets numbers built on stale data: the
 * owners get a notice once per period, and the run fails so that the scheduler retries.
 */
export async function runOnce(input: unknown, deps: RunnerDeps): Promise<RunResult> {
  const clock = deps.clock ?? (() => new Date());
  const now = clock();
  const log = deps.log ?? (() => undefined);
  const { payload, report, period } = validatePayload(input, deps.config, now);
  const label = period.label;
  const hint = deps.adHocHint?.(report, label);
  const options = { headline: report.headline, ...(hint ? { adHocHint: hint } : {}) };
  const envelope = { from: deps.sender, to: report.recipients, date: now };
  const archivePrefix = `reports/${report.id}/${label}/${now.toISOString().replace(/[:.]/g, '-')}/`;
  let atRiskList: AtRiskCustomer[] = [];
  const measure = async (): Promise<Report> => {
    const engine = await deps.engine(deps.signal);
    try {
      const full = await runFullReport(
        { report, source: deps.config.source, period: label, now },
        { engine },
      );
      atRiskList = full.atRiskList;
      return full.report;
    } finally {
      await engine.close();
    }
  };
  const archiveOf = async (result: Report): Promise<string[]> =>
    deps.archive
      ? deps.archive.put(
          archivePrefix,
          await renderOutputs(result, payload.format, envelope, options, atRiskList),
        )
      : [];
  /**
   * A file the email links goes to the archive before the send, and gets its link (presigned
   * in S3, with its true expiry). None when the put fails.
   */
  const archivedLink = async (
    archive: Archive,
    name: string,
    content: string,
    what: string,
  ): Promise<{ where: string; url: string; expiresAt?: Date } | undefined> => {
    try {
      const [where] = await archive.put(archivePrefix, new Map([[name, content]]));
      if (!where) return undefined;
      return { where, ...(archive.link ? await archive.link(where) : { url: where }) };
    } catch (e) {
      // The digest still goes out, without the link; the archive step after it will fail loudly.
      log(`${what} not archived before the send`, { error: (e as Error).message });
      return undefined;
    }
  };
  /** The at-risk list goes to the archive first; the email carries only its link. */
  const atRiskLink = async () =>
    deps.archive && atRiskList.length > 0
      ? archivedLink(deps.archive, AT_RISK_FILE, atRiskCsv(atRiskList), 'at-risk list')
      : undefined;
  /**
   * The full report (every KPI, the cohorts, the segments, the definitions) goes to the
   * archive too, and the digest links it instead of carrying the details. It states the
   * at-risk callout without the list's link: the digest carries that one, signed again for a
   * later batch when needed, which a page already archived could not be.
   */
  const fullReportLink = async (result: Report) => {
    if (!deps.archive) return undefined;
    const html = await renderFullReport(result, options);
    const link = await archivedLink(deps.archive, REPORT_FILE, html, 'full report');
    return link ? { ...link, html } : undefined;
  };
  const nothing = { sentTo: [], messageIds: [], failed: [], uncertain: [] };
  /** The words after a link that say when it stops working, as the digest has them. */
  const linkValidText = (expiresAt: Date): string => {
    const msg = messagesFor(report.locale);
    const f = formatter(report.locale, report.currency, msg.m.units);
    return fill(msg.m.beyond.linkValidUntil, {
      until: f.instant(expiresAt.toISOString(), report.timeZone),
    });
  };
  /** An expiring link as the recorded message keeps it; none for a link that never expires. */
  const recordedLink = (link?: {
    where: string;
    url: string;
    expiresAt?: Date;
  }): RecordedLink | undefined =>
    link?.expiresAt
      ? {
          where: link.where,
          url: link.url,
          expiresAt: link.expiresAt.toISOString(),
          validText: linkValidText(link.expiresAt),
        }
      : undefined;
  /**
   * A recorded message whose at-risk or full-report link expires within the hour gets a
   * freshly signed one (and the words stating its expiry); nothing else of it changes. A
   * message recorded before the full report was linked has only the at-risk link.
   */
  const withFreshLink = async (
    message: RecordedMessage,
    field: 'link' | 'reportLink',
  ): Promise<RecordedMessage> => {
    const old = message[field];
    if (!old || !deps.archive?.link) return message;
    if (new Date(old.expiresAt).getTime() - now.getTime() > 3_600_000) return message;
    const fresh = await deps.archive.link(old.where);
    const validText = fresh.expiresAt ? linkValidText(fresh.expiresAt) : '';
    const swap = (text: string, escape: (s: string) => string): string =>
      swapLink(text, escape(old.url), escape(fresh.url), escape(old.validText), escape(validText));
    log(`${field === 'link' ? 'at-risk' : 'full report'} link signed again for the later batches`, {
      key,
    });
    return {
      ...message,
      digest: {
        ...message.digest,
        html: swap(message.digest.html, escapeHtml),
        text: swap(message.digest.text, (t) => t),
      },
      [field]: {
        ...old,
        url: fresh.url,
        expiresAt: (fresh.expiresAt ?? now).toISOString(),
        validText,
      },
    };
  };
  const withFreshLinks = async (message: RecordedMessage): Promise<RecordedMessage> =>
    withFreshLink(await withFreshLink(message, 'link'), 'reportLink');

  if (payload.dryRun) {
    const result = await measure();
    const archived = await archiveOf(result);
    return {
      report: report.id,
      period: label,
      fresh: result.dataQuality.fresh,
      audience: 'none',
      ...nothing,
      archived,
    };
  }

  const delivery = new Delivery({
    store: deps.ledger,
    leaseMs: deps.leaseMs ?? DEFAULT_LEASE_MS,
    now: clock,
    signal: deps.signal,
  });
  const audience = payload.recipients ? 'requested' : 'leaders';
  const key = deliveryKey(report.id, label, audienceOf(payload.recipients));
  const recipients = payload.recipients ?? report.recipients;
  if (payload.force)
    log('forced resend', { report: report.id, period: label, recipients: recipients.length });
  const claim = await delivery.claim(
    key,
    recipients,
    payload.force ? (payload.requestId ?? '') : undefined,
  );

  if (claim.kind === 'busy') {
    log('skipped: another run is sending', { key });
    return {
      report: report.id,
      period: label,
      fresh: true,
      audience: 'none',
      ...nothing,
      archived: [],
      skipped: 'in-progress',
    };
  }
  if (claim.kind === 'done' && claim.record.state === 'completed') {
    log('skipped: already sent', { key });
    return {
      report: report.id,
      period: label,
      fresh: true,
      audience,
      ...delivered(claim.record),
      archived: claim.record.archived ?? [],
      skipped: 'already-sent',
    };
  }

  /** Sends `message` to every batch still pending, then marks the record complete. */
  const sendRecorded = async (
    acquired: Extract<Claim, { kind: 'acquired' }>,
    message: RecordedMessage,
    fresh: boolean,
  ): Promise<RunResult> => {
    const out = await delivery.send(acquired, (to) =>
      deps.mailer.sendMessage({
        from: deps.sender,
        to,
        digest: message.digest,
        date: message.date,
      }),
    );
    if (out.failed.length > 0 || out.uncertain.length > 0) {
      log('delivery incomplete', {
        key,
        failed: out.failed.length,
        uncertain: out.uncertain.length,
      });
    }
    const archived = out.record.archived ?? [];
    await delivery.complete(out.record, out.version, archived);
    return {
      report: report.id,
      period: label,
      fresh,
      audience,
      sentTo: out.sent,
      messageIds: out.messageIds,
      failed: out.failed,
      uncertain: out.uncertain,
      archived,
    };
  };

  // An earlier attempt recorded the message before its first send: this attempt (a retry,
  // or a run taking over a dead one) finishes with that very message, without measuring
  // again, so that every batch of the period carries the same numbers.
  const recorded = claim.record.digest;
  if (recorded) {
    if (claim.kind === 'done') {
      const archived = claim.record.archived ?? [];
      await delivery.complete(claim.record, claim.version, archived);
      return {
        report: report.id,
        period: label,
        fresh: recorded.fresh ?? true,
        audience,
        ...delivered(claim.record),
        archived,
        skipped: 'already-sent',
      };
    }
    if (!deps.archive)
      throw new Error(
        `${key}: a message was recorded, and this run has no archive to read it from`,
      );
    let message: RecordedMessage;
    try {
      message = readMessageFile(await deps.archive.get(recorded.where), recorded.sha256);
    } catch (e) {
      // Not readable now: the lease goes back, so that a later attempt tries again at once.
      await delivery.yieldLease(claim);
      throw e;
    }
    log('resuming with the recorded message', { key, takenOver: claim.takenOver });
    return sendRecorded(claim, await withFreshLinks(message), recorded.fresh ?? true);
  }

  let result: Report;
  try {
    result = await measure();
  } catch (e) {
    // The measuring's own error is the one to report, not a failed give-back.
    if (claim.kind === 'acquired') await delivery.release(claim).catch(() => undefined);
    throw e;
  }
  const fresh = result.dataQuality.fresh;

  if (claim.kind === 'done') {
    // Sent by an earlier attempt that recorded no message (a record from before messages
    // were recorded, or a run without an archive) and did not complete: archive now, never
    // resend.
    const archived = await archiveOf(result);
    await delivery.complete(claim.record, claim.version, archived);
    return {
      report: report.id,
      period: label,
      fresh,
      audience,
      ...delivered(claim.record),
      archived,
      skipped: 'already-sent',
    };
  }

  if (!fresh && audience === 'leaders' && claim.takenOver) {
    // A takeover answers to the freshness gate too: it sends nothing more on stale data,
    // gives its lease back and fails, so that a later attempt (on fresh data) finishes.
    await delivery.yieldLease(claim);
    throw new StaleDataError(
      `${report.id} ${label}: taking over an unfinished send, the data ends at ${result.dataQuality.latestValidOrderedAt ?? 'no order'}, before ${result.dataQuality.requiredThrough}; nothing more went to the leadership list`,
    );
  }
  if (!fresh && audience === 'leaders') {
    await delivery.release(claim);
    const noticeKey = deliveryKey(report.id, label, 'owners-notice');
    const notice = await delivery.claim(noticeKey, report.owners);
    let sentTo: string[] = [];
    if (notice.kind === 'acquired' && report.owners.length > 0) {
      const digest = staleNotice(result);
      const out = await delivery.send(notice, (to) =>
        deps.mailer.sendMessage({ from: deps.sender, to, digest, date: now }),
      );
      await delivery.complete(out.record, out.version, []);
      sentTo = out.sent;
    }
    log('stale data: owners told, leadership digest held back', {
      report: report.id,
      period: label,
      owners: sentTo.length,
    });
    throw new StaleDataError(
      `${report.id} ${label}: the data ends at ${result.dataQuality.latestValidOrderedAt ?? 'no order'}, before ${result.dataQuality.requiredThrough}; the owners were told (${sentTo.length}) and nothing went to the leadership list`,
    );
  }

  if (report.emptyPeriod === 'skip' && (result.kpis.orders.value ?? 0) === 0 && !payload.force) {
    await delivery.release(claim);
    log('skipped: no order in the period', { report: report.id, period: label });
    return {
      report: report.id,
      period: label,
      fresh,
      audience: 'none',
      ...nothing,
      archived: [],
      skipped: 'empty-period',
    };
  }

  const link = await atRiskLink();
  const full = await fullReportLink(result);
  const renderOptions = {
    ...options,
    ...(link ? { atRiskLink: link.url } : {}),
    ...(link?.expiresAt ? { atRiskLinkExpires: link.expiresAt } : {}),
    ...(full ? { reportLink: full.url } : {}),
    ...(full?.expiresAt ? { reportLinkExpires: full.expiresAt } : {}),
  };
  const atRiskRecorded = recordedLink(link);
  const reportRecorded = recordedLink(full);
  const message: RecordedMessage = {
    digest: await renderDigest(result, renderOptions),
    date: now,
    ...(atRiskRecorded ? { link: atRiskRecorded } : {}),
    ...(reportRecorded ? { reportLink: reportRecorded } : {}),
  };
  if (deps.archive) {
    // The message, and the files made from it, are archived before the first send, and the
    // ledger names it: a retry or a taker sends this one, and the archive holds what was mailed.
    const outputs = await renderOutputs(
      result,
      payload.format,
      envelope,
      renderOptions,
      atRiskList,
      // The full report as archived and linked, not one with this digest's at-risk link.
      { digest: message.digest, ...(full ? { fullReport: full.html } : {}) },
    );
    const content = messageFile(message);
    outputs.set(MESSAGE_FILE, content);
    let archived: string[];
    try {
      archived = await deps.archive.put(archivePrefix, outputs);
    } catch (e) {
      await delivery.release(claim);
      throw e;
    }
    const where = archived.find((a) => basename(a) === MESSAGE_FILE);
    try {
      if (!where) throw new Error(`${key}: the archive did not say where ${MESSAGE_FILE} went`);
      await delivery.record(claim, {
        digest: { where, sha256: sha256(content), fresh },
        archived,
      });
    } catch (e) {
      await delivery.release(claim).catch(() => undefined);
      throw e;
    }
  }
  return sendRecorded(claim, message, fresh);
}
