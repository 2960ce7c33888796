/**
 * The at-risk link lasts what the digest says: a presigned URL works until its signing
 * credentials expire, so its lifetime is 7 days capped at theirs, and that expiry is stated.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, test } from 'vitest';
import { S3Archive } from '../../functions/delivery/archive.ts';

const NOW = new Date('2026-11-23T07:30:00Z');

function archiveWith(expiration?: Date): S3Archive {
  const client = new S3Client({
    region: 'eu-west-1',
    credentials: {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
      ...(expiration ? { expiration } : {}),
    },
  });
  return new S3Archive(client, 'archive-bucket', () => NOW);
}

const expiresParam = (url: string): number =>
  Number(new URL(url).searchParams.get('X-Amz-Expires'));

describe('the at-risk link', () => {
  test('signed with role credentials that expire in 3 hours: it says so, and the URL agrees', async () => {
    const link = await archiveWith(new Date(NOW.getTime() + 3 * 3_600_000)).link(
      's3://archive-bucket/reports/weekly/2026-W47/x/at-risk.csv',
    );
    // A minute of margin before the credentials expire.
    expect(expiresParam(link.url)).toBe(3 * 3600 - 60);
    expect(link.expiresAt.toISOString()).toBe('2026-11-23T10:29:00.000Z');
    expect(new URL(link.url).pathname).toBe('/reports/weekly/2026-W47/x/at-risk.csv');
  });

  test('with long-lived credentials: 7 days, the longest SigV4 allows', async () => {
    const link = await archiveWith().link('s3://archive-bucket/a.csv');
    expect(expiresParam(link.url)).toBe(7 * 24 * 3600);
    expect(link.expiresAt.toISOString()).toBe('2026-11-30T07:30:00.000Z');
  });
});
