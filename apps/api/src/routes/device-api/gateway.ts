/**
 * The HTTP device API's resources: the ingest producer (durable hand-off to the worker),
 * the device authenticator, and the wake-ups for RPC long-polls. Registered inside the
 * device-api scope only; created from the app's config and closed with the app.
 */
import { createDeviceAuthenticator, type DeviceAuthenticator, type DeviceIdentity } from '@spms/device-auth';
import type { Logger } from '@spms/log';
import { createIngestProducer, type IngestProducer } from '@spms/queue';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../core/errors.js';
import { CommandWakeups } from './command-wakeups.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Only inside the /api/v1 device API scope. */
    ingest: IngestProducer;
    /** Only inside the /api/v1 device API scope. */
    deviceAuth: DeviceAuthenticator;
    /** Only inside the /api/v1 device API scope. */
    commandWakeups: CommandWakeups;
  }
}

export const deviceGatewayPlugin = fp(
  async (app: FastifyInstance) => {
    const { REDIS_URL, REDIS_PREFIX, DATABASE_URL, DEVICE_AUTH_CACHE_SECRET, DEVICE_AUTH_CACHE_TTL_SEC } = app.config;
    // The app's logger is pino (buildApp's loggerInstance); FastifyBaseLogger is its narrower type.
    const logger = app.log.child({ component: 'device-api' }) as unknown as Logger;
    const ingest = createIngestProducer({ redisUrl: REDIS_URL, prefix: REDIS_PREFIX, logger });
    const deviceAuth = await createDeviceAuthenticator({
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      prefix: REDIS_PREFIX,
      // Tokens verified by a broker or another API process are answered from Redis too.
      ...(DEVICE_AUTH_CACHE_SECRET
        ? { shared: { secret: DEVICE_AUTH_CACHE_SECRET, ttlMs: DEVICE_AUTH_CACHE_TTL_SEC * 1000 } }
        : {}),
      logger,
    });
    const commandWakeups = new CommandWakeups(REDIS_URL, REDIS_PREFIX, logger);
    app.decorate('ingest', ingest);
    app.decorate('deviceAuth', deviceAuth);
    app.decorate('commandWakeups', commandWakeups);
    app.addHook('onClose', async () => {
      commandWakeups.close();
      await Promise.all([ingest.close(), deviceAuth.close()]);
    });
  },
  { name: 'device-gateway', dependencies: ['resources'] },
);

/** The device behind a URL token, or the ThingsBoard status: 401 unknown, 503 registry down. */
export async function authenticateToken(app: FastifyInstance, token: string): Promise<DeviceIdentity> {
  const result = await app.deviceAuth.authenticateToken(token);
  if (result.ok) return result.device;
  if (result.reason === 'unavailable') throw new AppError('UNAVAILABLE', 'device registry unavailable; retry later');
  throw new AppError('UNAUTHORIZED', 'unknown or revoked access token');
}
