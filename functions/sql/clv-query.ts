import { IANAZone } from 'luxon';
import { stringLiteral, tableName } from './dialect.ts';
import { SEGMENTS, atRiskCondition, scoredCustomers } from './structures-query.ts';

export interface ClvQueryInput {
  /** The run's customer table (buildBaseQuery with `lifetime` for the same ends, and `rfm`). */
  readonly base: string;
  /**
   * Calibration ends (exclusive) as local dates `YYYY-MM-DD`: each is a cut-off the model
   * learns from, e.g. the end of the reported period and of every period it is compared with.
   */
  readonly ends: readonly string[];
  /**
   * Each customer's RFM segment at the period end as `segment_code`, its index in SEGMENTS
   * (the table must hold `rfm`). @default true
   */
  readonly segments?: boolean;
  /** Each row's `customer_id` too, to inspect the summaries. @default false */
  readonly ids?: boolean;
  /**
   * With `segments`: each at-risk customer's place in the RFM statement's at-risk list
   * (`at_risk_rank`, from 1: most lifetime revenue first, then by customer_id; NULL for the
   * others), so that the list's p_alive and predicted value come from these rows without
   * customer ids.
   */
  readonly atRisk?: { readonly riskFrom: Date; readonly riskTo: Date };
}

/**
 * The summary columns of one customer: `first_day` once, and for each end i `x_<i>`,
 * `t_x_days_<i>` and `mx_<i>`, all NULL where the customer has no purchase before end i.
 */
export interface ClvSummaryColumns {
  /** Only with `ids`. */
  readonly customer_id?: string;
  /** Local day number (days since 1970-01-01) of the first purchase. */
  readonly first_day: number;
  /** Repeat purchase days before end i. */
  readonly x: number | null;
  /** Days from the first purchase day to the last before end i. */
  readonly t_x_days: number | null;
  /** Mean value of the repeat purchase days before end i; null without repeats. */
  readonly mx: number | null;
  /** The customer's RFM segment at the period end, its index in SEGMENTS (with `segments`). */
  readonly segment_code?: number | null;
  /** The at-risk customer's place in the RFM statement's list, from 1 (with `atRisk`). */
  readonly at_risk_rank?: number | null;
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
 * A customer's lifetime summary at end `j` of the table's `lifetime` (see ClvSummaryColumns):
 * `x<suffix>`, `t_x_days<suffix>` and `mx<suffix>`, as named expressions over the table.
 */
function lifetimeSummary(j: number, suffix: string): { name: string; sql: string }[] {
  // Arrays are 1-based on both engines.
  const at = (array: string): string => `${array}[${j + 1}]`;
  const repeats = `${at('l_days')} - 1`;
  return [
    {
      name: `x${suffix}`,
      sql: `CAST(CASE WHEN ${at('l_days')} > 0 THEN ${repeats} END AS INTEGER)`,
    },
    { name: `t_x_days${suffix}`, sql: `CAST(${at('l_last')} - l_first_day AS INTEGER)` },
    {
      name: `mx${suffix}`,
      sql: `CAST(${at('l_spend')} - l_first_spend AS DOUBLE) / nullif(${repeats}, 0)`,
    },
  ];
}

/**
 * The per-customer summaries the lifetime models need (Fader & Hardie's x, t_x, T and the
 * mean repeat spend) at several calibration ends, one row per customer with a purchase day
 * before the last end (see ClvSummaryColumns; T is the days from `first_day` to the last day
 * before the end), with the customer's RFM segment at the period end (`segment_code`, NULL
 * outside it). Every column is a number, so that a million rows travel as typed arrays.
 * Purchases are counted per local calendar day in the report's time zone, as the models'
 * papers count per day, so an end (a local midnight) never splits a day; weeks are days / 7.
 * Rows come ordered by customer_id: sums of doubles depend on their order, and the fits must
 * see the same rows in the same order on both engines to give the same model.
 */
export function buildClvSummaryQuery(input: ClvQueryInput): string {
  if (input.ends.length === 0) throw new Error('buildClvSummaryQuery needs at least one end');
  const last = Math.max(...input.ends.map(dayNumber));
  const columns = input.ends.flatMap((_, i) =>
    lifetimeSummary(i, `_${i}`).map((c) => `${c.sql} AS ${c.name}`),
  );
  const needed = ['l_first_day', 'l_first_spend', 'l_days', 'l_last', 'l_spend'];
  const where = `l_first_day < ${last}`;
  const segments = input.segments ?? true;
  const code = `CAST(CASE s.segment ${SEGMENTS.map((name, i) => `WHEN ${stringLiteral(name)} THEN ${i}`).join(' ')} END AS INTEGER) AS segment_code`;
  // The segments are scored on a narrow projection of the table (the windows sort only the
  // RFM columns) and joined back by customer: a second read of the compact table, cheaper
  // than carrying every end's columns through three sorts.
  const risk = input.atRisk ? atRiskCondition(input.atRisk.riskFrom, input.atRisk.riskTo) : null;
  // The at-risk list's order (buildRfmQuery): lifetime revenue, most first, then customer_id.
  const rank = risk
    ? `,\n    CAST(CASE WHEN ${risk} THEN row_number() OVER (PARTITION BY ${risk} ORDER BY h_revenue DESC, customer_id) END AS INTEGER) AS at_risk_rank`
    : '';
  const scored = `(
  SELECT customer_id, segment${rank} FROM (
    ${scoredCustomers(input.base, 'f_n_now > 0', risk ? ['h_last', 'h_revenue'] : [], false)}
  ) r
) s ON s.customer_id = c.customer_id`;
  return `SELECT ${input.ids ? 'c.customer_id, ' : ''}CAST(l_first_day AS INTEGER) AS first_day,
  ${columns.join(',\n  ')}${segments ? `,\n  ${code}` : ''}${segments && risk ? ',\n  at_risk_rank' : ''}
FROM (
  SELECT customer_id, ${needed.join(', ')} FROM ${tableName(input.base)} WHERE ${where}
) c${segments ? `\nLEFT JOIN ${scored}` : ''}
ORDER BY c.customer_id`;
}
