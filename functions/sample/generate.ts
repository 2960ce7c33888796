import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  DOUBLE,
  DuckDBDataChunk,
  DuckDBInstance,
  INTEGER,
  VARCHAR,
  type DuckDBConnection,
} from '@duckdb/node-api';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { stringLiteral } from '../sql/dialect.ts';

/** Options of the synthetic shop. Same options, same seed → the same file, byte for byte. */
export interface SampleOptions {
  /** Customers acquired over the whole span. @default 50_000 */
  readonly customers?: number;
  /** Years of history. @default 3 */
  readonly years?: number;
  /** Exclusive end of the data, a UTC instant. @default 2026-11-23T00:00:00Z (a Monday) */
  readonly end?: Date;
  /** @default 20261123 */
  readonly seed?: number;
  /** Share of orders placed as guest checkouts (no customer id). @default 0.06 */
  readonly guestShare?: number;
  /**
   * Also write survey answers (`customer_id, submitted_at, kind, score`) and daily marketing
   * spend (`spent_on, channel, amount`) to these Parquet files.
   */
  readonly extras?: { readonly feedback: string; readonly marketingSpend: string };
}

export interface SampleSummary {
  readonly rows: number;
  readonly customers: number;
  readonly start: Date;
  readonly end: Date;
}

const DAY = 86_400_000;
/** Relative acquisition intensity by calendar month (Jan..Dec): a Q4 retail shape. */
const MONTH_WEIGHT = [0.8, 0.75, 0.85, 0.9, 0.95, 0.9, 0.85, 0.9, 1.0, 1.1, 1.45, 1.6];
/** Relative order intensity by weekday (Sun..Sat). */
const WEEKDAY_WEIGHT = [1.15, 1.05, 0.95, 0.95, 0.95, 1.0, 1.1];

