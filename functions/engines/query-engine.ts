import type { Dialect } from '../sql/dialect.ts';
import type { OrderColumns } from '../sql/report-query.ts';

/** A result row: column name → value, as plain JSON scalars (engines differ in types). */
export type Row = Record<string, string | number | boolean | null>;

/** A result by column: each column's values, all of the same length. */
export type Columns = Record<string, Row[string][]>;

/** A statement's result by column, from the engine's own columnar reader where it has one. */
export async function queryColumns(engine: QueryEngine, sql: string): Promise<Columns> {
  if (engine.queryColumns) return engine.queryColumns(sql);
  const rows = await engine.query(sql);
  const out: Columns = {};
  for (const [i, row] of rows.entries()) {
    for (const [k, v] of Object.entries(row))
      (out[k] ??= new Array<Row[string]>(rows.length))[i] = v;
  }
  return out;
}

/** Where the orders come from, as the engine should read them. */
export type OrdersRelation =
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly format?: 'parquet' | 'csv' | undefined;
    }
  | { readonly kind: 'table'; readonly table: string };

/** The warehouse port: Athena and DuckDB implement it; the SQL is written once. */
export interface QueryEngine {
  readonly dialect: Dialect;
  /** The SQL relation (table name or table function) for an orders source. */
  relation(source: OrdersRelation): Promise<string>;
  /**
   * Checks, before the report query, that the source has the configured columns with
   * usable types; throws a SourceError naming what is wrong. Optional: Athena leaves it to
   * the Glue schema and the query's own error.
   */
  checkSource?(relation: string, columns: OrderColumns): Promise<void>;
  /**
   * The column names of a relation, so that an optional source can be checked before its
   * query; optional like checkSource.
   */
  columnsOf?(relation: string): Promise<string[]>;
  /** Runs one statement; `params` bind to `?` placeholders. */
  query<T extends Row = Row>(sql: string, params?: readonly (string | number)[]): Promise<T[]>;
  /**
   * Runs one statement and returns its result by column (name → values), for results of
   * many rows: no object per row. Optional: `columnsOf(rows)` turns `query`'s rows into this.
   */
  queryColumns?(sql: string): Promise<Columns>;
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
