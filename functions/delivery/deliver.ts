import { randomUUID } from 'node:crypto';
import type { BatchRecord, DeliveryRecord, LedgerStore } from './ledger.ts';
import { isThrottling } from '../retry.ts';
import { throwIfAbandoned } from '../abandon.ts';
import { SES_MAX_RECIPIENTS, uniqueMailboxes } from './ses.ts';

/**
 * Sending stopped part-way (SES failed without refusing): the record is saved and its lease
 * given back; `uncertain` lists the recipients who may or may not have the digest (never
 * sent again), for the metric and alarm of the attempt that failed.
 */
export class DeliveryInterrupted extends Error {
  override name = 'DeliveryInterrupted';
  readonly uncertain: string[];
  constructor(message: string, options: { cause: unknown; uncertain: string[] }) {
    super(message, { cause: options.cause });
    this.uncertain = options.uncertain;
  }
}

/** Sends one message to at most 50 recipients; returns the SES message id. */
export type SendMessage = (recipients: string[]) => Promise<string>;

/** SES refused this message for its recipients: split the batch, or give up on one address. */
const REJECTED = new Set(['MessageRejected', 'BadRequestException']);

export type Claim =
  | { readonly kind: 'acquired'; record: DeliveryRecord; version: string; takenOver: boolean }
  | { readonly kind: 'done'; record: DeliveryRecord; version: string }
  | { readonly kind: 'busy'; record: DeliveryRecord };

export interface DeliveryOutcome {
  readonly record: DeliveryRecord;
  readonly version: string;
  readonly sent: string[];
  readonly messageIds: string[];
  /** SES refused these addresses; the others still got theirs. */
  readonly failed: { recipient: string; error: string }[];
  /** A run died between asking SES and recording the answer: not sent again, reported. */
  readonly uncertain: string[];
}

/** Another run took the record over while this one was sending: it stops at once. */
export class LostLeaseError extends Error {
  override name = 'LostLeaseError';
}

export interface DeliveryOptions {
  readonly store: LedgerStore;
  /** How long a run may hold a record before another may take it over. */
  readonly leaseMs: number;
  readonly now: () => Date;
  readonly runId?: string;
  /** When it fires, no further batch starts: the lease is given back and the run abandoned. */
  readonly signal?: AbortSignal | undefined;
}

function chunk(recipients: readonly string[]): BatchRecord[] {
  const out: BatchRecord[] = [];
  for (let i = 0; i < recipients.length; i += SES_MAX_RECIPIENTS) {
    out.push({ recipients: recipients.slice(i, i + SES_MAX_RECIPIENTS), state: 'pending' });
  }
  return out;
}

/**
 * Exactly-once delivery per ledger key. `claim` takes the record (or learns it is done, or
 * busy with a live lease elsewhere); `send` works through the pending batches, recording
 * each step with compare-and-swap; `complete` marks the run archived.
 */
export class Delivery {
  readonly runId: string;

  constructor(private readonly o: DeliveryOptions) {
    this.runId = o.runId ?? randomUUID();
  }

  private lease(): string {
    return new Date(this.o.now().getTime() + this.o.leaseMs).toISOString();
  }

  /**
   * Claims the send of `key`. `forceId` (a forced resend's request id) replaces whatever
   * record exists, once: a record already forced with the same id is that resend, resumed
   * or done like any other.
   */
  async claim(key: string, recipients: readonly string[], forceId?: string): Promise<Claim> {
    const force = forceId !== undefined;
    const fresh: DeliveryRecord = {
      key,
      runId: this.runId,
      leaseUntil: this.lease(),
      state: 'in-progress',
      batches: chunk(uniqueMailboxes(recipients)),
      ...(force ? { forced: forceId } : {}),
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      const created = await this.o.store.create(fresh);
      if (created !== null)
        return { kind: 'acquired', record: fresh, version: created, takenOver: false };
      const current = await this.o.store.read(key);
      if (!current) continue; // removed meanwhile: try to create again
      const { record, version } = current;
      if (force && record.forced !== forceId) {
        const v = await this.o.store.replace(fresh, version);
        if (v !== null) return { kind: 'acquired', record: fresh, version: v, takenOver: true };
        continue;
      }
      if (record.state !== 'in-progress') return { kind: 'done', record, version };
      if (new Date(record.leaseUntil).getTime() > this.o.now().getTime()) {
        return { kind: 'busy', record };
      }
      // The holder died. Take over; whatever it was sending when it died is never resent.
      const takeover: DeliveryRecord = {
        ...record,
        runId: this.runId,
        leaseUntil: this.lease(),
        batches: record.batches.map((b) =>
          b.state === 'sending' ? { ...b, state: 'uncertain' } : b,
        ),
      };
      const v = await this.o.store.replace(takeover, version);
      if (v !== null) return { kind: 'acquired', record: takeover, version: v, takenOver: true };
    }
    throw new Error(`ledger ${key}: could not settle who sends after 5 attempts`);
  }

