import { open, stat, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DuckDBInstance, DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api';
import { duckdbDialect, stringLiteral } from '../sql/dialect.ts';
import type { OrderColumns } from '../sql/report-query.ts';
import {
  QueryError,
  SourceError,
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
}

function formatOf(path: string): 'parquet' | 'csv' | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.csv') return 'csv';
  return undefined;
}

/**
 * The first line (1-based) whose number of fields differs from the header's, counting
 * commas outside double quotes; null when every line agrees. Reads the first 16 MB.
 */
async function firstRaggedLine(
  path: string,
): Promise<{ line: number; fields: number; header: number } | null> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.min((await handle.stat()).size, 16 * 1024 * 1024));
    await handle.read(buffer, 0, buffer.length, 0);
    let header = -1;
    let line = 1;
    let fields = 1;
    let quoted = false;
    const text = buffer.toString('utf8');
    for (let i = 0; i <= text.length; i++) {
      const ch = text[i];
      if (ch === '"') quoted = !quoted;
      else if (ch === ',' && !quoted) fields++;
      else if ((ch === '\n' || ch === undefined) && !quoted) {
        const blank = ch === undefined && fields === 1 && text.endsWith('\n');
        if (!blank) {
          if (header < 0) header = fields;
          else if (fields !== header) return { line, fields, header };
        }
        line++;
        fields = 1;
      }
    }
    return null;
  } finally {
    await handle.close();
  }
}

/** DuckDB, embedded: the laptop and test engine. Reads Parquet or CSV files as the source. */
export class DuckDbEngine implements QueryEngine {
  readonly dialect = duckdbDialect;
  /** CSV files behind relations, to point at a broken row when DuckDB cannot read one. */
  private readonly csvFiles = new Map<string, string>();

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
    if (format === 'parquet') return `read_parquet(${stringLiteral(pattern)})`;
    // Canonical CSV: comma-separated with a header; a row with the wrong number of fields
    // is an error with its line number, not a silently re-guessed layout.
    const relation = `read_csv(${stringLiteral(pattern)}, header = true, delim = ',', quote = '"')`;
    if (!info.isDirectory()) this.csvFiles.set(relation, pattern);
    return relation;
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

  async queryNumbers(sql: string): Promise<NumberColumns> {
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
      if (err instanceof QueryError) throw err;
      throw new QueryError((err as Error).message, { cause: err });
    }
  }

  async columnsOf(relation: string): Promise<string[]> {
    const described = await this.query(`DESCRIBE SELECT * FROM ${relation}`);
    return described.map((r) => String(r.column_name));
  }

  async checkSource(relation: string, columns: OrderColumns): Promise<void> {
    let described: Row[];
    try {
      described = await this.query(`DESCRIBE SELECT * FROM ${relation}`);
    } catch (err) {
      const csv = this.csvFiles.get(relation);
      const ragged = csv ? await firstRaggedLine(csv) : null;
      if (ragged) {
        throw new SourceError(
          `the source cannot be read: line ${ragged.line} has ${ragged.fields} fields; the header has ${ragged.header}`,
          { cause: err },
        );
      }
      const lines = (err as Error).message.split('\n').map((l) => l.trim());
      const why = lines.find((l) =>
        /invalid unicode|not utf-8|expected number of columns/i.test(l),
      );
      const where = lines.find((l) => /^.*Error on Line: \d+/i.test(l))?.match(/Line: (\d+)/)?.[1];
      throw new SourceError(
        `the source cannot be read: ${why ?? lines[0] ?? 'unknown error'}${where ? ` (line ${where})` : ''}`,
        { cause: err },
      );
    }
    const types = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
    const wanted = [columns.order_id, columns.customer_id, columns.ordered_at, columns.amount];
    if (columns.status) wanted.push(columns.status);
    const missing = wanted.filter((c) => !types.has(c));
    if (missing.length > 0) {
      throw new SourceError(
        `the source has no column ${missing.join(', ')}; it has ${[...types.keys()].join(', ') || 'none'}`,
      );
    }
    // A CSV with a header and no rows has untyped (VARCHAR) columns: nothing to check.
    let isEmpty: Promise<boolean> | undefined;
    const empty = (): Promise<boolean> =>
      (isEmpty ??= this.query(`SELECT 1 AS one FROM ${relation} LIMIT 1`).then(
        (r) => r.length === 0,
      ));
    const amountType = types.get(columns.amount) ?? '';
    if (
      !/^(DECIMAL|DOUBLE|FLOAT|REAL|(U)?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)/.test(amountType) &&
      !(await empty())
    ) {
      throw new SourceError(`column ${columns.amount} holds ${amountType}, not numbers`);
    }
    const atType = types.get(columns.ordered_at) ?? '';
    if (!/^(TIMESTAMP|DATE)/.test(atType) && !(await empty())) {
      throw new SourceError(
        `column ${columns.ordered_at} holds ${atType}, not timestamps (write ISO-8601 instants such as 2026-11-23T07:00:00Z)`,
      );
    }
  }

  close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
    return Promise.resolve();
  }
}
