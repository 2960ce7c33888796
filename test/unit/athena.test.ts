import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type GetQueryResultsCommandOutput,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, test } from 'vitest';
import { RunAbandoned } from '../../functions/abandon.ts';
import { AthenaEngine, parseCell } from '../../functions/engines/athena.ts';
import { QueryError, SourceError } from '../../functions/engines/query-engine.ts';

const athena = mockClient(AthenaClient);

/** A fake clock: sleeping advances it, so bounded waits run instantly. */
function clock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: (ms: number) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    sleeps,
  };
}

function engine(c = clock(), extra: Partial<ConstructorParameters<typeof AthenaEngine>[0]> = {}) {
  return new AthenaEngine({
    client: new AthenaClient({ region: 'eu-west-1' }),
    workGroup: 'kpi',
    database: 'sales',
    sleep: c.sleep,
    now: c.now,
    random: () => 0.5,
    ...extra,
  });
}

const COLUMNS = [
  { Name: 'n', Label: 'n', Type: 'bigint' },
  { Name: 'amount', Label: 'amount', Type: 'decimal' },
  { Name: 'd', Label: 'd', Type: 'double' },
  { Name: 'name', Label: 'name', Type: 'varchar' },
  { Name: 'ok', Label: 'ok', Type: 'boolean' },
  { Name: 'at', Label: 'at', Type: 'timestamp' },
];

