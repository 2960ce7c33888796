import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
  type StackProps,
} from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Alias, Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  CfnBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import {
  ConfigurationSet,
  EmailIdentity,
  EmailSendingEvent,
  EventDestination,
  Identity,
} from 'aws-cdk-lib/aws-ses';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { TimeZone } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Config } from '../functions/config/schema.ts';
import { WATCHDOG_EVENT } from '../functions/handlers/events.ts';
import { AthenaResources } from './athena.ts';
import { ReportFunction } from './report-function.ts';

export interface KpiDigestStackProps extends StackProps {
  readonly config: Config;
}

/** Attempts and age limits for a scheduled run (Scheduler would retry 185 times otherwise). */
export const SCHEDULE_RETRY_ATTEMPTS = 2;
export const SCHEDULE_MAX_EVENT_AGE = Duration.hours(6);
/** The UTC hour of the daily delivery check. */
export const WATCHDOG_HOUR_UTC = '18';
/** Lambda's own retries of a failed asynchronous invocation (its maximum). */
export const ASYNC_RETRY_ATTEMPTS = 2;

/**
 * One stack: EventBridge Scheduler → report Lambda → Athena → SES, the archive in S3,
 * alarms to the report owners. Permissions come from grants scoped to these resources.
 */
export class KpiDigestStack extends Stack {
  constructor(scope: Construct, id: string, props: KpiDigestStackProps) {
    super(scope, id, props);
    const { config } = props;
    const aws = config.aws;
    if (!aws)
      throw new Error('aws: expected the AWS settings in kpi.config (aws.sender, aws.athena…)');

    const accessLogs = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(aws.archiveRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "This bucket receives the other buckets' access logs; logging it to itself would loop.",
    });

