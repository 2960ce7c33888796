/** Which way a KPI should move for the business: the colour of its change in the digest. */
export type Direction = 'up' | 'down' | 'neutral';

/** How a KPI's value is expressed: a fraction in JSON, a percentage in the email, and so on. */
export type Unit = 'count' | 'ratio' | 'money' | 'days' | 'multiple' | 'score';

/** One KPI of the JSON contract (docs/kpis.md, "KPIs"). */
export interface KpiDefinition {
  readonly id: KpiId;
  readonly name: string;
  readonly unit: Unit;
  /** Default direction; a report's configuration may override it. */
  readonly direction: Direction;
  /** One sentence for the glossary. */
  readonly definition: string;
}

/** KPIs every report has, measured by the report query. These strings are the JSON contract. */
export const CORE_KPI_IDS = [
  'customers_start',
  'customers_end',
  'new_customers',
  'reactivated_customers',
  'lost_customers',
  'crr',
  'churn_rate',
  'crr_12m',
  'revenue',
  'orders',
  'buyers',
  'aov',
  'arpu',
  'arppu',
  'purchase_frequency',
  'returning_buyer_rate',
  'repeat_purchase_rate',
  'median_days_between_purchases',
  'revenue_per_customer_to_date',
  'top10_spend_multiple',
  'top20_revenue_share',
  'at_risk_customers',
  'at_risk_rate',
] as const;
export type CoreKpiId = (typeof CORE_KPI_IDS)[number];

/**
 * KPIs a report has only when their input exists: `clv_12m`, `clv_12m_all` and
 * `new_customer_clv` when the lifetime model is measured (the full report), `nps` and `csat`
 * with a feedback source, `cac` with a marketing-spend source, `ltv_to_cac` with both the
 * model and the spend.
 */
export const EXTRA_KPI_IDS = [
  'clv_12m',
  'clv_12m_all',
  'new_customer_clv',
  'ltv_to_cac',
  'cac',
  'nps',
  'csat',
] as const;
export type ExtraKpiId = (typeof EXTRA_KPI_IDS)[number];

/** Every KPI id, in the order the report lists them. */
export const KPI_IDS = [...CORE_KPI_IDS, ...EXTRA_KPI_IDS] as const;
export type KpiId = CoreKpiId | ExtraKpiId;

/** The KPIs a digest shows as cards unless a report configures its own list. */
export const DEFAULT_HEADLINE: readonly KpiId[] = [
  'crr',
  'churn_rate',
  'revenue',
  'orders',
  'aov',
  'new_customers',
  'repeat_purchase_rate',
  'crr_12m',
];

