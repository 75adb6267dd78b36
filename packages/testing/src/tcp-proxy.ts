/**
 * A TCP proxy a test can cut and restore, to take a server (PostgreSQL) away from the code
 * under test without touching the server itself, which other tests share — or slow down:
 * with a reply delay, every byte the server sends reaches the client that much later (in
 * order), a server that answers but is busy.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Listens on `port` and forwards every connection to the target. */
  open(): Promise<void>;
  /** Closes the listener and destroys every proxied connection (new ones are refused). */
  cut(): Promise<void>;
  /** From now on, holds what the server sends for `ms` before passing it on (0: at once). */
  delayReplies(ms: number): void;
}

export function createTcpProxy(port: number, target: { host?: string; port: number }): TcpProxy {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let replyDelayMs = 0;
  return {
    port,
    delayReplies(ms) {
      replyDelayMs = ms;
    },
    open: () =>
      new Promise<void>((resolve, reject) => {
        const srv = createServer((client) => {
          const upstream = connect(target.port, target.host ?? '127.0.0.1');
          sockets.add(client).add(upstream);
          client.pipe(upstream);
          upstream.on('data', (d: Buffer) => {
            if (replyDelayMs === 0) client.write(d);
            else setTimeout(() => client.writable && client.write(d), replyDelayMs);
          });
          const drop = () => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
          };
          client.on('error', drop).on('close', drop);
          upstream.on('error', drop).on('close', drop);
        });
        server = srv;
        srv.once('error', reject);
        srv.listen(port, '127.0.0.1', () => resolve());
      }),
    cut: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        const srv = server;
        server = undefined;
        if (srv) srv.close(() => resolve());
        else resolve();
      }),
  };
}
