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
import { athenaSource, type Config } from '../config/schema.ts';
import { S3Archive, type Archive } from '../delivery/archive.ts';
import { DeliveryInterrupted } from '../delivery/deliver.ts';
import { S3LedgerStore, type LedgerStore } from '../delivery/ledger.ts';
import { SesMailer, sesClient, type Mailer } from '../delivery/ses.ts';
import { AthenaEngine } from '../engines/athena.ts';
import type { QueryEngine } from '../engines/query-engine.ts';
import { RunAbandoned } from '../abandon.ts';
import { PayloadError, runOnce, StaleDataError, type RunResult } from './run.ts';
import { redact } from '../echo.ts';
import { checkDeliveries, WATCHDOG_EVENT, type DeliveryCheck } from './watchdog.ts';

const logger = new Logger({ serviceName: 'kpi-digest' });
const metrics = new Metrics({ namespace: 'KpiDigest', serviceName: 'kpi-digest' });
const tracer = new Tracer({ serviceName: 'kpi-digest' });

/** What one deployment's runs use: AWS clients in Lambda; local stand-ins in tests. */
export interface HandlerDeps {
  readonly config: Config;
  /** A run's query engine; `signal` fires when the run is abandoned at its deadline. */
  readonly engine: (signal?: AbortSignal) => Promise<QueryEngine>;
  readonly mailer: Mailer;
  readonly ledger: LedgerStore;
  readonly archive: Archive;
  readonly clock?: () => Date;
}

/** How long before the function's timeout a run gives up: to stop queries, give the lease back. */
export const ABANDON_MARGIN_MS = 30_000;

function awsSettings(config: Config): NonNullable<Config['aws']> {
  if (!config.aws) throw new Error('kpi.config: the aws section is required in AWS');
  return config.aws;
}

/**
 * The deployed function's parts: the configuration the stack was synthesized with
 * (KPI_CONFIG at `cdk synth`, bundled as JSON next to this handler: never the repository's
 * own kpi.config.ts), and the SDK clients, traced.
 */
export function awsDeps(): HandlerDeps {
  const parsed = parseConfig(
    JSON.parse(readFileSync(process.env.KPI_CONFIG_FILE ?? '/var/task/kpi.config.json', 'utf8')),
  );
  const aws = awsSettings(parsed);
  const athena = tracer.captureAWSv3Client(new AthenaClient({}));
  const ses = tracer.captureAWSv3Client(sesClient());
  const s3 = tracer.captureAWSv3Client(new S3Client({}));
  const bucket = process.env.ARCHIVE_BUCKET ?? '';
  return {
    config: { ...parsed, source: athenaSource(parsed) },
    engine: (signal) =>
      Promise.resolve(
        new AthenaEngine({
          client: athena,
          workGroup: aws.athena.workGroup,
          database: aws.athena.database,
          maxWaitMs: aws.athena.queryTimeoutSeconds * 1000,
          s3,
          signal,
        }),
      ),
    mailer: new SesMailer(ses, {
      ...(process.env.SES_CONFIGURATION_SET
        ? { configurationSet: process.env.SES_CONFIGURATION_SET }
        : {}),
    }),
    ledger: new S3LedgerStore(s3, bucket),
    archive: new S3Archive(s3, bucket),
  };
}

/** Another run holds the period's lease: a retryable failure, not a success. */
export class BusyError extends Error {
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

/**
 * The report function over `deps`: a scheduled event, an ad-hoc payload or the daily
 * delivery check in, one run out. A run still going ABANDON_MARGIN_MS before the
 * function's timeout is abandoned (queries stopped, lease given back) and fails, so that
 * the next attempt completes it.
 */
export function createHandler(
  deps: HandlerDeps,
): (event: unknown, context: Context) => Promise<RunResult | DeliveryCheck[]> {
  const { config } = deps;
  const aws = awsSettings(config);

  /** The daily dead man's switch: was each report's latest due period delivered? */
  const watchdog = async (): Promise<DeliveryCheck[]> => {
    const checks = await checkDeliveries(config, deps.ledger, (deps.clock ?? (() => new Date()))());
    const missed = checks.filter((c) => !c.delivered);
    metrics.addMetric('WatchdogRuns', MetricUnit.Count, 1);
    metrics.addMetric('MissedDeliveries', MetricUnit.Count, missed.length);
    for (const m of missed) logger.error('not delivered to the leadership list', { ...m });
    metrics.publishStoredMetrics();
    return checks;
  };

  return async (event, context) => {
    logger.addContext(context);
    if (isDeepStrictEqual(event, WATCHDOG_EVENT)) return watchdog();
    const report = (event as { report?: unknown } | null)?.report;
    // Metadata, not a dimension: the alarms watch the service-wide metrics.
    metrics.addMetadata('report', typeof report === 'string' ? report : 'unknown');
    const deadline = new AbortController();
    const timer = setTimeout(
      () => {
        deadline.abort();
      },
      Math.max(0, context.getRemainingTimeInMillis() - ABANDON_MARGIN_MS),
    );
    try {
      const result = await runOnce(event, {
        config,
        engine: deps.engine,
        mailer: deps.mailer,
        ledger: deps.ledger,
        archive: deps.archive,
        sender: aws.sender,
        ...(deps.clock ? { clock: deps.clock } : {}),
        signal: deadline.signal,
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
      } else if (error instanceof RunAbandoned) {
        metrics.addMetric('AbandonedRuns', MetricUnit.Count, 1);
        logger.warn('abandoned before the timeout; the next attempt completes it', {
          error: redact(error.message),
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
      clearTimeout(timer);
      metrics.publishStoredMetrics();
    }
  };
}

let deployed: ReturnType<typeof createHandler> | undefined;

/** The Lambda entry point: the deployed parts, built on the first invocation. */
export function handler(event: unknown, context: Context): Promise<RunResult | DeliveryCheck[]> {
  deployed ??= createHandler(awsDeps());
  return deployed(event, context);
}
