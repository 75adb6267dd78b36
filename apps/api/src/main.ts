#!/usr/bin/env node
import { ConfigError } from '@spms/config';
import { createLogger } from '@spms/log';
import { DurabilityRequiredError } from '@spms/queue';
import { buildApp } from './app.js';
import { loadApiConfig } from './config.js';
import { serveApiMetrics } from './plugins/metrics.js';
import { startReportScheduler } from './report-schedule/scheduler.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadApiConfig>;
  try {
    config = loadApiConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`spms-api: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ name: 'api', level: config.LOG_LEVEL });
  const app = await buildApp(config, { logger }).catch((err: unknown) => {
    // REQUIRE_DURABLE_REDIS=true against a Redis that keeps nothing: the message says what to change.
    if (!(err instanceof DurabilityRequiredError)) throw err;
    logger.fatal(err.message);
    process.exit(1);
  });
  try {
    await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      logger.fatal(`HTTP port ${config.HTTP_PORT} is already in use: set HTTP_PORT to a free port`);
      process.exit(1);
    }
    throw err;
  }
  const metricsServer = await serveApiMetrics(
    app.metrics.registry,
    config.API_METRICS_PORT,
    config.API_METRICS_HOST,
  ).catch(async (err: NodeJS.ErrnoException) => {
    logger.fatal(
      err.code === 'EADDRINUSE'
        ? `API metrics port ${config.API_METRICS_PORT} is already in use: set API_METRICS_PORT to a free port`
        : `API metrics server failed: ${err.message}`,
    );
    await app.close();
    process.exit(1);
  });
  const reports = config.REPORT_SCHEDULE
    ? startReportScheduler({
        pg: app.pg,
        redis: app.redis,
        prefix: config.REDIS_PREFIX,
        timeZone: config.SPMS_TIME_ZONE,
        intervalMs: config.REPORT_CHECK_INTERVAL_MS,
        logger,
      })
    : undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      metricsServer.close();
      Promise.resolve(reports?.close())
        .then(() => app.close())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    });
  }
}

main().catch((err) => {
  console.error('spms-api failed to start:', err);
  process.exit(1);
});
