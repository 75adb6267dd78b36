/**
 * A TCP proxy a test can cut and restore, to take a server (PostgreSQL) away from the code
 * under test without touching the server itself, which other tests share.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Listens on `port` and forwards every connection to the target. */
  open(): Promise<void>;
  /** Closes the listener and destroys every proxied connection (new ones are refused). */
  cut(): Promise<void>;
}

export function createTcpProxy(port: number, target: { host?: string; port: number }): TcpProxy {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    port,
    open: () =>
      new Promise<void>((resolve, reject) => {
        const srv = createServer((client) => {
          const upstream = connect(target.port, target.host ?? '127.0.0.1');
          sockets.add(client).add(upstream);
          client.pipe(upstream).pipe(client);
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
