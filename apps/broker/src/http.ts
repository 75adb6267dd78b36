/**
 * The broker process's own HTTP endpoints: liveness, readiness and Prometheus metrics.
 * Readiness means the broker can accept data: the ingest queue (Redis) takes writes and
 * PostgreSQL (credentials, attributes) answers.
 */
import type { Pool } from '@spms/db';
import type { DurabilityReport, IngestProducer } from '@spms/queue';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { GatewayMetrics } from './metrics.js';

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}

export async function startHttp(opts: {
  port: number;
  host: string;
  metrics: GatewayMetrics;
  producer: IngestProducer;
  pool: Pool;
  redis: Redis;
  /** Reported, not a readiness condition: REQUIRE_DURABLE_REDIS refuses at start-up instead. */
  durability?: () => DurabilityReport;
}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, 'ok' | 'down'> = { queue: 'down', redis: 'down', postgres: 'down' };
    checks.queue = opts.producer.isHealthy() ? 'ok' : 'down';
    await Promise.all([
      withTimeout(opts.redis.ping(), 1000).then(
        () => (checks.redis = 'ok'),
        () => undefined,
      ),
      withTimeout(opts.pool.query('SELECT 1'), 1000).then(
        () => (checks.postgres = 'ok'),
        () => undefined,
      ),
    ]);
    const ready = Object.values(checks).every((v) => v === 'ok');
    const durability = opts.durability?.();
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', checks, ...(durability ? { durability } : {}) });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.registry.metrics();
    return reply.type(opts.metrics.registry.contentType).send(body);
  });
  try {
    await app.listen({ port: opts.port, host: opts.host });
  } catch (err) {
    await app.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new Error(`broker HTTP port ${opts.port} is already in use: set BROKER_HTTP_PORT to a free port`);
    throw err;
  }
  return app;
}
