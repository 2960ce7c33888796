import { columnsRead } from '../sql/orders.ts';
import { echo } from '../echo.ts';
import { isColumnName } from '../sql/expression.ts';
import { isCleanup, RunAbandoned, throwIfAbandoned } from '../abandon.ts';
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api';
import { duckdbDialect } from '../sql/dialect.ts';
import { explain, openFileSource, relationOf, type FileSource } from './duckdb-source.ts';
import type { OrderColumns } from '../sql/report-query.ts';
import {
  QueryError,
  SourceError,
  type DeclaredType,
  type NumberColumns,
  type OrdersRelation,
  type QueryEngine,
  type Row,
} from './query-engine.ts';

/** Column types queryNumbers reads as numbers (whole numbers are exact below 2^53). */
const NUMERIC = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
]);

export interface DuckDbOptions {
  /** Database file, or `:memory:`. @default ':memory:' */
  readonly path?: string;
  /** DuckDB `memory_limit`, e.g. `'1GB'`. @default DuckDB's own (80 % of RAM) */
  readonly memoryLimit?: string;
  /** DuckDB `threads`. @default one per core */
  readonly threads?: number;
  /** When it fires, the running statement is interrupted and the run abandoned. */
  readonly signal?: AbortSignal | undefined;
}

/** DuckDB, embedded: the laptop and test engine. Reads Parquet or CSV files as the source. */
export class DuckDbEngine implements QueryEngine {
  readonly dialect = duckdbDialect;
  /** The file sources behind relations, to point at a bad value when a read fails. */
  private readonly sources = new Map<string, FileSource>();
  private readonly closers: (() => Promise<void>)[] = [];

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener(
      'abort',
      () => {
        connection.interrupt();
      },
      { once: true },
    );
  }

  static async create(options: DuckDbOptions = {}): Promise<DuckDbEngine> {
    // Nothing may download at run time: no extension auto-install.
    const settings: Record<string, string> = { autoinstall_known_extensions: 'false' };
    if (options.memoryLimit) settings.memory_limit = options.memoryLimit;
    if (options.threads) settings.threads = String(options.threads);
    const instance = await DuckDBInstance.create(options.path ?? ':memory:', settings);
    const connection = await instance.connect();
    // The session's time zone is UTC, not the machine's: a TIMESTAMPTZ (a Parquet instant,
    // a CSV time with an offset) becomes the UTC TIMESTAMP the statements compare, wherever
    // the run happens. The time zones come with DuckDB's ICU extension, built into the
    // Node package; where it is not, DuckDB has no session zone and TIMESTAMPTZ is UTC.
    try {
      await connection.run("LOAD icu; SET TimeZone = 'UTC'");
    } catch {
      // No ICU: nothing to set.
    }
    return new DuckDbEngine(instance, connection, options.signal);
  }

  async relation(
    source: OrdersRelation,
    declared: Readonly<Record<string, DeclaredType>> = {},
  ): Promise<string> {
    if (source.kind === 'table') return source.table;
    const opened = await openFileSource(this.connection, source, declared);
    this.closers.push(opened.close);
    const relation = relationOf(opened.source);
    this.sources.set(relation, opened.source);
    return relation;
  }

  /**
   * A failed statement that read a file source: the bad value behind it, as a SourceError
   * with its place, when the failure is one of reading or converting the source's values.
   */
  private async explained(sql: string, err: unknown): Promise<Error> {
    const message = (err as Error).message;
    if (/Conversion Error|CSV Error|Invalid Input Error|Invalid unicode/i.test(message)) {
      for (const [relation, source] of this.sources) {
        if (!sql.includes(relation)) continue;
        const found = await explain(this.connection, source).catch(() => null);
        if (found) return found;
        // A time that does not match the declared format (source.timestamps.format).
        const parse = /Could not parse string "(.*)" according to format specifier "(.*)"/.exec(
          message,
        );
        if (parse) {
          return new SourceError(
            `source "${source.label}": column holds the time ${echo(parse[1] ?? '')}, not one written ${parse[2] ?? ''} (source.timestamps.format)`,
            { cause: err },
          );
        }
      }
    }
    return new QueryError(message, { cause: err });
  }

  async query<T extends Row = Row>(
    sql: string,
    params: readonly (string | number)[] = [],
  ): Promise<T[]> {
    if (!isCleanup(sql)) throwIfAbandoned(this.signal, 'no further statement started');
    try {
      const reader = await this.connection.runAndReadAll(
        sql,
        params.length ? [...params] : undefined,
      );
      return reader.getRowObjectsJson() as T[];
    } catch (err) {
      throwIfAbandoned(this.signal, 'the running statement was interrupted');
      throw await this.explained(sql, err);
    }
  }

  async queryNumbers(sql: string): Promise<NumberColumns> {
    throwIfAbandoned(this.signal, 'no further statement started');
    try {
      // Streamed: DuckDB hands over one chunk at a time, and never holds the whole result.
      const result = await this.connection.stream(sql);
      const names = result.columnNames();
      names.forEach((name, c) => {
        if (!NUMERIC.has(result.columnTypeId(c)))
          throw new QueryError(
            `column ${name} is not numeric (${result.columnType(c).toString()})`,
          );
      });
      // Chunk by chunk, from DuckDB's vectors into typed arrays.
      const parts: Float64Array[][] = names.map(() => []);
      let rows = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const n = chunk.rowCount;
        parts.forEach((part, c) => {
          const vector = chunk.getColumnVector(c);
          const out = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const v = vector.getItem(i);
            out[i] = v === null ? Number.NaN : Number(v);
          }
          part.push(out);
        });
        rows += n;
      }
      const columns: NumberColumns = {};
      names.forEach((name, c) => {
        const all = new Float64Array(rows);
        let at = 0;
        for (const part of parts[c] ?? []) {
          all.set(part, at);
          at += part.length;
        }
        columns[name] = all;
      });
      return columns;
    } catch (err) {
      throwIfAbandoned(this.signal, 'the running statement was interrupted');
      if (err instanceof QueryError) throw err;
      throw new QueryError((err as Error).message, { cause: err });
    }
  }

  async columnsOf(relation: string): Promise<string[]> {
    const described = await this.query(`DESCRIBE SELECT * FROM ${relation}`);
    return described.map((r) => String(r.column_name));
  }

  async checkSource(
    relation: string,
    columns: OrderColumns,
    options: { readonly localTimes?: boolean; readonly textTimes?: boolean } = {},
  ): Promise<void> {
    const file = this.sources.get(relation);
    const where = file ? `source "${file.label}": ` : '';
    let described: Row[];
    try {
      described = await this.query(`DESCRIBE SELECT * FROM ${relation}`);
    } catch (err) {
      if (err instanceof SourceError || err instanceof RunAbandoned) throw err;
      const first = (err as Error).message.split('\n')[0] ?? 'unknown error';
      throw new SourceError(`${where}cannot be read: ${first}`, { cause: err });
    }
    const types = new Map(
      described.map((r) => [String(r.column_name).toLowerCase(), String(r.column_type)]),
    );
    const entries = [columns.order_id, columns.customer_id, columns.ordered_at, columns.amount];
    if (columns.status) entries.push(columns.status);
    const wanted = [...new Set(entries.flatMap(columnsRead))];
    const missing = wanted.filter((c) => !types.has(c.toLowerCase()));
    if (missing.length > 0) {
      throw new SourceError(
        `the source has no column ${missing.join(', ')}; it has ${described.map((r) => String(r.column_name)).join(', ') || 'none'}`,
      );
    }
    // A CSV file's columns have their declared types; a Parquet file or a table its own,
    // which must be numbers and timestamps (text is not parsed: declare the file as CSV).
    // An expression's result is cast by the statement itself.
    if (isColumnName(columns.amount)) {
      const amountType = types.get(columns.amount.toLowerCase()) ?? '';
      if (!/^(DECIMAL|DOUBLE|FLOAT|REAL|(U)?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)/.test(amountType)) {
        throw new SourceError(`${where}column ${columns.amount} holds ${amountType}, not numbers`);
      }
    }
    if (isColumnName(columns.ordered_at) && !options.textTimes) {
      const atType = types.get(columns.ordered_at.toLowerCase()) ?? '';
      if (options.localTimes && /WITH TIME ZONE/.test(atType)) {
        throw new SourceError(
          `${where}column ${columns.ordered_at} holds instants with a zone (${atType}), not local times: drop source.timestamps.timeZone`,
        );
      }
      if (!/^(TIMESTAMP|DATE)/.test(atType)) {
        throw new SourceError(
          `${where}column ${columns.ordered_at} holds ${atType}, not timestamps (store instants as TIMESTAMP)`,
        );
      }
    }
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
    for (const close of this.closers.splice(0)) await close();
  }
}
