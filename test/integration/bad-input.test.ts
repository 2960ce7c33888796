import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/config/load.ts';
import type { ConfigInput } from '../../functions/config/schema.ts';
import { DirLedgerStore } from '../../functions/delivery/ledger.ts';
import type { Mailer } from '../../functions/delivery/ses.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import type { QueryEngine } from '../../functions/engines/query-engine.ts';
import { runOnce } from '../../functions/handlers/run.ts';
import { writeOrdersCsv } from '../helpers.ts';

/**
 * The bad-input catalogue: every case is refused with its exact message, nothing is sent,
 * and no report query runs (config and payload cases touch no engine at all).
 */
const NOW = new Date('2026-11-23T07:00:00Z');
const GOOD_CSV = writeOrdersCsv([
  { order_id: '1', customer_id: 'a', ordered_at: '2026-11-17T10:00:00Z', amount: 10 },
  { order_id: '2', customer_id: 'b', ordered_at: '2026-11-18T10:00:00Z', amount: 20 },
]);

function base(): ConfigInput {
  return {
    source: { relation: { kind: 'file', path: GOOD_CSV } },
    reports: [
      {
        id: 'weekly',
        name: 'Weekly KPIs',
        period: 'week',
        timeZone: 'Europe/London',
        recipients: ['ceo@example.com'],
        owners: ['data@example.com'],
      },
    ],
  };
}
const report = (over: Record<string, unknown>): ConfigInput => ({
  ...base(),
  reports: [{ ...(base().reports[0] as object), ...over } as ConfigInput['reports'][number]],
});

/** A file in a fresh folder. */
function file(name: string, content: string | Buffer): string {
  const path = join(mkdtempSync(join(tmpdir(), 'kpi-bad-')), name);
  writeFileSync(path, content);
  return path;
}

interface Outcome {
  error: string;
  engines: number;
  queries: string[];
  /** The whole text of every statement. */
  statements: string[];
  sent: number;
}

/** Parses the config and runs the payload, recording every engine, query and send. */
async function attempt(config: unknown, payload: unknown): Promise<Outcome> {
  const outcome: Outcome = { error: '', engines: 0, queries: [], statements: [], sent: 0 };
  const mailer: Mailer = {
    sendMessage: () => {
      outcome.sent++;
      return Promise.resolve('id');
    },
    send: () => {
      outcome.sent++;
      return Promise.resolve({ messageIds: [], recipients: [] });
    },
  };
  try {
    const parsed = parseConfig(config);
    await runOnce(payload, {
      config: parsed,
      engine: async (): Promise<QueryEngine> => {
        outcome.engines++;
        const engine = await DuckDbEngine.create();
        const query = engine.query.bind(engine);
        engine.query = (sql: string) => {
          outcome.queries.push(sql.trim().split(/\s+/).slice(0, 2).join(' '));
          outcome.statements.push(sql);
          return query(sql);
        };
        return engine;
      },
      mailer,
      ledger: new DirLedgerStore(mkdtempSync(join(tmpdir(), 'kpi-ledger-'))),
      sender: 'kpi@example.com',
      clock: () => NOW,
    });
  } catch (e) {
    outcome.error = e instanceof ConfigError ? e.issues.join('\n') : (e as Error).message;
  }
  return outcome;
}

const SQL = "x'; DROP TABLE orders; --";
const scheduled = { report: 'weekly', scheduled: true };
const aws = (cutoff: number) => ({
  sender: 'kpi@example.com',
  athena: {
    database: 'sales',
    table: 'orders',
    dataBucket: 'acme-orders',
    bytesScannedCutoffPerQuery: cutoff,
  },
});

