import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/**
 * The delivery ledger: one record per (report, period, audience) that makes a send happen
 * once. We keep it in S3 with conditional writes (`If-None-Match: *` to take a run,
 * `If-Match: <ETag>` for every later step) rather than Powertools idempotency on DynamoDB:
 * the stack already has an encrypted bucket, S3 conditional writes are strongly consistent,
 * and a run needs more than "done or not" — it needs per-batch progress so that a retry
 * after a crash resumes where it stopped.
 */
export interface BatchRecord {
  readonly recipients: string[];
  /**
   * `pending` → `sending` → `sent`, or `failed` (SES refused it), or `uncertain` (a run
   * died between asking SES and recording the answer: it is never sent again).
   */
  state: 'pending' | 'sending' | 'sent' | 'failed' | 'uncertain';
  messageId?: string;
  error?: string;
}

export interface DeliveryRecord {
  readonly key: string;
  runId: string;
  leaseUntil: string;
  /** `in-progress` while sending; `sent` when every batch is settled; `completed` once archived. */
  state: 'in-progress' | 'sent' | 'completed';
  batches: BatchRecord[];
  archived?: string[];
  /**
   * The message mailed to every batch, recorded (archived) before the first send: where it
   * is and its sha256. Retries and takers send it as it is; they never measure again.
   */
  digest?: {
    readonly where: string;
    readonly sha256: string;
    /** Whether the data reached the period end when it was rendered. */
    readonly fresh?: boolean;
  };
  /** A forced resend's request id (`true` in records written before ids). */
  forced?: string | boolean;
  /**
   * The S3 ledger's nonce of the write that stored this version: after a 412, a store
   * that finds its own nonce knows its write went through (the SDK retried it after a
   * lost reply) and is not another run's.
   */
  write?: string;
}

/** Compare-and-swap storage for delivery records. */
export interface LedgerStore {
  /** Creates the record when none exists; returns its version, or null when one exists. */
  create(record: DeliveryRecord): Promise<string | null>;
  read(key: string): Promise<{ record: DeliveryRecord; version: string } | null>;
  /** Replaces the record if it is still at `version`; returns the new version or null. */
  replace(record: DeliveryRecord, version: string): Promise<string | null>;
  /**
   * Drops a record nobody sent anything for, so that a retry can run: only while it is
   * still at `version` (another run's record is never deleted).
   */
  remove(key: string, version: string): Promise<void>;
}

function isPreconditionFailed(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (
    e.name === 'PreconditionFailed' ||
    e.name === 'ConditionalRequestConflict' ||
    status === 412 ||
    status === 409
  );
}

/** The ledger in the archive bucket, under `ledger/`. */
export class S3LedgerStore implements LedgerStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix = 'ledger/',
  ) {}

  private objectKey(key: string): string {
    return `${this.prefix}${key}.json`;
  }

  /** Writes the record if the condition holds; the new ETag, or null if it did not. */
  private async put(
    record: DeliveryRecord,
    condition: { IfNoneMatch: '*' } | { IfMatch: string },
  ): Promise<string | null> {
    const write = randomUUID();
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(record.key),
          Body: JSON.stringify({ ...record, write }),
          ContentType: 'application/json',
          ...condition,
        }),
      );
      return out.ETag ?? '';
    } catch (e) {
      if (!isPreconditionFailed(e)) throw e;
      // The SDK may have sent this very write before (its reply lost): then the record
      // holds our nonce, and the write is ours, not another run's.
      const current = await this.read(record.key).catch(() => null);
      return current?.record.write === write ? current.version : null;
    }
  }

  create(record: DeliveryRecord): Promise<string | null> {
    return this.put(record, { IfNoneMatch: '*' });
  }

  async read(key: string): Promise<{ record: DeliveryRecord; version: string } | null> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      return { record: JSON.parse(text) as DeliveryRecord, version: out.ETag ?? '' };
    } catch (e) {
      if (e instanceof Error && (e.name === 'NoSuchKey' || e.name === 'NotFound')) return null;
      throw e;
    }
  }

  replace(record: DeliveryRecord, version: string): Promise<string | null> {
    return this.put(record, { IfMatch: version });
  }

  async remove(key: string, version: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          IfMatch: version,
        }),
      );
    } catch (e) {
      // Changed since: another run's record now, not ours to delete. Gone already: S3
      // answers a conditional delete of a missing key (our own delete, retried by the SDK
      // after a lost reply) with 404.
      if (isPreconditionFailed(e)) return;
      if (e instanceof Error && (e.name === 'NoSuchKey' || e.name === 'NotFound')) return;
      throw e;
    }
  }
}

