import { formatProblem } from '../sql/timestamps.ts';
import { expressionColumns, isColumnName } from '../sql/expression.ts';
import { computeSeconds, MAX_CUSTOMERS, MAX_MEMORY_MB, memoryFor, memoryNeedMb } from './sizing.ts';
import { z } from 'zod';
import { IANAZone } from 'luxon';
import { DEFAULT_HEADLINE, KPI_IDS, type KpiId } from '../kpis/definitions.ts';
import { PERIOD_KINDS } from '../periods/period.ts';

/** Defaults of docs/kpis.md ("Defaults"). */
export const DEFAULT_EXCLUDED_STATUSES = ['cancelled', 'canceled', 'refunded', 'failed', 'test'];
export const DEFAULT_ACTIVE_WINDOW_DAYS = 90;
export const DEFAULT_AT_RISK_DAYS = 180;
/** The lifetime values' annual discount rate: 10 % a year. */
export const DEFAULT_ANNUAL_DISCOUNT_RATE = 0.1;
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

/**
 * A column of the orders contract: the source column's name, or a SQL expression over the
 * source's columns (`round(Quantity * UnitPrice, 2)`) that means the same on DuckDB and
 * Athena (see functions/sql/expression.ts and docs/sources.md).
 */
const columnEntry = z.string().superRefine((v, ctx) => {
  if (isColumnName(v)) return;
  const checked = expressionColumns(v);
  if ('error' in checked) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a column name or an expression both engines read alike: ${checked.error}`,
      input: v,
    });
  }
});

const columns = z
  .object({
    order_id: columnEntry.default('order_id'),
    customer_id: columnEntry.default('customer_id'),
    ordered_at: columnEntry.default('ordered_at'),
    amount: columnEntry.default('amount'),
    /** `null` when the source has no status column. */
    status: columnEntry.nullable().default('status'),
  })
  .strict();

/** The type a source column an expression reads is declared as (CSV; tables have their own). */
export const SOURCE_TYPES = ['text', 'integer', 'decimal', 'money', 'timestamp', 'date'] as const;

const fileSource = z
  .object({
    kind: z.literal('file'),
    /** A Parquet or CSV file, a folder of them, or a glob; relative to the config file. */
    path: z.string().min(1),
    format: z.enum(['parquet', 'csv']).optional(),
    /** CSV: the file's encoding; UTF-8 may start with a byte-order mark. */
    encoding: z.enum(['utf-8', 'latin-1']).optional(),
    /** CSV: the field separator, one character such as `;` or a tab. */
    delimiter: z
      .string()
      .length(1)
      .refine((d) => !['"', '\n', '\r'].includes(d), {
        message: 'expected one character other than a quote or a line break',
      })
      .optional(),
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

const relation = z.discriminatedUnion('kind', [fileSource, tableSource]);

/** Survey answers (docs/kpis.md, "Inputs"): NPS (0–10) and CSAT (1–5) scores with their time. */
const feedbackSource = z
  .object({
    relation,
    columns: z
      .object({
        submitted_at: identifier.default('submitted_at'),
        /** `nps` or `csat` (compared case-insensitively). */
        kind: identifier.default('kind'),
        score: identifier.default('score'),
      })
      .strict()
      .default({ submitted_at: 'submitted_at', kind: 'kind', score: 'score' }),
  })
  .strict();

/** Marketing spend by local date (and channel) in the reporting currency. */
const marketingSpendSource = z
  .object({
    relation,
    columns: z
      .object({
        spent_on: identifier.default('spent_on'),
        channel: identifier.nullable().default('channel'),
        amount: identifier.default('amount'),
      })
      .strict()
      .default({ spent_on: 'spent_on', channel: 'channel', amount: 'amount' }),
  })
  .strict();

const sourceSchema = z
  .object({
    relation,
    columns: columns.default({
      order_id: 'order_id',
      customer_id: 'customer_id',
      ordered_at: 'ordered_at',
      amount: 'amount',
      status: 'status',
    }),
    excludedStatuses: z.array(z.string().min(1)).default(DEFAULT_EXCLUDED_STATUSES),
    /**
     * The types of the source's other columns that expressions read, where the source is a
     * CSV file (read as text otherwise): `{ Quantity: 'integer', UnitPrice: 'decimal' }`.
     */
    types: z
      .record(
        z.string().regex(/^[^"\r\n]+$/, 'expected a column name as the file spells it'),
        z.enum(SOURCE_TYPES),
      )
      .default({}),
    /**
     * How the source stores order times when not as instants: `format` for text in a
     * strftime format (`%m/%d/%Y %H:%M`), `timeZone` for local wall-clock time without an
     * offset (Online Retail's London time). See docs/sources.md.
     */
    timestamps: z
      .object({
        format: z
          .string()
          .superRefine((f, ctx) => {
            const problem = formatProblem(f);
            if (problem) ctx.addIssue({ code: 'custom', message: problem, input: f });
          })
          .optional(),
        timeZone: timeZone.optional(),
      })
      .strict()
      .optional(),
    /**
     * `line` when the source holds order lines (most shop exports): the lines of an order
     * are summed into one order. With `order`, rows sharing an id are duplicates.
     */
    grain: z.enum(['order', 'line']).default('order'),
    /**
     * Customer attributes a report may break its KPIs down by (`reports[].breakdowns`), by
     * name: each a column or an expression like the columns above, read as text. A customer
     * keeps the value of their first valid order (acquisition country, channel, first
     * category). See docs/kpis.md, "Breakdowns".
     */
    dimensions: z
      .record(z.string(), columnEntry)
      .superRefine((d, ctx) => {
        for (const name of Object.keys(d))
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
            ctx.addIssue({
              code: 'custom',
              path: [name],
              input: name,
              message: 'expected a name of letters, digits and underscores',
            });
      })
      .default({}),
    /** Optional: survey answers; the reports then show NPS and CSAT. */
    feedback: feedbackSource.optional(),
    /** Optional: marketing spend; the reports then show CAC and LTV : CAC. */
    marketingSpend: marketingSpendSource.optional(),
  })
  .strict();

const kpiId = z.enum(KPI_IDS);

const email = z
  .string()
  .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'expected an email address such as ceo@example.com');
const domain = z
  .string()
  .regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/i, 'expected a domain such as example.com');

/** When a scheduled run fires, in the report's time zone, after its period has ended. */
const schedule = z
  .object({
    hour: z.number().int().min(0).max(23).default(7),
    minute: z.number().int().min(0).max(59).default(0),
    /** Weekly reports: the day of the week. */
    weekDay: z.enum(['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN']).default('MON'),
    /** Monthly, quarterly and yearly reports: the day of the month (1–28). */
    day: z.number().int().min(1).max(28).default(1),
    /**
     * Further attempts on the report day, one per hour after the first: data that lands
     * late is still reported that day. Once the digest is sent, a later slot is a no-op.
     */
    retryHours: z.number().int().min(0).max(12).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.retryHours !== undefined && s.hour <= 23 && s.hour + s.retryHours > 23)
      ctx.addIssue({
        code: 'custom',
        message: `expected at most ${23 - s.hour} after hour ${s.hour}: every attempt falls on the report day`,
        path: ['retryHours'],
        input: s.retryHours,
      });
  })
  // Up to 3 retry hours by default, as many as the report day has left after the first slot.
  .transform((s) => ({ ...s, retryHours: s.retryHours ?? Math.min(3, 23 - s.hour) }));

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

/** A reference point to read a KPI against, in the KPI's unit (a fraction for ratios). */
const benchmark = z
  .object({
    /** Free text, or a built-in name the digest translates: large-business, small-business, industry-median. */
    label: z.string().min(1).max(80),
    value: z.number(),
  })
  .strict();

/**
 * The seed material's reference points for annual retention: around 60 % is good for a
 * large business, 40 % and above for a small one, and the median across industries is
 * under 20 %. They apply to `crr_12m`, the annual figure, not to a week's retention.
 */
export const DEFAULT_BENCHMARKS = {
  crr_12m: [
    { label: 'large-business', value: 0.6 },
    { label: 'small-business', value: 0.4 },
    { label: 'industry-median', value: 0.2 },
  ],
} as const;

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
    /**
     * Gross margin as a fraction of revenue, (0, 1]: the lifetime values (`clv_12m`,
     * `new_customer_clv`, `ltv_to_cac`) count margin, revenue × grossMargin. Unset: they
     * count revenue, and the report says so (`beyond.clv.basis`).
     */
    grossMargin: z.number().gt(0).max(1).optional(),
    /**
     * The annual rate the lifetime values are discounted at, monthly over the next 12 months
     * (docs/kpis.md, "CLV model"); 0 for none. @default DEFAULT_ANNUAL_DISCOUNT_RATE
     */
    annualDiscountRate: z.number().min(0).max(1).default(DEFAULT_ANNUAL_DISCOUNT_RATE),
    /** Data must reach the period end within this many hours, or the run is stale. */
    freshnessToleranceHours: z
      .number()
      .nonnegative()
      .max(24 * 31)
      .default(24),
    targets: z.partialRecord(kpiId, target).default({}),
    /**
     * Reference points per KPI, shown next to its value; a KPI listed here replaces its
     * defaults (an empty list removes them). @default DEFAULT_BENCHMARKS
     */
    benchmarks: z
      .partialRecord(kpiId, z.array(benchmark).max(5))
      .default({})
      .transform(
        (b) =>
          ({ ...structuredClone(DEFAULT_BENCHMARKS), ...b }) as Partial<
            Record<KpiId, { label: string; value: number }[]>
          >,
      ),
    /** Overrides of a KPI's default direction. */
    directions: z.partialRecord(kpiId, z.enum(['up', 'down', 'neutral'])).default({}),
    /** Who gets the digest. */
    recipients: z.array(email).default([]),
    /** Who is told instead when the data is stale or the run fails. */
    owners: z.array(email).default([]),
    /** Ad-hoc runs may send only to these domains; empty: the recipients' and owners' domains. */
    allowedRecipientDomains: z.array(domain).default([]),
    schedule: schedule.default({ hour: 7, minute: 0, weekDay: 'MON', day: 1, retryHours: 3 }),
    /** A period without a single valid order: mail the digest anyway, or skip it. */
    emptyPeriod: z.enum(['send', 'skip']).default('send'),
    /**
     * Dimensions of `source.dimensions` to break every core KPI down by (at most 3): the
     * report carries each value's KPIs, and the digest says where a KPI moved.
     */
    breakdowns: z.array(identifier).max(3).default([]),
    /** Values shown per breakdown, those with the most customers; the rest are "Other". */
    breakdownTop: z.number().int().min(1).max(12).default(5),
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

/** CloudWatch Logs retention periods the log group accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
] as const;

/** An optional source's Glue table and where its data lies, for read access. */
const optionalTable = z
  .object({
    table: identifier,
    location: z
      .string()
      .regex(
        /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/([A-Za-z0-9_.=-]+\/)*$/,
        'expected an S3 location such as s3://bucket/feedback/',
      ),
  })
  .strict();

/** Where and how the stack runs in AWS (`cdk deploy`); not needed on a laptop. */
/**
 * A stack name in kebab case, for the names derived from it: `KpiDigest` → `kpi-digest`,
 * `KpiDigest-Staging` → `kpi-digest-staging`.
 */
export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/-+/g, '-');
}

/** The report function's name in a stack: derived from the stack, so stacks never collide. */
export function reportFunctionName(stackName: string): string {
  return `${kebab(stackName)}-report`;
}

const awsSchema = z
  .object({
    /**
     * The CloudFormation stack, one per environment (`KpiDigest-Staging`): the function and,
     * by default, the Athena work group are named after it, so environments never collide.
     */
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,100}$/, 'expected a CloudFormation stack name')
      .default('KpiDigest'),
    /** The SES sender; the function may send from this identity only. */
    sender: email,
    /** Create the SES identity (the sender's domain) in the stack, or use an existing one. */
    createSenderIdentity: z.boolean().default(false),
    athena: z
      .object({
        /** The Athena work group the stack creates; default: the stack's name in kebab case. */
        workGroup: z
          .string()
          .regex(/^[A-Za-z0-9._-]{1,128}$/, 'expected a work-group name')
          .optional(),
        /** The Glue database and table the report reads. */
        database: identifier,
        table: identifier,
        /**
         * Create the database and a table over date-partitioned Parquet (`dt=YYYY-MM-DD/`)
         * in this bucket and prefix, with partition projection; omit when the table exists.
         */
        createTable: z
          .object({
            bucket: z
              .string()
              .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name'),
            prefix: z
              .string()
              .regex(/^([A-Za-z0-9_.-]+\/)*$/, 'expected a prefix ending in /')
              .default('orders/'),
            /** First partition date for projection. */
            since: z
              .string()
              .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
              .default('2020-01-01'),
            /**
             * Create the Glue database too; `false` when it exists (its other tables are then
             * never the stack's). Whatever the stack creates is kept when the stack is deleted.
             */
            createDatabase: z.boolean().default(true),
            /** How the Parquet files store money: DECIMAL(18,2), or DOUBLE as most writers do. */
            amountType: z.enum(['decimal(18,2)', 'double']).default('decimal(18,2)'),
          })
          .strict()
          .optional(),
        /** The Glue table (same database) and S3 data of `source.feedback` in AWS. */
        feedback: optionalTable.optional(),
        /** The Glue table (same database) and S3 data of `source.marketingSpend` in AWS. */
        marketingSpend: optionalTable.optional(),
        /** The bucket the existing table's Parquet lives in (read access for the function). */
        dataBucket: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name')
          .optional(),
        /** Athena stops any query that would scan more (at least 10 MB). */
        bytesScannedCutoffPerQuery: z.number().int().min(10_000_000).default(10_000_000_000),
        /** A query still running after this long is cancelled. */
        queryTimeoutSeconds: z.number().int().min(10).max(840).default(600),
        resultsRetentionDays: z.number().int().min(1).default(30),
      })
      .strict(),
    /** Days the report archive (JSON, HTML, exports) is kept. */
    archiveRetentionDays: z.number().int().min(1).default(400),
    logRetentionDays: z
      .number()
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        message: `expected one of ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(90),
    /**
     * Customers in the source, ever (not only active ones): what the function's memory is
     * sized for (docs/sizing.md). Above about 9.2 million, a shop outgrows one function.
     */
    expectedCustomers: z.number().int().min(1).default(500_000),
    /**
     * Function memory in MB. @default the measured need of `expectedCustomers` with 50 %
     * headroom, at least 1,024 (docs/sizing.md)
     */
    memoryMb: z.number().int().min(256).max(MAX_MEMORY_MB).optional(),
    /**
     * The function's timeout: a whole run (every statement of it, rendering and sending),
     * at most Lambda's 15 minutes. The delivery lease lasts 2 minutes longer.
     */
    timeoutSeconds: z.number().int().min(60).max(900).default(900),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (!a.athena.createTable && !a.athena.dataBucket) {
      ctx.addIssue({
        code: 'custom',
        path: ['athena', 'dataBucket'],
        input: undefined,
        message: 'expected the bucket of the existing table (or athena.createTable)',
      });
    }
    const need = memoryNeedMb(a.expectedCustomers);
    if (a.memoryMb === undefined && a.expectedCustomers > MAX_CUSTOMERS) {
      ctx.addIssue({
        code: 'custom',
        path: ['expectedCustomers'],
        input: a.expectedCustomers,
        message: `expected at most ${MAX_CUSTOMERS}: a run for this many customers needs about ${need} MB, and with headroom more than one function's ${MAX_MEMORY_MB} MB (docs/sizing.md says what to do)`,
      });
    }
    if (a.memoryMb !== undefined && a.memoryMb < need) {
      ctx.addIssue({
        code: 'custom',
        path: ['memoryMb'],
        input: a.memoryMb,
        message: `expected at least ${need}: a run for expectedCustomers (${a.expectedCustomers}) peaks at about ${need} MB (docs/sizing.md)`,
      });
    }
    const compute = computeSeconds(
      a.expectedCustomers,
      a.memoryMb ?? memoryFor(a.expectedCustomers),
    );
    if (compute + 60 > a.timeoutSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeoutSeconds'],
        input: a.timeoutSeconds,
        message: `expected at least ${Math.ceil(compute + 60)}: the function computes for about ${Math.ceil(compute)} s for expectedCustomers (${a.expectedCustomers}), besides waiting for Athena`,
      });
    }
    if (a.athena.queryTimeoutSeconds >= a.timeoutSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['athena', 'queryTimeoutSeconds'],
        input: a.athena.queryTimeoutSeconds,
        message: `expected less than timeoutSeconds (${a.timeoutSeconds}): a run sends several queries`,
      });
    }
  })
  .transform((a) => ({
    ...a,
    memoryMb: a.memoryMb ?? memoryFor(a.expectedCustomers),
    athena: { ...a.athena, workGroup: a.athena.workGroup ?? kebab(a.stackName) },
  }));

