import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SESv2Client } from '@aws-sdk/client-sesv2';

/** The real local SES v2 emulator from npm (aws-ses-v2-local), run by the tests that need it. */
const CLI = fileURLToPath(new URL('../node_modules/aws-ses-v2-local/dist/cli.js', import.meta.url));

export interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[] };
  subject: string;
  body: { text?: string; html?: string };
  attachments: { filename?: string; contentType: string; contentId?: string; related?: boolean }[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export class SesEmulator {
  private constructor(
    private readonly process: ChildProcess,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<SesEmulator> {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [CLI, '--host', '127.0.0.1', '--port', String(port)], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await fetch(`${endpoint}/store`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill();
        throw new Error('the SES emulator did not start');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return new SesEmulator(child, endpoint);
  }

  client(): SESv2Client {
    return new SESv2Client({
      endpoint: this.endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  async emails(): Promise<StoredEmail[]> {
    const res = await fetch(`${this.endpoint}/store`);
    return ((await res.json()) as { emails: StoredEmail[] }).emails;
  }

  async clear(): Promise<void> {
    await fetch(`${this.endpoint}/clear-store`, { method: 'POST' });
  }

  stop(): void {
    this.process.kill();
  }
}

/** The emulator keeps a raw message's To header as one string: one address per item. */
export function recipientsOf(mail: StoredEmail | undefined): string[] {
  return (mail?.destination.to ?? []).flatMap((t) => t.split(/,\s*/));
}
