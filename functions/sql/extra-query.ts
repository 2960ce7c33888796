import { quoteIdentifier, timestampLiteral as ts } from './dialect.ts';

/** A period of the optional sources: instants for answers, local dates for spend. */
export interface ExtraPeriod {
  /** Local midnight the period starts at, and the one it ends at (exclusive). */
  readonly start: Date;
  readonly end: Date;
  /** First local date, and the local date after the last (exclusive), `YYYY-MM-DD`. */
  readonly firstDay: string;
  readonly endDay: string;
}

export interface FeedbackColumns {
  readonly submitted_at: string;
  readonly kind: string;
  readonly score: string;
}

/** Per-period feedback measures the query returns as `p<i>_<name>`. */
export const FEEDBACK_MEASURES = [
  'nps_answers',
  'promoters',
  'detractors',
  'csat_answers',
  'satisfied',
] as const;
export type FeedbackMeasure = (typeof FEEDBACK_MEASURES)[number];

/**
 * Survey answers per period in one row (docs/kpis.md, "KPIs": `nps`, `csat`). An answer counts
 * when it has a time, its kind is `nps` or `csat` (any case, surrounding spaces ignored) and
 * its score is a whole number on the kind's scale (NPS 0–10, CSAT 1–5); `left_out` counts
 * the rest. Scores are read with TRY_CAST, so a stray text score is left out, not fatal.
 */
export function buildFeedbackQuery(input: {
  readonly relation: string;
  readonly columns: FeedbackColumns;
  readonly periods: readonly ExtraPeriod[];
}): string {
  const c = input.columns;
  const count = (cond: string, alias: string): string =>
    `CAST(count(CASE WHEN ${cond} THEN 1 END) AS BIGINT) AS ${alias}`;
  const columns = input.periods.flatMap((p, i) => {
    const inP = `answered_at >= ${ts(p.start)} AND answered_at < ${ts(p.end)}`;
    return [
      count(`${inP} AND kind = 'nps'`, `p${i}_nps_answers`),
      count(`${inP} AND kind = 'nps' AND score >= 9`, `p${i}_promoters`),
      count(`${inP} AND kind = 'nps' AND score <= 6`, `p${i}_detractors`),
      count(`${inP} AND kind = 'csat'`, `p${i}_csat_answers`),
      count(`${inP} AND kind = 'csat' AND score >= 4`, `p${i}_satisfied`),
    ];
  });
  return `SELECT
  ${columns.join(',\n  ')},
  CAST(count(*) AS BIGINT) AS rows_read,
  CAST(count(CASE WHEN kind IS NULL THEN 1 END) AS BIGINT) AS left_out
FROM (
  SELECT answered_at,
    CASE
      WHEN answered_at IS NULL OR raw_score IS NULL OR raw_score <> floor(raw_score) THEN NULL
      WHEN raw_kind = 'nps' AND raw_score BETWEEN 0 AND 10 THEN 'nps'
      WHEN raw_kind = 'csat' AND raw_score BETWEEN 1 AND 5 THEN 'csat'
    END AS kind,
    raw_score AS score
  FROM (
    SELECT
      CAST(${quoteIdentifier(c.submitted_at)} AS TIMESTAMP) AS answered_at,
      lower(trim(CAST(${quoteIdentifier(c.kind)} AS VARCHAR))) AS raw_kind,
      TRY_CAST(${quoteIdentifier(c.score)} AS DOUBLE) AS raw_score
    FROM ${input.relation}
  ) r
) f`;
}

export interface MarketingSpendColumns {
  readonly spent_on: string;
  readonly channel: string | null;
  readonly amount: string;
}

/**
 * Marketing spend per period (`p<i>_spend`), summed over the local dates of each period;
 * NULL for a period without a single spend row, so that CAC is "n/a" rather than 0 where the
 * spend was never recorded. Also the spend by channel of period 0 (the reported one).
 */
export function buildSpendQuery(input: {
  readonly relation: string;
  readonly columns: MarketingSpendColumns;
  readonly periods: readonly ExtraPeriod[];
}): { totals: string; byChannel: string } {
  const c = input.columns;
  const inP = (p: ExtraPeriod): string => `d >= DATE '${p.firstDay}' AND d < DATE '${p.endDay}'`;
  const spend = `(
    SELECT CAST(${quoteIdentifier(c.spent_on)} AS DATE) AS d,
      ${c.channel === null ? "'all'" : `coalesce(CAST(${quoteIdentifier(c.channel)} AS VARCHAR), 'unknown')`} AS channel,
      CAST(${quoteIdentifier(c.amount)} AS DECIMAL(18, 2)) AS amount
    FROM ${input.relation}
  ) s`;
  const columns = input.periods.map(
    (p, i) => `CAST(sum(CASE WHEN ${inP(p)} THEN amount END) AS DECIMAL(38, 2)) AS p${i}_spend`,
  );
  const reported = input.periods[0];
  return {
    totals: `SELECT
  ${columns.join(',\n  ')}
FROM ${spend}`,
    byChannel: `SELECT channel, CAST(sum(amount) AS DECIMAL(38, 2)) AS spend
FROM ${spend}
WHERE ${reported ? inP(reported) : 'FALSE'}
GROUP BY channel
ORDER BY spend DESC, channel`,
  };
}
