import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parseConfig } from '../../functions/config/load.ts';
import { DirArchive, type Archive } from '../../functions/delivery/archive.ts';
import { DeliveryInterrupted } from '../../functions/delivery/deliver.ts';
import {
  DirLedgerStore,
  S3LedgerStore,
  type LedgerStore,
} from '../../functions/delivery/ledger.ts';
import { S3StandIn } from '../s3-standin.ts';
import { SesMailer, type Mailer } from '../../functions/delivery/ses.ts';
import { AthenaEngine } from '../../functions/engines/athena.ts';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import { QueryError } from '../../functions/engines/query-engine.ts';
import { deliveryKey, runOnce, type RunnerDeps } from '../../functions/handlers/run.ts';
import { generateSample } from '../../functions/sample/generate.ts';
import { recipientsOf, SesEmulator, type StoredEmail } from '../ses-emulator.ts';

/**
 * Exactly one email per recipient, or a loud failure: concurrent and crashed runs, and
 * the faults of each part, against the real local SES emulator and DuckDB.
 */
let ses: SesEmulator;
let sample = '';
const LEADERS = ['ceo@example.com', 'cfo@example.com', 'coo@example.com'];
const RUN_AT = new Date('2026-11-23T07:00:00Z');
const LEASE_MS = 15 * 60_000;

beforeAll(async () => {
  ses = await SesEmulator.start();
  sample = join(mkdtempSync(join(tmpdir(), 'kpi-once-')), 'orders.parquet');
  await generateSample(sample, {
    customers: 1500,
    years: 2,
    end: new Date('2026-11-23T00:00:00Z'),
    seed: 11,
  });
}, 60_000);
afterAll(() => {
  ses.stop();
});
beforeEach(async () => {
  await ses.clear();
});

function config() {
  return parseConfig({
    source: { relation: { kind: 'file', path: sample } },
    reports: [
      {
        id: 'weekly',
        name: 'Weekly KPIs',
        period: 'week',
        timeZone: 'Europe/London',
        recipients: LEADERS,
        owners: ['data@example.com'],
      },
    ],
  });
}

/**
 * Every scenario runs on both ledgers: the folder one, and the S3 one through the S3
 * stand-in, where every third write or delete loses its reply after it was committed (the SDK
 * retries it and gets 412: the nonce must tell the run its write went through).
 */
const LEDGERS = ['folder', 's3'] as const;
let kind: (typeof LEDGERS)[number] = 'folder';
const s3 = new S3StandIn();
let writes = 0;
s3.dropReply = () => ++writes % 3 === 0;

/** The ledger kept at `dir` (a folder, or an S3 bucket named after it). */
function ledgerAt(dir: string): LedgerStore {
  return kind === 'folder'
    ? new DirLedgerStore(dir)
    : new S3LedgerStore(s3.client(), dir.split('/').pop() ?? 'ledger');
}

/** The weekly report sent to 60 leaders: two batches (50 and 10). */
function twoBatches(): { many: string[]; wide: ReturnType<typeof config> } {
  const many = Array.from(
    { length: 60 },
    (_, i) => `leader${String(i).padStart(2, '0')}@example.com`,
  );
  return {
    many,
    wide: parseConfig({ ...config(), reports: [{ ...config().reports[0], recipients: many }] }),
  };
}

interface Harness extends RunnerDeps {
  readonly queries: { count: number };
}

function harness(overrides: Partial<RunnerDeps> & { ledgerDir?: string } = {}): Harness {
  const queries = { count: 0 };
  return {
    config: config(),
    engine: () => {
      queries.count++;
      return DuckDbEngine.create();
    },
    mailer: new SesMailer(ses.client()),
    ledger: ledgerAt(overrides.ledgerDir ?? mkdtempSync(join(tmpdir(), 'kpi-ledger-'))),
    archive: new DirArchive(mkdtempSync(join(tmpdir(), 'kpi-archive-'))),
    sender: 'kpi@example.com',
    clock: () => RUN_AT,
    leaseMs: LEASE_MS,
    ...overrides,
    queries,
  };
}

