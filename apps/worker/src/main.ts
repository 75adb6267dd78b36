/** Worker process entry: parse the configuration once, start, close cleanly on SIGTERM/SIGINT. */
import { ConfigError } from '@spms/config';
import { createLogger } from '@spms/log';
import { DurabilityRequiredError } from '@spms/queue';
import { loadWorkerConfig } from './config.js';
import { serveMetrics } from './metrics.js';
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
  const http = await serveMetrics(worker.metrics.registry, config.WORKER_HTTP_PORT, config.WORKER_HTTP_HOST).catch(
    async (err: NodeJS.ErrnoException) => {
      logger.fatal(
        err.code === 'EADDRINUSE'
          ? `worker HTTP port ${config.WORKER_HTTP_PORT} is already in use: set WORKER_HTTP_PORT to a free port`
          : `worker HTTP server failed: ${err.message}`,
      );
      await worker.close();
      process.exit(1);
    },
  );
  const address = http.address();
  logger.info({ port: typeof address === 'object' && address ? address.port : null }, 'worker metrics on /metrics');
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing active jobs');
    http.close();
    worker.close().then(
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

await main();
