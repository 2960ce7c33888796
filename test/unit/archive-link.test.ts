/**
 * A link lasts what the digest says: a presigned URL works until its signing
 * credentials expire, so its lifetime is 7 days capped at theirs, and that expiry is stated.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { S3Archive } from '../../functions/delivery/archive.ts';
import { escapeHtml, renderDigest } from '../../functions/digest/render.ts';
import { swapLink } from '../../functions/delivery/message.ts';
import type { Report } from '../../functions/report/report.ts';

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

describe('a link signed again for a later batch', () => {
  test('two links stating the same expiry: only the one signed again changes, URL and words', async () => {
    const fixture = JSON.parse(
      readFileSync(new URL('../fixtures/report-2026-W47.json', import.meta.url), 'utf8'),
    ) as Report;
    const expires = new Date('2026-11-23T08:00:00Z');
    const list = 'https://archive.example.com/at-risk.csv?X-Amz-Signature=1&X-Amz-Expires=1800';
    const page = 'https://archive.example.com/report.html?X-Amz-Signature=2&X-Amz-Expires=1800';
    const { html } = await renderDigest(fixture, {
      atRiskLink: list,
      atRiskLinkExpires: expires,
      reportLink: page,
      reportLinkExpires: expires,
    });
    const old = '(valid until Nov 23, 2026, 08:00)';
    expect(html.split(old)).toHaveLength(3);
    const fresh = page.replace('Signature=2', 'Signature=3');
    const swapped = swapLink(
      html,
      escapeHtml(page),
      escapeHtml(fresh),
      old,
      '(valid until Nov 23, 2026, 09:00)',
    );
    expect(swapped).toContain(`href="${escapeHtml(list)}">at-risk.csv</a> ${old}`);
    expect(swapped).toMatch(
      new RegExp(
        `href="${escapeHtml(fresh).replace(/[.?]/g, '\\$&')}">[^<]*</a> \\(valid until Nov 23, 2026, 09:00\\)`,
      ),
    );
    expect(swapped).not.toContain(escapeHtml(page));
    // A text without the link is left as it is, its words included.
    expect(swapLink(`x ${old}`, page, fresh, old, 'new')).toBe(`x ${old}`);
  });
});
