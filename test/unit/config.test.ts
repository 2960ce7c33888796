import { describe, expect, test } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/config/load.ts';

const minimal = {
  source: { relation: { kind: 'file', path: 'orders.parquet' } },
  reports: [{ id: 'weekly', name: 'Weekly', period: 'week' }],
};

describe('configuration', () => {
  test('defaults of docs/kpis.md fill what is left out', () => {
    const c = parseConfig(minimal);
    const r = c.reports[0];
    expect(r).toMatchObject({ timeZone: 'UTC', activeWindowDays: 90, atRiskDays: 180 });
    expect(c.source.excludedStatuses).toEqual([
      'cancelled',
      'canceled',
      'refunded',
      'failed',
      'test',
    ]);
    expect(c.source.columns.order_id).toBe('order_id');
  });

  test('every problem is reported together, naming the field, the value and what is expected', () => {
    const bad = {
      source: {
        relation: { kind: 'file', path: 'orders.parquet' },
        columns: { customer_id: 'customer id; DROP TABLE x' },
      },
      reports: [
        { id: 'weekly', name: 'Weekly', period: 'fortnight', timeZone: 'Mars/Olympus' },
        { id: 'monthly', name: 'Monthly', period: 'month', activeWindowDays: 20, currency: 'usd' },
      ],
    };
    let error: ConfigError | undefined;
    try {
      parseConfig(bad);
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = error?.issues ?? [];
    expect(issues).toHaveLength(5);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^source\.columns\.customer_id: expected a column name or an expression both engines read alike: ";" is not allowed.*received "customer id; DROP TABLE x"/,
        ),
        expect.stringMatching(/^reports\[0\]\.period: .*"fortnight"/),
        expect.stringMatching(
          /^reports\[0\]\.timeZone: expected an IANA time-zone name.*received "Mars\/Olympus"/,
        ),
        expect.stringMatching(
          /^reports\[1\]\.activeWindowDays: expected at least the length of a month \(31 days\); received 20/,
        ),
        expect.stringMatching(
          /^reports\[1\]\.currency: expected an ISO 4217 currency code.*received "usd"/,
        ),
      ]),
    );
  });

  test('unknown keys and duplicate report ids are errors', () => {
    const run = (): unknown =>
      parseConfig({ ...minimal, reports: [...minimal.reports, ...minimal.reports], extra: 1 });
    expect(run).toThrow(/reports\[1\]\.id: expected a report id used only once; received "weekly"/);
    expect(run).toThrow(/\(root\): Unrecognized key: "extra"/);
  });

  test('optional sources: paths relative to the file; in AWS each needs its Glue table, and back', () => {
    const c = parseConfig(
      {
        ...minimal,
        source: {
          ...minimal.source,
          feedback: { relation: { kind: 'file', path: 'answers.csv' } },
          marketingSpend: { relation: { kind: 'table', table: 'sales.spend' } },
        },
      },
      '/srv/kpi/kpi.config.json',
    );
    expect(c.source.feedback?.relation).toEqual({ kind: 'file', path: '/srv/kpi/answers.csv' });
    expect(c.source.feedback?.columns).toEqual({
      submitted_at: 'submitted_at',
      kind: 'kind',
      score: 'score',
    });
    expect(c.source.marketingSpend?.columns.channel).toBe('channel');
    const aws = {
      sender: 'kpi@example.com',
      athena: { database: 'sales', table: 'orders', dataBucket: 'acme-data' },
    };
    expect(() =>
      parseConfig({
        ...minimal,
        source: { ...minimal.source, feedback: { relation: { kind: 'file', path: 'a.csv' } } },
        aws,
      }),
    ).toThrow(/aws\.athena\.feedback: expected the Glue table of source\.feedback/);
    expect(() =>
      parseConfig({
        ...minimal,
        aws: {
          ...aws,
          athena: { ...aws.athena, marketingSpend: { table: 'spend', location: 's3://b/spend/' } },
        },
      }),
    ).toThrow(
      /source\.marketingSpend: expected source\.marketingSpend: aws\.athena\.marketingSpend names its table/,
    );
    expect(() => parseConfig({ ...minimal, source: { ...minimal.source, feedbak: {} } })).toThrow(
      /source: Unrecognized key: "feedbak"/,
    );
  });

  test('benchmarks: the seed defaults on crr_12m, replaced per KPI', () => {
    expect(parseConfig(minimal).reports[0]?.benchmarks).toEqual({
      crr_12m: [
        { label: 'large-business', value: 0.6 },
        { label: 'small-business', value: 0.4 },
        { label: 'industry-median', value: 0.2 },
      ],
    });
    const own = parseConfig({
      ...minimal,
      reports: [
        {
          ...minimal.reports[0],
          benchmarks: { crr_12m: [], aov: [{ label: 'Peer median', value: 55 }] },
        },
      ],
    });
    expect(own.reports[0]?.benchmarks).toEqual({
      crr_12m: [],
      aov: [{ label: 'Peer median', value: 55 }],
    });
  });
});
