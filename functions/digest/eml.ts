import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type { Digest } from './render.ts';

export interface Envelope {
  readonly from: string;
  readonly to: readonly string[];
  /** Fixed Date header, for reproducible files. @default now */
  readonly date?: Date | undefined;
}

/**
 * Builds the raw MIME message with nodemailer: multipart/alternative (text and HTML), with
 * inline parts (a Content-ID each) related to the HTML.
 */
export async function toEml(digest: Digest, envelope: Envelope): Promise<Buffer> {
  const mail = new MailComposer({
    from: envelope.from,
    to: [...envelope.to],
    subject: digest.subject,
    text: digest.text,
    html: digest.html,
    attachments: digest.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
      ...(a.cid ? { cid: a.cid, contentDisposition: 'inline' as const } : {}),
    })),
    date: envelope.date ?? new Date(),
  });
  return mail.compile().build();
}
