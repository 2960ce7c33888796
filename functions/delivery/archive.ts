import { PutObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { readFile } from 'node:fs/promises';
import { writeOutputs } from './files.ts';

/** Where each run's report, digest and exports are kept. */
export interface Archive {
  /** Stores files under `prefix`; returns where each went (S3 keys or file paths). */
  put(prefix: string, files: ReadonlyMap<string, string | Buffer>): Promise<string[]>;
  /** The content of something `put` stored, by the address it returned. */
  get(where: string): Promise<Buffer>;
  /**
   * A link to something `put` stored (an expiring presigned URL in S3), and when it stops
   * working, when it does.
   */
  link?(where: string): Promise<{ readonly url: string; readonly expiresAt?: Date }>;
}

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  html: 'text/html; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  eml: 'message/rfc822',
  csv: 'text/csv; charset=utf-8',
};

/** Presigned links live 7 days, the longest SigV4 allows. */
export const LINK_SECONDS = 7 * 24 * 3600;

/** The S3 archive of the deployed stack (the bucket encrypts by default). */
export class S3Archive implements Archive {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async put(prefix: string, files: ReadonlyMap<string, string | Buffer>): Promise<string[]> {
    const keys: string[] = [];
    for (const [name, body] of files) {
      const key = `${prefix}${name}`;
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: CONTENT_TYPES[name.split('.').pop() ?? ''] ?? 'application/octet-stream',
        }),
      );
      keys.push(`s3://${this.bucket}/${key}`);
    }
    return keys;
  }

  async get(where: string): Promise<Buffer> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: where.replace(`s3://${this.bucket}/`, '') }),
    );
    return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  }

  /**
   * A presigned download link for an archived export, given its s3:// address. It lasts
   * 7 days, the longest SigV4 allows, but never longer than the credentials that sign it: a
   * Lambda function's role credentials expire within hours, and a link signed with them
   * stops working then. The expiry returned is the true one, and the digest states it.
   */
  async link(where: string): Promise<{ url: string; expiresAt: Date }> {
    const key = where.replace(`s3://${this.bucket}/`, '');
    const now = this.now();
    const credentials = await this.client.config.credentials();
    const credentialSeconds = credentials.expiration
      ? Math.floor((credentials.expiration.getTime() - now.getTime()) / 1000) - 60
      : LINK_SECONDS;
    const expiresIn = Math.max(60, Math.min(LINK_SECONDS, credentialSeconds));
    const url = await getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: this.bucket, Key: key }),
      { expiresIn, signingDate: now },
    );
    return { url, expiresAt: new Date(now.getTime() + expiresIn * 1000) };
  }
}

/** A folder on disk: the laptop and test archive. */
export class DirArchive implements Archive {
  constructor(private readonly dir: string) {}

  put(prefix: string, files: ReadonlyMap<string, string | Buffer>): Promise<string[]> {
    return writeOutputs(`${this.dir}/${prefix}`, files);
  }

  get(where: string): Promise<Buffer> {
    return readFile(where);
  }
}