    const archive = new Bucket(this, 'Archive', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'archive/',
      versioned: false,
      // Reports expire; the delivery ledger (ledger/) does not: a record that expired would
      // let an old period be sent again.
      lifecycleRules: [{ prefix: 'reports/', expiration: Duration.days(aws.archiveRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const athena = new AthenaResources(this, 'Athena', {
      athena: aws.athena,
      columns: config.source.columns,
      dimensions: config.source.dimensions,
      accessLogs,
    });

    // Where a run that never succeeded ends: a scheduled event the function could not be
    // invoked with, or an invocation whose every attempt failed. Its alarm tells the owners.
    const dlq = new Queue(this, 'ScheduleDeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(dlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the schedules and of the function.',
    });

    const fn = new ReportFunction(this, 'Report', {
      config,
      memoryMb: aws.memoryMb,
      logRetentionDays: aws.logRetentionDays,
      timeout: Duration.seconds(aws.timeoutSeconds),
      environment: { ARCHIVE_BUCKET: archive.bucketName },
    }).fn;

    // Asynchronous invocations (the schedules'): a failed attempt (stale data, busy, a failed
    // query) is retried by Lambda itself, then the event goes to the dead-letter queue.
    fn.configureAsyncInvoke({
      retryAttempts: ASYNC_RETRY_ATTEMPTS,
      maxEventAge: SCHEDULE_MAX_EVENT_AGE,
      onFailure: new SqsDestination(dlq),
    });

    // Athena: this work group only; Glue: this database and its configured tables only.
    const region = this.region;
    const account = this.account;
    const optionalTables = (['feedback', 'marketingSpend'] as const).flatMap((key) => {
      const t = aws.athena[key];
      if (!t) return [];
      const [, bucket = '', prefix = ''] = /^s3:\/\/([^/]+)\/(.*)$/.exec(t.location) ?? [];
      return [{ key, table: t.table, bucket, prefix }];
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [
          'athena:StartQueryExecution',
          'athena:GetQueryExecution',
          'athena:GetQueryResults',
          'athena:StopQueryExecution',
        ],
        resources: [
          `arn:${this.partition}:athena:${region}:${account}:workgroup/${aws.athena.workGroup}`,
        ],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
        resources: [
          `arn:${this.partition}:glue:${region}:${account}:catalog`,
          `arn:${this.partition}:glue:${region}:${account}:database/${aws.athena.database}`,
          `arn:${this.partition}:glue:${region}:${account}:table/${aws.athena.database}/${aws.athena.table}`,
          ...optionalTables.map(
            (t) =>
              `arn:${this.partition}:glue:${region}:${account}:table/${aws.athena.database}/${t.table}`,
          ),
        ],
      }),
    );
    // Each run keeps its customer table as a CTAS table named kpi_run_<32 hex digits> in the
    // database (Parquet under the results bucket) and drops it at the end: those names only.
    const runTables = `arn:${this.partition}:glue:${region}:${account}:table/${aws.athena.database}/kpi_run_*`;
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['glue:CreateTable', 'glue:DeleteTable', 'glue:GetTable'],
        resources: [
          `arn:${this.partition}:glue:${region}:${account}:catalog`,
          `arn:${this.partition}:glue:${region}:${account}:database/${aws.athena.database}`,
          runTables,
        ],
      }),
    );
    athena.results.grantReadWrite(fn);
    const dataBucket =
      athena.data ??
      (aws.athena.dataBucket
        ? Bucket.fromBucketName(this, 'Data', aws.athena.dataBucket)
        : undefined);
    dataBucket?.grantRead(fn, athena.dataPrefix ? `${athena.dataPrefix}*` : '*');
    // The optional sources' data: read-only, under their own prefix.
    for (const t of optionalTables) {
      Bucket.fromBucketName(this, `${t.key}Data`, t.bucket).grantRead(fn, `${t.prefix}*`);
    }
    // The archive: read and write; delete only ledger records (a run releases its claim).
    archive.grantRead(fn);
    archive.grantPut(fn);
    archive.grantDelete(fn, 'ledger/*');
    const grants = 'grants of aws-cdk-lib scoped to one bucket (and prefix) of this stack';
    for (const [id, reason] of [
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'The managed basic execution role only lets the function write its own logs.',
      ],
      [
        'AwsSolutions-IAM5[Resource::*]',
        'X-Ray PutTraceSegments/PutTelemetryRecords accept no resource narrower than *.',
      ],
      ['AwsSolutions-IAM5[Action::s3:GetObject*]', `Object reads through ${grants}.`],
      ['AwsSolutions-IAM5[Action::s3:GetBucket*]', `Bucket metadata reads through ${grants}.`],
      [
        'AwsSolutions-IAM5[Action::s3:List*]',
        `Listing through ${grants}; Athena lists its result prefix.`,
      ],
      [
        'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
        `Athena manages its own result objects (results bucket), and a run releases its ledger record (ledger/ of the archive only), through ${grants}.`,
      ],
      [
        `AwsSolutions-IAM5[Resource::<${this.getLogicalId(archive.node.defaultChild as CfnBucket)}.Arn>/ledger/*]`,
        'Ledger records of the archive bucket only.',
      ],
      ['AwsSolutions-IAM5[Action::s3:Abort*]', `Aborting multipart uploads through ${grants}.`],
      [
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:${Token.isUnresolved(region) ? '<AWS::Region>' : region}:${Token.isUnresolved(account) ? '<AWS::AccountId>' : account}:table/${aws.athena.database}/kpi_run_*]`,
        "The run's own customer tables (kpi_run_ and 32 hex digits), created and dropped by each run.",
      ],
      [
        `AwsSolutions-IAM5[Resource::<${this.getLogicalId(archive.node.defaultChild as CfnBucket)}.Arn>/*]`,
        'Objects of the archive bucket only.',
      ],
      [
        `AwsSolutions-IAM5[Resource::<${this.getLogicalId(athena.results.node.defaultChild as CfnBucket)}.Arn>/*]`,
        'Objects of the Athena results bucket only.',
      ],
      ...(dataBucket
        ? [
            [
              `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${dataBucket.bucketName}/${athena.dataPrefix ?? ''}*]`,
              'Objects under the orders prefix of the data bucket only.',
            ],
          ]
        : []),
      ...optionalTables.map(
        (t) =>
          [
            `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${t.bucket}/${t.prefix}*]`,
            `Objects under the ${t.key} prefix of its bucket only.`,
          ] as const,
      ),
    ] as const) {
      Validations.of(fn).acknowledge({ id, reason });
    }
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the target runtime chosen for the AWS SDK and Powertools support window.',
    });

    // SES: send from the configured sender's identity only.
    const senderDomain = aws.sender.split('@')[1] ?? aws.sender;
    if (aws.createSenderIdentity) {
      new EmailIdentity(this, 'SenderIdentity', { identity: Identity.domain(senderDomain) });
    }
    // Every message goes through a configuration set whose bounce, complaint and reject
    // events reach the owners (SNS), encrypted with a key SES may use.
    const mailEventsKey = new Key(this, 'MailEventsKey', {
      enableKeyRotation: true,
      description: 'kpi-digest: SES bounce and complaint events',
    });
    mailEventsKey.grant(
      new ServicePrincipal('ses.amazonaws.com'),
      'kms:GenerateDataKey*',
      'kms:Decrypt',
    );
    const mailEvents = new Topic(this, 'MailEvents', {
      displayName: 'kpi-digest bounces and complaints',
      masterKey: mailEventsKey,
      enforceSSL: true,
    });
    const configurationSet = new ConfigurationSet(this, 'Mail', {
      reputationMetrics: true,
    });
    configurationSet.addEventDestination('BouncesAndComplaints', {
      destination: EventDestination.snsTopic(mailEvents),
      events: [EmailSendingEvent.BOUNCE, EmailSendingEvent.COMPLAINT, EmailSendingEvent.REJECT],
    });
    fn.addEnvironment('SES_CONFIGURATION_SET', configurationSet.configurationSetName);
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [
          `arn:${this.partition}:ses:${region}:${account}:identity/${senderDomain}`,
          `arn:${this.partition}:ses:${region}:${account}:configuration-set/${configurationSet.configurationSetName}`,
        ],
        conditions: { StringEquals: { 'ses:FromAddress': aws.sender } },
      }),
    );

    // Schedules: one per report, in its own time zone, with bounded retries and a DLQ.
    for (const report of config.reports) {
      const s = report.schedule;
      // The first slot and one more per retry hour, all on the report day.
      const hours = Array.from({ length: s.retryHours + 1 }, (_, i) => s.hour + i).join(',');
      const when =
        report.period === 'week'
          ? { minute: String(s.minute), hour: hours, weekDay: s.weekDay }
          : report.period === 'month'
            ? { minute: String(s.minute), hour: hours, day: String(s.day) }
            : report.period === 'quarter'
              ? {
                  minute: String(s.minute),
                  hour: hours,
                  day: String(s.day),
                  month: '1,4,7,10',
                }
              : { minute: String(s.minute), hour: hours, day: String(s.day), month: '1' };
      new Schedule(this, `Schedule-${report.id}`, {
        description: `${report.name}: the last complete ${report.period}`,
        schedule: ScheduleExpression.cron({ ...when, timeZone: TimeZone.of(report.timeZone) }),
        target: new LambdaInvoke(fn, {
          input: ScheduleTargetInput.fromObject({ report: report.id, scheduled: true }),
          retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
          maxEventAge: SCHEDULE_MAX_EVENT_AGE,
          deadLetterQueue: dlq,
        }),
      });
    }
    // The dead man's switch: once a day, the function checks in the ledger that each
    // report's latest due period reached the leadership list (see watchdog.ts).
    new Schedule(this, 'Schedule-watchdog', {
      description: "Daily check that each report's latest due digest was delivered",
      schedule: ScheduleExpression.cron({ minute: '0', hour: WATCHDOG_HOUR_UTC }),
      target: new LambdaInvoke(fn, {
        input: ScheduleTargetInput.fromObject(WATCHDOG_EVENT),
        retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        maxEventAge: SCHEDULE_MAX_EVENT_AGE,
        deadLetterQueue: dlq,
      }),
    });
    const schedulerRole = this.node.children.find((c) =>
      c.node.id.startsWith('SchedulerRoleForTarget'),
    );
    if (schedulerRole) {
      Validations.of(schedulerRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(fn.node.defaultChild as CfnFunction)}.Arn>:*]`,
        reason: 'The scheduler may invoke the report function and its versions, nothing else.',
      });
    }

    // Alarms to the report owners: failures, dead letters, stale data.
    const topic = new Topic(this, 'Alarms', {
      displayName: 'kpi-digest alarms',
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    for (const owner of new Set(config.reports.flatMap((r) => r.owners))) {
      topic.addSubscription(new EmailSubscription(owner));
      mailEvents.addSubscription(new EmailSubscription(owner));
    }
    const alarm = (id: string, metric: Metric, description: string): void => {
      new Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      }).addAlarmAction(new SnsAction(topic));
    };
    alarm('Errors', fn.metricErrors({ period: Duration.hours(1) }), 'A report run failed.');
    alarm(
      'DeadLetters',
      dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      'A scheduled run could not be delivered to the function.',
    );
    // The function's own metrics (Powertools: namespace KpiDigest, dimension service), summed.
    const runMetric = (name: string, period = Duration.hours(1)): Metric =>
      new Metric({
        namespace: 'KpiDigest',
        metricName: name,
        statistic: 'Sum',
        period,
        dimensionsMap: { service: 'kpi-digest' },
      });
    alarm(
      'StaleRuns',
      runMetric('StaleRuns'),
      'A run found data that does not reach the end of its period; the owners were told instead of the leadership list.',
    );
    alarm(
      'UncertainDeliveries',
      runMetric('UncertainDeliveries'),
      'A run died between asking SES to send and recording the answer; those recipients may lack the digest and are not sent it again.',
    );
    alarm(
      'RejectedRecipients',
      runMetric('RejectedRecipients'),
      'SES refused some recipients of a digest; the others got theirs.',
    );
    alarm(
      'MissedDelivery',
      runMetric('MissedDeliveries', Duration.days(1)),
      "A report's digest did not reach the leadership list by its due time (plus the retries' hours); the log names the report and period.",
    );
    new Alarm(this, 'WatchdogSilent', {
      metric: runMetric('WatchdogRuns', Duration.days(1)),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      // No check in a day is itself the alarm: the schedules or the function are not running.
      treatMissingData: TreatMissingData.BREACHING,
      alarmDescription:
        'The daily delivery check did not run: the schedules or the function are not working.',
    }).addAlarmAction(new SnsAction(topic));

    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new CfnOutput(this, 'ArchiveBucket', { value: archive.bucketName });
    new CfnOutput(this, 'WorkGroup', { value: aws.athena.workGroup });
  }
}
