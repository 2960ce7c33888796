import { RunAbandoned } from '../abandon.ts';
import type { SourceConfig } from '../config/schema.ts';
import { SourceError, type QueryEngine, type Row } from '../engines/query-engine.ts';
import { distinctPeriods, localMidnight, type Period } from '../periods/period.ts';
import {
  buildFeedbackQuery,
  buildSpendQuery,
  FEEDBACK_MEASURES,
  type ExtraPeriod,
  type FeedbackMeasure,
} from '../sql/extra-query.ts';
import type { ClvMeans } from './beyond.ts';
import { ratio, type KpiValues } from './compute.ts';
import type { ExtraKpiId } from './definitions.ts';

/** What the optional KPIs of one period are computed from; a key is absent when not measured. */
export interface ExtraMeasures {
  readonly feedback?: Record<FeedbackMeasure, number>;
  /** Marketing spend in the period; null when no spend was recorded in it. */
  readonly spend?: number | null;
  /** The lifetime model's mean predicted 12-month values at the period end; null without a model. */
  readonly clv?: ClvMeans | null;
}

/** The optional KPIs of one period: only those whose input was measured. */
export type ExtraValues = Partial<Record<ExtraKpiId, number | null>>;

/** Computes the optional KPIs from their measures and the period's core KPIs (pure). */
export function computeExtraKpis(core: KpiValues, m: ExtraMeasures | undefined): ExtraValues {
  const out: ExtraValues = {};
  if (!m) return out;
  if (m.clv !== undefined) {
    out.clv_12m = m.clv?.active ?? null;
    out.clv_12m_all = m.clv?.all ?? null;
    out.new_customer_clv = m.clv?.acquired ?? null;
  }
  if (m.spend !== undefined) {
    out.cac = ratio(m.spend, core.new_customers);
    // What a customer acquired in the period is expected to bring, over what one cost.
    if (m.clv !== undefined) out.ltv_to_cac = ratio(out.new_customer_clv ?? null, out.cac);
  }
  if (m.feedback) {
    const f = m.feedback;
    const nps = ratio(f.promoters - f.detractors, f.nps_answers);
    out.nps = nps === null ? null : nps * 100;
    out.csat = ratio(f.satisfied, f.csat_answers);
  }
  return out;
}

/** Run-wide counts of the optional sources, for the data-quality section. */
export interface ExtraQuality {
  readonly feedback?: { readonly rowsRead: number; readonly leftOut: number };
}

export interface ExtraResult {
  /** Measures by period label (without `clv`, which the lifetime model adds). */
  readonly byLabel: ReadonlyMap<string, ExtraMeasures>;
  readonly quality: ExtraQuality;
  /** Spend of the reported period by channel, largest first; absent without a spend source. */
  readonly spendByChannel?: { channel: string; spend: number }[];
}

const num = (row: Row, key: string): number | null => {
  const v = row[key];
  return v === null || v === undefined ? null : Number(v);
};

/** Fails naming the source and the column when a configured column is not in it. */
async function checkColumns(
  engine: QueryEngine,
  relation: string,
  name: 'feedback' | 'marketingSpend',
  wanted: readonly string[],
): Promise<void> {
  if (!engine.columnsOf) return;
  let have: string[];
  try {
    have = await engine.columnsOf(relation);
  } catch (err) {
    if (err instanceof RunAbandoned) throw err;
    const why = (err as Error).message.split('\n')[0] ?? '';
    throw new SourceError(`source.${name} cannot be read: ${why}`, { cause: err });
  }
  const missing = wanted.filter((c) => !have.includes(c));
  if (missing.length > 0) {
    throw new SourceError(
      `source.${name} has no column ${missing.join(', ')}; it has ${have.join(', ') || 'none'}`,
    );
  }
}

/** The statements of the configured optional sources, one query each (spend: two). */
export interface ExtrasPlan {
  /** The distinct periods, the reported one first; `p<i>_` columns follow this order. */
  readonly periods: readonly Period[];
  readonly feedback?: { readonly relation: string; readonly sql: string };
  readonly spend?: {
    readonly relation: string;
    readonly totals: string;
    readonly byChannel: string;
  };
}

