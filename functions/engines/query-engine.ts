import type { Dialect } from '../sql/dialect.ts';
import type { OrderColumns } from '../sql/report-query.ts';

/** A result row: column name → value, as plain JSON scalars (engines differ in types). */
export type Row = Record<string, string | number | boolean | null>;

/** A result of numbers by column: NaN where the value is NULL. */
export type NumberColumns = Record<string, Float64Array>;

/**
 * A statement whose every column is numeric, by column as Float64Arrays (NULL as NaN):
 * no object and no boxed number per value, for results of a million rows or more.
 */
export async function queryNumbers(engine: QueryEngine, sql: string): Promise<NumberColumns> {
  if (engine.queryNumbers) return engine.queryNumbers(sql);
  const rows = await engine.query(sql);
  const out: NumberColumns = {};
  rows.forEach((row, i) => {
    for (const [k, v] of Object.entries(row)) {
      const n =
        v === null ? Number.NaN : typeof v === 'string' && v.trim() === '' ? Number.NaN : Number(v);
      if (typeof v === 'boolean' || (v !== null && Number.isNaN(n)))
        throw new QueryError(`column ${k} is not numeric: ${String(v)}`);
      (out[k] ??= new Float64Array(rows.length))[i] = n;
    }
  });
  return out;
}

/**
 * The type a source column is declared to hold, read as such and never guessed from a
 * sample: `text` (ids keep their leading zeros), `money` (an exact decimal, to the cent),
 * `timestamp` (ISO 8601; an offset is honoured, none means UTC), `date`.
 */
export type DeclaredType =
  | 'text'
  | 'money'
  | 'timestamp'
  | 'date'
  | 'integer'
  | 'decimal'
  /** ISO 8601 local wall-clock time, without an offset (a zone is declared elsewhere). */
  | 'local-timestamp';

/** Where the orders come from, as the engine should read them. */
export type OrdersRelation =
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly format?: 'parquet' | 'csv' | undefined;
      /** CSV: the file's encoding. @default 'utf-8' */
      readonly encoding?: 'utf-8' | 'latin-1' | undefined;
      /** CSV: the field separator. @default ',' */
      readonly delimiter?: string | undefined;
    }
  | { readonly kind: 'table'; readonly table: string };

/** The warehouse port: Athena and DuckDB implement it; the SQL is written once. */
export interface QueryEngine {
  readonly dialect: Dialect;
  /**
   * The SQL relation (table name or table function) for a source, its `declared` columns
   * read with their declared types where the engine reads files (a table has its own).
   */
  relation(
    source: OrdersRelation,
    declared?: Readonly<Record<string, DeclaredType>>,
  ): Promise<string>;
  /**
   * Checks, before the report query, that the source has the configured columns with
   * usable types; throws a SourceError naming what is wrong. Optional: Athena leaves it to
   * the Glue schema and the query's own error.
   */
  checkSource?(
    relation: string,
    columns: OrderColumns,
    options?: {
      /** The order times are declared local wall-clock times: instants with a zone are refused. */
      readonly localTimes?: boolean;
      /** The order times are text in a declared format, parsed by the statement. */
      readonly textTimes?: boolean;
    },
  ): Promise<void>;
  /**
   * The column names of a relation, so that an optional source can be checked before its
   * query; optional like checkSource.
   */
  columnsOf?(relation: string): Promise<string[]>;
  /** Runs one statement; `params` bind to `?` placeholders. */
  query<T extends Row = Row>(sql: string, params?: readonly (string | number)[]): Promise<T[]>;
  /**
   * Runs a statement of numeric columns and returns them as Float64Arrays (NULL as NaN),
   * read from the engine's own vectors. Optional: `queryNumbers(engine, sql)` converts rows.
   */
  queryNumbers?(sql: string): Promise<NumberColumns>;
  close(): Promise<void>;
}

/** The source cannot be read: missing file, unknown format. Exit code 2 in the CLI. */
export class SourceError extends Error {
  override name = 'SourceError';
}

/** The engine rejected or failed a query; `cause` keeps the engine's own error. */
export class QueryError extends Error {
  override name = 'QueryError';
}
