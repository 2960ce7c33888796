import type { Dialect } from './dialect.ts';
import { timestampLiteral } from './dialect.ts';
import { classifiedOrders, type OrdersInput } from './orders.ts';

export interface ClvQueryInput extends OrdersInput {
  readonly dialect: Dialect;
  /** Calibration ends here (exclusive): the orders the model learns from. */
  readonly end: Date;
}

/** Per-customer summary columns the query returns. */
export interface ClvSummaryRow {
  readonly customer_id: string;
  /** Repeat purchase days. */
  readonly x: number;
  /** Weeks from the first purchase day to the last. */
  readonly t_x: number;
  /** Weeks from the first purchase day to the last day of calibration. */
  readonly t: number;
  /** Mean value of the repeat purchase days; null without repeats. */
  readonly mx: number | null;
  /** Lifetime revenue to the end of calibration, and the orders behind it. */
  readonly revenue: number;
  readonly orders: number;
}

/**
 * The per-customer summaries the lifetime models need (Fader & Hardie's x, t_x, T and the
 * mean repeat spend), from valid orders before `end`, one row per customer. Purchases are
 * counted per day (UTC calendar days), as the models' papers do; weeks are days / 7.
 */
export function buildClvSummaryQuery(input: ClvQueryInput): string {
  const { dialect, end } = input;
  const orders = classifiedOrders(input);
  const lastDay = Math.floor((end.getTime() - 1) / 86_400_000);
  const day = `CAST(floor(${dialect.epochSeconds('ordered_at')} / 86400) AS BIGINT)`;
  return `WITH
dup_ids AS (
  ${orders.dupIds}
),
days AS (
  SELECT customer_id, d, sum(amount) AS spend, count(*) AS n
  FROM (
    SELECT customer_id, amount, ${day} AS d
    FROM (${orders.select()}) o
    WHERE reason = 0 AND ordered_at < ${timestampLiteral(end)}
  ) v
  GROUP BY customer_id, d
),
firsts AS (
  SELECT customer_id, min(d) AS d0 FROM days GROUP BY customer_id
)
SELECT
  days.customer_id AS customer_id,
  CAST(count(*) - 1 AS BIGINT) AS x,
  CAST(max(days.d) - firsts.d0 AS DOUBLE) / 7 AS t_x,
  CAST(${lastDay} - firsts.d0 AS DOUBLE) / 7 AS t,
  CAST(sum(CASE WHEN days.d > firsts.d0 THEN days.spend END) AS DOUBLE) / nullif(count(*) - 1, 0) AS mx,
  CAST(sum(days.spend) AS DOUBLE) AS revenue,
  CAST(sum(days.n) AS BIGINT) AS orders
FROM days JOIN firsts ON days.customer_id = firsts.customer_id
GROUP BY days.customer_id, firsts.d0`;
}
