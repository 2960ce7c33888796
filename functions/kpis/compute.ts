import type { CoreKpiId } from './definitions.ts';
import type { Measures } from './measure.ts';

/** Every core KPI value of one period; `null` where a denominator is zero. */
export type KpiValues = Record<CoreKpiId, number | null>;

/** `a / b`, or null when either is missing or `b` is zero. */
export function ratio(a: number | null, b: number | null): number | null {
  if (a === null || b === null || b === 0) return null;
  return a / b;
}

/** Customer flow of one period: start − lost + new + reactivated = end. */
export interface CustomerFlow {
  readonly start: number;
  readonly lost: number;
  readonly new: number;
  readonly reactivated: number;
  readonly end: number;
}

function n(v: number | null): number {
  return v ?? 0;
}

/** The customer flow implied by the base counts (docs/kpis.md, "The customer base"). */
export function customerFlow(m: Measures): CustomerFlow {
  const start = n(m.customers_start);
  const end = n(m.customers_end);
  const retained = n(m.retained);
  const fresh = n(m.new_customers);
  return { start, end, lost: start - retained, new: fresh, reactivated: end - retained - fresh };
}

/** Computes every KPI of one period from its measures (pure). */
export function computeKpis(m: Measures): KpiValues {
  const flow = customerFlow(m);
  const revenue = n(m.revenue);
  const orders = n(m.orders);
  const buyers = n(m.buyers);
  const active365 = n(m.active_365);
  const revenue365 = n(m.revenue_365);
  const top10 = n(m.top10_revenue);
  const k = n(m.top10_count);
  const meanTop = ratio(top10, k);
  const meanRest = ratio(revenue365 - top10, active365 - k);
  return {
    customers_start: flow.start,
    customers_end: flow.end,
    new_customers: flow.new,
    reactivated_customers: flow.reactivated,
    lost_customers: flow.lost,
    crr: ratio(n(m.retained), flow.start),
    churn_rate: ratio(flow.lost, flow.start),
    crr_12m: ratio(n(m.retained_year), n(m.active_year_before)),
    revenue,
    orders,
    buyers,
    aov: ratio(revenue, orders),
    arpu: ratio(revenue, flow.end),
    arppu: ratio(revenue, buyers),
    purchase_frequency: ratio(orders, buyers),
    returning_buyer_rate: ratio(n(m.returning_buyers), buyers),
    repeat_purchase_rate: ratio(n(m.repeat_customers_to_date), n(m.customers_to_date)),
    median_days_between_purchases: m.median_days,
    revenue_per_customer_to_date: ratio(n(m.revenue_to_date), n(m.customers_to_date)),
    top10_spend_multiple: active365 < 10 ? null : ratio(meanTop, meanRest),
    top20_revenue_share: ratio(n(m.top20_revenue), revenue365),
    at_risk_customers: n(m.at_risk),
    at_risk_rate: ratio(n(m.at_risk), active365),
  };
}
