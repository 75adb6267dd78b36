/** Worker process entry: parse the configuration once, start, close cleanly on SIGTERM/SIGINT. */
import { ConfigError } from '@spms/config';
import { createLogger } from '@spms/log';
import { DurabilityRequiredError, serveMetricsUntilSignal } from '@spms/queue';
import { loadWorkerConfig } from './config.js';
import { startWorker } from './worker.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadWorkerConfig>;
  try {
    config = loadWorkerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`spms worker: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const worker = await startWorker(config, { logger }).catch((err: unknown) => {
    if (!(err instanceof DurabilityRequiredError)) throw err;
    logger.fatal(err.message);
    process.exit(1);
  });
  await serveMetricsUntilSignal({
    registry: worker.metrics.registry,
    port: config.WORKER_HTTP_PORT,
    host: config.WORKER_HTTP_HOST,
    name: 'worker',
    variable: 'WORKER_HTTP_PORT',
    logger,
    close: () => worker.close(),
  });
}

await main();
