import type { DeclaredType } from '../engines/query-engine.ts';
import { quoteIdentifier, stringLiteral, type Dialect } from './dialect.ts';
import { localToUtc, parseTimestamp } from './timestamps.ts';
import { expressionColumns, isColumnName } from './expression.ts';

/**
 * The orders contract's columns in the source: each a source column's name or an
 * expression over the source's columns (validated, see expression.ts).
 */
export interface OrderColumns {
  readonly order_id: string;
  readonly customer_id: string;
  readonly ordered_at: string;
  readonly amount: string;
  /** `null` when the source has no status column. */
  readonly status: string | null;
}

/** Reasons a source row is left out, in the order they are tested. */
export const EXCLUSION_REASONS = [
  'missing_order_id',
  'duplicate',
  'missing_ordered_at',
  'missing_customer',
  'missing_amount',
  'negative_amount',
  'excluded_status',
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

/** An entry of OrderColumns as SQL: the quoted column, or the expression in parentheses. */
export function columnSql(entry: string): string {
  return isColumnName(entry) ? quoteIdentifier(entry) : `(${entry})`;
}

/** The source columns an entry reads: itself, or those its expression names. */
export function columnsRead(entry: string): string[] {
  if (isColumnName(entry)) return [entry];
  const checked = expressionColumns(entry);
  return 'columns' in checked ? checked.columns : [];
}

/**
 * The source's columns a run reads, with the types they are read as where the engine reads
 * files: a column named for the contract has the contract's type; a column an expression
 * reads has its type from `types` (text when not given).
 */
export function declaredColumns(
  columns: OrderColumns,
  types: Readonly<Record<string, DeclaredType>> = {},
  timestamps?: Omit<SourceTimestamps, 'until'>,
  dimensions: readonly string[] = [],
): Record<string, DeclaredType> {
  const out: Record<string, DeclaredType> = {};
  // Text in a format is parsed by the statement; local time must carry no offset.
  const at: DeclaredType = timestamps?.format
    ? 'text'
    : timestamps?.timeZone
      ? 'local-timestamp'
      : 'timestamp';
  const role: [string | null, DeclaredType][] = [
    [columns.order_id, 'text'],
    [columns.customer_id, 'text'],
    [columns.ordered_at, at],
    [columns.amount, 'money'],
    [columns.status, 'text'],
  ];
  const typeOf = (name: string): DeclaredType =>
    Object.entries(types).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1] ?? 'text';
  // The columns expressions and dimensions read: their declared type, text when not given.
  for (const entry of [...role.map(([e]) => e), ...dimensions]) {
    if (entry === null) continue;
    for (const c of columnsRead(entry)) out[c] = typeOf(c);
  }
  for (const [entry, type] of role) {
    if (entry !== null && isColumnName(entry)) out[entry] = type;
  }
  return out;
}

/** How the source stores order times, when not as UTC instants (see timestamps.ts). */
export interface SourceTimestamps {
  /** Text in this strftime format (`%m/%d/%Y %H:%M`). */
  readonly format?: string | undefined;
  /** Local wall-clock time in this zone, without an offset. */
  readonly timeZone?: string | undefined;
  /** The zone's offsets are known up to here (a year past the run). */
  readonly until: Date;
}

export interface OrdersInput {
  /** The orders relation: a table name or a table function from the engine. */
  readonly relation: string;
  readonly columns: OrderColumns;
  readonly excludedStatuses: readonly string[];
  readonly timestamps?: SourceTimestamps | undefined;
  readonly dialect?: Dialect;
  /**
   * `line`: the source holds order lines; the lines of an order id are one order whose
   * amount is their sum, its time, customer and status its latest line's. @default 'order'
   */
  readonly grain?: 'order' | 'line' | undefined;
  /**
   * Customer attributes to break the KPIs down by (`source.dimensions`): each a column or an
   * expression, read as text into `dim_<i>` (NULL as ''), the order's own value; for order
   * lines, the order's latest line's, as for its customer.
   */
  readonly dimensions?: readonly string[] | undefined;
}

/**
 * The source rows with the canonical names, each tagged with the reason it is left out
 * (`reason`: 0 = a valid order, else 1 + its index in EXCLUSION_REASONS), in one read of the
 * source. Rows sharing an `order_id` are one order: the latest row stands for it (ties:
 * lowest customer_id, highest amount, lowest status), the others are duplicates; `dup_id`
 * marks one row of each non-NULL order id that more than one row carries. Every statement
 * that reads the orders source starts here, so the KPIs and the lifetime model agree on
 * what an order is, and nothing else reads the source (see base-query.ts).
 *
 * `extraColumns` are computed from `customer_id`, `ordered_at`, `amount`, `reason` and the
 * dimensions `dim_<i>`.
 */
