import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import {
  DirLedgerStore,
  S3LedgerStore,
  type DeliveryRecord,
} from '../../functions/delivery/ledger.ts';

const s3 = mockClient(S3Client);
const record: DeliveryRecord = {
  key: 'weekly/2026-W47/leaders',
  runId: 'r1',
  leaseUntil: '2026-11-23T07:15:00.000Z',
  state: 'in-progress',
  batches: [{ recipients: ['ceo@example.com'], state: 'pending' }],
};

function preconditionFailed(): Error {
  const e = Object.assign(
    new Error('At least one of the pre-conditions you specified did not hold'),
    {
      $metadata: { httpStatusCode: 412 },
    },
  );
  e.name = 'PreconditionFailed';
  return e;
}

beforeEach(() => {
  s3.reset();
});
afterAll(() => {
  s3.restore();
});

describe('the S3 ledger: conditional writes', () => {
  const store = new S3LedgerStore(new S3Client({ region: 'eu-west-1' }), 'archive');

  test('create writes only when no record exists (If-None-Match: *)', async () => {
    s3.on(PutObjectCommand).resolvesOnce({ ETag: '"v1"' }).rejectsOnce(preconditionFailed());
    await expect(store.create(record)).resolves.toBe('"v1"');
    await expect(store.create(record)).resolves.toBeNull();
    const calls = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(calls[0]).toMatchObject({
      Bucket: 'archive',
      Key: 'ledger/weekly/2026-W47/leaders.json',
      IfNoneMatch: '*',
    });
  });

  test('replace writes only over the version it read (If-Match: ETag)', async () => {
    s3.on(PutObjectCommand).resolvesOnce({ ETag: '"v2"' }).rejectsOnce(preconditionFailed());
    await expect(store.replace(record, '"v1"')).resolves.toBe('"v2"');
    await expect(store.replace(record, '"v1"')).resolves.toBeNull();
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.IfMatch).toBe('"v1"');
  });

  test('read returns the record and its ETag, or null when there is none', async () => {
    // The SDK's stream body, as far as the store uses it.
    const body = { transformToString: () => Promise.resolve(JSON.stringify(record)) } as never;
    const missing = Object.assign(new Error('The specified key does not exist.'), {});
    missing.name = 'NoSuchKey';
    s3.on(GetObjectCommand).resolvesOnce({ Body: body, ETag: '"v1"' }).rejectsOnce(missing);
    await expect(store.read(record.key)).resolves.toEqual({ record, version: '"v1"' });
    await expect(store.read(record.key)).resolves.toBeNull();
  });

  test('other errors are not mistaken for a lost race', async () => {
    const denied = new Error('Access Denied');
    denied.name = 'AccessDenied';
    s3.on(PutObjectCommand).rejects(denied);
    await expect(store.create(record)).rejects.toThrow('Access Denied');
  });
});

describe('the ledger after a lost reply, and its release', () => {
  const store = new S3LedgerStore(new S3Client({ region: 'eu-west-1' }), 'archive');
  const bodyOf = (text: string): never =>
    ({ transformToString: () => Promise.resolve(text) }) as never;

  test('a 412 on a write the SDK had already stored is recognised as the run’s own (its nonce)', async () => {
    // The first PUT went through but its reply was lost; the SDK's retry then meets its own
    // object and gets 412. Before, the run took this for another run's record.
    let stored = '';
    s3.on(PutObjectCommand).callsFake((input: { Body: string }) => {
      stored = input.Body;
      return Promise.reject(preconditionFailed());
    });
    s3.on(GetObjectCommand).callsFake(() =>
      Promise.resolve({ Body: bodyOf(stored), ETag: '"v1"' }),
    );
    await expect(store.create(record)).resolves.toBe('"v1"');
    await expect(store.replace(record, '"v0"')).resolves.toBe('"v1"');
  });

  test('a 412 on another run’s record stays a refusal', async () => {
    s3.on(PutObjectCommand).rejects(preconditionFailed());
    s3.on(GetObjectCommand).resolves({
      Body: bodyOf(JSON.stringify({ ...record, runId: 'r2', write: 'someone-else' })),
      ETag: '"v9"',
    });
    await expect(store.create(record)).resolves.toBeNull();
  });

  test('release deletes only the version it holds (If-Match); a changed record is left', async () => {
    s3.on(DeleteObjectCommand).resolvesOnce({}).rejectsOnce(preconditionFailed());
    await store.remove(record.key, '"v1"');
    await store.remove(record.key, '"v1"');
    expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toMatchObject({
      Key: 'ledger/weekly/2026-W47/leaders.json',
      IfMatch: '"v1"',
    });
    // The folder ledger: the same rule.
    const dir = new DirLedgerStore(mkdtempSync(join(tmpdir(), 'kpi-ledger-')));
    const v1 = await dir.create(record);
    const v2 = await dir.replace({ ...record, runId: 'r2' }, v1 ?? '');
    await dir.remove(record.key, v1 ?? '');
    expect((await dir.read(record.key))?.record.runId).toBe('r2');
    await dir.remove(record.key, v2 ?? '');
    expect(await dir.read(record.key)).toBeNull();
  });
});
