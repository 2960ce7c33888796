import { createHash } from 'node:crypto';
import type { Digest } from '../digest/render.ts';

/**
 * The message a run mails, as recorded before its first send: archived under this name,
 * and named in the delivery ledger by address and hash, so that every batch of a period —
 * sent by this attempt, a retry or a run that took over — carries the same digest, and the
 * archive holds the one that was mailed.
 */
export const MESSAGE_FILE = 'message.json';

/**
 * An expiring link in the digest: where the file is, the URL and its expiry, and the words
 * that state it, so that a later batch can carry a fresh link.
 */
export interface RecordedLink {
  readonly where: string;
  readonly url: string;
  readonly expiresAt: string;
  readonly validText: string;
}

export interface RecordedMessage {
  readonly digest: Digest;
  /** The Date header every batch carries. */
  readonly date: Date;
  /** The at-risk list's link, when it expires. */
  readonly link?: RecordedLink;
  /** The full report's link, when it expires; messages recorded before it have none. */
  readonly reportLink?: RecordedLink;
}

/** The recorded form (JSON, attachments in base64). */
export function messageFile(message: RecordedMessage): string {
  const { digest, date } = message;
  return `${JSON.stringify({
    subject: digest.subject,
    html: digest.html,
    text: digest.text,
    attachments: digest.attachments.map((a) => ({ ...a, content: a.content.toString('base64') })),
    date: date.toISOString(),
    ...(message.link ? { link: message.link } : {}),
    ...(message.reportLink ? { reportLink: message.reportLink } : {}),
  })}\n`;
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** The recorded message, if `content` is the one whose hash the ledger holds. */
export function readMessageFile(content: Buffer, expectedSha256: string): RecordedMessage {
  const actual = sha256(content);
  if (actual !== expectedSha256) {
    throw new Error(
      `the recorded message does not match the ledger (sha256 ${actual}, expected ${expectedSha256}); nothing more is sent`,
    );
  }
  const parsed = JSON.parse(content.toString('utf8')) as {
    subject: string;
    html: string;
    text: string;
    attachments: { filename: string; contentType: string; content: string; cid?: string }[];
    date: string;
    link?: RecordedLink;
    reportLink?: RecordedLink;
  };
  return {
    digest: {
      subject: parsed.subject,
      html: parsed.html,
      text: parsed.text,
      attachments: parsed.attachments.map((a) => ({
        ...a,
        content: Buffer.from(a.content, 'base64'),
      })),
    },
    date: new Date(parsed.date),
    ...(parsed.link ? { link: parsed.link } : {}),
    ...(parsed.reportLink ? { reportLink: parsed.reportLink } : {}),
  };
}

/**
 * Puts a fresh link in place of an old one: every occurrence of the old URL, and the
 * sentence stating its expiry that first follows it. By position, because two links signed
 * together state the same expiry in the same words, and each is swapped on its own.
 */
export function swapLink(
  text: string,
  oldUrl: string,
  newUrl: string,
  oldValid: string,
  newValid: string,
): string {
  const at = text.indexOf(oldUrl);
  if (at < 0) return text;
  const valid = oldValid === '' ? -1 : text.indexOf(oldValid, at + oldUrl.length);
  const moved =
    valid < 0 ? text : `${text.slice(0, valid)}${newValid}${text.slice(valid + oldValid.length)}`;
  return moved.replaceAll(oldUrl, newUrl);
}
