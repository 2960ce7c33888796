/**
 * The few SQL fragments that differ between Trino (Athena engine v3) and DuckDB.
 * Everything else in `functions/sql/` is written once and runs on both; see
 * docs/sql.md for the verified differences.
 */
export interface Dialect {
  readonly name: 'duckdb' | 'trino';
  /** Seconds since the epoch of a TIMESTAMP, as DOUBLE with sub-second precision. */
  epochSeconds(expr: string): string;
  /** Bitwise OR of BIGINT values, as an aggregate. */
  bitOrAgg(expr: string): string;
  /** Bitwise AND of two BIGINT values. */
  bitAnd(a: string, b: string): string;
  /** `2^k` as BIGINT for an integer expression `k` in 0..62. */
  powerOfTwo(k: string): string;
  /** Aggregate: `value` of the row with the smallest `key` (keys unique in the group). */
  minBy(value: string, key: string): string;
  /**
   * Keeps a statement's result as a table for the later statements of a run: a temporary
   * table on DuckDB; on Athena a Parquet table in the work group's result location (CTAS),
   * dropped at the end of the run like the temporary one.
   */
  createTable(name: string, select: string): string;
  dropTable(name: string): string;
  /**
   * A join clause that turns each element of an array of ROWs into a row of `alias` with
   * the ROW's `fields` as columns (`alias.field`); no row for a NULL or empty array.
   */
  unnestRows(array: string, alias: string, fields: readonly string[]): string;
}

export const duckdbDialect: Dialect = {
  name: 'duckdb',
  // epoch_us is exact to the microsecond; DuckDB's date_diff counts boundaries instead.
  epochSeconds: (e) => `(CAST(epoch_us(${e}) AS DOUBLE) / 1000000.0)`,
  // DuckDB names the aggregate bit_or and uses the & operator.
  bitOrAgg: (e) => `bit_or(${e})`,
  bitAnd: (a, b) => `(${a} & ${b})`,
  powerOfTwo: (k) => `(CAST(1 AS BIGINT) << (${k}))`,
  minBy: (v, k) => `arg_min(${v}, ${k})`,
  createTable: (name, select) => `CREATE TEMP TABLE ${tableName(name)} AS\n${select}`,
  dropTable: (name) => `DROP TABLE IF EXISTS ${tableName(name)}`,
  // DuckDB names an unnested STRUCT as one column; `recursive` spreads its fields instead.
  unnestRows: (array, alias) =>
    `CROSS JOIN (SELECT unnest(${array}, recursive := true)) AS ${alias}`,
};

export const trinoDialect: Dialect = {
  name: 'trino',
  // Trino has no epoch_us; to_unixtime keeps the millisecond fraction of Athena timestamps.
  epochSeconds: (e) => `to_unixtime(${e})`,
  // Trino spells the bitwise aggregate and operator as functions.
  bitOrAgg: (e) => `bitwise_or_agg(${e})`,
  bitAnd: (a, b) => `bitwise_and(${a}, ${b})`,
  powerOfTwo: (k) => `bitwise_left_shift(BIGINT '1', ${k})`,
  minBy: (v, k) => `min_by(${v}, ${k})`,
  createTable: (name, select) =>
    `CREATE TABLE ${tableName(name)} WITH (format = 'PARQUET', write_compression = 'SNAPPY') AS\n${select}`,
  // Athena's DROP TABLE is Hive DDL: the name is not quoted (tableName allows no need to).
  dropTable: (name) => `DROP TABLE IF EXISTS ${tableName(name)}`,
  // Trino spreads an unnested ROW's fields into the alias's columns.
  unnestRows: (array, alias, fields) =>
    `CROSS JOIN UNNEST(${array}) AS ${alias}(${fields.join(', ')})`,
};

/** A run's own table name: lower-case letters, digits and underscores only. */
export function tableName(name: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`unsafe table name: ${name}`);
  return name;
}

/**
 * A balanced CASE tree: how many of the ascending `bounds` (SQL literals) are at or below
 * `expr`, 0..bounds.length, in about log2(bounds) comparisons per row. `leaf` turns that
 * rank into the SQL the tree returns (default: the rank itself).
 */
export function rankTree(
  expr: string,
  bounds: readonly string[],
  leaf: (rank: number) => string = String,
  lo = 0,
  hi = bounds.length,
): string {
  if (lo === hi) return leaf(lo);
  const mid = (lo + hi) >> 1;
  return `CASE WHEN ${expr} < ${bounds[mid] ?? ''} THEN ${rankTree(expr, bounds, leaf, lo, mid)} ELSE ${rankTree(expr, bounds, leaf, mid + 1, hi)} END`;
}

/** A UTC instant as a TIMESTAMP literal (both engines read ordered_at as UTC wall time). */
export function timestampLiteral(instant: Date): string {
  const iso = instant.toISOString(); // 2026-11-16T00:00:00.000Z
  return `TIMESTAMP '${iso.slice(0, 10)} ${iso.slice(11, 23)}'`;
}

/** A string literal with quotes doubled; only for validated configuration values. */
export function stringLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A source column's name as the file spells it ("Créé le"), double-quoted with any quote
 * doubled: for names read from a file's header, which no identifier rule restricts.
 */
export function quoteName(name: string): string {
  if (/[\r\n\0]/.test(name)) throw new Error(`unsafe column name: ${JSON.stringify(name)}`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A double-quoted identifier; configuration already restricts it to [A-Za-z0-9_]. */
export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`unsafe SQL identifier: ${name}`);
  return `"${name}"`;
}
