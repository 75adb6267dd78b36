/** In-process test servers: an aedes broker and a scripted HTTP telemetry endpoint, on free ports. */
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';

export interface Received {
  clientId: string;
  payload: string;
  qos: number;
  at: number;
}

export interface TestBroker {
  port: number;
  broker: Aedes;
  received: Received[];
  connects: Array<{ clientId: string; username?: string; password?: string }>;
  /** Refuse the next n CONNECTs with return code 5. */
  refuseNext(n: number): void;
  clients: Map<string, Client>;
  close(): Promise<void>;
}

export async function startBroker(): Promise<TestBroker> {
  let refuse = 0;
  const received: Received[] = [];
  const connects: TestBroker['connects'] = [];
  const clients = new Map<string, Client>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      connects.push({ clientId: client.id, username, password: password?.toString() });
      if (refuse > 0) {
        refuse--;
        const err = new Error('refused') as AuthenticateError;
        err.returnCode = 5;
        return done(err, false);
      }
      done(null, true);
    },
  });
  broker.on('client', (c) => clients.set(c.id, c));
  // Recorded in authorizePublish, which aedes calls in arrival order before the PUBACK; its
  // 'publish' event comes after asynchronous persistence and can reorder QoS 1 messages.
  broker.authorizePublish = (client, packet, callback) => {
    if (client)
      received.push({ clientId: client.id, payload: packet.payload.toString(), qos: packet.qos, at: Date.now() });
    callback(null);
  };
  const server: Server = createServer(broker.handle);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    broker,
    received,
    connects,
    clients,
    refuseNext: (n) => {
      refuse = n;
    },
    close: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface HttpHit {
  url: string;
  contentType: string | undefined;
  body: string;
  status: number;
  at: number;
}

/** Answers each POST with the next status of `script` (then 200). */
export async function startHttp(script: number[] = []) {
  const hits: HttpHit[] = [];
  const server = createHttpServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = script.shift() ?? 200;
      hits.push({
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString(),
        status,
        at: Date.now(),
      });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Polls until `fn` is true (tests wait for behaviour, never for a fixed time). */
export async function waitFor(fn: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