/** How long a step waits for a live process's lock on a folder-ledger record. */
const LOCK_PATIENCE_MS = 60_000;

/** Creates `path` with `content` unless it exists, atomically (written in full, then linked). */
async function takeLock(lock: string, content: string): Promise<boolean> {
  const tmp = `${lock}.${randomUUID()}.tmp`;
  await writeFile(tmp, content);
  try {
    // link() fails if the lock exists, and a lock is never seen empty or half written.
    await link(tmp, lock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Whether the process named in a lock (`<pid> <token>`) still runs on this machine. */
function alive(holder: string): boolean {
  const pid = Number(holder.split(' ')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes a dead process's lock, unless another waiter has replaced it meanwhile. */
async function breakLock(lock: string, holder: string): Promise<void> {
  const breaker = `${lock}.break`;
  const me = `${process.pid} ${randomUUID()}`;
  if (!(await takeLock(breaker, me))) {
    const other = await readFile(breaker, 'utf8').catch(() => '');
    if (other !== '' && !alive(other)) await rm(breaker, { force: true });
    return;
  }
  try {
    if ((await readFile(lock, 'utf8').catch(() => '')) === holder) await rm(lock, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

/**
 * The ledger in a folder, for the laptop and the tests: exclusive create (`wx`) takes a
 * run, and a lock file (also `wx`) makes each compare-and-swap atomic across processes.
 */
export class DirLedgerStore implements LedgerStore {
  constructor(private readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  async create(record: DeliveryRecord): Promise<string | null> {
    const path = this.path(record.key);
    await mkdir(dirname(path), { recursive: true });
    const version = randomUUID();
    // Written in full, then linked into place (which fails if the record exists): a record
    // is never seen half written, nor left empty by a process killed in between.
    return (await takeLock(path, JSON.stringify({ version, record }))) ? version : null;
  }

  async read(key: string): Promise<{ record: DeliveryRecord; version: string } | null> {
    try {
      const text = await readFile(this.path(key), 'utf8');
      const { version, record } = JSON.parse(text) as { version: string; record: DeliveryRecord };
      return { record, version };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Runs `fn` holding the record's lock file (`wx`, holding the holder's pid and a token),
   * so that each step is atomic. A holder that pauses keeps its lock however long; a lock
   * whose process has died is broken at once (under a second, short-lived lock, so that two
   * waiters never break a lock a third one has just taken).
   */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const lock = `${this.path(key)}.lock`;
    const mine = `${process.pid} ${randomUUID()}`;
    const started = Date.now();
    for (;;) {
      if (await takeLock(lock, mine)) break;
      const holder = await readFile(lock, 'utf8').catch(() => '');
      if (holder !== '' && !alive(holder)) await breakLock(lock, holder);
      if (Date.now() - started > LOCK_PATIENCE_MS) {
        throw new Error(
          `ledger lock ${lock} stays taken by a live process (${holder || 'unknown'}) for ${LOCK_PATIENCE_MS / 1000} s`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    try {
      return await fn();
    } finally {
      // Only our own lock: never one another process took after ours was broken.
      if ((await readFile(lock, 'utf8').catch(() => '')) === mine) await rm(lock, { force: true });
    }
  }

  replace(record: DeliveryRecord, version: string): Promise<string | null> {
    return this.locked(record.key, async () => {
      const current = await this.read(record.key);
      if (!current || current.version !== version) return null;
      const path = this.path(record.key);
      const next = randomUUID();
      const tmp = `${path}.${next}.tmp`;
      await writeFile(tmp, JSON.stringify({ version: next, record }));
      await rename(tmp, path);
      return next;
    });
  }

  remove(key: string, version: string): Promise<void> {
    return this.locked(key, async () => {
      const current = await this.read(key);
      if (current?.version === version) await rm(this.path(key), { force: true });
    });
  }
}
