/**
 * The report Lambda: a scheduled event or an ad-hoc payload in, one run out. Only input
 * parsing and dependencies live here; the work is in `run.ts`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parseConfig } from '../config/load.ts';
import { athenaSource } from '../config/schema.ts';
import { S3Archive } from '../delivery/archive.ts';
import { DeliveryInterrupted } from '../delivery/deliver.ts';
import { S3LedgerStore } from '../delivery/ledger.ts';
import { SesMailer, sesClient } from '../delivery/ses.ts';
import { AthenaEngine } from '../engines/athena.ts';
import { PayloadError, runOnce, StaleDataError, type RunResult } from './run.ts';
import { redact } from '../echo.ts';
import { checkDeliveries, WATCHDOG_EVENT, type DeliveryCheck } from './watchdog.ts';

const logger = new Logger({ serviceName: 'kpi-digest' });
const metrics = new Metrics({ namespace: 'KpiDigest', serviceName: 'kpi-digest' });
const tracer = new Tracer({ serviceName: 'kpi-digest' });

// The configuration the stack was synthesized with (KPI_CONFIG at `cdk synth`), bundled as
// JSON next to this handler: never the repository's own kpi.config.ts.
const config = parseConfig(
  JSON.parse(readFileSync(process.env.KPI_CONFIG_FILE ?? '/var/task/kpi.config.json', 'utf8')),
);
function awsSettings(): NonNullable<typeof config.aws> {
  if (!config.aws) throw new Error('kpi.config: the aws section is required in AWS');
  return config.aws;
}
const aws = awsSettings();
const athena = tracer.captureAWSv3Client(new AthenaClient({}));
const ses = tracer.captureAWSv3Client(sesClient());
const s3 = tracer.captureAWSv3Client(new S3Client({}));
const bucket = process.env.ARCHIVE_BUCKET ?? '';

/** Another run holds the period's lease: a retryable failure, not a success. */
class BusyError extends Error {
  override name = 'BusyError';
}

/** An error as the log may hold it: its name, and message and stack without addresses. */
function redactedError(error: unknown): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const copy = new Error(redact(original.message));
  copy.name = original.name;
  copy.stack = redact(original.stack ?? '');
  return copy;
}

/** What a log line may say about a run: counts, never addresses or customer ids. */
function loggable(r: RunResult): Record<string, unknown> {
  return {
    report: r.report,
    period: r.period,
    fresh: r.fresh,
    audience: r.audience,
    sent: r.sentTo.length,
    failed: r.failed.length,
    uncertain: r.uncertain.length,
    archived: r.archived.length,
    skipped: r.skipped,
  };
}

/** The daily dead man's switch: was each report's latest due period delivered? */
async function watchdog(): Promise<DeliveryCheck[]> {
  const checks = await checkDeliveries(config, new S3LedgerStore(s3, bucket), new Date());
  const missed = checks.filter((c) => !c.delivered);
  metrics.addMetric('WatchdogRuns', MetricUnit.Count, 1);
  metrics.addMetric('MissedDeliveries', MetricUnit.Count, missed.length);
  for (const m of missed) logger.error('not delivered to the leadership list', { ...m });
  metrics.publishStoredMetrics();
  return checks;
}

export async function handler(
  event: unknown,
  context: Context,
): Promise<RunResult | DeliveryCheck[]> {
  logger.addContext(context);
  if (isDeepStrictEqual(event, WATCHDOG_EVENT)) return watchdog();
  const report = (event as { report?: unknown } | null)?.report;
  // Metadata, not a dimension: the alarms watch the service-wide metrics.
  metrics.addMetadata('report', typeof report === 'string' ? report : 'unknown');
  try {
    const result = await runOnce(event, {
      config: { ...config, source: athenaSource(config) },
      engine: () =>
        Promise.resolve(
          new AthenaEngine({
            client: athena,
            workGroup: aws.athena.workGroup,
            database: aws.athena.database,
            maxWaitMs: aws.athena.queryTimeoutSeconds * 1000,
            s3,
          }),
        ),
      mailer: new SesMailer(ses, {
        ...(process.env.SES_CONFIGURATION_SET
          ? { configurationSet: process.env.SES_CONFIGURATION_SET }
          : {}),
      }),
      ledger: new S3LedgerStore(s3, bucket),
      archive: new S3Archive(s3, bucket),
      sender: aws.sender,
      // Strictly longer than the function's own timeout: a live run is never taken over.
      leaseMs: (aws.timeoutSeconds + 120) * 1000,
      log: (event, fields) => {
        logger.info(event, fields);
      },
      adHocHint: (r, period) => `npx kpi invoke --report ${r.id} --period ${period}`,
    });
    if (result.skipped === 'in-progress') {
      // Another attempt holds the period's lease: fail, so that Lambda's asynchronous
      // retries (or the next schedule slot) come back, instead of ending as a success.
      metrics.addMetric('BusyRuns', MetricUnit.Count, 1);
      throw new BusyError(
        `${result.report} ${result.period}: another run holds this period's lease; retry later`,
      );
    }
    metrics.addMetric('Runs', MetricUnit.Count, 1);
    metrics.addMetric('StaleRuns', MetricUnit.Count, 0);
    metrics.addMetric('RejectedRecipients', MetricUnit.Count, result.failed.length);
    metrics.addMetric('UncertainDeliveries', MetricUnit.Count, result.uncertain.length);
    logger.info('run finished', loggable(result));
    return result;
  } catch (error) {
    if (error instanceof StaleDataError) {
      metrics.addMetric('StaleRuns', MetricUnit.Count, 1);
      logger.warn('stale data; the run fails so that the schedule retries it', {
        error: redact(error.message),
      });
    } else if (error instanceof DeliveryInterrupted) {
      metrics.addMetric('FailedRuns', MetricUnit.Count, 1);
      metrics.addMetric('UncertainDeliveries', MetricUnit.Count, error.uncertain.length);
      logger.error('sending stopped part-way', redactedError(error));
    } else if (error instanceof BusyError) {
      logger.warn('busy: another run holds the lease; failing so that the attempt is retried', {
        error: error.message,
      });
    } else if (error instanceof PayloadError) {
      metrics.addMetric('RejectedPayloads', MetricUnit.Count, 1);
      logger.warn('payload rejected before any query', { error: redact(error.message) });
    } else {
      metrics.addMetric('FailedRuns', MetricUnit.Count, 1);
      logger.error('run failed', redactedError(error));
    }
    throw error;
  } finally {
    metrics.publishStoredMetrics();
  }
}
