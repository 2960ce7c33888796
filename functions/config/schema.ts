import { z } from 'zod';
import { IANAZone } from 'luxon';
import { DEFAULT_HEADLINE, KPI_IDS } from '../kpis/definitions.ts';
import { PERIOD_KINDS } from '../periods/period.ts';

/** Defaults of KPI-SPEC.md. */
export const DEFAULT_EXCLUDED_STATUSES = ['cancelled', 'canceled', 'refunded', 'failed', 'test'];
export const DEFAULT_ACTIVE_WINDOW_DAYS = 90;
export const DEFAULT_AT_RISK_DAYS = 180;
/** Longest possible period of each kind, in days: the active window must cover it. */
export const MAX_PERIOD_DAYS = { week: 7, month: 31, quarter: 92, year: 366 } as const;

/** A SQL identifier we may splice into a query: letters, digits, underscores. */
const identifier = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    'expected a plain SQL identifier (letters, digits, underscore)',
  );

const timeZone = z.string().refine((v) => IANAZone.isValidZone(v), {
  message: 'expected an IANA time-zone name such as Europe/London',
});

const columns = z
  .object({
    order_id: identifier.default('order_id'),
    customer_id: identifier.default('customer_id'),
    ordered_at: identifier.default('ordered_at'),
    amount: identifier.default('amount'),
    /** `null` when the source has no status column. */
    status: identifier.nullable().default('status'),
  })
  .strict();

const fileSource = z
  .object({
    kind: z.literal('file'),
    /** A Parquet or CSV file, a folder of them, or a glob; relative to the config file. */
    path: z.string().min(1),
    format: z.enum(['parquet', 'csv']).optional(),
  })
  .strict();

const tableSource = z
  .object({
    kind: z.literal('table'),
    /** `database.table` (Athena / Glue) or `schema.table`. */
    table: z
      .string()
      .regex(
        /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$/,
        'expected a table name such as sales.orders',
      ),
  })
  .strict();

const sourceSchema = z.object({
  relation: z.discriminatedUnion('kind', [fileSource, tableSource]),
  columns: columns.default({
    order_id: 'order_id',
    customer_id: 'customer_id',
    ordered_at: 'ordered_at',
    amount: 'amount',
    status: 'status',
  }),
  excludedStatuses: z.array(z.string().min(1)).default(DEFAULT_EXCLUDED_STATUSES),
});

const kpiId = z.enum(KPI_IDS);

const target = z
  .object({
    /** The value to reach (a fraction for ratios: 0.8 for 80 %). */
    value: z.number(),
    /**
     * How far short of the target still counts as "watch", in the KPI's own unit.
     * @default 5 % of |value|
     */
    tolerance: z.number().nonnegative().optional(),
  })
  .strict();

const reportSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lower-case letters, digits and dashes'),
    name: z.string().min(1),
    period: z.enum(
      PERIOD_KINDS.filter((k) => k !== 'custom') as ['week', 'month', 'quarter', 'year'],
    ),
    timeZone: timeZone.default('UTC'),
    locale: z.enum(['en', 'ru']).default('en'),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code such as USD')
      .default('USD'),
    activeWindowDays: z.number().int().positive().max(3660).default(DEFAULT_ACTIVE_WINDOW_DAYS),
    atRiskDays: z.number().int().positive().max(364).default(DEFAULT_AT_RISK_DAYS),
    /** Data must reach the period end within this many hours, or the run is stale. */
    freshnessToleranceHours: z
      .number()
      .nonnegative()
      .max(24 * 31)
      .default(24),
    targets: z.partialRecord(kpiId, target).default({}),
    /** Overrides of a KPI's default direction. */
    directions: z.partialRecord(kpiId, z.enum(['up', 'down', 'neutral'])).default({}),
    /** KPIs shown as cards at the top of the digest. */
    headline: z
      .array(kpiId)
      .min(1)
      .default([...DEFAULT_HEADLINE]),
  })
  .strict()
  .superRefine((r, ctx) => {
    const longest = MAX_PERIOD_DAYS[r.period];
    if (r.activeWindowDays < longest) {
      ctx.addIssue({
        code: 'custom',
        path: ['activeWindowDays'],
        input: r.activeWindowDays,
        message: `expected at least the length of a ${r.period} (${longest} days)`,
      });
    }
  });

export const configSchema = z
  .object({
    source: sourceSchema,
    reports: z.array(reportSchema).min(1),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.reports.forEach((r, i) => {
      if (seen.has(r.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['reports', i, 'id'],
          input: r.id,
          message: 'expected a report id used only once',
        });
      }
      seen.add(r.id);
    });
  });

/** The configuration as written (defaults optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** The validated configuration with every default filled in. */
export type Config = z.output<typeof configSchema>;
export type ReportConfig = Config['reports'][number];
export type SourceConfig = Config['source'];
export type TargetConfig = z.output<typeof target>;
