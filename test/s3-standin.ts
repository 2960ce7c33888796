/**
 * A small S3 stand-in for the delivery ledger's tests: objects in memory behind the real
 * S3Client (its own request handler, so the SDK's serializers, error parsing and retries
 * run as against S3), with S3's conditional writes (`If-None-Match: *`, `If-Match`) and
 * faults S3 really has: a reply lost after the write was committed, which the SDK retries.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
}

/** The parts of a request the stand-in reads (the SDK's HttpRequest). */
interface Request {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
}

export interface Call {
  readonly method: string;
  readonly key: string;
  readonly status: number;
  /** The write was committed, and its reply lost. */
  readonly dropped: boolean;
}

function header(request: Request, name: string): string | undefined {
  const found = Object.entries(request.headers).find(([k]) => k.toLowerCase() === name);
  return found?.[1];
}

async function bodyOf(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string' || body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function reply(
  statusCode: number,
  headers: Record<string, string> = {},
  body: Buffer | string = '',
) {
  return { response: { statusCode, headers, body: Readable.from([Buffer.from(body)]) } };
}

function s3Error(statusCode: number, code: string, message: string) {
  return reply(
    statusCode,
    { 'content-type': 'application/xml' },
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

export class S3StandIn {
  readonly objects = new Map<string, StoredObject>();
  readonly calls: Call[] = [];
  /** Which committed writes lose their reply (a dropped connection after S3 stored it). */
  dropReply: (method: string, key: string) => boolean = () => false;

  /** An S3Client whose requests this stand-in answers; the SDK's default retries apply. */
  client(): S3Client {
    return new S3Client({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      forcePathStyle: true,
      requestHandler: { handle: (request: Request) => this.handle(request) },
    });
  }

  private async handle(request: Request) {
    // Path style: /bucket/key
    const [, bucket = '', ...rest] = request.path.split('/');
    const key = `${bucket}/${decodeURIComponent(rest.join('/'))}`;
    const current = this.objects.get(key);
    const log = (status: number, dropped = false) => {
      this.calls.push({ method: request.method, key, status, dropped });
    };
    const ifMatch = header(request, 'if-match');
    const ifNoneMatch = header(request, 'if-none-match');
    switch (request.method) {
      case 'GET': {
        if (!current) {
          log(404);
          return s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
        }
        log(200);
        return reply(
          200,
          { etag: current.etag, 'content-length': String(current.body.length) },
          current.body,
        );
      }
      case 'PUT': {
        // The body first: the check and the store below happen with no wait between them,
        // as S3's conditional writes are atomic.
        const body = await bodyOf(request.body);
        const now = this.objects.get(key);
        if ((ifNoneMatch === '*' && now) || (ifMatch !== undefined && now?.etag !== ifMatch)) {
          log(412);
          return s3Error(
            412,
            'PreconditionFailed',
            'At least one of the pre-conditions you specified did not hold',
          );
        }
        const etag = `"${createHash('md5').update(body).digest('hex')}"`;
        this.objects.set(key, { body, etag });
        if (this.dropReply('PUT', key)) {
          log(200, true);
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'Error' });
        }
        log(200);
        return reply(200, { etag });
      }
      case 'DELETE': {
        // A conditional delete of a missing key is 404, as S3 answers it.
        if (ifMatch !== undefined && !current) {
          log(404);
          return s3Error(404, 'NoSuchKey', 'The specified key does not exist.');
        }
        if (ifMatch !== undefined && current && current.etag !== ifMatch) {
          log(412);
          return s3Error(
            412,
            'PreconditionFailed',
            'At least one of the pre-conditions you specified did not hold',
          );
        }
        this.objects.delete(key);
        if (this.dropReply('DELETE', key)) {
          log(204, true);
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', name: 'Error' });
        }
        log(204);
        return reply(204);
      }
      default:
        log(405);
        return s3Error(405, 'MethodNotAllowed', `${request.method} is not supported here`);
    }
  }
}
