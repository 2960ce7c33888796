/** Which way a KPI should move for the business: the colour of its change in the digest. */
export type Direction = 'up' | 'down' | 'neutral';

/** How a KPI's value is expressed: a fraction in JSON, a percentage in the email, and so on. */
export type Unit = 'count' | 'ratio' | 'money' | 'days' | 'multiple';

/** One KPI of the JSON contract (KPI-SPEC.md, "KPIs"). */
export interface KpiDefinition {
  readonly id: KpiId;
  readonly name: string;
  readonly unit: Unit;
  /** Default direction; a report's configuration may override it. */
  readonly direction: Direction;
  /** One sentence for the glossary. */
  readonly definition: string;
}

/** KPI ids in the order the report lists them. These strings are the JSON contract. */
export const KPI_IDS = [
  'customers_start',
  'customers_end',
  'new_customers',
  'reactivated_customers',
  'lost_customers',
  'crr',
  'churn_rate',
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
export type KpiId = (typeof KPI_IDS)[number];

/** The KPIs a digest shows as cards unless a report configures its own list. */
export const DEFAULT_HEADLINE: readonly KpiId[] = [
  'crr',
  'churn_rate',
  'revenue',
  'orders',
  'aov',
  'new_customers',
  'repeat_purchase_rate',
  'arpu',
];

const defs: Record<KpiId, Omit<KpiDefinition, 'id'>> = {
  customers_start: {
    name: 'Active customers at start',
    unit: 'count',
    direction: 'neutral',
    definition:
      'Customers with a valid order in the active window (activeWindowDays) before the period start.',
  },
  customers_end: {
    name: 'Active customers at end',
    unit: 'count',
    direction: 'up',
    definition:
      'Customers with a valid order in the active window (activeWindowDays) before the period end.',
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
      'Customers whose last valid order lies between 365 and atRiskDays (180) days before the period end.',
  },
  at_risk_rate: {
    name: 'At-risk rate',
    unit: 'ratio',
    direction: 'down',
    definition:
      'At-risk customers over customers with a valid order in the 365 days before the end.',
  },
};

/** Every KPI definition, in contract order. */
export const KPIS: readonly KpiDefinition[] = KPI_IDS.map((id) => ({ id, ...defs[id] }));

/** The definition of one KPI. */
export function kpiDefinition(id: KpiId): KpiDefinition {
  return { id, ...defs[id] };
}
