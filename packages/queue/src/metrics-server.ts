/**
 * `/metrics` on a plain HTTP server of its own (the worker's and the API's metrics ports),
 * never on a public port: Prometheus scrapes it inside the deployment's network.
 */
import { createServer, type Server } from 'node:http';
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
