import { isCleanup, throwIfAbandoned } from '../abandon.ts';
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type ColumnInfo,
  type Datum,
  type GetQueryResultsCommandOutput,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { withBackoff } from '../retry.ts';
import { quoteIdentifier, trinoDialect } from '../sql/dialect.ts';
import {
  QueryError,
  SourceError,
  type NumberColumns,
  type OrdersRelation,
  type QueryEngine,
  type Row,
} from './query-engine.ts';

export interface AthenaOptions {
  /** The SDK client, injected: a real one in Lambda and the CLI, a mock in tests. */
  readonly client: AthenaClient;
  readonly workGroup: string;
  /** Default database for unqualified table names. */
  readonly database?: string | undefined;
  /** Data catalog. @default 'AwsDataCatalog' */
  readonly catalog?: string | undefined;
  /** Result location, when the workgroup does not enforce its own. */
  readonly outputLocation?: string | undefined;
  /** Longest wait for one query before it is cancelled. @default 10 minutes */
  readonly maxWaitMs?: number | undefined;
  /** First poll delay; later polls back off to `maxPollMs`. @default 250 */
  readonly pollMs?: number | undefined;
  /** @default 2000 */
  readonly maxPollMs?: number | undefined;
  /**
   * Reads large numeric results (`queryNumbers`) from the result file Athena writes to S3,
   * in one streamed GetObject, instead of 1,000 rows per GetQueryResults call. The function
   * may read its result location already (Athena writes there with its credentials).
   */
  readonly s3?: S3Client | undefined;
  /** Attempts for a throttled call, on top of the SDK's own. @default 8 */
  readonly throttleAttempts?: number | undefined;
  /**
   * When it fires, the running query is stopped (StopQueryExecution) and no other starts:
   * a run abandoned before the function's timeout leaves nothing running in Athena.
   */
  readonly signal?: AbortSignal | undefined;
  /** Injected for tests. */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  readonly now?: (() => number) | undefined;
  readonly random?: (() => number) | undefined;
}

/**
 * Parses one Athena result cell by its column type. Athena returns every value as a string
 * and omits the value for NULL. DECIMAL stays a string, exact to the last digit (as DuckDB's
 * JSON rows give it); integers become numbers when they are safe integers.
 */
export function parseCell(type: string, value: string | undefined): Row[string] {
  if (value === undefined) return null;
  switch (type.toLowerCase()) {
    case 'tinyint':
    case 'smallint':
    case 'integer':
    case 'int':
    case 'bigint': {
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : value;
    }
    case 'double':
    case 'float':
    case 'real':
      return Number(value);
    case 'boolean':
      return value === 'true';
    case 'decimal':
    case 'varchar':
    case 'char':
    case 'string':
    case 'date':
    case 'timestamp':
    case 'timestamp with time zone':
    case 'time':
    default:
      return value;
  }
}

/** Athena column types queryNumbers reads as numbers. */
const NUMERIC_TYPES = new Set([
  'tinyint',
  'smallint',
  'integer',
  'int',
  'bigint',
  'double',
  'float',
  'real',
]);

/**
 * Numeric columns filled row by row into typed arrays that double as they fill: the
 * columns' Athena types are checked first, and each cell is text ('' for NULL).
 */
class NumberColumnsBuilder {
  private readonly names: string[];
  private columns: Float64Array[];
  private rows = 0;

  constructor(info: readonly ColumnInfo[]) {
    this.names = info.map((c, j) => c.Label ?? c.Name ?? `_${j}`);
    info.forEach((c, j) => {
      if (!NUMERIC_TYPES.has((c.Type ?? '').toLowerCase()))
        throw new QueryError(`column ${this.names[j] ?? j} is not numeric (${c.Type ?? '?'})`);
    });
    this.columns = info.map(() => new Float64Array(1024));
  }

  get width(): number {
    return this.names.length;
  }

  push(cell: (j: number) => string): void {
    if (this.rows === this.columns[0]?.length) {
      this.columns = this.columns.map((c) => {
        const grown = new Float64Array(c.length * 2);
        grown.set(c);
        return grown;
      });
    }
    this.columns.forEach((column, j) => {
      column[this.rows] = numberCell(cell(j), this.names[j]);
    });
    this.rows++;
  }

  result(): NumberColumns {
    const out: NumberColumns = {};
    this.names.forEach((name, j) => {
      out[name] = (this.columns[j] ?? new Float64Array()).slice(0, this.rows);
    });
    return out;
  }
}

