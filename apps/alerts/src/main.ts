/**
 * Alerts process entry: parse the configuration once, check Redis durability, start the
 * alerts processors, serve /metrics and /healthz on ALERTS_HTTP_PORT, close cleanly on
 * SIGTERM/SIGINT. Several alerts processes may run: they share the queues (each job goes to
 * one of them) and every step is idempotent (README "Alerts").
 */
import { ConfigError } from '@spms/config';
import { createLogger } from '@spms/log';
import { createRedis, DurabilityRequiredError, serveMetricsUntilSignal, startDurabilityMonitor } from '@spms/queue';
import { startAlerts } from './alerts.js';
import { loadAlertsConfig } from './config.js';
import { createAlertsMetrics } from './metrics.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadAlertsConfig>;
  try {
    config = loadAlertsConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`spms alerts: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ name: 'alerts', level: config.LOG_LEVEL });
  // The alert timers and send jobs are only as durable as Redis: say so (or refuse) first.
  const redis = createRedis(config.REDIS_URL, { maxRetriesPerRequest: null });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const durability = await startDurabilityMonitor({
    redis,
    logger: logger.child({ component: 'durability' }),
    require: config.REQUIRE_DURABLE_REDIS,
  }).catch((err: unknown) => {
    if (!(err instanceof DurabilityRequiredError)) throw err;
    logger.fatal(err.message);
    process.exit(1);
  });
  const metrics = createAlertsMetrics({ durability: () => durability.current() });
  const alerts = await startAlerts(config, { logger });
  await serveMetricsUntilSignal({
    registry: metrics.registry,
    port: config.ALERTS_HTTP_PORT,
    host: config.ALERTS_HTTP_HOST,
    name: 'alerts',
    variable: 'ALERTS_HTTP_PORT',
    logger,
    close: async () => {
      durability.stop();
      await alerts.close();
      await redis.quit();
    },
  });
}

await main();
