import { SendEmailCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import type { Digest } from '../digest/render.ts';
import { toEml } from '../digest/eml.ts';
import { withBackoff } from '../retry.ts';

/**
 * The distinct mailboxes of a list, in their first spelling: two addresses are one mailbox
 * when their local parts are equal and their domains equal but for case (domains are
 * case-insensitive; a local part may not be). Blank entries and surrounding spaces go.
 */
export function uniqueMailboxes(recipients: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const raw of recipients) {
    const address = raw.trim();
    if (address === '') continue;
    const at = address.lastIndexOf('@');
    const key = at < 0 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
    if (!seen.has(key)) seen.set(key, address);
  }
  return [...seen.values()];
}

/** SES accepts at most 50 recipients per message. */
export const SES_MAX_RECIPIENTS = 50;

export interface Mail {
  readonly from: string;
  readonly to: readonly string[];
  readonly digest: Digest;
  readonly date?: Date | undefined;
}

export interface SentMail {
  readonly messageIds: string[];
  readonly recipients: string[];
}

/** Sends a digest; SES in AWS, the local SES emulator in tests. */
export interface Mailer {
  /** One message to at most 50 recipients; returns its message id. */
  sendMessage(mail: Mail): Promise<string>;
  /** Any number of recipients, in batches. */
  send(mail: Mail): Promise<SentMail>;
}

export interface SesMailerOptions {
  /** The SES configuration set every message goes through (bounce and complaint events). */
  readonly configurationSet?: string;
  /** Recipients per message. @default 50 */
  readonly batchSize?: number;
  /** Attempts for a throttled send. @default 6 */
  readonly attempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/**
 * The SES client the mailer needs: one attempt per call. The SDK's own retries would send a
 * message again after a reply lost once SES had accepted it; only definite throttling is
 * retried, by the mailer's backoff. Anything else is the caller's to record as uncertain.
 */
export function sesClient(config: ConstructorParameters<typeof SESv2Client>[0] = {}): SESv2Client {
  return new SESv2Client({ ...config, maxAttempts: 1 });
}

/**
 * SES v2 `SendEmail` with raw MIME (text, HTML and inline images in one message built by
 * nodemailer), one message per batch of at most 50 recipients, throttling retried with
 * capped exponential backoff and full jitter.
 */
export class SesMailer implements Mailer {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly client: SESv2Client,
    private readonly options: SesMailerOptions = {},
  ) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = options.random ?? Math.random;
  }

  async send(mail: Mail): Promise<SentMail> {
    const size = Math.min(this.options.batchSize ?? SES_MAX_RECIPIENTS, SES_MAX_RECIPIENTS);
    const recipients = uniqueMailboxes(mail.to);
    if (recipients.length === 0) throw new Error('no recipients to send the digest to');
    const messageIds: string[] = [];
    for (let i = 0; i < recipients.length; i += size) {
      messageIds.push(await this.sendMessage({ ...mail, to: recipients.slice(i, i + size) }));
    }
    return { messageIds, recipients };
  }

  async sendMessage(mail: Mail): Promise<string> {
    if (mail.to.length > SES_MAX_RECIPIENTS) {
      throw new Error(`one message takes at most ${SES_MAX_RECIPIENTS} recipients`);
    }
    const raw = await toEml(mail.digest, { from: mail.from, to: [...mail.to], date: mail.date });
    const out = await this.retry(() =>
      this.client.send(
        new SendEmailCommand({
          FromEmailAddress: mail.from,
          Destination: { ToAddresses: [...mail.to] },
          Content: { Raw: { Data: raw } },
          ...(this.options.configurationSet
            ? { ConfigurationSetName: this.options.configurationSet }
            : {}),
        }),
      ),
    );
    return out.MessageId ?? '';
  }

  private retry<R>(call: () => Promise<R>): Promise<R> {
    return withBackoff(call, {
      attempts: this.options.attempts ?? 6,
      sleep: this.sleep,
      random: this.random,
    });
  }
}