export const configSchema = z
  .object({
    source: sourceSchema,
    reports: z.array(reportSchema).min(1),
    aws: awsSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkOptionalSources(c, ctx);
    const at = c.source.columns.ordered_at;
    const times = c.source.timestamps;
    if (times?.timeZone && !times.format && !isColumnName(at)) {
      // An expression's timestamps may come through with an offset applied: only text in a
      // declared format is sure to be the wall-clock time.
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'timestamps', 'format'],
        input: undefined,
        message:
          'expected the format of the local times when ordered_at is an expression (timestamps.timeZone needs the text as written)',
      });
    }
    const expressions = Object.entries(c.source.columns).filter(
      ([, v]) => v !== null && !isColumnName(v),
    );
    if (c.aws?.athena.createTable && (expressions.length > 0 || times?.format)) {
      ctx.addIssue({
        code: 'custom',
        path: ['aws', 'athena', 'createTable'],
        input: undefined,
        message: `expected no createTable: it creates the contract's columns with their types, and this source maps ${[...expressions.map(([k]) => k), ...(times?.format ? ['ordered_at (a format)'] : [])].join(', ')}; point aws.athena.table at your table over the export (with dataBucket)`,
      });
    }
    const dimensions = Object.entries(c.source.dimensions);
    const computed = dimensions.filter(([, v]) => !isColumnName(v));
    if (c.aws?.athena.createTable && computed.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'dimensions', computed[0]?.[0] ?? ''],
        input: computed[0]?.[1],
        message:
          'expected a column name: aws.athena.createTable creates each dimension as a text column; point aws.athena.table at your table over the export (with dataBucket) to use an expression',
      });
    }
    const seen = new Set<string>();
    c.reports.forEach((r, i) => {
      r.breakdowns.forEach((d, j) => {
        if (!Object.hasOwn(c.source.dimensions, d))
          ctx.addIssue({
            code: 'custom',
            path: ['reports', i, 'breakdowns', j],
            input: d,
            message: `expected a dimension of source.dimensions (${dimensions.map(([k]) => k).join(', ') || 'none configured'})`,
          });
        if (r.breakdowns.indexOf(d) !== j)
          ctx.addIssue({
            code: 'custom',
            path: ['reports', i, 'breakdowns', j],
            input: d,
            message: 'expected each dimension once',
          });
      });
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

/** The optional source each extra KPI needs (`clv_12m` needs none). */
const NEEDS: Partial<Record<string, 'feedback' | 'marketingSpend'>> = {
  nps: 'feedback',
  csat: 'feedback',
  cac: 'marketingSpend',
  ltv_to_cac: 'marketingSpend',
};

/**
 * A headline card or target for a KPI whose source is not configured would never show;
 * an optional source in AWS needs its Glue table, and a Glue table its source.
 */
function checkOptionalSources(
  c: {
    source: { feedback?: unknown; marketingSpend?: unknown };
    reports: { headline: readonly string[]; targets: Partial<Record<string, unknown>> }[];
    aws?: { athena: { feedback?: unknown; marketingSpend?: unknown } } | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  c.reports.forEach((r, i) => {
    const missing = (id: string): string | undefined => {
      const needed = NEEDS[id];
      return needed && c.source[needed] === undefined ? needed : undefined;
    };
    r.headline.forEach((id, j) => {
      const needed = missing(id);
      if (needed)
        ctx.addIssue({
          code: 'custom',
          path: ['reports', i, 'headline', j],
          input: id,
          message: `${id} needs source.${needed}; configure it or drop ${id}`,
        });
    });
    for (const id of Object.keys(r.targets)) {
      const needed = missing(id);
      if (needed)
        ctx.addIssue({
          code: 'custom',
          path: ['reports', i, 'targets', id],
          input: id,
          message: `${id} needs source.${needed}; configure it or drop the target`,
        });
    }
  });
  if (!c.aws) return;
  for (const key of ['feedback', 'marketingSpend'] as const) {
    if (c.source[key] !== undefined && c.aws.athena[key] === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['aws', 'athena', key],
        input: undefined,
        message: `expected the Glue table of source.${key} ({ table, location })`,
      });
    if (c.source[key] === undefined && c.aws.athena[key] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['source', key],
        input: undefined,
        message: `expected source.${key}: aws.athena.${key} names its table`,
      });
  }
}

/** The configuration as written (defaults optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** The validated configuration with every default filled in. */
export type Config = z.output<typeof configSchema>;
export type ReportConfig = Config['reports'][number];
export type SourceConfig = Config['source'];
export type FeedbackSourceConfig = z.output<typeof feedbackSource>;
export type MarketingSpendSourceConfig = z.output<typeof marketingSpendSource>;
export type TargetConfig = z.output<typeof target>;
export type AwsConfig = z.output<typeof awsSchema>;

/** The domains a report may send to: configured, or those of its recipients and owners. */
export function allowedDomains(r: ReportConfig): string[] {
  const configured = r.allowedRecipientDomains.map((d) => d.toLowerCase());
  if (configured.length > 0) return configured;
  return [
    ...new Set([...r.recipients, ...r.owners].map((e) => (e.split('@')[1] ?? '').toLowerCase())),
  ];
}

/** The orders source as Athena reads it in AWS: the configured Glue table. */
export function athenaSource(config: Config): SourceConfig {
  if (!config.aws) throw new Error('aws: expected the AWS settings of kpi.config (aws.athena…)');
  const { database, table, feedback, marketingSpend } = config.aws.athena;
  const inGlue = (t: string): { kind: 'table'; table: string } => ({
    kind: 'table',
    table: `${database}.${t}`,
  });
  return {
    ...config.source,
    relation: inGlue(table),
    ...(config.source.feedback && feedback
      ? { feedback: { ...config.source.feedback, relation: inGlue(feedback.table) } }
      : {}),
    ...(config.source.marketingSpend && marketingSpend
      ? {
          marketingSpend: {
            ...config.source.marketingSpend,
            relation: inGlue(marketingSpend.table),
          },
        }
      : {}),
  };
}
