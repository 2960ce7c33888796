import type { Dialect } from './dialect.ts';
import { IANAZone } from 'luxon';
import { localMidnight } from '../periods/period.ts';
import { rankTree, timestampLiteral } from './dialect.ts';
import { classifiedOrders, type OrdersInput } from './orders.ts';

export interface ClvQueryInput extends OrdersInput {
  readonly dialect: Dialect;
  /**
   * Calibration ends (exclusive) as local dates `YYYY-MM-DD`: each is a cut-off the model
   * learns from, e.g. the end of the reported period and of every period it is compared with.
   */
  readonly ends: readonly string[];
  /** The report's time zone: purchase days are its calendar days. */
  readonly timeZone: string;
}

/**
 * The summary columns of one customer: `first_day` once, and for each end i `x_<i>`,
 * `t_x_days_<i>` and `mx_<i>`, all NULL where the customer has no purchase before end i.
 */
export interface ClvSummaryColumns {
  readonly customer_id: string;
  /** Local day number (days since 1970-01-01) of the first purchase. */
  readonly first_day: number;
  /** Repeat purchase days before end i. */
  readonly x: number | null;
  /** Days from the first purchase day to the last before end i. */
  readonly t_x_days: number | null;
  /** Mean value of the repeat purchase days before end i; null without repeats. */
  readonly mx: number | null;
}

/** Days since 1970-01-01 of a local calendar date `YYYY-MM-DD`. */
export function dayNumber(date: string): number {
  return (
    Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) /
    86_400_000
  );
}

/**
 * The time zone's UTC offsets from 1970 to `until`: `offsets[i]` (seconds) holds from
 * `changes[i − 1]` to `changes[i]`. Found by sampling every 15 days and bisecting to the
 * second; no zone changes its offset twice within 15 days.
 */
export function utcOffsets(timeZone: string, until: Date): { changes: Date[]; offsets: number[] } {
  const zone = IANAZone.create(timeZone);
  const at = (ms: number): number => zone.offset(ms) * 60;
  const STEP = 15 * 86_400_000;
  const changes: Date[] = [];
  const offsets = [at(0)];
  for (let t = 0; t < until.getTime(); t += STEP) {
    if (at(t + STEP) === at(t)) continue;
    let lo = t;
    let hi = t + STEP;
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (at(mid) === at(t)) lo = mid;
      else hi = mid;
    }
    changes.push(new Date(hi));
    offsets.push(at(hi));
  }
  return { changes, offsets };
}

/**
 * The per-customer summaries the lifetime models need (Fader & Hardie's x, t_x, T and the
 * mean repeat spend) at several calibration ends in one pass, one row per customer (see
 * ClvSummaryColumns; T is the days from `first_day` to the last day before the end). Purchases are counted per local calendar day in the report's time
 * zone, as the models' papers count per day, so an end (a local midnight) never splits a
 * day; weeks are days / 7. The orders go to days, the days to the blocks between ends, and
 * each customer's blocks to the running figures at every end. Rows come ordered by
 * customer_id: sums of doubles depend on their order, and the fits must see the same rows in
 * the same order on both engines to give the same model.
 */
export function buildClvSummaryQuery(input: ClvQueryInput): string {
  const { dialect } = input;
  if (input.ends.length === 0) throw new Error('buildClvSummaryQuery needs at least one end');
  const endDays = input.ends.map(dayNumber);
  const sorted = [...new Set(endDays)].sort((a, b) => a - b);
  const last = sorted.at(-1) ?? 0;
  const orders = classifiedOrders(input);
  const { changes, offsets } = utcOffsets(input.timeZone, new Date((last + 2) * 86_400_000));
  const offset = rankTree(
    'ordered_at',
    changes.map((d) => timestampLiteral(d)),
    (i) => String(offsets[i] ?? 0),
  );
  const day = `CAST(floor((${dialect.epochSeconds('ordered_at')} + ${offset}) / 86400) AS BIGINT)`;
  const before = (i: number): number => sorted.indexOf(endDays[i] ?? 0);
  const columns = input.ends.flatMap((_, i) => {
    const j = before(i);
    const n = `sum(CASE WHEN e <= ${j} THEN n END)`;
    return [
      `CAST(${n} - 1 AS INTEGER) AS x_${i}`,
      `CAST(max(CASE WHEN e <= ${j} THEN last_day END) - min(first_day) AS INTEGER) AS t_x_days_${i}`,
      `CAST(sum(CASE WHEN e <= ${j} THEN spend END) - ${dialect.minBy('first_spend', 'first_day')} AS DOUBLE) / nullif(${n} - 1, 0) AS mx_${i}`,
    ];
  });
  return `WITH
dup_ids AS (
  ${orders.dupIds}
),
days AS (
  SELECT customer_id, d, sum(amount) AS spend
  FROM (
    SELECT customer_id, amount, ${day} AS d
    FROM (${orders.select()}) o
    WHERE reason = 0 AND ordered_at < ${timestampLiteral(localMidnight(new Date(last * 86_400_000).toISOString().slice(0, 10), input.timeZone))}
  ) v
  GROUP BY customer_id, d
),
blocks AS (
  SELECT customer_id, e, CAST(count(*) AS BIGINT) AS n, max(d) AS last_day, min(d) AS first_day,
    sum(spend) AS spend, ${dialect.minBy('spend', 'd')} AS first_spend
  FROM (
    SELECT customer_id, d, spend, ${rankTree('d', sorted.map(String))} AS e
    FROM days
    WHERE d < ${last}
  ) b
  GROUP BY customer_id, e
)
SELECT customer_id, CAST(min(first_day) AS INTEGER) AS first_day,
  ${columns.join(',\n  ')}
FROM blocks
GROUP BY customer_id
ORDER BY customer_id`;
}
