/**
 * `/metrics` on a plain HTTP server of its own (the worker's, the alerts' and the API's metrics ports),
 * never on a public port: Prometheus scrapes it inside the deployment's network.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from '@spms/log';
import type { Registry } from 'prom-client';

export async function serveMetricsHttp(
  registry: Registry,
  port: number,
  host: string,
  opts: { healthz?: boolean } = {},
): Promise<Server> {
  const paths = opts.healthz ? '/metrics or /healthz' : 'this port serves GET /metrics only';
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
      return;
    }
    if (opts.healthz && req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(`not found: ${paths}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Why a process's metrics server could not listen, for its fatal log: a taken port names the variable to change. */
function metricsServerFailure(err: NodeJS.ErrnoException, what: string, port: number, variable: string): string {
  return err.code === 'EADDRINUSE'
    ? `${what} port ${port} is already in use: set ${variable} to a free port`
    : `${what} server failed: ${err.message}`;
}

/**
 * The rest of a background process's main.ts once it runs (the worker, the alerts process):
 * /metrics and /healthz on its port — one it cannot listen on is fatal, naming the variable
 * to change — then on SIGTERM or SIGINT: stop serving, `close()` (active jobs finish) and
 * exit 0 (1 when closing fails).
 */
export async function serveMetricsUntilSignal(opts: {
  registry: Registry;
  port: number;
  host: string;
  /** The process in log lines ('worker', 'alerts'). */
  name: string;
  /** The port's variable (WORKER_HTTP_PORT…). */
  variable: string;
  logger: Pick<Logger, 'fatal' | 'info' | 'error'>;
  close: () => Promise<void>;
}): Promise<void> {
  const { logger } = opts;
  const http = await serveMetricsHttp(opts.registry, opts.port, opts.host, { healthz: true }).catch(
    async (err: NodeJS.ErrnoException) => {
      logger.fatal(metricsServerFailure(err, `${opts.name} HTTP`, opts.port, opts.variable));
      await opts.close();
      process.exit(1);
    },
  );
  const address = http.address();
  logger.info(
    { port: typeof address === 'object' && address ? address.port : null },
    `${opts.name} metrics on /metrics`,
  );
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing active jobs');
    http.close();
    opts.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
