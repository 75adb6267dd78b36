/**
 * A local stand-in for Twilio's Messages API, for tests: the real SDK talks HTTP to it
 * (point TwilioSmsConfig.apiBaseUrl at `baseUrl`). It records every request and answers
 * from a script: 201 with a Message resource by default, or any status and error code.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeTwilioRequest {
  method: string;
  path: string;
  /** Decoded basic-auth user / password (account SID / auth token). */
  username?: string;
  password?: string;
  /** Form fields of the body: To, From, Body, StatusCallback, MessagingServiceSid… */
  form: Record<string, string>;
}

/**
 * One scripted answer: 'ok' → 201 Message; 'hang' → never answers (a timeout); otherwise the
 * HTTP status with a Twilio error body, or `rawBody` as is (a proxy's HTML error page).
 */
export type FakeTwilioReply = 'ok' | 'hang' | { status: number; code?: number; message?: string; rawBody?: string };

export interface FakeTwilio {
  baseUrl: string;
  requests: FakeTwilioRequest[];
  /** Queues answers for the next requests; once drained, every request gets 'ok'. */
  reply(...replies: FakeTwilioReply[]): void;
  close(): Promise<void>;
}

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const requests: FakeTwilioRequest[] = [];
  const script: FakeTwilioReply[] = [];

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [username, password] = auth ? Buffer.from(auth, 'base64').toString('utf8').split(/:(.*)/s) : [];
    const path = req.url ?? '';
    requests.push({
      method: req.method ?? '',
      path,
      form,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    });

    const account = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json$/i.exec(path)?.[1];
    if (req.method !== 'POST' || !account) return send(res, 404, { code: 20404, message: 'not found', status: 404 });
    const next = script.shift() ?? 'ok';
    if (next === 'ok') return send(res, 201, message(account, form));
    if (next === 'hang') return;
    if (next.rawBody !== undefined) {
      res.writeHead(next.status, { 'content-type': 'text/html' }).end(next.rawBody);
      return;
    }
    send(res, next.status, {
      code: next.code,
      message: next.message ?? `fake error ${next.code ?? next.status}`,
      more_info: `https://www.twilio.com/docs/errors/${next.code ?? ''}`,
      status: next.status,
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    reply: (...r) => script.push(...r),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections(); // the SDK keeps connections alive
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

// The fields of Twilio's Message resource the SDK maps; values as Twilio returns them.
function message(accountSid: string, form: Record<string, string>) {
  const sid = `SM${randomBytes(16).toString('hex')}`;
  const now = new Date().toUTCString();
  return {
    sid,
    account_sid: accountSid,
    api_version: '2010-04-01',
    body: form.Body ?? '',
    date_created: now,
    date_updated: now,
    date_sent: null,
    direction: 'outbound-api',
    error_code: null,
    error_message: null,
    from: form.From ?? null,
    messaging_service_sid: form.MessagingServiceSid ?? null,
    num_media: '0',
    num_segments: '1',
    price: null,
    price_unit: 'USD',
    status: form.MessagingServiceSid ? 'accepted' : 'queued',
    to: form.To ?? '',
    uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
  };
}