  private async save(
    record: DeliveryRecord,
    version: string,
    options: { readonly release?: boolean } = {},
  ): Promise<string> {
    const next = {
      ...record,
      leaseUntil: options.release ? this.o.now().toISOString() : this.lease(),
    };
    const v = await this.o.store.replace(next, version);
    if (v === null) throw new LostLeaseError(`ledger ${record.key}: another run took over`);
    Object.assign(record, next);
    return v;
  }

  async send(
    claim: Extract<Claim, { kind: 'acquired' }>,
    sendMessage: SendMessage,
  ): Promise<DeliveryOutcome> {
    const record = claim.record;
    let version = claim.version;
    for (let i = 0; i < record.batches.length; i++) {
      const batch = record.batches[i];
      if (!batch || batch.state !== 'pending') continue;
      if (this.o.signal?.aborted) {
        // Between batches, never during one: what SES has is recorded; the rest waits.
        await this.save(record, version, { release: true });
        throwIfAbandoned(
          this.o.signal,
          `ledger ${record.key}: the remaining batches are left to the next attempt`,
        );
      }
      batch.state = 'sending';
      version = await this.save(record, version);
      try {
        batch.messageId = await sendMessage(batch.recipients);
        batch.state = 'sent';
      } catch (e) {
        const err = e as Error & { $metadata?: { httpStatusCode?: number } };
        if (REJECTED.has(err.name) && batch.recipients.length > 1) {
          // One bad address must not cost the others their copy: send them one by one.
          record.batches.splice(
            i,
            1,
            ...batch.recipients.map((r): BatchRecord => ({ recipients: [r], state: 'pending' })),
          );
          i--;
        } else if (REJECTED.has(err.name)) {
          batch.state = 'failed';
          batch.error = `${err.name}: ${err.message}`;
        } else {
          // Only a definite "not sent" may be sent again: throttling that outlasted the
          // mailer's backoff, or another 4xx refusal. A 5xx or no answer at all (a dropped
          // connection, a timeout) may come after SES accepted the message: never resend it.
          const status = err.$metadata?.httpStatusCode;
          const notSent = isThrottling(err) || (status !== undefined && status < 500);
          batch.state = notSent ? 'pending' : 'uncertain';
          // The lease goes back at once, so that the next attempt resumes the other batches
          // instead of waiting for it to expire.
          await this.save(record, version, { release: true });
          throw new DeliveryInterrupted(`ledger ${record.key}: sending stopped: ${err.message}`, {
            cause: e,
            uncertain: summarize(record).uncertain,
          });
        }
      }
      version = await this.save(record, version);
    }
    record.state = record.state === 'in-progress' ? 'sent' : record.state;
    version = await this.save(record, version);
    return { ...summarize(record), record, version };
  }

  /** Records, before the first send, the message every batch gets and what was archived. */
  async record(
    claim: Extract<Claim, { kind: 'acquired' }>,
    fields: Required<Pick<DeliveryRecord, 'digest' | 'archived'>>,
  ): Promise<void> {
    claim.version = await this.save(Object.assign(claim.record, fields), claim.version);
  }

  async complete(record: DeliveryRecord, version: string, archived: string[]): Promise<void> {
    await this.save({ ...record, state: 'completed', archived }, version);
  }

  /** Gives the lease back (the record stays as it is), so that the next attempt may resume. */
  async yieldLease(claim: Extract<Claim, { kind: 'acquired' }>): Promise<void> {
    await this.save(claim.record, claim.version, { release: true });
  }

  /**
   * Gives a claim back when this attempt sends nothing more (it failed before sending, or
   * stands down): a record it created and sent nothing for is removed; a record it took over
   * keeps its progress and gets its lease back. Either way the next attempt may go at once.
   */
  async release(claim: Extract<Claim, { kind: 'acquired' }>): Promise<void> {
    if (claim.takenOver || claim.record.batches.some((b) => b.state !== 'pending')) {
      await this.yieldLease(claim);
      return;
    }
    await this.o.store.remove(claim.record.key, claim.version);
  }
}

/** What a record says was delivered. */
export function summarize(record: DeliveryRecord): Omit<DeliveryOutcome, 'record' | 'version'> {
  const of = (s: BatchRecord['state']): BatchRecord[] =>
    record.batches.filter((b) => b.state === s);
  return {
    sent: of('sent').flatMap((b) => b.recipients),
    messageIds: of('sent').flatMap((b) => (b.messageId ? [b.messageId] : [])),
    failed: of('failed').flatMap((b) =>
      b.recipients.map((recipient) => ({ recipient, error: b.error ?? '' })),
    ),
    uncertain: of('uncertain').flatMap((b) => b.recipients),
  };
}