const CONFIGS: [string, unknown, string][] = [
  [
    'a query timeout as long as the run',
    {
      ...base(),
      aws: {
        sender: 'kpi@example.com',
        timeoutSeconds: 300,
        athena: {
          database: 'sales',
          table: 'orders',
          dataBucket: 'acme-orders',
          queryTimeoutSeconds: 300,
        },
      },
    },
    'aws.athena.queryTimeoutSeconds: expected less than timeoutSeconds (300): a run sends several queries; received 300',
  ],
  [
    'a stack name CloudFormation refuses',
    {
      ...base(),
      aws: {
        stackName: 'kpi_digest',
        sender: 'kpi@example.com',
        athena: { database: 'sales', table: 'orders', dataBucket: 'acme-orders' },
      },
    },
    'aws.stackName: expected a CloudFormation stack name; received "kpi_digest"',
  ],
  [
    'no report',
    { ...base(), reports: [] },
    'reports: Too small: expected array to have >=1 items; received []',
  ],
  [
    'an unknown period kind',
    report({ period: 'daily' }),
    'reports[0].period: Invalid option: expected one of "week"|"month"|"quarter"|"year"; received "daily"',
  ],
  [
    'an invalid time zone',
    report({ timeZone: 'Mars/Olympus_Mons' }),
    'reports[0].timeZone: expected an IANA time-zone name such as Europe/London; received "Mars/Olympus_Mons"',
  ],
  [
    'an SQL-looking report id',
    report({ id: SQL }),
    `reports[0].id: expected lower-case letters, digits and dashes; received "${SQL}"`,
  ],
  [
    'an SQL-looking column name',
    { ...base(), source: { ...base().source, columns: { amount: SQL } } },
    `source.columns.amount: expected a column name or an expression both engines read alike: x '…' is not allowed: a string literal stands alone; received "${SQL}"`,
  ],
  [
    'a quoted column name',
    { ...base(), source: { ...base().source, columns: { order_id: 'order"id' } } },
    'source.columns.order_id: expected a column name or an expression both engines read alike: a quoted column name is not closed, or holds a quote; received "order\\"id"',
  ],
  [
    'an SQL-looking table name',
    { ...base(), source: { relation: { kind: 'table', table: `sales.orders; ${SQL}` } } },
    `source.relation.table: expected a table name such as sales.orders; received "sales.orders; ${SQL}"`,
  ],
  [
    'a negative active window',
    report({ activeWindowDays: -5 }),
    'reports[0].activeWindowDays: Too small: expected number to be >0; received -5\nreports[0].activeWindowDays: expected at least the length of a week (7 days); received -5',
  ],
  [
    'an absurd active window',
    report({ activeWindowDays: 100_000 }),
    'reports[0].activeWindowDays: Too big: expected number to be <=3660; received 100000',
  ],
  [
    'an at-risk window of zero days',
    report({ atRiskDays: 0 }),
    'reports[0].atRiskDays: Too small: expected number to be >0; received 0',
  ],
  [
    'an active window shorter than the period',
    report({ period: 'month', activeWindowDays: 20 }),
    'reports[0].activeWindowDays: expected at least the length of a month (31 days); received 20',
  ],
  [
    'a breakdown by a dimension the source does not name',
    {
      ...base(),
      source: { ...base().source, dimensions: { country: 'country' } },
      reports: [{ ...(base().reports[0] as object), breakdowns: ['channel'] }],
    },
    'reports[0].breakdowns[0]: expected a dimension of source.dimensions (country); received "channel"',
  ],
  [
    'a breakdown without any dimension',
    report({ breakdowns: ['country'] }),
    'reports[0].breakdowns[0]: expected a dimension of source.dimensions (none configured); received "country"',
  ],
  [
    'an SQL-looking dimension',
    { ...base(), source: { ...base().source, dimensions: { country: SQL } } },
    `source.dimensions.country: expected a column name or an expression both engines read alike: x '…' is not allowed: a string literal stands alone; received "${SQL}"`,
  ],
  [
    'a dimension named like SQL',
    { ...base(), source: { ...base().source, dimensions: { 'a b': 'country' } } },
    'source.dimensions.a b: expected a name of letters, digits and underscores; received "a b"',
  ],
  [
    'an expression as a dimension of the table the stack creates',
    {
      ...base(),
      source: { ...base().source, dimensions: { channel: "coalesce(utm_source, 'direct')" } },
      aws: {
        sender: 'kpi@example.com',
        athena: { database: 'sales', table: 'orders', createTable: { bucket: 'acme-orders' } },
      },
    },
    'source.dimensions.channel: expected a column name: aws.athena.createTable creates each dimension as a text column; point aws.athena.table at your table over the export (with dataBucket) to use an expression; received "coalesce(utm_source, \'direct\')"',
  ],
  [
    'a breakdown of more values than a digest can show',
    report({ breakdownTop: 50 }),
    'reports[0].breakdownTop: Too big: expected number to be <=12; received 50',
  ],
  [
    'two reports with one id',
    { ...base(), reports: [base().reports[0], base().reports[0]] },
    'reports[1].id: expected a report id used only once; received "weekly"',
  ],
  [
    'an invalid recipient',
    report({ recipients: ['ceo-at-example.com'] }),
    'reports[0].recipients[0]: expected an email address such as ceo@example.com; received "ceo-at-example.com"',
  ],
  [
    'an SQL-looking recipient',
    report({ recipients: [SQL] }),
    `reports[0].recipients[0]: expected an email address such as ceo@example.com; received "${SQL}"`,
  ],
  [
    'an unknown locale',
    report({ locale: 'fr' }),
    'reports[0].locale: Invalid option: expected one of "en"|"ru"; received "fr"',
  ],
  [
    'a currency that is not ISO 4217',
    report({ currency: 'dollars' }),
    'reports[0].currency: expected an ISO 4217 currency code such as USD; received "dollars"',
  ],
  [
    'a misspelt key',
    report({ recipeints: ['ceo@example.com'] }),
    'reports[0]: Unrecognized key: "recipeints"',
  ],
  [
    'a target for a KPI that does not exist',
    report({ targets: { net_promoter: { value: 50 } } }),
    'reports[0].targets: Unrecognized key: "net_promoter"',
  ],
  [
    'a target for NPS without a feedback source',
    report({ targets: { nps: { value: 50 } } }),
    'reports[0].targets.nps: nps needs source.feedback; configure it or drop the target; received "nps"',
  ],
  [
    'a CAC card without a marketing-spend source',
    report({ headline: ['crr', 'cac'] }),
    'reports[0].headline[1]: cac needs source.marketingSpend; configure it or drop cac; received "cac"',
  ],
  [
    'a schedule at 25 o’clock',
    report({ schedule: { hour: 25 } }),
    'reports[0].schedule.hour: Too big: expected number to be <=23; received 25',
  ],
  [
    'retry slots that run past midnight',
    report({ schedule: { hour: 22, retryHours: 3 } }),
    'reports[0].schedule.retryHours: expected at most 1 after hour 22: every attempt falls on the report day; received 3',
  ],
  [
    'an empty excluded status',
    { ...base(), source: { ...base().source, excludedStatuses: [''] } },
    'source.excludedStatuses[0]: Too small: expected string to have >=1 characters; received ""',
  ],
  [
    'a scan cutoff under the Athena minimum',
    { ...base(), aws: aws(5) },
    'aws.athena.bytesScannedCutoffPerQuery: Too small: expected number to be >=10000000; received 5',
  ],
  [
    'not an object at all',
    'reports: weekly',
    '(root): Invalid input: expected object, received string',
  ],
];

