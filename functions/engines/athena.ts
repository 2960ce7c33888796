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
  /** Attempts for a throttled call, on top of the SDK's own. @default 8 */
  readonly throttleAttempts?: number | undefined;
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
    const id = await this.run(sql, []);
    let names: string[] = [];
    let columns: Float64Array[] = [];
    let rows = 0;
    await this.readPages(id, (cols, cells) => {
      if (rows === 0 && columns.length === 0) {
        names = cols.map((c, j) => c.Label ?? c.Name ?? `_${j}`);
        cols.forEach((c, j) => {
          if (!NUMERIC_TYPES.has((c.Type ?? '').toLowerCase()))
            throw new QueryError(`column ${names[j] ?? j} is not numeric (${c.Type ?? '?'})`);
        });
        columns = cols.map(() => new Float64Array(1024));
      }
      if (rows === columns[0]?.length) {
        columns = columns.map((c) => {
          const grown = new Float64Array(c.length * 2);
          grown.set(c);
          return grown;
        });
      }
      columns.forEach((column, j) => {
        const v = cells[j]?.VarCharValue;
        column[rows] = v === undefined ? Number.NaN : Number(v);
      });
      rows++;
    });
    const out: NumberColumns = {};
    names.forEach((name, j) => (out[name] = (columns[j] ?? new Float64Array()).slice(0, rows)));
    return out;
  }

  /** Starts a statement and waits for it to succeed; returns its execution id. */
  private async run(sql: string, params: readonly (string | number)[]): Promise<string> {
    const o = this.options;
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
    await this.waitFor(id);
    return id;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Polls until the query ends; cancels it when it outlives `maxWaitMs`. */
  private async waitFor(id: string): Promise<void> {
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
          return;
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
