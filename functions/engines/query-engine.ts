import type { Dialect } from '../sql/dialect.ts';

/** A result row: column name → value, as plain JSON scalars (engines differ in types). */
export type Row = Record<string, string | number | boolean | null>;

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
  /** Runs one statement; `params` bind to `?` placeholders. */
  query<T extends Row = Row>(sql: string, params?: readonly (string | number)[]): Promise<T[]>;
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
