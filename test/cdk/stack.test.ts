import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import type { ConfigInput } from '../../functions/config/schema.ts';
import { KpiDigestStack } from '../../lib/kpi-digest-stack.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const INPUT: ConfigInput = {
  source: {
    relation: { kind: 'file', path: 'orders.parquet' },
    feedback: { relation: { kind: 'file', path: 'feedback.parquet' } },
  },
  reports: [
    {
      id: 'weekly',
      name: 'Weekly KPIs',
      period: 'week',
      timeZone: 'Europe/London',
      recipients: ['ceo@example.com'],
      owners: ['data@example.com'],
      schedule: { weekDay: 'MON', hour: 7, minute: 30 },
    },
    { id: 'monthly', name: 'Monthly KPIs', period: 'month', timeZone: 'America/New_York' },
  ],
  aws: {
    sender: 'kpi@example.com',
    createSenderIdentity: true,
    athena: {
      database: 'sales',
      table: 'orders',
      createTable: { bucket: 'acme-orders', prefix: 'orders/' },
      feedback: { table: 'survey_answers', location: 's3://acme-surveys/answers/' },
      bytesScannedCutoffPerQuery: 5_000_000_000,
    },
  },
};

let template: Template;
let outdir = '';
beforeAll(() => {
  const app = new App();
  outdir = app.outdir;
  const stack = new KpiDigestStack(app, 'Test', {
    config: parseConfig(INPUT),
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  // cdk-nag's AWS Solutions pack: synth throws on any finding not acknowledged with a reason.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  template = Template.fromStack(stack);
}, 120_000);

describe('the stack', () => {
  test('the report function: Node.js 22 on ARM64, traced, with its own log group', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Handler: 'index.handler',
      Environment: { Variables: Match.objectLike({ KPI_TEMPLATES_DIR: '/var/task/templates/' }) },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  test('one schedule per report, in its time zone, with bounded retries and a dead-letter queue', () => {
    const schedules = template.findResources('AWS::Scheduler::Schedule');
    // One per report, and the daily delivery check.
    expect(Object.keys(schedules)).toHaveLength(3);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(30 7,8,9,10 ? * MON *)',
      ScheduleExpressionTimezone: 'Europe/London',
      Target: Match.objectLike({
        Input: JSON.stringify({ report: 'weekly', scheduled: true }),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 21600 },
        DeadLetterConfig: { Arn: Match.anyValue() },
      }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 7,8,9,10 1 * ? *)',
      ScheduleExpressionTimezone: 'America/New_York',
    });
  });

  test('the Athena work group enforces its settings, encryption and the scan cutoff', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'kpi-digest',
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 5_000_000_000,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: Match.objectLike({
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        }),
      }),
    });
  });

  test('the orders table: Parquet by date with partition projection', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'sales',
      TableInput: Match.objectLike({
        Name: 'orders',
        PartitionKeys: [{ Name: 'dt', Type: 'string' }],
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'storage.location.template': 's3://acme-orders/orders/dt=${dt}/',
        }),
      }),
    });
  });

  test('every bucket is encrypted, private, TLS-only and forgets old objects', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets).length).toBe(3);
    for (const b of Object.values(buckets)) {
      const p = (b as { Properties: Record<string, unknown> }).Properties;
      expect(p.BucketEncryption).toBeDefined();
      expect(p.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(p.LifecycleConfiguration).toBeDefined();
    }
    expect(Object.keys(template.findResources('AWS::S3::BucketPolicy')).length).toBe(3);
  });

  test('permissions are scoped: SES to the sender identity, Athena to the work group, S3 to buckets', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap(
      (p) =>
        (
          p as {
            Properties: {
              PolicyDocument: {
                Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[];
              };
            };
          }
        ).Properties.PolicyDocument.Statement,
    );
    const actions = (s: { Action: string | string[] }): string[] => [s.Action].flat();
    const ses = statements.filter((s) => actions(s).some((a) => a.startsWith('ses:')));
    expect(ses).toHaveLength(1);
    expect(JSON.stringify(ses[0]?.Resource)).toContain(':identity/example.com');
    expect(ses[0]?.Condition).toEqual({ StringEquals: { 'ses:FromAddress': 'kpi@example.com' } });
    const athena = statements.filter((s) => actions(s).some((a) => a.startsWith('athena:')));
    expect(JSON.stringify(athena.map((s) => s.Resource))).toContain(':workgroup/kpi-digest');
    for (const s of statements.filter((x) => actions(x).some((a) => a.startsWith('s3:')))) {
      expect(s.Resource).not.toBe('*');
      expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"/);
    }
    // Glue writes: the run's own kpi_run_ tables only (each run creates and drops one).
    const glueWrites = statements.filter((s) =>
      actions(s).some((a) => ['glue:CreateTable', 'glue:DeleteTable'].includes(a)),
    );
    expect(glueWrites).toHaveLength(1);
    const tables = JSON.stringify(glueWrites[0]?.Resource).match(/:table\/[^"]*/g);
    expect(tables).toEqual([':table/sales/kpi_run_*']);
    expect(
      statements.some((s) =>
        actions(s).some((a) => /^glue:(\*|Delete(Database|Partition)|Update)/.test(a)),
      ),
    ).toBe(false);
  });

  test('an optional source: read access to its Glue table and its data prefix only', () => {
    const policy = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policy).toContain(':table/sales/survey_answers');
    expect(policy).toContain(':s3:::acme-surveys/answers/*');
    expect(policy).not.toContain(':s3:::acme-surveys/*');
    expect(policy).not.toContain(':table/sales/*');
  });

  test('alarms on failures, dead letters, stale data and incomplete deliveries notify the owners', () => {
    // Errors, dead letters, stale runs, uncertain deliveries, rejected recipients, and the
    // delivery check's two (a missed digest, the check's own silence).
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm'))).toHaveLength(7);
    for (const name of ['UncertainDeliveries', 'RejectedRecipients']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: name, Threshold: 1 });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StaleRuns',
      Namespace: 'KpiDigest',
      AlarmActions: [Match.anyValue()],
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'data@example.com',
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});

