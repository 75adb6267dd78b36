#!/usr/bin/env node
/** The MQTT device gateway process: parse the configuration once, start, stop on signals. */
import { ConfigError } from '@spms/config';
import { createLogger } from '@spms/log';
import { DurabilityRequiredError } from '@spms/queue';
import { loadBrokerConfig } from './config.js';
import { startGateway } from './gateway.js';
import { PortInUseError } from './listeners.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadBrokerConfig>;
  try {
    config = loadBrokerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`spms-broker: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ name: 'broker', level: config.LOG_LEVEL });
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config, { logger });
  } catch (err) {
    // A taken port is a configuration problem: the message says what to change, no stack.
    if (err instanceof PortInUseError || err instanceof DurabilityRequiredError) logger.fatal(err.message);
    else logger.fatal({ err }, (err as Error).message);
    process.exit(1);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      gateway.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

main().catch((err) => {
  console.error('spms-broker failed to start:', err);
  process.exit(1);
});