const PAYLOADS: [string, unknown, string][] = [
  ['an unknown report', { report: 'daily' }, 'report: expected one of weekly; received "daily"'],
  [
    'a malformed period',
    { report: 'weekly', period: '2026-W99' },
    'period: ISO year 2026 has no week 99',
  ],
  [
    'a period that has not ended',
    { report: 'weekly', period: '2026-W48' },
    'period: 2026-W48 has not ended yet in Europe/London',
  ],
  [
    'a future period',
    { report: 'weekly', period: '2027-W01' },
    'period: 2027-W01 has not ended yet in Europe/London',
  ],
  [
    'a reversed custom range',
    { report: 'weekly', period: '2026-11-15..2026-11-01' },
    'period: period "2026-11-15..2026-11-01": the end date 2026-11-01 is before the start 2026-11-15',
  ],
  [
    'a custom range longer than the active window',
    { report: 'weekly', period: '2026-01-01..2026-06-30' },
    'period: period 2026-01-01..2026-06-30 spans 181 days, longer than activeWindowDays (90); raise activeWindowDays to at least 181',
  ],
  [
    'an invalid recipient',
    { report: 'weekly', recipients: ['me@'] },
    'recipients[0]: expected an email address; received "me@"',
  ],
  [
    'a recipient outside the allowed domains',
    { report: 'weekly', recipients: ['me@gmail.com'] },
    'recipients: me@gmail.com is outside the allowed domains (example.com)',
  ],
  [
    'too many recipients',
    { report: 'weekly', recipients: Array.from({ length: 51 }, (_, i) => `r${i}@example.com`) },
    'recipients: at most 50 for an ad-hoc run; received 51',
  ],
  [
    'an SQL-looking period',
    { report: 'weekly', period: `2026-W47${SQL}` },
    `period: period "2026-W47${SQL}" is not one of 2026-W47, 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15`,
  ],
  ['an SQL-looking report', { report: SQL }, `report: expected one of weekly; received "${SQL}"`],
  [
    'an SQL-looking recipient',
    { report: 'weekly', recipients: [SQL] },
    `recipients[0]: expected an email address; received "${SQL}"`,
  ],
  [
    'dryRun that is not a boolean',
    { report: 'weekly', dryRun: 'yes' },
    'dryRun: Invalid input: expected boolean, received string',
  ],
  [
    'an unknown format',
    { report: 'weekly', format: 'pdf' },
    'format: Invalid option: expected one of "json"|"html"|"text"|"eml"|"all"; received "pdf"',
  ],
  [
    'an unknown key',
    { report: 'weekly', to: ['ceo@example.com'] },
    'payload: Unrecognized key: "to"',
  ],
  [
    'a payload that is not an object',
    'weekly',
    'payload: Invalid input: expected object, received string',
  ],
];

