/** Operator API for the device registry: /api/devices (Bearer API key; writes need role operator). */
import { announceCredentialsChange } from '@spms/device-auth';
import { pushFirmwareAttributes } from '@spms/firmware';
import type { FastifyInstance } from 'fastify';
import { requireRole } from '../../plugins/auth.js';
import { formatSchemaErrors } from '../error-schema.js';
import claimRoutes from './claim.js';
import credentialRoutes from './credentials.js';
import { DeviceRegistry } from './device-registry.js';
import historyRoutes from './history-routes.js';
import importRoute from './import.js';
import readRoutes from './read.js';
import writeRoutes from './write.js';

export default async function deviceRoutes(app: FastifyInstance): Promise<void> {
  const registry = new DeviceRegistry({
    prisma: app.prisma,
    // Gateways subscribe and close the device's live session. The database change is
    // already committed, so a Redis failure is logged rather than failing the request.
    // The shared verified-credential cache is bumped first, so the old credentials stop
    // authenticating from it before this request is answered (gateways bump it too).
    onCredentialsChanged: (deviceId) =>
      announceCredentialsChange(app.redis, app.config.REDIS_PREFIX, deviceId, app.log),
    // Stored already: a device that misses the push reads its fw_* attributes when it connects.
    onFirmwareTargets: async (changes) => {
      const sent = await pushFirmwareAttributes(app.redis, app.config.REDIS_PREFIX, changes, {
        wakeup: app.config.PUBSUB_WAKEUPS,
      });
      if (sent.failed) app.log.error({ failed: sent.failed }, 'could not push firmware attributes');
    },
  });
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'operator');
  });
  await app.register(readRoutes, { registry });
  await app.register(writeRoutes, { registry });
  await app.register(credentialRoutes, { registry });
  await app.register(claimRoutes, { registry });
  await app.register(importRoute);
  await app.register(historyRoutes, { registry });
}