describe('cdk synth', () => {
  test('the project config synthesizes offline with the pinned CDK CLI', () => {
    const out = mkdtempSync(join(tmpdir(), 'kpi-cdk-'));
    // The project's config holds example values: meant here, so said so.
    const r = spawnSync(
      'npx',
      ['cdk', 'synth', '--quiet', '--output', out, '-c', 'allowPlaceholders=true'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
      },
    );
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
  }, 120_000);

  test('the example values are refused, each field named, unless meant', () => {
    const r = spawnSync('npx', ['tsx', 'bin/app.ts'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /aws\.sender: "kpi-digest@example\.com" is an example address; put yours/,
    );
    expect(r.stderr).toMatch(/reports\[0\]\.recipients\[0\]: "leadership@example\.com"/);
    expect(r.stderr).toMatch(
      /aws\.athena\.createTable\.bucket: "example-orders-data" is an example bucket; put yours/,
    );
    expect(r.stderr).toMatch(/add -c allowPlaceholders=true/);
  }, 60_000);

  test('a bad config fails synth with a message naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-cdk-bad-'));
    const file = join(dir, 'kpi.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...INPUT,
        aws: {
          ...INPUT.aws,
          athena: { database: 'sales', table: 'orders', bytesScannedCutoffPerQuery: 5 },
        },
      }),
    );
    const r = spawnSync('npx', ['tsx', 'bin/app.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, KPI_CONFIG: file },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/aws\.athena\.bytesScannedCutoffPerQuery: /);
    expect(r.stderr).toMatch(/aws\.athena\.dataBucket: expected the bucket of the existing table/);
  }, 60_000);
});

