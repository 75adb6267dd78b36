/**
 * A local SMTP server for tests (smtp-server, real SMTP over a socket): keeps every message
 * it accepts, decoded enough to assert on (headers, text part, attachments). It can refuse
 * recipients or be stopped and started again on the same port to play an SMTP outage.
 */
import { SMTPServer } from 'smtp-server';

export interface SinkMessage {
  from: string;
  to: string[];
  headers: Record<string, string>;
  subject: string;
  messageId: string;
  text: string;
  attachments: { filename: string; contentType: string; content: string }[];
  raw: string;
}

export interface SmtpSink {
  port: number;
  url: string;
  messages: SinkMessage[];
  /** Answer RCPT TO with this code and text until cleared (e.g. 550 unknown mailbox). */
  refuseRecipients(code: number | null, text?: string): void;
  /** Stop listening (connections refused) until start() again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function parseHeaders(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

// RFC 2047 encoded words (=?UTF-8?Q?…?= / =?UTF-8?B?…?=), as nodemailer writes non-ASCII headers.
function decodeWords(s: string): string {
  return s.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=\s*/g, (_m, _cs, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(
          data
            .replace(/_/g, ' ')
            .replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

function decodeBody(body: string, encoding: string | undefined): string {
  const enc = (encoding ?? '7bit').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

interface Part {
  headers: Record<string, string>;
  body: string;
}

function splitParts(raw: string): Part[] {
  const sep = raw.search(/\r?\n\r?\n/);
  const headers = parseHeaders(raw.slice(0, sep));
  const body = raw.slice(sep).replace(/^\r?\n\r?\n/, '');
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (!boundary) return [{ headers, body }];
  return body
    .split(`--${boundary}`)
    .slice(1)
    .filter((p) => !p.startsWith('--'))
    .flatMap((p) => splitParts(p.replace(/^\r?\n/, '')));
}

function parseMessage(raw: string, from: string, to: string[]): SinkMessage {
  const sep = raw.search(/\r?\n\r?\n/);
  const headers = parseHeaders(raw.slice(0, sep));
  let text = '';
  const attachments: SinkMessage['attachments'] = [];
  for (const p of splitParts(raw)) {
    const type = (p.headers['content-type'] ?? 'text/plain').split(';')[0]?.trim() ?? '';
    const body = decodeBody(p.body, p.headers['content-transfer-encoding']);
    const disposition = p.headers['content-disposition'] ?? '';
    if (/attachment/i.test(disposition)) {
      const name = /filename="?([^";]+)"?/i.exec(disposition)?.[1] ?? '';
      attachments.push({ filename: decodeWords(name), contentType: type, content: body });
    } else if (type === 'text/plain' && !text) text = body.replace(/\r\n/g, '\n').replace(/\n$/, '');
  }
  return {
    from,
    to,
    headers,
    subject: decodeWords(headers.subject ?? ''),
    messageId: headers['message-id'] ?? '',
    text,
    attachments,
    raw,
  };
}

export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  let refusal: { code: number; text: string } | null = null;
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, cb) {
        if (!refusal) return cb();
        const err = new Error(refusal.text) as Error & { responseCode: number };
        err.responseCode = refusal.code;
        cb(err);
        void address;
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          messages.push(
            parseMessage(
              raw,
              from,
              session.envelope.rcptTo.map((r) => r.address),
            ),
          );
          cb();
        });
      },
    });
  let server = make();
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        const addr = server.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : p);
      });
    });
  const actual = await listen(port);
  const stopServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
  let running = true;
  return {
    port: actual,
    url: `smtp://127.0.0.1:${actual}`,
    messages,
    refuseRecipients(code, text = 'mailbox unavailable') {
      refusal = code === null ? null : { code, text };
    },
    async stop() {
      if (!running) return;
      running = false;
      await stopServer();
    },
    async start() {
      if (running) return;
      server = make();
      await listen(actual);
      running = true;
    },
    async close() {
      if (running) await stopServer();
      running = false;
    },
  };
}
