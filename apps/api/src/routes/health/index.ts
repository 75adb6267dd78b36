import { readTbBridgeStatus, startDurabilityMonitor } from '@spms/queue';
import type { FastifyInstance } from 'fastify';
import { requireRole } from '../../plugins/auth.js';
import { readEmailSenders } from './email-senders.js';
import { readSmsSenders } from './sms-senders.js';

/**
 * Liveness (the process answers), readiness (PostgreSQL and Redis answer) and whether an
 * HTTP 200 of the device API is durable (Redis persistence), also as GET /api/system for
 * the dashboard's banners, with the SMS provider the alert processes use (sms-senders.ts)
 * and the state of the cut-over bridge to ThingsBoard (packages/queue tb-bridge.ts).
 * REQUIRE_DURABLE_REDIS=true refuses to start when it is not durable.
 */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  const durability = await startDurabilityMonitor({
    redis: app.redis,
    logger: app.log.child({ component: 'durability' }),
    require: app.config.REQUIRE_DURABLE_REDIS,
  });
  app.addHook('onClose', async () => durability.stop());
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks = await Promise.allSettled([app.pg.query('SELECT 1'), app.redis.ping()]);
    const [pg, redis] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    const ready = pg === 'ok' && redis === 'ok';
    return reply
      .status(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not ready', postgres: pg, redis, durability: durability.current() });
  });
  await app.register(async (system) => {
    system.addHook('onRequest', system.authenticate);
    system.addHook('preHandler', async (req) => requireRole(req, 'operator'));
    system.get('/api/system', async (req) => {
      const d = durability.current();
      const bridge = await readTbBridgeStatus(app.redis, app.config.REDIS_PREFIX);
      // The bridge's last error names a device: not shown to a caller limited to a scope.
      if (req.principal?.scope && bridge.leader) bridge.leader.lastError = bridge.leader.lastError && 'hidden';
      return {
        sms: await readSmsSenders(app.redis, app.config.REDIS_PREFIX),
        email: await readEmailSenders(app.redis, app.config.REDIS_PREFIX),
        // The cut-over bridge to ThingsBoard (workers with TB_BRIDGE_URL): backlog, drops, leader.
        thingsboardBridge: bridge,
        durability: {
          durable: d.durable,
          problems: d.problems,
          notes: d.notes,
          settings: d.settings,
          source: d.source,
          checkedAt: d.checkedAt,
        },
      };
    });
  });
}