/** The folder of the report function's bundle in a synthesized app. */
function bundleOf(t: Template, out: string): string {
  const fns = Object.values(t.findResources('AWS::Lambda::Function')) as {
    Properties: { Handler?: string; Code: { S3Key: string } };
  }[];
  const report = fns.find((f) => f.Properties.Handler === 'index.handler');
  if (!report) throw new Error('no report function');
  return join(out, `asset.${report.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
}

describe('production settings (issue 13)', () => {
  test('failed asynchronous attempts are retried by Lambda, then dead-lettered; the timeout is a whole run', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('ScheduleDeadLetters'), 'Arn'] },
        },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Timeout: 900,
      FunctionName: 'test-report',
    });
  });

  test('runs that fit: memory follows the stated shop size; a shop that outgrows one function fails synth', () => {
    // The default shop (500,000 customers) peaks at about 597 MB: 1 GB.
    template.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 1024 });
    const sized = (aws: Record<string, unknown>) =>
      parseConfig({ ...INPUT, aws: { ...INPUT.aws, ...aws } });
    const app = new App();
    const big = new KpiDigestStack(app, 'Big', {
      config: sized({ expectedCustomers: 1_600_000 }),
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    // 240 MB + 0.73 KB × 1.6M = 1,381 MB measured, × 1.5 in 64 MB steps.
    Template.fromStack(big).hasResourceProperties('AWS::Lambda::Function', { MemorySize: 2112 });
    expect(() => sized({ expectedCustomers: 20_000_000 })).toThrow(
      /aws\.expectedCustomers: expected at most 9238443: a run for this many customers needs about 14498 MB/,
    );
    expect(() => sized({ expectedCustomers: 1_600_000, memoryMb: 1024 })).toThrow(
      /aws\.memoryMb: expected at least 1381: a run for expectedCustomers \(1600000\) peaks at about 1381 MB/,
    );
    expect(() =>
      sized({
        expectedCustomers: 9_000_000,
        timeoutSeconds: 120,
        athena: { ...INPUT.aws?.athena, queryTimeoutSeconds: 60 },
      }),
    ).toThrow(/aws\.timeoutSeconds: expected at least 222: the function computes for about 162 s/);
  });

  test('nothing of the user’s is deleted with the stack: created Glue resources and the results bucket are retained', () => {
    for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table']) {
      const found = Object.values(template.findResources(type));
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
    const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
    expect(
      buckets.every((b) => (b as { DeletionPolicy?: string }).DeletionPolicy === 'Retain'),
    ).toBe(true);
  });

  test('an existing database is referenced, not created; the amount may be DOUBLE', () => {
    const app = new App();
    const stack = new KpiDigestStack(app, 'Existing', {
      config: parseConfig({
        ...INPUT,
        aws: {
          ...INPUT.aws,
          athena: {
            ...INPUT.aws?.athena,
            createTable: { bucket: 'acme-orders', createDatabase: false, amountType: 'double' },
          },
        },
      }),
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Glue::Database', 0);
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        StorageDescriptor: Match.objectLike({
          Columns: Match.arrayWith([{ Name: 'amount', Type: 'double' }]),
        }),
      }),
    });
  }, 120_000);

  test('environments apart: each stack bundles its own config, and its names derive from the stack', () => {
    const synth = (stackName: string, recipient: string): { t: Template; out: string } => {
      const app = new App();
      const stack = new KpiDigestStack(app, stackName, {
        config: parseConfig({
          ...INPUT,
          reports: [{ ...INPUT.reports[0], id: 'weekly', recipients: [recipient] }],
          aws: { ...INPUT.aws, stackName },
        }),
        env: { account: '123456789012', region: 'eu-west-1' },
      });
      app.synth();
      return { t: Template.fromStack(stack), out: app.outdir };
    };
    const staging = synth('KpiDigest-Staging', 'staging-lead@example.com');
    const production = synth('KpiDigest', 'ceo@example.com');
    staging.t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'kpi-digest-staging-report',
    });
    staging.t.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'kpi-digest-staging' });
    production.t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'kpi-digest-report',
    });
    production.t.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'kpi-digest' });
    const bundled = (x: { t: Template; out: string }): string =>
      readFileSync(join(bundleOf(x.t, x.out), 'kpi.config.json'), 'utf8');
    expect(bundled(staging)).toContain('staging-lead@example.com');
    expect(bundled(staging)).not.toContain('ceo@example.com');
    expect(bundled(production)).toContain('ceo@example.com');
    expect(bundled(production)).not.toContain('staging-lead@example.com');
  }, 180_000);

  test('a dead man’s switch: a daily delivery check, alarming on a missed digest and on its own silence', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 18 * * ? *)',
      Target: Match.objectLike({ Input: JSON.stringify({ watchdog: true }) }),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'MissedDeliveries',
      Period: 86400,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'WatchdogRuns',
      Period: 86400,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }],
    });
  });

  test('mail hygiene: a configuration set sends bounces, complaints and rejects to the owners', () => {
    template.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
      EventDestination: Match.objectLike({
        Enabled: true,
        MatchingEventTypes: ['bounce', 'complaint', 'reject'],
        SnsDestination: { TopicARN: { Ref: Match.stringLikeRegexp('MailEvents') } },
      }),
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'data@example.com',
      TopicArn: { Ref: Match.stringLikeRegexp('MailEvents') },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          SES_CONFIGURATION_SET: { Ref: Match.stringLikeRegexp('Mail') },
        }),
      },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':configuration-set/');
  });

  test('the archive: reports expire, ledger records do not; delete only on ledger/', () => {
    const archive = Object.entries(template.findResources('AWS::S3::Bucket')).find(([id]) =>
      id.startsWith('Archive'),
    )?.[1] as { Properties: { LifecycleConfiguration: { Rules: unknown[] } } };
    expect(archive.Properties.LifecycleConfiguration.Rules).toEqual([
      { ExpirationInDays: 400, Prefix: 'reports/', Status: 'Enabled' },
    ]);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (
          p as {
            Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } };
          }
        ).Properties.PolicyDocument.Statement,
    );
    const deletes = statements.filter((x) => JSON.stringify(x.Action).includes('s3:DeleteObject'));
    const onArchive = deletes.filter((x) => JSON.stringify(x.Resource).includes('Archive'));
    expect(onArchive).toHaveLength(1);
    expect(JSON.stringify(onArchive[0]?.Resource)).toContain('/ledger/*');
  });

  test('the bundle: no TypeScript compiler, no source map, under 6 MB', () => {
    const dir = bundleOf(template, outdir);
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    const size = statSync(join(dir, 'index.mjs')).size;
    expect(size).toBeLessThan(6_000_000);
    // The compiler's API, 4 times in the bundle that had it.
    expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).not.toContain('createSourceFile');
  });
});
