import { stat, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { duckdbDialect, stringLiteral } from '../sql/dialect.ts';
import {
  QueryError,
  SourceError,
  type OrdersRelation,
  type QueryEngine,
  type Row,
} from './query-engine.ts';

export interface DuckDbOptions {
  /** Database file, or `:memory:`. @default ':memory:' */
  readonly path?: string;
  /** DuckDB `memory_limit`, e.g. `'1GB'`. @default DuckDB's own (80 % of RAM) */
  readonly memoryLimit?: string;
  /** DuckDB `threads`. @default one per core */
  readonly threads?: number;
}

function formatOf(path: string): 'parquet' | 'csv' | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.csv') return 'csv';
  return undefined;
}

/** DuckDB, embedded: the laptop and test engine. Reads Parquet or CSV files as the source. */
export class DuckDbEngine implements QueryEngine {
  readonly dialect = duckdbDialect;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async create(options: DuckDbOptions = {}): Promise<DuckDbEngine> {
    // Nothing may download at run time: no extension auto-install. Without the ICU
    // extension DuckDB reads TIMESTAMPTZ as UTC, which is what ordered_at means.
    const settings: Record<string, string> = { autoinstall_known_extensions: 'false' };
    if (options.memoryLimit) settings.memory_limit = options.memoryLimit;
    if (options.threads) settings.threads = String(options.threads);
    const instance = await DuckDBInstance.create(options.path ?? ':memory:', settings);
    const connection = await instance.connect();
    return new DuckDbEngine(instance, connection);
  }

  async relation(source: OrdersRelation): Promise<string> {
    if (source.kind === 'table') return source.table;
    let info;
    try {
      info = await stat(source.path);
    } catch {
      throw new SourceError(`source "${source.path}" does not exist`);
    }
    let pattern = source.path;
    let format = source.format ?? formatOf(source.path);
    if (info.isDirectory()) {
      const files = (await readdir(source.path, { recursive: true })).map(String);
      format ??= files.some((f) => formatOf(f) === 'parquet')
        ? 'parquet'
        : files.some((f) => formatOf(f) === 'csv')
          ? 'csv'
          : undefined;
      if (!format)
        throw new SourceError(`source folder "${source.path}" has no .parquet or .csv file`);
      pattern = join(source.path, '**', `*.${format}`);
    }
    if (!format) {
      throw new SourceError(
        `source "${source.path}" is neither .parquet nor .csv (set its format)`,
      );
    }
    return format === 'parquet'
      ? `read_parquet(${stringLiteral(pattern)})`
      : `read_csv(${stringLiteral(pattern)}, header = true)`;
  }

  async query<T extends Row = Row>(
    sql: string,
    params: readonly (string | number)[] = [],
  ): Promise<T[]> {
    try {
      const reader = await this.connection.runAndReadAll(
        sql,
        params.length ? [...params] : undefined,
      );
      return reader.getRowObjectsJson() as T[];
    } catch (err) {
      throw new QueryError((err as Error).message, { cause: err });
    }
  }

  close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
    return Promise.resolve();
  }
}
