import { describe, expect, test } from 'vitest';
import { S3LedgerStore, type DeliveryRecord } from '../../functions/delivery/ledger.ts';
import { S3StandIn } from '../s3-standin.ts';

const record: DeliveryRecord = {
  key: 'weekly/2026-W47/leaders',
  runId: 'r1',
  leaseUntil: '2026-11-23T07:15:00.000Z',
  state: 'in-progress',
  batches: [{ recipients: ['ceo@example.com'], state: 'pending' }],
};

describe('the S3 ledger through an S3 stand-in that loses replies (the real SDK retries)', () => {
  test('a committed create whose reply is lost: the retry gets 412 and the store knows the write is its own', async () => {
    const standIn = new S3StandIn();
    const store = new S3LedgerStore(standIn.client(), 'archive');
    let drops = 1;
    standIn.dropReply = (method) => method === 'PUT' && drops-- > 0;
    const version = await store.create(record);
    expect(version).not.toBeNull();
    // Sent twice by the SDK: committed (reply lost), then refused as already there.
    expect(
      standIn.calls.filter((c) => c.method === 'PUT').map((c) => [c.status, c.dropped]),
    ).toEqual([
      [200, true],
      [412, false],
    ]);
    // And the version it returns is the stored one: the next step succeeds.
    drops = 1;
    const next = await store.replace({ ...record, runId: 'r2' }, version ?? '');
    expect(next).not.toBeNull();
    expect((await store.read(record.key))?.record.runId).toBe('r2');
  });

  test("another run's write is still another run's: 412 without the nonce is a lost race", async () => {
    const standIn = new S3StandIn();
    const mine = new S3LedgerStore(standIn.client(), 'archive');
    const theirs = new S3LedgerStore(standIn.client(), 'archive');
    expect(await theirs.create({ ...record, runId: 'theirs' })).not.toBeNull();
    expect(await mine.create(record)).toBeNull();
    const current = await mine.read(record.key);
    expect(
      await theirs.replace({ ...record, runId: 'theirs-2' }, current?.version ?? ''),
    ).not.toBeNull();
    expect(await mine.replace({ ...record, runId: 'mine' }, current?.version ?? '')).toBeNull();
    // A conditional remove at a stale version leaves their record alone.
    await mine.remove(record.key, current?.version ?? '');
    expect((await mine.read(record.key))?.record.runId).toBe('theirs-2');
  });
});

describe('the stand-in keeps S3’s guarantees, so a race in the ledger would show', () => {
  test('twenty creates of one record at once: exactly one wins', async () => {
    const standIn = new S3StandIn();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new S3LedgerStore(standIn.client(), 'archive').create({ ...record, runId: `r${i}` }),
      ),
    );
    expect(results.filter((v) => v !== null)).toHaveLength(1);
  });

  test('a release whose reply is lost: the SDK retries, S3 says 404, and the release is done', async () => {
    const standIn = new S3StandIn();
    const store = new S3LedgerStore(standIn.client(), 'archive');
    const version = (await store.create(record)) ?? '';
    let drops = 1;
    standIn.dropReply = (method) => method === 'DELETE' && drops-- > 0;
    await store.remove(record.key, version);
    expect(await store.read(record.key)).toBeNull();
    expect(standIn.calls.filter((c) => c.method === 'DELETE').map((c) => c.status)).toEqual([
      204, 404,
    ]);
  });
});