/** A numeric result cell as text ('' for NULL, which becomes NaN); anything else is refused. */
function numberCell(text: string, column: string | undefined): number {
  if (text === '' || text === 'NaN') return Number.NaN;
  const n = Number(text);
  if (Number.isNaN(n)) throw new QueryError(`column ${column ?? '?'} is not a number: ${text}`);
  return n;
}

/** Athena (Trino engine v3) behind the same port as DuckDB; it runs the same SQL. */
export class AthenaEngine implements QueryEngine {
  readonly dialect = trinoDialect;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: AthenaOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = options.now ?? (() => Date.now());
    this.random = options.random ?? Math.random;
  }

  relation(source: OrdersRelation): Promise<string> {
    if (source.kind !== 'table') {
      return Promise.reject(
        new SourceError(
          'Athena reads tables, not local files: set source.relation to { kind: "table", table: "database.table" }',
        ),
      );
    }
    return Promise.resolve(source.table.split('.').map(quoteIdentifier).join('.'));
  }

  async query<T extends Row = Row>(
    sql: string,
    params: readonly (string | number)[] = [],
  ): Promise<T[]> {
    const id = await this.run(sql, params);
    const rows: Row[] = [];
    await this.readPages(id, (cols, cells) => {
      const row: Row = {};
      cols.forEach((c, j) => {
        row[c.Label ?? c.Name ?? `_${j}`] = parseCell(c.Type ?? 'varchar', cells[j]?.VarCharValue);
      });
      rows.push(row);
    });
    return rows as T[];
  }

  /**
   * A statement of numeric columns, page by page into typed arrays (NULL as NaN): a result
   * of a million rows never becomes a million row objects.
   */
  async queryNumbers(sql: string): Promise<NumberColumns> {
    const { id, output } = await this.start(sql, []);
    const s3 = this.options.s3;
    if (s3 && output) return this.numbersFromFile(id, output, s3);
    return this.numbersFromPages(id);
  }

  /** queryNumbers from GetQueryResults, page by page. */
  private async numbersFromPages(id: string): Promise<NumberColumns> {
    let built: NumberColumnsBuilder | undefined;
    await this.readPages(id, (cols, cells) => {
      built ??= new NumberColumnsBuilder(cols);
      built.push((j) => cells[j]?.VarCharValue ?? '');
    });
    return built?.result() ?? {};
  }

  /**
   * queryNumbers from the result file: the column types from a one-row GetQueryResults,
   * then the CSV (a quoted header, quoted values, NULL as an empty field) streamed from S3
   * and parsed line by line into typed arrays.
   */
  private async numbersFromFile(id: string, output: string, s3: S3Client): Promise<NumberColumns> {
    const head = await this.retry(() =>
      this.options.client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1 })),
    );
    const built = new NumberColumnsBuilder(head.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []);
    const at = /^s3:\/\/([^/]+)\/(.+)$/.exec(output);
    if (!at?.[1] || !at[2])
      throw new QueryError(`Athena result location ${output} is not an S3 URI`);
    const [, bucket, key] = at;
    let body: AsyncIterable<Uint8Array> | undefined;
    try {
      const object = await this.retry(() =>
        s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
      );
      body = object.Body as AsyncIterable<Uint8Array> | undefined;
    } catch {
      body = undefined;
    }
    // A result location the function may not read (a work group that sets its own): the
    // same numbers through GetQueryResults.
    if (!body) return this.numbersFromPages(id);
    let header = true;
    // Every line is a row (in a one-column result a NULL is an empty line); the file ends
    // with a line break.
    const line = (text: string): void => {
      if (header) {
        header = false;
        return;
      }
      const cells = text.split(',');
      if (cells.length !== built.width)
        throw new QueryError(
          `Athena result ${output}: a line of ${cells.length} fields, not ${built.width}`,
        );
      built.push((j) => {
        const cell = cells[j] ?? '';
        return cell.startsWith('"') ? cell.slice(1, -1) : cell;
      });
    };
    const decoder = new TextDecoder();
    let rest = '';
    for await (const chunk of body) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) line(l.replace(/\r$/, ''));
    }
    const tail = (rest + decoder.decode()).replace(/\r$/, '');
    if (tail !== '') line(tail);
    return built.result();
  }

  /** Starts a statement and waits for it to succeed; returns its execution id. */
  private async run(sql: string, params: readonly (string | number)[]): Promise<string> {
    return (await this.start(sql, params)).id;
  }

  /** Starts a statement and waits for it; its id and the S3 URI of its result file. */
  private async start(
    sql: string,
    params: readonly (string | number)[],
  ): Promise<{ id: string; output: string | undefined }> {
    const o = this.options;
    const signal = isCleanup(sql) ? undefined : o.signal;
    throwIfAbandoned(signal, 'no further Athena query started');
    const started = await this.retry(() =>
      o.client.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          WorkGroup: o.workGroup,
          QueryExecutionContext: {
            ...(o.database ? { Database: o.database } : {}),
            Catalog: o.catalog ?? 'AwsDataCatalog',
          },
          ...(o.outputLocation
            ? { ResultConfiguration: { OutputLocation: o.outputLocation } }
            : {}),
          ...(params.length > 0
            ? {
                ExecutionParameters: params.map((p) =>
                  typeof p === 'number' ? String(p) : `'${p.replaceAll("'", "''")}'`,
                ),
              }
            : {}),
        }),
      ),
    );
    const id = started.QueryExecutionId;
    if (!id) throw new QueryError('Athena started a query without an id');
    return { id, output: await this.waitFor(id, signal) };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Polls until the query ends; cancels it when it outlives `maxWaitMs`. */
  private async waitFor(id: string, signal?: AbortSignal): Promise<string | undefined> {
    const o = this.options;
    const deadline = this.now() + (o.maxWaitMs ?? 10 * 60_000);
    let delay = o.pollMs ?? 250;
    for (;;) {
      const out = await this.retry(() =>
        o.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id })),
      );
      const status = out.QueryExecution?.Status;
      const state = status?.State;
      const reason = [status?.StateChangeReason, status?.AthenaError?.ErrorMessage]
        .filter((s): s is string => !!s)
        .filter((s, i, all) => all.indexOf(s) === i)
        .join('; ');
      switch (state) {
        case 'SUCCEEDED':
          return out.QueryExecution?.ResultConfiguration?.OutputLocation;
        case 'FAILED':
          throw new QueryError(`Athena query ${id} failed: ${reason || 'no reason given'}`);
        case 'CANCELLED':
          throw new QueryError(`Athena query ${id} was cancelled: ${reason || 'no reason given'}`);
        case 'QUEUED':
        case 'RUNNING':
        case undefined:
          break;
        default:
          throw new QueryError(`Athena query ${id} is in an unknown state ${String(state)}`);
      }
      if (signal?.aborted) {
        // Stopped, or at least asked to be: the run is abandoned either way.
        await o.client
          .send(new StopQueryExecutionCommand({ QueryExecutionId: id }))
          .catch(() => undefined);
        throwIfAbandoned(signal, `Athena query ${id} stopped`);
      }
      if (this.now() + delay > deadline) {
        await this.retry(() =>
          o.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })),
        );
        throw new QueryError(
          `Athena query ${id} did not finish within ${Math.round((o.maxWaitMs ?? 600_000) / 1000)} s and was cancelled`,
        );
      }
      await this.sleep(delay);
      delay = Math.min(Math.round(delay * 1.5), o.maxPollMs ?? 2000);
    }
  }

  /**
   * Reads every page and hands each row's cells to `onRow`, page by page; the first row of
   * the first page repeats the column names and is skipped.
   */
  private async readPages(
    id: string,
    onRow: (columns: ColumnInfo[], cells: Datum[]) => void,
  ): Promise<void> {
    let token: string | undefined;
    let columns: ColumnInfo[] | undefined;
    let first = true;
    do {
      const page: GetQueryResultsCommandOutput = await this.retry(() =>
        this.options.client.send(
          new GetQueryResultsCommand({
            QueryExecutionId: id,
            MaxResults: 1000,
            ...(token ? { NextToken: token } : {}),
          }),
        ),
      );
      columns ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      const cols = columns;
      const data = page.ResultSet?.Rows ?? [];
      data.forEach((r, i) => {
        const cells = r.Data ?? [];
        if (
          first &&
          i === 0 &&
          cells.length === cols.length &&
          cells.every((c, j) => c.VarCharValue === (cols[j]?.Label ?? cols[j]?.Name))
        ) {
          return; // the header row
        }
        onRow(cols, cells);
      });
      first = false;
      token = page.NextToken;
    } while (token);
  }

  /** Retries throttled calls with capped exponential backoff and full jitter. */
  private async retry<R>(call: () => Promise<R>): Promise<R> {
    try {
      return await withBackoff(call, {
        attempts: this.options.throttleAttempts ?? 8,
        sleep: this.sleep,
        random: this.random,
      });
    } catch (e) {
      if (e instanceof QueryError) throw e;
      throw new QueryError(e instanceof Error ? e.message : String(e), { cause: e });
    }
  }
}