function page(
  rows: (string | undefined)[][],
  token?: string,
  header = false,
): GetQueryResultsCommandOutput {
  const all = header ? [COLUMNS.map((c) => c.Name), ...rows] : rows;
  return {
    $metadata: {},
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: COLUMNS },
      Rows: all.map((r) => ({ Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
    },
    ...(token ? { NextToken: token } : {}),
  };
}

function throttled(name = 'ThrottlingException'): Error {
  const e = new Error('Rate exceeded');
  e.name = name;
  return e;
}

beforeEach(() => {
  athena.reset();
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
});

describe('the Athena engine', () => {
  test('waits for success and reads every page, typed, skipping the header row once', async () => {
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce(
        page([['1', '325988.22', '0.5', 'a', 'true', '2026-11-22 23:59:56.400']], 't1', true),
      )
      .resolvesOnce(page([['9007199254740993', '0.10', 'NaN', 'n', 'false', undefined]], 't2'))
      .resolvesOnce(page([[undefined, undefined, undefined, undefined, undefined, undefined]]));
    const c = clock();
    const rows = await engine(c).query('SELECT 1');
    expect(rows).toEqual([
      { n: 1, amount: '325988.22', d: 0.5, name: 'a', ok: true, at: '2026-11-22 23:59:56.400' },
      { n: '9007199254740993', amount: '0.10', d: NaN, name: 'n', ok: false, at: null },
      { n: null, amount: null, d: null, name: null, ok: null, at: null },
    ]);
    // A row equal to the column names after the first page is data, not a header.
    expect(
      athena.commandCalls(GetQueryResultsCommand).map((x) => x.args[0].input.NextToken),
    ).toEqual([undefined, 't1', 't2']);
    expect(c.sleeps).toEqual([250, 375]);
    const start = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(start).toMatchObject({
      QueryString: 'SELECT 1',
      WorkGroup: 'kpi',
      QueryExecutionContext: { Database: 'sales', Catalog: 'AwsDataCatalog' },
    });
  });

  test('a FAILED query throws with its state-change reason', async () => {
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        Status: {
          State: 'FAILED',
          StateChangeReason: "COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
          AthenaError: {
            ErrorCategory: 2,
            ErrorMessage: "COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
          },
        },
      },
    });
    await expect(engine().query('SELECT x')).rejects.toThrow(
      new QueryError(
        "Athena query q-1 failed: COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
      ),
    );
  });

  test('a CANCELLED query throws', async () => {
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        Status: { State: 'CANCELLED', StateChangeReason: 'Query was cancelled by user' },
      },
    });
    await expect(engine().query('SELECT 1')).rejects.toThrow(
      /q-1 was cancelled: Query was cancelled by user/,
    );
  });

  test('throttling is retried with backoff and jitter, then succeeds', async () => {
    athena
      .on(StartQueryExecutionCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(throttled('TooManyRequestsException'))
      .resolves({ QueryExecutionId: 'q-2' });
    athena
      .on(GetQueryExecutionCommand)
      .rejectsOnce(throttled())
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena
      .on(GetQueryResultsCommand)
      .resolves(page([['7', '1.00', '1', 'x', 'true', undefined]], undefined, true));
    const c = clock();
    const rows = await engine(c).query('SELECT 1');
    expect(rows).toHaveLength(1);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(3);
    // Full jitter (random 0.5) over 200 ms, 400 ms; then 200 ms for the poll.
    expect(c.sleeps).toEqual([100, 200, 100]);
  });

  test('throttling that never stops gives up after the attempts allowed', async () => {
    athena.on(StartQueryExecutionCommand).rejects(throttled());
    await expect(engine(clock(), { throttleAttempts: 3 }).query('SELECT 1')).rejects.toThrow(
      QueryError,
    );
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(3);
  });

  test('a query that never finishes is cancelled after the bounded wait', async () => {
    athena
      .on(GetQueryExecutionCommand)
      .resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});
    const c = clock();
    await expect(engine(c, { maxWaitMs: 10_000 }).query('SELECT 1')).rejects.toThrow(
      /did not finish within 10 s and was cancelled/,
    );
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryExecutionId: 'q-1',
    });
    expect(c.now()).toBeLessThanOrEqual(10_000);
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  test('a run abandoned at its deadline stops its running query and starts no other', async () => {
    athena
      .on(GetQueryExecutionCommand)
      .resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});
    const deadline = new AbortController();
    const c = clock();
    // The deadline fires while the query runs (on the third poll's sleep).
    const sleep = (ms: number) => {
      if (c.sleeps.length === 2) deadline.abort();
      return c.sleep(ms);
    };
    const e = engine(c, { sleep, signal: deadline.signal });
    await expect(e.query('SELECT 1')).rejects.toThrow(
      /abandoned before its deadline: Athena query q-1 stopped/,
    );
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryExecutionId: 'q-1',
    });
    await expect(e.query('SELECT 2')).rejects.toThrow(RunAbandoned);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);
    // Its clean-up still runs: an abandoned run leaves no table of its own behind.
    athena
      .on(GetQueryExecutionCommand)
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena.on(GetQueryResultsCommand).resolves({ ResultSet: { Rows: [] } });
    await expect(e.query('DROP TABLE IF EXISTS kpi_run_0123')).resolves.toEqual([]);
    expect(athena.commandCalls(StartQueryExecutionCommand)[1]?.args[0].input.QueryString).toBe(
      'DROP TABLE IF EXISTS kpi_run_0123',
    );
  });

  test('an unknown state is an error, not an endless wait', async () => {
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { Status: { State: 'PAUSED' as 'RUNNING' } },
    });
    await expect(engine().query('SELECT 1')).rejects.toThrow(/unknown state PAUSED/);
  });

  test('reads tables only, quoted part by part', async () => {
    await expect(engine().relation({ kind: 'table', table: 'sales.orders' })).resolves.toBe(
      '"sales"."orders"',
    );
    await expect(engine().relation({ kind: 'file', path: 'orders.parquet' })).rejects.toThrow(
      SourceError,
    );
  });

  test('parses every column type the KPI query returns', () => {
    expect(parseCell('bigint', '12994')).toBe(12994);
    expect(parseCell('integer', '-3')).toBe(-3);
    expect(parseCell('decimal(38,2)'.replace(/\(.*/, ''), '443942723.55')).toBe('443942723.55');
    expect(parseCell('double', '7.982254999997439')).toBe(7.982254999997439);
    expect(parseCell('double', 'Infinity')).toBe(Infinity);
    expect(parseCell('varchar', '2026-11-22 23:59:56.400')).toBe('2026-11-22 23:59:56.400');
    expect(parseCell('boolean', 'false')).toBe(false);
    expect(parseCell('bigint', undefined)).toBeNull();
  });

  test('numbers page by page into typed arrays: NULL as NaN, every page, text refused', async () => {
    const numeric = [
      { Name: 'x', Label: 'x', Type: 'integer' },
      { Name: 'mx', Label: 'mx', Type: 'double' },
    ];
    // 1,500 rows over two pages (past the first typed array's 1,024), the header once.
    const rows = Array.from({ length: 1500 }, (_, i) => [
      String(i),
      i % 3 === 0 ? undefined : String(i / 4),
    ]);
    const pageOf = (part: (string | undefined)[][], header: boolean, token?: string) => ({
      $metadata: {},
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: numeric },
        Rows: (header ? [['x', 'mx'], ...part] : part).map((r) => ({
          Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })),
        })),
      },
      ...(token ? { NextToken: token } : {}),
    });
    athena
      .on(GetQueryExecutionCommand)
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce(pageOf(rows.slice(0, 999), true, 't1'))
      .resolvesOnce(pageOf(rows.slice(999), false));
    const got = await engine().queryNumbers('SELECT x, mx FROM t');
    expect(got.x).toEqual(Float64Array.from(rows, (_, i) => i));
    expect(got.mx?.length).toBe(1500);
    expect(got.mx?.[3]).toBeNaN();
    expect(got.mx?.[1499]).toBe(1499 / 4);
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(2);

    athena
      .on(GetQueryResultsCommand)
      .resolves(page([['1', '2.5', '0.5', 'a', 'true', '2026-01-01']]));
    await expect(engine().queryNumbers('SELECT * FROM t')).rejects.toThrow(
      /column amount is not numeric \(decimal\)/,
    );
  });

  test('numbers from the result file in S3: one streamed read, lines cut anywhere, NULL as NaN', async () => {
    const numeric = [
      { Name: 'x', Label: 'x', Type: 'integer' },
      { Name: 'mx', Label: 'mx', Type: 'double' },
    ];
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        Status: { State: 'SUCCEEDED' },
        ResultConfiguration: { OutputLocation: 's3://results-bucket/athena/q-1.csv' },
      },
    });
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: { ResultSetMetadata: { ColumnInfo: numeric }, Rows: [] },
    });
    // 3,000 rows (past the first typed array), NULL as an empty field, CRLF line ends, and
    // the text cut into chunks of 7 bytes, across lines and fields.
    const rows = Array.from({ length: 3000 }, (_, i) =>
      i % 4 === 0 ? `"${i}",` : `"${i}","${i / 8}"`,
    );
    const text = ['"x","mx"', ...rows].join('\r\n') + '\r\n';
    const bytes = new TextEncoder().encode(text);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, k) =>
      bytes.slice(k * 7, k * 7 + 7),
    );
    const s3 = mockClient(S3Client);
    s3.on(GetObjectCommand).resolves({ Body: Readable.from(chunks) as never });
    try {
      const got = await engine(clock(), { s3: new S3Client({ region: 'eu-west-1' }) }).queryNumbers(
        'SELECT x, mx FROM t',
      );
      expect(got.x).toEqual(Float64Array.from(rows, (_, i) => i));
      expect(got.mx?.[0]).toBeNaN();
      expect(got.mx?.[2999]).toBe(2999 / 8);
      expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: 'results-bucket',
        Key: 'athena/q-1.csv',
      });
      // One call for the column types; no paging through the rows.
      expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(1);

      // One column: a NULL is an empty line.
      athena.on(GetQueryResultsCommand).resolves({
        ResultSet: { ResultSetMetadata: { ColumnInfo: numeric.slice(0, 1) }, Rows: [] },
      });
      s3.on(GetObjectCommand).resolves({
        Body: Readable.from([Buffer.from('"x"\n"1"\n\n"3"\n')]) as never,
      });
      const one = await engine(clock(), {
        s3: new S3Client({ region: 'eu-west-1' }),
      }).queryNumbers('SELECT x');
      expect(Array.from(one.x ?? [])).toEqual([1, Number.NaN, 3]);
      // A location the function may not read: the same numbers page by page.
      s3.on(GetObjectCommand).rejects(
        Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }),
      );
      athena.on(GetQueryResultsCommand).resolves({
        ResultSet: {
          ResultSetMetadata: { ColumnInfo: numeric.slice(0, 1) },
          Rows: [
            { Data: [{ VarCharValue: 'x' }] },
            { Data: [{ VarCharValue: '7' }] },
            { Data: [{}] },
          ],
        },
      });
      const paged = await engine(clock(), {
        s3: new S3Client({ region: 'eu-west-1' }),
      }).queryNumbers('SELECT x');
      expect(Array.from(paged.x ?? [])).toEqual([7, Number.NaN]);

      athena.on(GetQueryResultsCommand).resolves({
        ResultSet: { ResultSetMetadata: { ColumnInfo: numeric }, Rows: [] },
      });
      s3.on(GetObjectCommand).resolves({
        Body: Readable.from([Buffer.from('"x","mx"\n"1","oops"\n')]) as never,
      });
      await expect(
        engine(clock(), { s3: new S3Client({ region: 'eu-west-1' }) }).queryNumbers('SELECT 1'),
      ).rejects.toThrow(/column mx is not a number: oops/);
      s3.on(GetObjectCommand).resolves({
        Body: Readable.from([Buffer.from('"x","mx"\n"1"\n')]) as never,
      });
      await expect(
        engine(clock(), { s3: new S3Client({ region: 'eu-west-1' }) }).queryNumbers('SELECT 1'),
      ).rejects.toThrow(/a line of 1 fields, not 2/);
    } finally {
      s3.restore();
    }
  });
});