export async function planExtras(req: {
  readonly engine: Pick<QueryEngine, 'relation'>;
  readonly source: SourceConfig;
  readonly timeZone: string;
  readonly periods: readonly Period[];
}): Promise<ExtrasPlan> {
  const { engine, source } = req;
  const distinct = distinctPeriods(req.periods);
  const periods: ExtraPeriod[] = distinct.map((p) => ({
    start: localMidnight(p.start, req.timeZone),
    end: localMidnight(p.end, req.timeZone),
    firstDay: p.start,
    endDay: p.end,
  }));
  let feedback: ExtrasPlan['feedback'];
  if (source.feedback) {
    const c = source.feedback.columns;
    // The score stays text: a score that is not a number is left out and counted.
    const relation = await engine.relation(source.feedback.relation, {
      [c.submitted_at]: 'timestamp',
      [c.kind]: 'text',
      [c.score]: 'text',
    });
    feedback = {
      relation,
      sql: buildFeedbackQuery({ relation, columns: source.feedback.columns, periods }),
    };
  }
  let spend: ExtrasPlan['spend'];
  if (source.marketingSpend) {
    const c = source.marketingSpend.columns;
    const relation = await engine.relation(source.marketingSpend.relation, {
      [c.spent_on]: 'date',
      [c.amount]: 'money',
      ...(c.channel === null ? {} : { [c.channel]: 'text' }),
    });
    spend = {
      relation,
      ...buildSpendQuery({ relation, columns: source.marketingSpend.columns, periods }),
    };
  }
  return { periods: distinct, ...(feedback ? { feedback } : {}), ...(spend ? { spend } : {}) };
}

/**
 * Measures the configured optional sources (feedback, marketing spend) for every period in
 * one query each; the first period is the reported one. Nothing runs when neither is set.
 */
export async function measureExtras(req: {
  readonly engine: QueryEngine;
  readonly source: SourceConfig;
  readonly timeZone: string;
  readonly periods: readonly Period[];
}): Promise<ExtraResult> {
  return runExtras(req.engine, req.source, await planExtras(req));
}

/** Runs planned optional-source statements, each source's columns checked first. */
export async function runExtras(
  engine: QueryEngine,
  source: SourceConfig,
  plan: ExtrasPlan,
): Promise<ExtraResult> {
  const distinct = plan.periods;
  const measures = distinct.map(
    (): { -readonly [K in keyof ExtraMeasures]: ExtraMeasures[K] } => ({}),
  );
  let quality: ExtraQuality = {};
  let spendByChannel: ExtraResult['spendByChannel'];

  if (source.feedback && plan.feedback) {
    await checkColumns(
      engine,
      plan.feedback.relation,
      'feedback',
      Object.values(source.feedback.columns),
    );
    const [row] = await engine.query(plan.feedback.sql);
    if (!row) throw new Error('feedback query returned no row');
    measures.forEach((m, i) => {
      const f = {} as Record<FeedbackMeasure, number>;
      for (const k of FEEDBACK_MEASURES) f[k] = num(row, `p${i}_${k}`) ?? 0;
      m.feedback = f;
    });
    quality = {
      feedback: { rowsRead: num(row, 'rows_read') ?? 0, leftOut: num(row, 'left_out') ?? 0 },
    };
  }
  if (source.marketingSpend && plan.spend) {
    await checkColumns(
      engine,
      plan.spend.relation,
      'marketingSpend',
      Object.values(source.marketingSpend.columns).filter((c): c is string => c !== null),
    );
    const [row] = await engine.query(plan.spend.totals);
    if (!row) throw new Error('marketing spend query returned no row');
    measures.forEach((m, i) => (m.spend = num(row, `p${i}_spend`)));
    spendByChannel = (await engine.query(plan.spend.byChannel)).map((r) => ({
      channel: String(r.channel),
      spend: num(r, 'spend') ?? 0,
    }));
  }
  return {
    byLabel: new Map(distinct.map((p, i) => [p.label, measures[i] ?? {}])),
    quality,
    ...(spendByChannel ? { spendByChannel } : {}),
  };
}
