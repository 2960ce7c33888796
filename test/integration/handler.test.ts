/**
 * The report function as Lambda invokes it (`createHandler`), over real parts: DuckDB, the
 * local SES v2 emulator, the folder ledger and archive. Each test is a sequence of
 * invocations as Lambda's retries and the schedule's slots make them.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { RunAbandoned } from '../../functions/abandon.ts';
import { parseConfig } from '../../functions/config/load.ts';
import { DirArchive } from '../../functions/delivery/archive.ts';
import { DirLedgerStore, type LedgerStore } from '../../functions/delivery/ledger.ts';
import { SesMailer, type Mailer } from '../../functions/delivery/ses.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import {
  ABANDON_MARGIN_MS,
  BusyError,
  createHandler,
  type HandlerDeps,
} from '../../functions/handlers/report.ts';
import { deliveryKey, StaleDataError } from '../../functions/handlers/run.ts';
import { generateSample } from '../../functions/sample/generate.ts';
import { recipientsOf, SesEmulator } from '../ses-emulator.ts';

// Quiet Powertools: before the handler module creates its logger and metrics.
vi.hoisted(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

let ses: SesEmulator;
let folder = '';
/** The sample shop through the end of 2026-W47, and the same shop three days short of it. */
let full = '';
let short = '';
const LEADERS = ['ceo@example.com', 'cfo@example.com'];
const OWNERS = ['data@example.com'];
const MONDAY = new Date('2026-11-23T07:00:00Z');
const TIMEOUT_S = 900;
const LEASE_MS = (TIMEOUT_S + 120) * 1000;

beforeAll(async () => {
  ses = await SesEmulator.start();
  folder = mkdtempSync(join(tmpdir(), 'kpi-handler-'));
  full = join(folder, 'full.parquet');
  short = join(folder, 'short.parquet');
  const shop = { customers: 800, years: 2, seed: 3 };
  await generateSample(full, { ...shop, end: new Date('2026-11-23T00:00:00Z') });
  await generateSample(short, { ...shop, end: new Date('2026-11-20T00:00:00Z') });
}, 60_000);
afterAll(() => {
  ses.stop();
});
beforeEach(async () => {
  await ses.clear();
});

/** Where the deployed function would read its orders: a file the test swaps. */
function deployment(recipients = LEADERS) {
  const orders = join(mkdtempSync(join(folder, 'source-')), 'orders.parquet');
  const config = parseConfig({
    source: { relation: { kind: 'file', path: orders } },
    reports: [
      {
        id: 'weekly',
        name: 'Weekly KPIs',
        period: 'week',
        timeZone: 'UTC',
        recipients,
        owners: OWNERS,
      },
    ],
    aws: {
      sender: 'kpi@example.com',
      timeoutSeconds: TIMEOUT_S,
      athena: { database: 'sales', table: 'orders', dataBucket: 'acme-orders' },
    },
  });
  const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
  const archive = new DirArchive(mkdtempSync(join(tmpdir(), 'kpi-archive-')));
  const invoke = (
    at: Date,
    options: { remainingMs?: number; ledger?: LedgerStore; mailer?: Mailer } = {},
  ) => {
    const deps: HandlerDeps = {
      config,
      engine: (signal) => DuckDbEngine.create({ signal }),
      mailer: options.mailer ?? new SesMailer(ses.client()),
      ledger: options.ledger ?? new DirLedgerStore(ledgerDir),
      archive,
      clock: () => at,
    };
    const remaining = options.remainingMs ?? TIMEOUT_S * 1000;
    const context = {
      functionName: 'kpi-digest-report',
      awsRequestId: `req-${at.getTime()}`,
      getRemainingTimeInMillis: () => remaining,
    } as unknown as Context;
    return createHandler(deps)({ report: 'weekly', scheduled: true }, context);
  };
  return { orders, ledgerDir, invoke };
}

async function mailsTo(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const r of (await ses.emails()).flatMap(recipientsOf)) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

const minutes = (n: number) => new Date(MONDAY.getTime() + n * 60_000);

describe('the report function, invocation by invocation', () => {
  test('stale data on the first two attempts, then fresh: exactly one leadership email', async () => {
    const d = deployment();
    copyFileSync(short, d.orders);
    // The 07:00 slot and Lambda's retry of it: the data stops on Friday.
    await expect(d.invoke(minutes(0))).rejects.toThrow(StaleDataError);
    await expect(d.invoke(minutes(1))).rejects.toThrow(StaleDataError);
    // The owners heard once; the leaders nothing.
    expect(await mailsTo()).toEqual({ 'data@example.com': 1 });
    // The data lands; the 08:00 slot sends, and the 09:00 slot finds it sent.
    copyFileSync(full, d.orders);
    const sent = await d.invoke(minutes(60));
    expect(sent).toMatchObject({ audience: 'leaders', sentTo: LEADERS, fresh: true });
    expect(await d.invoke(minutes(120))).toMatchObject({ skipped: 'already-sent' });
    expect(await mailsTo()).toEqual({
      'data@example.com': 1,
      'ceo@example.com': 1,
      'cfo@example.com': 1,
    });
  }, 60_000);

  test('a run still measuring at its deadline gives up and gives back its claim; the next attempt completes it', async () => {
    const d = deployment();
    copyFileSync(full, d.orders);
    // Invoked with no time left before the abandon margin: the deadline fires while the run
    // claims the period, before its first query.
    await expect(d.invoke(minutes(0), { remainingMs: ABANDON_MARGIN_MS })).rejects.toThrow(
      RunAbandoned,
    );
    expect(await ses.emails()).toEqual([]);
    // Nothing of it is left in the way: Lambda's retry a minute later sends.
    expect(
      await new DirLedgerStore(d.ledgerDir).read(deliveryKey('weekly', '2026-W47', 'leaders')),
    ).toBeNull();
    expect(await d.invoke(minutes(1))).toMatchObject({ sentTo: LEADERS });
    expect(await mailsTo()).toEqual({ 'ceo@example.com': 1, 'cfo@example.com': 1 });
  }, 60_000);

  test('busy: an attempt that finds a killed run’s live lease fails (so it is retried), and a later one completes', async () => {
    const d = deployment();
    copyFileSync(full, d.orders);
    // The first attempt is killed (out of memory, say) after claiming, before recording its message.
    const inner = new DirLedgerStore(d.ledgerDir);
    // Killed: from the claim on, the process writes nothing more (no step, no give-back).
    const killed: LedgerStore = {
      create: (r) => inner.create(r),
      read: (k) => inner.read(k),
      remove: () => Promise.reject(new Error('killed')),
      replace: () => Promise.reject(new Error('killed')),
    };
    await expect(d.invoke(minutes(0), { ledger: killed })).rejects.toThrow('killed');
    // Lambda's retries come while its lease lives: each fails as busy, not as a success.
    await expect(d.invoke(minutes(1))).rejects.toThrow(BusyError);
    await expect(d.invoke(minutes(3))).rejects.toThrow(BusyError);
    expect(await ses.emails()).toEqual([]);
    // The next schedule slot comes after the lease (timeout + 2 minutes): it completes.
    expect(LEASE_MS).toBeLessThan(60 * 60_000);
    expect(await d.invoke(minutes(60))).toMatchObject({ sentTo: LEADERS });
    expect(await mailsTo()).toEqual({ 'ceo@example.com': 1, 'cfo@example.com': 1 });
  }, 60_000);
});