const HEADER = 'order_id,customer_id,ordered_at,amount,status\n';
/** Each: what, the source path, the message for that path. */
const SOURCES: [string, string, (path: string) => string][] = [
  [
    'a source without the amount column',
    file(
      'orders.csv',
      'order_id,customer_id,ordered_at,status\n1,a,2026-11-17T10:00:00Z,completed\n',
    ),
    () => 'the source has no column amount; it has order_id, customer_id, ordered_at, status',
  ],
  [
    'amounts that are not numbers',
    file('orders.csv', `${HEADER}1,a,2026-11-17T10:00:00Z,ten,completed\n`),
    (p) =>
      `source "${p}" line 2: column amount holds "ten", not an amount with at most 16 digits before the decimal point (such as 1234.50)`,
  ],
  [
    'a CSV with a broken row',
    file(
      'orders.csv',
      `${HEADER}1,a,2026-11-17T10:00:00Z,10,completed\n2,b,2026-11-18T10:00:00Z,20,completed,extra\n3,c,2026-11-19T10:00:00Z,30,completed\n`,
    ),
    (p) => `source "${p}" line 3: it has 6 fields; the header has 5`,
  ],
  [
    'a CSV that is not UTF-8',
    file(
      'orders.csv',
      Buffer.concat([
        Buffer.from(`${HEADER}1,a,2026-11-17T10:00:00Z,10,completed\n2,`),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('b,2026-11-18T10:00:00Z,20,completed\n'),
      ]),
    ),
    (p) =>
      `source "${p}" line 3: it is not UTF-8 (save the file as UTF-8, or declare relation.encoding: 'latin-1')`,
  ],
  [
    'a source file that does not exist',
    '/nonexistent/orders.parquet',
    () => 'source "/nonexistent/orders.parquet" does not exist',
  ],
];

describe('bad input: refused with its exact message, nothing sent, no report query', () => {
  test.each(CONFIGS)('config: %s', async (_, config, message) => {
    const o = await attempt(config, scheduled);
    expect(o.error).toBe(message);
    expect(o).toMatchObject({ engines: 0, sent: 0 });
  });

  test.each(PAYLOADS)('payload: %s', async (_, payload, message) => {
    const o = await attempt(base(), payload);
    expect(o.error).toBe(message);
    expect(o).toMatchObject({ engines: 0, sent: 0 });
  });

  test.each(SOURCES)('source: %s', async (_, path, message) => {
    const o = await attempt({ ...base(), source: { relation: { kind: 'file', path } } }, scheduled);
    expect(o.error).toBe(message(path));
    expect(o.sent).toBe(0);
    // The schema probes, at most the one read of the source (which fails on a bad value),
    // and the clean-up: no statement reads the run's table.
    expect(
      o.queries.filter(
        (q) => q !== 'DESCRIBE SELECT' && !q.startsWith('CREATE') && !q.startsWith('DROP'),
      ),
    ).toEqual([]);
  });

  test('the catalogue has at least 30 cases', () => {
    expect(CONFIGS.length + PAYLOADS.length + SOURCES.length).toBeGreaterThanOrEqual(30);
  });
});

test('an SQL-looking excluded status is a plain string literal, not SQL', async () => {
  const o = await attempt(
    { ...base(), source: { ...base().source, excludedStatuses: [SQL, 'cancelled'] } },
    {
      report: 'weekly',
      period: '2026-W47',
      dryRun: true,
    },
  );
  expect(o.error).toBe('');
  // The schema probe, then the run's own statements: the customer table (where the status
  // is a string literal), the statements that read it, and its drop.
  expect(o.queries[0]).toBe('DESCRIBE SELECT');
  const [create, ...rest] = o.statements.slice(1);
  expect(create).toMatch(/^CREATE TEMP TABLE kpi_run_[0-9a-f]{32} AS/);
  // (statuses compare in lower case)
  expect(create).toContain(`'${SQL.toLowerCase().replaceAll("'", "''")}'`);
  expect(rest.at(-1)).toMatch(/^DROP TABLE IF EXISTS kpi_run_[0-9a-f]{32}$/);
  expect(rest.slice(0, -1).filter((q) => !/^(WITH|SELECT)\s/.test(q))).toEqual([]);
  expect(
    o.statements.some((q) => /DROP TABLE orders/.test(q.replace(/'[^']*(''[^']*)*'/g, ''))),
  ).toBe(false);
});