const defs: Record<KpiId, Omit<KpiDefinition, 'id'>> = {
  customers_start: {
    name: 'Active customers at start',
    unit: 'count',
    direction: 'neutral',
    definition: 'Customers with a valid order in the {window} days before the period start.',
  },
  customers_end: {
    name: 'Active customers at end',
    unit: 'count',
    direction: 'up',
    definition: 'Customers with a valid order in the {window} days before the period end.',
  },
  new_customers: {
    name: 'New customers',
    unit: 'count',
    direction: 'up',
    definition: 'Customers whose first valid order ever falls in the period.',
  },
  reactivated_customers: {
    name: 'Reactivated customers',
    unit: 'count',
    direction: 'up',
    definition:
      'Customers active at the end but not at the start who had ordered before the period.',
  },
  lost_customers: {
    name: 'Lost customers',
    unit: 'count',
    direction: 'down',
    definition: 'Customers active at the start of the period but not at its end.',
  },
  crr: {
    name: 'Customer retention rate',
    unit: 'ratio',
    direction: 'up',
    definition:
      '(E − N) / S: active customers at the end less those acquired, over active customers at the start.',
  },
  churn_rate: {
    name: 'Churn rate',
    unit: 'ratio',
    direction: 'down',
    definition: 'Lost customers over active customers at the start (1 − retention).',
  },
  crr_12m: {
    name: '12-month retention rate',
    unit: 'ratio',
    direction: 'up',
    definition:
      'Customers who ordered in the year before the last 365 days and again in the last 365 days, over those who ordered in that earlier year: the annual figure retention benchmarks quote.',
  },
  revenue: {
    name: 'Revenue',
    unit: 'money',
    direction: 'up',
    definition: 'Sum of valid order amounts in the period.',
  },
  orders: {
    name: 'Orders',
    unit: 'count',
    direction: 'neutral',
    definition: 'Number of valid orders in the period.',
  },
  buyers: {
    name: 'Buyers',
    unit: 'count',
    direction: 'up',
    definition: 'Distinct customers with a valid order in the period.',
  },
  aov: {
    name: 'Average order value',
    unit: 'money',
    direction: 'up',
    definition: 'Revenue over orders.',
  },
  arpu: {
    name: 'Revenue per active customer (ARPU)',
    unit: 'money',
    direction: 'up',
    definition: 'Revenue over active customers at the end of the period.',
  },
  arppu: {
    name: 'Revenue per buyer (ARPPU)',
    unit: 'money',
    direction: 'up',
    definition: 'Revenue over buyers in the period.',
  },
  purchase_frequency: {
    name: 'Purchase frequency',
    unit: 'multiple',
    direction: 'up',
    definition: 'Orders per buyer in the period.',
  },
  returning_buyer_rate: {
    name: 'Returning buyer rate',
    unit: 'ratio',
    direction: 'up',
    definition: 'Share of buyers who had a valid order before the period start.',
  },
  repeat_purchase_rate: {
    name: 'Repeat purchase rate',
    unit: 'ratio',
    direction: 'up',
    definition:
      'Customers with two or more valid orders before the period end, over customers with at least one.',
  },
  median_days_between_purchases: {
    name: 'Median days between purchases',
    unit: 'days',
    direction: 'down',
    definition:
      "Median of the days since the customer's previous valid order, over the period's repeat orders.",
  },
  revenue_per_customer_to_date: {
    name: 'Revenue per customer to date',
    unit: 'money',
    direction: 'up',
    definition:
      'All revenue before the period end over customers with a valid order before the period end.',
  },
  top10_spend_multiple: {
    name: 'Top-10% spend multiple',
    unit: 'multiple',
    direction: 'neutral',
    definition:
      "Mean 365-day revenue of the top tenth of customers over the rest's mean (customers active in those 365 days).",
  },
  top20_revenue_share: {
    name: 'Top-20% revenue share',
    unit: 'ratio',
    direction: 'neutral',
    definition:
      'Share of the 365-day revenue that the top fifth of customers (by their revenue in those days) bring.',
  },
  at_risk_customers: {
    name: 'At-risk customers',
    unit: 'count',
    direction: 'down',
    definition:
      'Customers whose last valid order lies between {atRisk} and 365 days before the period end.',
  },
  at_risk_rate: {
    name: 'At-risk rate',
    unit: 'ratio',
    direction: 'down',
    definition:
      'At-risk customers over customers with a valid order in the 365 days before the end.',
  },
  clv_12m: {
    name: '12-month CLV per active customer',
    unit: 'money',
    direction: 'up',
    definition:
      'Expected value over the next 52 weeks per customer active at the period end (a valid order in the {window} days before it), from a BG/NBD purchase model and a Gamma-Gamma spend model fitted on the history up to the period end: revenue, or gross margin when the report sets one, discounted monthly at an annual rate (10 % unless the report sets another).',
  },
  clv_12m_all: {
    name: '12-month CLV per customer ever',
    unit: 'money',
    direction: 'neutral',
    definition:
      'The same expected 12-month value per customer with any valid order before the period end, long-gone ones included: it falls as the customer base ages.',
  },
  new_customer_clv: {
    name: '12-month CLV per new customer',
    unit: 'money',
    direction: 'up',
    definition:
      'The same expected 12-month value per customer whose first valid order is in the period, from their history at the period end.',
  },
  ltv_to_cac: {
    name: 'LTV : CAC',
    unit: 'multiple',
    direction: 'up',
    definition:
      'Predicted 12-month value per new customer over the cost of acquiring a customer: margin over cost when the report sets a gross margin, else revenue over cost.',
  },
  cac: {
    name: 'Customer acquisition cost (CAC)',
    unit: 'money',
    direction: 'down',
    definition: 'Marketing spend in the period over new customers.',
  },
  nps: {
    name: 'Net promoter score (NPS)',
    unit: 'score',
    direction: 'up',
    definition:
      'Per cent of NPS answers scoring 9–10 minus per cent scoring 0–6, over the answers given in the period (−100 to 100).',
  },
  csat: {
    name: 'Customer satisfaction (CSAT)',
    unit: 'ratio',
    direction: 'up',
    definition:
      'Share of CSAT answers scoring 4 or 5 on the 1–5 scale, over the answers given in the period.',
  },
};

/** Every KPI definition, in contract order. */
export const KPIS: readonly KpiDefinition[] = KPI_IDS.map((id) => ({ id, ...defs[id] }));

/** The definition of one KPI. */
export function kpiDefinition(id: KpiId): KpiDefinition {
  return { id, ...defs[id] };
}