/** A seeded random source with the few distributions the shop needs. */
class Random {
  private readonly rng;
  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
  }
  uniform(): number {
    return uniformFloat64(this.rng);
  }
  normal(): number {
    // Box–Muller; 1 − u keeps the logarithm finite.
    return Math.sqrt(-2 * Math.log(1 - this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
  exponential(mean: number): number {
    return -Math.log(1 - this.uniform()) * mean;
  }
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
  /** Weibull with shape < 1 has a falling hazard: churn steepest early, then flattening. */
  weibull(scale: number, shape: number): number {
    return scale * Math.pow(-Math.log(1 - this.uniform()), 1 / shape);
  }
  /** Gamma(shape, 1) by Marsaglia–Tsang, for shape ≥ 1. */
  gamma(shape: number): number {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = this.normal();
      const v = Math.pow(1 + c * x, 3);
      if (v > 0 && Math.log(1 - this.uniform()) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
        return d * v;
      }
    }
  }
}

/** Seasonal order intensity on a day: month shape, weekday shape and the late-November peak. */
function seasonality(dayMs: number): number {
  const d = new Date(dayMs);
  const month = d.getUTCMonth();
  let w = (MONTH_WEIGHT[month] ?? 1) * (WEEKDAY_WEIGHT[d.getUTCDay()] ?? 1);
  // Black Friday (4th Friday of November) through Cyber Monday: the year's peak.
  if (month === 10) {
    const firstFriday =
      ((5 - new Date(Date.UTC(d.getUTCFullYear(), 10, 1)).getUTCDay() + 7) % 7) + 1;
    const blackFriday = firstFriday + 21;
    const day = d.getUTCDate();
    if (day >= blackFriday && day <= blackFriday + 3) w *= 3.2;
    else if (day >= blackFriday - 7 && day < blackFriday) w *= 1.5;
  }
  return w;
}

/** Marketing channels of the sample shop and their shares of the spend. */
const CHANNELS = [
  ['search', 0.5],
  ['social', 0.3],
  ['email', 0.2],
] as const;

/**
 * How the sample's customers arrive: the channel of a first order, for the loyal decile, the
 * one-time buyers and the rest (loyal customers come by referral more often, one-time buyers
 * from social ads). A repeat order comes by email or directly, or by the first channel again.
 */
const ACQUISITION = {
  loyal: [
    ['search', 0.3],
    ['referral', 0.3],
    ['email', 0.2],
    ['social', 0.1],
    ['direct', 0.1],
  ],
  oneTime: [
    ['social', 0.45],
    ['search', 0.35],
    ['email', 0.1],
    ['referral', 0.05],
    ['direct', 0.05],
  ],
  other: [
    ['search', 0.4],
    ['social', 0.25],
    ['email', 0.15],
    ['referral', 0.1],
    ['direct', 0.1],
  ],
} as const;

/** A name drawn by its weight (the weights add up to 1). */
function pick(u: number, weighted: readonly (readonly [string, number])[]): string {
  let at = 0;
  for (const [name, w] of weighted) {
    at += w;
    if (u < at) return name;
  }
  return weighted.at(-1)?.[0] ?? '';
}

/** Writes the sample's survey answers and daily spend per channel to Parquet. */
async function writeExtras(
  conn: DuckDBConnection,
  paths: { readonly feedback: string; readonly marketingSpend: string },
  d: {
    answers: { cust: number[]; ts: number[]; kind: string[]; score: number[] };
    startMs: number;
    endMs: number;
    days: number;
    dailySpend: (day: number) => number;
    rnd: Random;
  },
): Promise<void> {
  await conn.run('CREATE TABLE answers (cust INTEGER, ts_ms DOUBLE, kind VARCHAR, score INTEGER)');
  const a = await conn.createAppender('answers');
  for (let i = 0; i < d.answers.cust.length; i += 2048) {
    const end = Math.min(i + 2048, d.answers.cust.length);
    const chunk = DuckDBDataChunk.create([INTEGER, DOUBLE, VARCHAR, INTEGER], end - i);
    chunk.setColumnValues(0, d.answers.cust.slice(i, end));
    chunk.setColumnValues(1, d.answers.ts.slice(i, end));
    chunk.setColumnValues(2, d.answers.kind.slice(i, end));
    chunk.setColumnValues(3, d.answers.score.slice(i, end));
    a.appendDataChunk(chunk);
  }
  a.flushSync();
  a.closeSync();
  await conn.run('CREATE TABLE spend (day INTEGER, channel VARCHAR, cents DOUBLE)');
  const s = await conn.createAppender('spend');
  const day: number[] = [];
  const channel: string[] = [];
  const cents: number[] = [];
  for (let i = 0; i < d.days; i++) {
    const total = d.dailySpend(i) * d.rnd.logNormal(1, 0.2);
    for (const [name, share] of CHANNELS) {
      day.push(i);
      channel.push(name);
      cents.push(Math.round(total * share * 100));
    }
  }
  for (let i = 0; i < day.length; i += 2048) {
    const end = Math.min(i + 2048, day.length);
    const chunk = DuckDBDataChunk.create([INTEGER, VARCHAR, DOUBLE], end - i);
    chunk.setColumnValues(0, day.slice(i, end));
    chunk.setColumnValues(1, channel.slice(i, end));
    chunk.setColumnValues(2, cents.slice(i, end));
    s.appendDataChunk(chunk);
  }
  s.flushSync();
  s.closeSync();
  for (const p of [paths.feedback, paths.marketingSpend])
    await mkdir(dirname(p), { recursive: true });
  await conn.run(`COPY (
    SELECT 'C' || lpad(CAST(cust AS VARCHAR), 7, '0') AS customer_id,
      CAST(epoch_ms(CAST(ts_ms AS BIGINT)) AS TIMESTAMP_MS) AS submitted_at, kind, score
    FROM answers
    WHERE ts_ms < ${d.endMs}
    ORDER BY ts_ms, cust
  ) TO ${stringLiteral(paths.feedback)} (FORMAT parquet, COMPRESSION zstd)`);
  await conn.run(`COPY (
    SELECT CAST(DATE '${new Date(d.startMs).toISOString().slice(0, 10)}' + day AS DATE) AS spent_on,
      channel, CAST(cents / 100.0 AS DECIMAL(12, 2)) AS amount
    FROM spend
    ORDER BY day, channel
  ) TO ${stringLiteral(paths.marketingSpend)} (FORMAT parquet, COMPRESSION zstd)`);
}

const STATUSES = ['completed', 'cancelled', 'refunded', 'Cancelled', 'failed'] as const;

/**
 * Writes a deterministic synthetic order history to Parquet (`order_id, customer_id,
 * ordered_at TIMESTAMP_MS UTC, amount DECIMAL(12,2), status, channel`), sorted by `ordered_at`:
 * seasonal acquisition with a late-November peak; early-steep churn (one-time buyers and a
 * Weibull lifetime with falling hazard) that flattens by month 4–5; a loyal top decile that
 * buys more often and spends about three times as much; guest checkouts; cancelled,
 * refunded and failed orders; a few duplicated order ids (re-exported rows); and each
 * order's marketing channel (see ACQUISITION), the first order's telling how the customer came.
 */
export async function generateSample(
  file: string,
  options: SampleOptions = {},
): Promise<SampleSummary> {
  const customers = options.customers ?? 50_000;
  const years = options.years ?? 3;
  const end = options.end ?? new Date('2026-11-23T00:00:00Z');
  const rnd = new Random(options.seed ?? 20261123);
  const guestShare = options.guestShare ?? 0.06;
  const startMs = Date.UTC(end.getUTCFullYear() - years, end.getUTCMonth(), end.getUTCDate());
  const endMs = end.getTime();
  const days = Math.round((endMs - startMs) / DAY);

  // Acquisition day distribution: seasonality × steady growth (the shop doubles over the span).
  const cumulative = new Float64Array(days);
  let total = 0;
  for (let i = 0; i < days; i++) {
    total += seasonality(startMs + i * DAY) * Math.pow(2, i / days);
    cumulative[i] = total;
  }
  const acquisitionDay = (): number => {
    const u = rnd.uniform() * total;
    let lo = 0;
    let hi = days - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] ?? 0) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const maxSeason = 3.2 * 1.6 * 1.5;

  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
  });
  const conn = await instance.connect();
  await conn.run(
    'CREATE TABLE gen (oid DOUBLE, cust INTEGER, ts_ms DOUBLE, cents DOUBLE, status VARCHAR, channel VARCHAR)',
  );
  const appender = await conn.createAppender('gen');
  const CHUNK = 2048;
  const cols = {
    oid: [] as number[],
    cust: [] as (number | null)[],
    ts: [] as number[],
    cents: [] as number[],
    status: [] as string[],
    channel: [] as string[],
  };
  let rows = 0;
  let nextOrderId = 1;
  const flush = (): void => {
    const n = cols.oid.length;
    if (n === 0) return;
    const chunk = DuckDBDataChunk.create([DOUBLE, INTEGER, DOUBLE, DOUBLE, VARCHAR, VARCHAR], n);
    chunk.setColumnValues(0, cols.oid);
    chunk.setColumnValues(1, cols.cust);
    chunk.setColumnValues(2, cols.ts);
    chunk.setColumnValues(3, cols.cents);
    chunk.setColumnValues(4, cols.status);
    chunk.setColumnValues(5, cols.channel);
    appender.appendDataChunk(chunk);
    rows += n;
    for (const c of Object.values(cols)) c.length = 0;
  };
  const status = (): string => {
    const u = rnd.uniform();
    if (u < 0.94) return STATUSES[0];
    if (u < 0.965) return STATUSES[1];
    if (u < 0.985) return STATUSES[2];
    if (u < 0.995) return STATUSES[3];
    return STATUSES[4];
  };
  const push = (
    oid: number,
    cust: number | null,
    ts: number,
    cents: number,
    st: string,
    channel: string,
  ): void => {
    cols.oid.push(oid);
    cols.cust.push(cust);
    cols.ts.push(ts);
    cols.cents.push(cents);
    cols.status.push(st);
    cols.channel.push(channel);
    if (cols.oid.length >= CHUNK) flush();
  };
  const timeOfDay = (): number => {
    // Orders cluster in the (UTC) afternoon and evening.
    const hour = Math.min(23.999, Math.max(0, 14 + 4.5 * rnd.normal()));
    return Math.floor(hour * 3_600_000);
  };
  // Survey answers after about 1 in 12 orders: NPS (0–10) or CSAT (1–5), loyal customers
  // happier; a few answers are unusable (off the scale, or an unknown kind).
  const answers = {
    cust: [] as number[],
    ts: [] as number[],
    kind: [] as string[],
    score: [] as number[],
  };
  // Their own random stream, so that the orders are the same with or without them.
  const srnd = new Random((options.seed ?? 20261123) + 1);
  const survey = (cust: number, ts: number, loyal: boolean): void => {
    if (!options.extras || srnd.uniform() >= 1 / 12) return;
    const at = ts + Math.floor(srnd.exponential(2 * DAY));
    const nps = srnd.uniform() < 0.6;
    const raw = nps
      ? (loyal ? 9.1 : 7.4) + 1.9 * srnd.normal()
      : (loyal ? 4.6 : 3.9) + 0.9 * srnd.normal();
    const score = nps
      ? Math.min(10, Math.max(0, Math.round(raw)))
      : Math.min(5, Math.max(1, Math.round(raw)));
    const junk = srnd.uniform() < 0.004;
    answers.cust.push(cust);
    answers.ts.push(at);
    answers.kind.push(junk && srnd.uniform() < 0.5 ? 'ces' : nps ? 'nps' : 'csat');
    answers.score.push(junk ? 11 : score);
  };
  // The channels have their own random stream too: the orders are the same as without them.
  const crnd = new Random((options.seed ?? 20261123) + 2);
  const emit = (
    cust: number | null,
    ts: number,
    cents: number,
    channel: string,
    loyal = false,
  ): void => {
    const oid = nextOrderId++;
    const st = status();
    push(oid, cust, ts, cents, st, channel);
    if (cust !== null && st === 'completed') survey(cust, ts, loyal);
    // About 1 in 4,000 orders is exported twice: a later row, sometimes with a new status.
    if (rnd.uniform() < 0.00025) {
      const later = ts + Math.floor(rnd.exponential(2 * 3_600_000));
      push(oid, cust, later, cents, rnd.uniform() < 0.5 ? st : 'refunded', channel);
    }
  };

  let customerOrders = 0;
  for (let c = 1; c <= customers; c++) {
    const loyal = rnd.uniform() < 0.1;
    const first = startMs + acquisitionDay() * DAY + timeOfDay();
    // The loyal decile spends about three times as much per active month as the rest:
    // orders twice as often, at one and a half times the basket.
    const spend = rnd.logNormal(loyal ? 63 : 42, 0.45);
    const ratePerDay = ((loyal ? 1.8 : 0.9) * (rnd.gamma(2) / 2)) / 30;
    const oneTimer = rnd.uniform() < (loyal ? 0.05 : 0.42);
    const lifetime = oneTimer ? 0 : rnd.weibull(loyal ? 1400 : 210, 0.65) * DAY;
    const churnAt = Math.min(endMs, first + lifetime);
    const amount = (): number => Math.max(1, Math.round(spend * rnd.logNormal(1, 0.35) * 100));
    const acquired = pick(
      crnd.uniform(),
      loyal ? ACQUISITION.loyal : oneTimer ? ACQUISITION.oneTime : ACQUISITION.other,
    );
    emit(c, first, amount(), acquired, loyal);
    customerOrders++;
    // Repeat orders: a Poisson process thinned by seasonality, until the customer churns.
    let t = first;
    for (;;) {
      t += rnd.exponential(DAY / (ratePerDay * maxSeason));
      if (t >= churnAt) break;
      if (rnd.uniform() * maxSeason > seasonality(Math.floor(t / DAY) * DAY)) continue;
      const u = crnd.uniform();
      emit(c, Math.floor(t), amount(), u < 0.45 ? 'email' : u < 0.75 ? 'direct' : acquired, loyal);
      customerOrders++;
    }
  }
  // Guest checkouts: no customer id (a few blank instead of null), same seasonality.
  const guests = Math.round((customerOrders * guestShare) / (1 - guestShare));
  for (let g = 0; g < guests; g++) {
    const ts = startMs + acquisitionDay() * DAY + timeOfDay();
    const cents = Math.max(1, Math.round(rnd.logNormal(38, 0.5) * 100));
    const oid = nextOrderId++;
    cols.oid.push(oid);
    cols.cust.push(null);
    cols.ts.push(Math.min(ts, endMs - 1));
    cols.cents.push(cents);
    cols.status.push(status());
    cols.channel.push(pick(crnd.uniform(), ACQUISITION.other));
    if (cols.oid.length >= CHUNK) flush();
  }
  flush();
  appender.flushSync();
  appender.closeSync();

  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await conn.run(`COPY (
    SELECT
      'O' || lpad(CAST(CAST(oid AS BIGINT) AS VARCHAR), 9, '0') AS order_id,
      CASE WHEN cust IS NULL THEN NULL ELSE 'C' || lpad(CAST(cust AS VARCHAR), 7, '0') END AS customer_id,
      CAST(epoch_ms(CAST(ts_ms AS BIGINT)) AS TIMESTAMP_MS) AS ordered_at,
      CAST(cents / 100.0 AS DECIMAL(12, 2)) AS amount,
      status,
      channel
    FROM gen
    WHERE ts_ms < ${endMs}
    ORDER BY ts_ms, oid
  ) TO ${stringLiteral(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
  const [summary] = (
    await conn.runAndReadAll(`SELECT count(*) AS n FROM read_parquet(${stringLiteral(tmp)})`)
  ).getRowObjectsJson();
  if (options.extras) {
    await writeExtras(conn, options.extras, {
      answers,
      endMs,
      startMs,
      // Acquisition spend follows the acquisition curve: about $34 per new customer.
      dailySpend: (i) =>
        (34 * customers * ((cumulative[i] ?? 0) - (cumulative[i - 1] ?? 0))) / total,
      days,
      rnd: srnd,
    });
  }
  conn.closeSync();
  instance.closeSync();
  await rm(file, { force: true });
  await rename(tmp, file);
  return { rows: Number(summary?.n ?? rows), customers, start: new Date(startMs), end };
}

/** The columns of the sample's orders; a file written by an older version lacks some. */
export const SAMPLE_COLUMNS = [
  'order_id',
  'customer_id',
  'ordered_at',
  'amount',
  'status',
  'channel',
] as const;

/** Whether a sample file has every column this version writes (else: generate it again). */
export async function sampleIsCurrent(file: string): Promise<boolean> {
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
  });
  try {
    const conn = await instance.connect();
    const rows = (
      await conn.runAndReadAll(`SELECT name FROM parquet_schema(${stringLiteral(file)})`)
    ).getRowObjectsJson();
    conn.closeSync();
    const names = new Set(rows.map((r) => (typeof r.name === 'string' ? r.name : '')));
    return SAMPLE_COLUMNS.every((c) => names.has(c));
  } catch {
    return false;
  } finally {
    instance.closeSync();
  }
}