/** Messages each recipient received. */
function perRecipient(mails: StoredEmail[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of mails.flatMap(recipientsOf)) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

/** A ledger that dies the first time a run records a finished send: a crash right after SES. */
function crashAfterSend(inner: LedgerStore): LedgerStore & { crashed: boolean } {
  const store = {
    crashed: false,
    create: (r: Parameters<LedgerStore['create']>[0]) => inner.create(r),
    read: (k: string) => inner.read(k),
    remove: (k: string, v: string) => inner.remove(k, v),
    replace: async (record: Parameters<LedgerStore['replace']>[0], version: string) => {
      if (!store.crashed && record.batches.some((b) => b.state === 'sent')) {
        store.crashed = true;
        throw new Error('simulated crash: the process died after SES accepted the message');
      }
      return inner.replace(record, version);
    },
  };
  return store;
}

describe.each(LEDGERS)('exactly once, on the %s ledger', (ledger) => {
  beforeAll(() => {
    kind = ledger;
  });

  test('three concurrent runs and a retry after a crash between send and completion: one message per recipient', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const crashing = crashAfterSend(ledgerAt(ledgerDir));
    const first = harness({ ledgerDir, ledger: crashing });
    const others = [harness({ ledgerDir }), harness({ ledgerDir })];
    const payload = { report: 'weekly', scheduled: true };
    // All three overlap; the crashing one asks first so that it is the one that sends.
    const late = (h: Harness) =>
      new Promise<void>((r) => setTimeout(r, 10)).then(() => runOnce(payload, h));
    const outcomes = await Promise.allSettled([runOnce(payload, first), ...others.map(late)]);
    // One run sent and then crashed; the two others found the delivery taken and stood down.
    expect(crashing.crashed).toBe(true);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
    const skipped = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.skipped] : []));
    expect(skipped).toEqual(['in-progress', 'in-progress']);
    expect(perRecipient(await ses.emails())).toEqual({
      'ceo@example.com': 1,
      'cfo@example.com': 1,
      'coo@example.com': 1,
    });

    // The schedule retries after the crashed run's lease ran out: it completes, sends nothing.
    const later = harness({ ledgerDir, clock: () => new Date(RUN_AT.getTime() + LEASE_MS + 1000) });
    const retry = await runOnce(payload, later);
    expect(retry).toMatchObject({ period: '2026-W47', sentTo: [], uncertain: LEADERS });
    expect(retry.archived.map((p) => p.split('/').pop())).toContain('at-risk.csv');
    expect(perRecipient(await ses.emails())).toEqual({
      'ceo@example.com': 1,
      'cfo@example.com': 1,
      'coo@example.com': 1,
    });
    // And once it is complete, any further run skips without querying.
    const again = harness({ ledgerDir });
    expect(await runOnce(payload, again)).toMatchObject({ skipped: 'already-sent' });
    expect(again.queries.count).toBe(0);
    expect((await ses.emails()).length).toBe(1);
  }, 60_000);

  test('an ad-hoc send to oneself does not block the scheduled send, and --force resends once', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const logged: string[] = [];
    const h = harness({ ledgerDir, log: (event) => logged.push(event) });
    await runOnce({ report: 'weekly', recipients: ['analyst@example.com'] }, h);
    await runOnce({ report: 'weekly', scheduled: true }, h);
    await runOnce({ report: 'weekly', scheduled: true }, h);
    expect(perRecipient(await ses.emails())).toEqual({
      'analyst@example.com': 1,
      'ceo@example.com': 1,
      'cfo@example.com': 1,
      'coo@example.com': 1,
    });
    const forced = { report: 'weekly', scheduled: true, force: true, requestId: 'resend-0001' };
    await runOnce(forced, h);
    expect(perRecipient(await ses.emails())['ceo@example.com']).toBe(2);
    // Lambda retries the same event: the resend is done, not started again (before: a third
    // copy for everyone). A new request is a new resend.
    await expect(runOnce(forced, h)).resolves.toMatchObject({ skipped: 'already-sent' });
    expect(perRecipient(await ses.emails())['ceo@example.com']).toBe(2);
    await runOnce({ ...forced, requestId: 'resend-0002' }, h);
    expect(perRecipient(await ses.emails())['ceo@example.com']).toBe(3);
    await expect(runOnce({ report: 'weekly', force: true }, h)).rejects.toThrow(
      'requestId: force needs a requestId, so that a retried event does not resend again',
    );
    expect(logged).toContain('forced resend');
    expect(JSON.stringify(logged)).not.toContain('@');
  }, 60_000);
});

