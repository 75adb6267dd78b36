import type { FastifyInstance } from 'fastify';

/** Liveness (the process answers) and readiness (PostgreSQL and Redis answer). */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks = await Promise.allSettled([app.pg.query('SELECT 1'), app.redis.ping()]);
    const [pg, redis] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    const ready = pg === 'ok' && redis === 'ok';
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', postgres: pg, redis });
  });
}
