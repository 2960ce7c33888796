import {
  AthenaClient,
  GetQueryExecutionCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { main } from '../../functions/cli/main.ts';
import { SesMailer, sesClient } from '../../functions/delivery/ses.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const athena = mockClient(AthenaClient);
const lambda = mockClient(LambdaClient);

async function kpi(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  process.env.AWS_REGION ??= 'eu-west-1';
  const code = await main(args, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    cwd: ROOT,
  });
  return { code, out, err };
}

beforeEach(() => {
  athena.reset();
  lambda.reset();
});
afterAll(() => {
  athena.restore();
  lambda.restore();
});

describe('kpi run --engine athena', () => {
  test('runs on the configured work group and table; a failed query exits 1 with its reason', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-9' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        Status: {
          State: 'FAILED',
          StateChangeReason: 'TABLE_NOT_FOUND: Table sales.orders does not exist',
        },
      },
    });
    const r = await kpi(['run', '--engine', 'athena', '--period', '2026-W47', '--format', 'json']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('on Athena work group kpi-digest');
    expect(r.err).toContain(
      'kpi: query failed: Athena query q-9 failed: TABLE_NOT_FOUND: Table sales.orders does not exist',
    );
    const input = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(input?.WorkGroup).toBe('kpi-digest');
    expect(input?.QueryString).toContain('FROM "sales"."orders"');
    expect(r.out).toBe('');
  });

  test('without AWS settings or flags it names what is missing, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpi-cfg-'));
    const file = join(dir, 'kpi.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        source: { relation: { kind: 'file', path: 'x.parquet' } },
        reports: [{ id: 'w', name: 'W', period: 'week' }],
      }),
    );
    const r = await kpi(['run', '--engine', 'athena', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('kpi: --workgroup is required (or aws.athena in the config)\n');
    expect(athena.calls()).toHaveLength(0);
    expect((await kpi(['run', '--engine', 'spark'])).err).toContain('--engine "spark"');
  });
});

describe('kpi invoke', () => {
  test('invokes the deployed function and prints where the result went', async () => {
    const result = {
      report: 'weekly',
      period: '2026-W40',
      fresh: true,
      sentTo: [],
      messageIds: [],
      archived: ['s3://archive/reports/weekly/2026-W40/x/report.json'],
      audience: 'none',
    };
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(result)) as never,
    });
    const r = await kpi(['invoke', '--report', 'weekly', '--period', '2026-W40', '--dry-run']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(result);
    expect(r.err).toContain('kpi: weekly 2026-W40: not sent');
    expect(r.err).toContain('kpi: archived s3://archive/reports/weekly/2026-W40/x/report.json');
    const call = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(call?.FunctionName).toBe('kpi-digest-report');
    expect(JSON.parse(new TextDecoder().decode(call?.Payload as Uint8Array))).toEqual({
      report: 'weekly',
      period: '2026-W40',
      dryRun: true,
    });
  });

  test('a payload the function would reject is rejected here, before invoking (exit 2)', async () => {
    const r = await kpi(['invoke', '--report', 'weekly', '--recipients', 'someone@gmail.com']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/recipients: someone@gmail.com is outside the allowed domains/);
    expect(lambda.calls()).toHaveLength(0);
  });

  test('a function error exits 1 with its message', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode(
        JSON.stringify({ errorMessage: 'Athena query q-1 failed: no table' }),
      ) as never,
    });
    const r = await kpi(['invoke', '--report', 'weekly']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('kpi-digest-report failed: Athena query q-1 failed: no table');
  });
});

test('kpi invoke --force asks the function to send again, and says so', async () => {
  lambda.on(InvokeCommand).resolves({
    StatusCode: 200,
    Payload: new TextEncoder().encode(
      JSON.stringify({
        report: 'weekly',
        period: '2026-W40',
        fresh: true,
        sentTo: ['ceo@example.com'],
        messageIds: ['m'],
        failed: [],
        uncertain: [],
        archived: [],
        audience: 'leaders',
      }),
    ) as never,
  });
  const r = await kpi(['invoke', '--report', 'weekly', '--period', '2026-W40', '--force']);
  expect(r.code).toBe(0);
  expect(r.err).toContain('kpi: --force: sending again even if already sent');
  const call = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
  const sent = JSON.parse(new TextDecoder().decode(call?.Payload as Uint8Array)) as Record<
    string,
    unknown
  >;
  expect(sent).toMatchObject({ report: 'weekly', period: '2026-W40', force: true });
  // Its own id: Lambda's retry of this event resumes this resend, never starts another.
  expect(String(sent.requestId)).toMatch(/^[0-9a-f-]{36}$/);
  expect(Object.keys(sent).sort()).toEqual(['force', 'period', 'report', 'requestId']);
});

describe('the SES mailer', () => {
  test('its client makes one attempt per call, and every message names the configuration set', async () => {
    const client = sesClient({ region: 'eu-west-1' });
    expect(await client.config.maxAttempts()).toBe(1);
    const mock = mockClient(client);
    mock.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
    const mailer = new SesMailer(client, { configurationSet: 'kpi-mail' });
    await mailer.sendMessage({
      from: 'kpi@example.com',
      to: ['ceo@example.com'],
      digest: { subject: 'S', html: '<p>x</p>', text: 'x', attachments: [] },
    });
    expect(mock.commandCalls(SendEmailCommand)[0]?.args[0].input.ConfigurationSetName).toBe(
      'kpi-mail',
    );
    mock.restore();
  });
});