describe.each(LEDGERS)('faults, on the %s ledger', (ledger) => {
  beforeAll(() => {
    kind = ledger;
  });

  const athena = mockClient(AthenaClient);
  afterAll(() => {
    athena.restore();
  });

  function athenaHarness(ledgerDir: string): Harness {
    return harness({
      ledgerDir,
      config: {
        ...config(),
        source: { ...config().source, relation: { kind: 'table', table: 'sales.orders' } },
      },
      engine: () =>
        Promise.resolve(
          new AthenaEngine({
            client: new AthenaClient({ region: 'eu-west-1' }),
            workGroup: 'kpi',
            maxWaitMs: 30_000,
            sleep: () => Promise.resolve(),
            now: (() => {
              let t = 0;
              return () => (t += 5000);
            })(),
          }),
        ),
    });
  }

  test.each([
    [
      'FAILED',
      { State: 'FAILED' as const, StateChangeReason: 'HIVE_BAD_DATA: malformed Parquet' },
      /failed: HIVE_BAD_DATA: malformed Parquet/,
    ],
    [
      'slow past its budget',
      { State: 'RUNNING' as const },
      /did not finish within 30 s and was cancelled/,
    ],
  ])(
    'Athena %s: the run fails, nothing is sent, and the next attempt may send',
    async (_, status, message) => {
      athena.reset();
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
      athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: status } });
      athena.on(StopQueryExecutionCommand).resolves({});
      const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
      await expect(
        runOnce({ report: 'weekly', scheduled: true }, athenaHarness(ledgerDir)),
      ).rejects.toThrow(QueryError);
      await expect(
        runOnce({ report: 'weekly', scheduled: true }, athenaHarness(ledgerDir)),
      ).rejects.toThrow(message);
      expect(await ses.emails()).toEqual([]);
      // The claim was given back: a healthy retry sends.
      expect(
        await ledgerAt(ledgerDir).read(deliveryKey('weekly', '2026-W47', 'leaders')),
      ).toBeNull();
      const healthy = await runOnce({ report: 'weekly', scheduled: true }, harness({ ledgerDir }));
      expect(healthy.sentTo).toEqual(LEADERS);
    },
    60_000,
  );

  test('SES refuses one recipient: the others get theirs and the refusal is reported', async () => {
    const real = new SesMailer(ses.client());
    const mailer: Mailer = {
      send: (m) => real.send(m),
      sendMessage: (m) => {
        if (m.to.includes('cfo@example.com')) {
          const e = new Error('Email address is on the suppression list: cfo@example.com');
          e.name = 'MessageRejected';
          return Promise.reject(e);
        }
        return real.sendMessage(m);
      },
    };
    const result = await runOnce({ report: 'weekly', scheduled: true }, harness({ mailer }));
    expect(result.sentTo).toEqual(['ceo@example.com', 'coo@example.com']);
    expect(result.failed).toEqual([
      {
        recipient: 'cfo@example.com',
        error: 'MessageRejected: Email address is on the suppression list: cfo@example.com',
      },
    ]);
    expect(perRecipient(await ses.emails())).toEqual({
      'ceo@example.com': 1,
      'coo@example.com': 1,
    });
  }, 60_000);

  test('SES accepts the message but answers 503: never sent again, reported, and the lease given back', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const client = ses.client();
    const send = client.send.bind(client);
    let failures = 0;
    client.send = ((command: Parameters<typeof send>[0]) =>
      send(command).then(() => {
        // Stored by SES; the reply that says so is lost in a 503.
        failures++;
        const e = Object.assign(new Error('Service Unavailable'), {
          $metadata: { httpStatusCode: 503 },
        });
        e.name = 'InternalFailure';
        return Promise.reject(e);
      })) as typeof client.send;
    const failing = harness({ ledgerDir, mailer: new SesMailer(client) });
    const error = await runOnce({ report: 'weekly', scheduled: true }, failing).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeliveryInterrupted);
    expect((error as DeliveryInterrupted).uncertain).toEqual(LEADERS);
    expect(failures).toBe(1);
    // The next attempt, even right away, is not kept out by the failed one's lease, and
    // does not send the batch again (before: pending, and mailed a second time).
    const retry = await runOnce(
      { report: 'weekly', scheduled: true },
      harness({ ledgerDir, clock: () => new Date(RUN_AT.getTime() + 60_000) }),
    );
    expect(retry.skipped).toBeUndefined();
    expect(retry.uncertain).toEqual(LEADERS);
    expect(perRecipient(await ses.emails())).toEqual({
      'ceo@example.com': 1,
      'cfo@example.com': 1,
      'coo@example.com': 1,
    });
  }, 60_000);

  test('a takeover on stale data sends nothing more: the freshness gate holds for it too', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    // An earlier attempt for 2026-W48 claimed the send and died before any batch went out.
    const store = ledgerAt(ledgerDir);
    await store.create({
      key: deliveryKey('weekly', '2026-W48', 'leaders'),
      runId: 'died',
      leaseUntil: '2026-11-30T06:00:00.000Z',
      state: 'in-progress',
      batches: [{ recipients: LEADERS, state: 'pending' }],
    });
    // A week after the sample's data ends: 2026-W48 has none, so the data is stale.
    const late = harness({ ledgerDir, clock: () => new Date('2026-11-30T07:00:00Z') });
    await expect(runOnce({ report: 'weekly', scheduled: true }, late)).rejects.toThrow(
      /taking over an unfinished send, the data ends at .* nothing more went to the leadership list/,
    );
    expect(await ses.emails()).toEqual([]);
    // Its lease is given back: the next attempt is not kept out.
    const record = await store.read(deliveryKey('weekly', '2026-W48', 'leaders'));
    expect(record?.record.leaseUntil).toBe('2026-11-30T07:00:00.000Z');
    expect(record?.record.batches[0]?.state).toBe('pending');
  }, 60_000);

  test('a run that took over and then fails gives the lease back at once', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const store = ledgerAt(ledgerDir);
    const key = deliveryKey('weekly', '2026-W47', 'leaders');
    await store.create({
      key,
      runId: 'died',
      leaseUntil: '2026-11-23T06:00:00.000Z',
      state: 'in-progress',
      batches: [{ recipients: LEADERS, state: 'pending' }],
    });
    const failing = harness({
      ledgerDir,
      engine: () => Promise.reject(new Error('Athena is unavailable')),
    });
    await expect(runOnce({ report: 'weekly', scheduled: true }, failing)).rejects.toThrow(
      'Athena is unavailable',
    );
    // Before: the taker kept its lease (15 minutes) and every retry meanwhile was busy.
    expect((await store.read(key))?.record.leaseUntil).toBe(RUN_AT.toISOString());
    const retry = harness({ ledgerDir, clock: () => new Date(RUN_AT.getTime() + 60_000) });
    expect(await runOnce({ report: 'weekly', scheduled: true }, retry)).toMatchObject({
      sentTo: LEADERS,
    });
  }, 60_000);

  test('SES throttling is retried and the message goes once', async () => {
    let throttled = 0;
    const client = ses.client();
    const send = client.send.bind(client);
    client.send = ((command: never) => {
      if (throttled < 2) {
        throttled++;
        const e = new Error('Maximum sending rate exceeded.');
        e.name = 'TooManyRequestsException';
        return Promise.reject(e);
      }
      return send(command);
    }) as typeof client.send;
    const mailer = new SesMailer(client, { sleep: () => Promise.resolve() });
    const result = await runOnce({ report: 'weekly', scheduled: true }, harness({ mailer }));
    expect(throttled).toBe(2);
    expect(result.sentTo).toEqual(LEADERS);
    expect((await ses.emails()).length).toBe(1);
  }, 60_000);

  test('the archive fails: nothing is sent before the message is recorded, and the retry sends it once', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const broken: Archive = {
      put: () => Promise.reject(new Error('S3 is unavailable')),
      get: () => Promise.reject(new Error('S3 is unavailable')),
    };
    await expect(
      runOnce({ report: 'weekly', scheduled: true }, harness({ ledgerDir, archive: broken })),
    ).rejects.toThrow('S3 is unavailable');
    expect(await ses.emails()).toEqual([]);
    const retry = await runOnce({ report: 'weekly', scheduled: true }, harness({ ledgerDir }));
    expect(retry.sentTo).toEqual(LEADERS);
    expect(retry.archived.map((p) => p.split('/').pop())).toContain('report.json');
    expect((await ses.emails()).length).toBe(1);
  }, 60_000);

  test('the recorded message: the archive holds the digest that was mailed, and the ledger its hash', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const result = await runOnce({ report: 'weekly', scheduled: true }, harness({ ledgerDir }));
    const [mail] = await ses.emails();
    const file = (name: string) => result.archived.find((a) => a.endsWith(`/${name}`)) ?? '';
    const record = (await ledgerAt(ledgerDir).read(deliveryKey('weekly', '2026-W47', 'leaders')))
      ?.record;
    const message = readFileSync(file('message.json'));
    expect(record?.digest).toEqual({
      where: file('message.json'),
      sha256: createHash('sha256').update(message).digest('hex'),
      fresh: true,
    });
    // The archived digest is the mailed one, at-risk link included (before: re-rendered
    // after the send, without the link).
    const mailed = JSON.parse(message.toString('utf8')) as { subject: string; html: string };
    expect(mail?.subject).toBe(mailed.subject);
    expect(readFileSync(file('digest.html'), 'utf8')).toBe(mailed.html);
    expect(mailed.html).toContain('at-risk.csv');
  }, 60_000);

  test('a run abandoned mid-send stops between batches, gives its lease back, and the next attempt sends the rest the same message', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const { many, wide } = twoBatches();
    const real = new SesMailer(ses.client());
    const deadline = new AbortController();
    // The function's deadline comes while SES has the first batch.
    const slow: Mailer = {
      send: (mail) => real.send(mail),
      sendMessage: async (mail) => {
        const id = await real.sendMessage(mail);
        deadline.abort();
        return id;
      },
    };
    await expect(
      runOnce(
        { report: 'weekly', scheduled: true },
        harness({ ledgerDir, config: wide, mailer: slow, signal: deadline.signal }),
      ),
    ).rejects.toThrow(
      /abandoned before its deadline: .* remaining batches are left to the next attempt/,
    );
    expect((await ses.emails()).flatMap(recipientsOf)).toHaveLength(50);
    // The lease is back: a retry a minute later, inside the old lease, is not kept out.
    const retry = harness({
      ledgerDir,
      config: wide,
      clock: () => new Date(RUN_AT.getTime() + 60_000),
    });
    expect(await runOnce({ report: 'weekly', scheduled: true }, retry)).toMatchObject({
      sentTo: many,
      uncertain: [],
    });
    expect(retry.queries.count).toBe(0);
    const mails = await ses.emails();
    expect(mails.flatMap(recipientsOf).sort()).toEqual([...many].sort());
    expect(mails[1]?.body.html).toBe(mails[0]?.body.html);
  }, 60_000);

  /** An archive whose links are signed with short-lived credentials (30 minutes). */
  let signed = 0;
  const linking = (clock: () => Date): Archive => {
    const dir = new DirArchive(mkdtempSync(join(tmpdir(), 'kpi-archive-')));
    return {
      put: (prefix, files) => dir.put(prefix, files),
      get: (where) => dir.get(where),
      link: (where) =>
        Promise.resolve({
          url: `https://archive.example.com/${basename(where)}?sig=${++signed}`,
          expiresAt: new Date(clock().getTime() + 30 * 60_000),
        }),
    };
  };

  test('later batches get freshly signed at-risk and full-report links when the recorded ones are about to expire', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const { wide } = twoBatches();
    signed = 0;
    const crashing = crashAfterSend(ledgerAt(ledgerDir));
    await expect(
      runOnce(
        { report: 'weekly', scheduled: true },
        harness({ ledgerDir, ledger: crashing, config: wide, archive: linking(() => RUN_AT) }),
      ),
    ).rejects.toThrow('simulated crash');
    const where =
      (await ledgerAt(ledgerDir).read(deliveryKey('weekly', '2026-W47', 'leaders')))?.record.digest
        ?.where ?? '';
    const recorded = readFileSync(where);
    const later = () => new Date(RUN_AT.getTime() + LEASE_MS + 1000);
    await runOnce(
      { report: 'weekly', scheduled: true },
      harness({ ledgerDir, config: wide, clock: later, archive: linking(later) }),
    );
    // The recorded message is as it was: the fresh links are only in what was mailed.
    expect(readFileSync(where).equals(recorded)).toBe(true);
    const [first, second] = await ses.emails();
    // The list first, then the full report; each signed again, in the same order.
    expect(first?.body.html).toContain('href="https://archive.example.com/at-risk.csv?sig=1"');
    expect(first?.body.html).toContain('href="https://archive.example.com/report.html?sig=2"');
    expect(second?.body.html).toContain('href="https://archive.example.com/at-risk.csv?sig=3"');
    expect(second?.body.html).toContain('href="https://archive.example.com/report.html?sig=4"');
    // Each link states its own expiry, the later batch's the later one.
    const until = (html = '') => [...html.matchAll(/\(valid until ([^)]*)\)/g)].map((m) => m[1]);
    expect(until(first?.body.html)).toHaveLength(2);
    expect(until(second?.body.html)).toHaveLength(2);
    for (const [i, stated] of until(second?.body.html).entries()) {
      expect(stated).not.toBe(until(first?.body.html)[i]);
    }
    // Nothing else differs: the same numbers, the links and their stated expiry aside.
    const plain = (html = '') =>
      html.replace(/sig=\d+/g, 'sig').replace(/\(valid until [^)]*\)/g, '(valid until)');
    expect(plain(second?.body.html)).toBe(plain(first?.body.html));
    expect(second?.body.html).not.toBe(first?.body.html);
  }, 60_000);

  test('a message recorded before the full report was linked is still sent, its at-risk link signed again', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const { wide } = twoBatches();
    signed = 0;
    const crashing = crashAfterSend(ledgerAt(ledgerDir));
    await expect(
      runOnce(
        { report: 'weekly', scheduled: true },
        harness({ ledgerDir, ledger: crashing, config: wide, archive: linking(() => RUN_AT) }),
      ),
    ).rejects.toThrow('simulated crash');
    // What an earlier version recorded: no reportLink field (its digest carried no such
    // link either; here the URL stays in the HTML, and must go out as it is).
    const ledger = ledgerAt(ledgerDir);
    const key = deliveryKey('weekly', '2026-W47', 'leaders');
    const held = await ledger.read(key);
    const digest = held?.record.digest;
    if (!held || !digest) throw new Error('no recorded message');
    const { reportLink, ...old } = JSON.parse(readFileSync(digest.where, 'utf8')) as Record<
      string,
      unknown
    >;
    expect(reportLink).toBeDefined();
    const content = `${JSON.stringify(old)}\n`;
    writeFileSync(digest.where, content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    expect(
      await ledger.replace({ ...held.record, digest: { ...digest, sha256 } }, held.version),
    ).not.toBeNull();
    const later = () => new Date(RUN_AT.getTime() + LEASE_MS + 1000);
    const out = await runOnce(
      { report: 'weekly', scheduled: true },
      harness({ ledgerDir, config: wide, clock: later, archive: linking(later) }),
    );
    expect(out.sentTo).toHaveLength(10);
    const [first, second] = await ses.emails();
    expect(second?.body.html).toContain('at-risk.csv?sig=3');
    expect(second?.body.html).toContain('report.html?sig=2');
    expect(second?.body.html).not.toContain('sig=4');
    expect(second?.body.html?.replace('sig=3', 'sig=1').replace(/\(valid until [^)]*\)/, '')).toBe(
      first?.body.html?.replace(/\(valid until [^)]*\)/, ''),
    );
  }, 60_000);

  test('a run that takes over sends the recorded message to the rest, without measuring again, and never a tampered one', async () => {
    const ledgerDir = mkdtempSync(join(tmpdir(), 'kpi-ledger-'));
    const { wide } = twoBatches();
    // The first attempt sends batch 1 and dies before recording that it did.
    const crashing = crashAfterSend(ledgerAt(ledgerDir));
    await expect(
      runOnce(
        { report: 'weekly', scheduled: true },
        harness({ ledgerDir, ledger: crashing, config: wide }),
      ),
    ).rejects.toThrow('simulated crash');
    // Meanwhile the data changed; the taker must not mail the other batch other numbers.
    const other = join(mkdtempSync(join(tmpdir(), 'kpi-once-')), 'orders.parquet');
    await generateSample(other, {
      customers: 300,
      years: 2,
      end: new Date('2026-11-23T00:00:00Z'),
      seed: 5,
    });
    const changed = parseConfig({
      ...wide,
      source: { ...wide.source, relation: { kind: 'file', path: other } },
    });
    const taker = harness({
      ledgerDir,
      config: changed,
      clock: () => new Date(RUN_AT.getTime() + LEASE_MS + 1000),
    });
    // A recorded message that does not match its hash is never sent; the lease goes back.
    const where =
      (await ledgerAt(ledgerDir).read(deliveryKey('weekly', '2026-W47', 'leaders')))?.record.digest
        ?.where ?? '';
    const original = readFileSync(where);
    writeFileSync(where, original.toString('utf8').replace('Weekly KPIs', 'Weekly KPls'));
    await expect(runOnce({ report: 'weekly', scheduled: true }, taker)).rejects.toThrow(
      /the recorded message does not match the ledger/,
    );
    expect(await ses.emails()).toHaveLength(1);
    writeFileSync(where, original);
    const out = await runOnce({ report: 'weekly', scheduled: true }, taker);
    expect(taker.queries.count).toBe(0);
    expect(out.uncertain).toHaveLength(50);
    expect(out.sentTo).toHaveLength(10);
    const mails = await ses.emails();
    expect(mails).toHaveLength(2);
    expect(mails[1]?.subject).toBe(mails[0]?.subject);
    expect(mails[1]?.body.html).toBe(mails[0]?.body.html);
  }, 60_000);
});

test('the S3 stand-in lost replies in these runs, and the runs still sent once', () => {
  expect(s3.calls.filter((c) => c.dropped).length).toBeGreaterThan(10);
});
