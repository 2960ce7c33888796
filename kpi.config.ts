import { defineConfig } from './functions/config/load.ts';

/**
 * The project's report configuration: the CLI, the Lambda and `cdk synth` all load this
 * file and fail naming the field when it is wrong. Paths are relative to this file.
 */
export default defineConfig({
  source: {
    // The bundled sample shop (`npm start` generates it); point this at your own orders.
    relation: { kind: 'file', path: '.cache/sample/orders.parquet' },
    columns: {
      order_id: 'order_id',
      customer_id: 'customer_id',
      ordered_at: 'ordered_at',
      amount: 'amount',
      status: 'status',
    },
    excludedStatuses: ['cancelled', 'canceled', 'refunded', 'failed', 'test'],
    // Customer attributes the reports may break their KPIs down by: each customer counts under
    // the value of their first valid order (here the channel that brought them).
    dimensions: { channel: 'channel' },
    // Optional: survey answers (NPS, CSAT) and marketing spend (CAC, LTV : CAC). Drop either
    // and its KPIs leave the report and the digest.
    feedback: {
      relation: { kind: 'file', path: '.cache/sample/feedback.parquet' },
      columns: { submitted_at: 'submitted_at', kind: 'kind', score: 'score' },
    },
    marketingSpend: {
      relation: { kind: 'file', path: '.cache/sample/marketing_spend.parquet' },
      columns: { spent_on: 'spent_on', channel: 'channel', amount: 'amount' },
    },
  },
  reports: [
    {
      id: 'weekly',
      name: 'Weekly KPIs',
      period: 'week',
      timeZone: 'Europe/London',
      locale: 'en',
      currency: 'USD',
      activeWindowDays: 90,
      atRiskDays: 180,
      recipients: ['leadership@example.com'],
      owners: ['data-team@example.com'],
      // Mondays at 07:00 London time, for the week that ended at midnight.
      schedule: { weekDay: 'MON', hour: 7, minute: 0 },
      // Every core KPI by acquisition channel too; the digest says where a KPI moved.
      breakdowns: ['channel'],
      targets: {
        crr: { value: 0.85, tolerance: 0.02 },
        churn_rate: { value: 0.15, tolerance: 0.02 },
        repeat_purchase_rate: { value: 0.5 },
      },
    },
    {
      id: 'monthly',
      name: 'Monthly KPIs',
      period: 'month',
      timeZone: 'Europe/London',
      locale: 'en',
      currency: 'USD',
      recipients: ['leadership@example.com'],
      owners: ['data-team@example.com'],
      schedule: { day: 1, hour: 7, minute: 0 },
    },
  ],
  // `npx cdk deploy`: where the reports run in AWS. Replace the example values.
  aws: {
    sender: 'kpi-digest@example.com',
    createSenderIdentity: true,
    athena: {
      database: 'sales',
      table: 'orders',
      // The stack creates this Glue table over Parquet under s3://<bucket>/<prefix>dt=YYYY-MM-DD/;
      // drop createTable to read a table that already exists.
      createTable: { bucket: 'example-orders-data', prefix: 'orders/', since: '2020-01-01' },
      // The Glue tables of the optional sources (same database) and where their data lies.
      feedback: { table: 'feedback', location: 's3://example-orders-data/feedback/' },
      marketingSpend: { table: 'marketing_spend', location: 's3://example-orders-data/spend/' },
      bytesScannedCutoffPerQuery: 10_000_000_000,
      queryTimeoutSeconds: 600,
    },
    archiveRetentionDays: 400,
    logRetentionDays: 90,
  },
});
