import { PutObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { writeOutputs } from './files.ts';

/** Where each run's report, digest and exports are kept. */
export interface Archive {
  /** Stores files under `prefix`; returns where each went (S3 keys or file paths). */
  put(prefix: string, files: ReadonlyMap<string, string | Buffer>): Promise<string[]>;
  /** A link to something `put` stored (an expiring presigned URL in S3). */
  link?(where: string): Promise<string>;
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

  /** A presigned download link (7 days) for an archived export, given its s3:// address. */
  link(where: string): Promise<string> {
    const key = where.replace(`s3://${this.bucket}/`, '');
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: LINK_SECONDS,
    });
  }
}

/** A folder on disk: the laptop and test archive. */
export class DirArchive implements Archive {
  constructor(private readonly dir: string) {}

  put(prefix: string, files: ReadonlyMap<string, string | Buffer>): Promise<string[]> {
    return writeOutputs(`${this.dir}/${prefix}`, files);
  }
}
