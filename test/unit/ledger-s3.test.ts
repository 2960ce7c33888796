import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { S3LedgerStore, type DeliveryRecord } from '../../functions/delivery/ledger.ts';

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