export function classifiedOrders(input: OrdersInput, extraColumns: readonly string[] = []): string {
  const { relation, columns: c, excludedStatuses } = input;
  const dims = (input.dimensions ?? []).map((_, i) => `dim_${i}`);
  // The dimensions ride along every level below, after the contract's columns; where rows
  // of an order tie on everything else, the lowest values stand for it, so the engines agree.
  const more = dims.map((d) => `, ${d}`).join('');
  const statusExpr =
    c.status === null ? 'CAST(NULL AS VARCHAR)' : `CAST(${columnSql(c.status)} AS VARCHAR)`;
  const excluded = excludedStatuses.map((s) => stringLiteral(s.toLowerCase())).join(', ');
  // Blank = NULL, empty, or only spaces, tabs and line breaks, spelled out because DuckDB's
  // trim() removes spaces only and Trino's all whitespace. A blank string sorts before '!'
  // (those characters are all below it), so the cheap comparison spares the rest on
  // almost every row.
  const blank = (col: string): string =>
    `(${col} IS NULL OR (${col} < '!' AND ${[9, 10, 13].reduce((e, code) => `replace(${e}, chr(${code}), '')`, `replace(${col}, ' ', '')`)} = ''))`;
  const code = (r: ExclusionReason): number => EXCLUSION_REASONS.indexOf(r) + 1;
  const ts = input.timestamps;
  if ((ts?.format ?? ts?.timeZone) !== undefined && !input.dialect) {
    throw new Error('declared order times need the dialect');
  }
  const orderedAt =
    ts?.format && input.dialect
      ? parseTimestamp(input.dialect, `CAST(${columnSql(c.ordered_at)} AS VARCHAR)`, ts.format)
      : `CAST(${columnSql(c.ordered_at)} AS TIMESTAMP)`;
  const read = `SELECT
          CAST(${columnSql(c.order_id)} AS VARCHAR) AS order_id,
          CAST(${columnSql(c.customer_id)} AS VARCHAR) AS customer_id,
          ${orderedAt} AS ordered_at,
          CAST(${columnSql(c.amount)} AS DECIMAL(18, 2)) AS amount,
          ${statusExpr} AS status${(input.dimensions ?? [])
            .map(
              (e, i) => `,\n          coalesce(CAST(${columnSql(e)} AS VARCHAR), '') AS dim_${i}`,
            )
            .join('')}
        FROM ${relation}`;
  // Local wall-clock times become UTC one level up, where the parsed time is a column.
  const utc = ts?.timeZone
    ? `SELECT order_id, customer_id, ${localToUtc('ordered_at', ts.timeZone, ts.until)} AS ordered_at, amount, status${more}
        FROM (${read}) local_times`
    : read;
  // Order lines: one order per order id. Its amount is the sum of its lines' (unknown when
  // a line's is), and its time, customer and status are those of its latest line (ties: the
  // lowest customer, then status), as the duplicate rule picks the row of an order. A line
  // without an order id stays a row of its own (and is left out as missing_order_id).
  const src =
    input.grain === 'line'
      ? `SELECT order_id, customer_id, ordered_at, amount, status${more} FROM (
          SELECT order_id, customer_id, ordered_at, status${more},
            CASE WHEN order_id IS NULL THEN amount
              WHEN count(amount) OVER (PARTITION BY order_id) = count(*) OVER (PARTITION BY order_id)
              THEN CAST(sum(amount) OVER (PARTITION BY order_id) AS DECIMAL(18, 2)) END AS amount,
            row_number() OVER (
              PARTITION BY order_id
              ORDER BY ordered_at DESC NULLS LAST, customer_id NULLS LAST, status NULLS LAST${more}
            ) AS line_rank
          FROM (${utc}) order_lines
        ) ranked_lines
        WHERE line_rank = 1 OR order_id IS NULL`
      : utc;
  return `SELECT customer_id, ordered_at, amount, reason, dup_id${more}${extraColumns.map((e) => `,\n    ${e}`).join('')}
  FROM (
    SELECT customer_id, ordered_at, amount${more},
      CAST(CASE
        WHEN ${blank('order_id')} THEN ${code('missing_order_id')}
        WHEN rn > 1 THEN ${code('duplicate')}
        WHEN ordered_at IS NULL THEN ${code('missing_ordered_at')}
        WHEN ${blank('customer_id')} THEN ${code('missing_customer')}
        WHEN amount IS NULL THEN ${code('missing_amount')}
        WHEN amount < 0 THEN ${code('negative_amount')}
        WHEN lower(status) IN (${excluded || "''"}) THEN ${code('excluded_status')}
        ELSE 0
      END AS TINYINT) AS reason,
      (rn = 1 AND id_rows > 1 AND order_id IS NOT NULL) AS dup_id
    FROM (
      SELECT order_id, customer_id, ordered_at, amount, status${more},
        row_number() OVER (
          PARTITION BY order_id
          ORDER BY ordered_at DESC NULLS LAST, customer_id NULLS LAST, amount DESC NULLS LAST, status NULLS LAST${more}
        ) AS rn,
        count(*) OVER (PARTITION BY order_id) AS id_rows
      FROM (
        ${src}
      ) src
    ) ranked
  ) tagged`;
}
