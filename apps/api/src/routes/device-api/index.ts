/**
 * ThingsBoard's HTTP device API under /api/v1/<token>/... — the token in the URL
 * authenticates (no operator API key). Devices send whatever content type their firmware
 * sends and payloads may be lenient JSON, so this scope reads every body as a raw Buffer
 * (limit MAX_PAYLOAD_BYTES → 413) and parses it itself.
 */

import type { Logger } from '@spms/log';
import type { FastifyInstance } from 'fastify';
import { attributeRoutes } from './attribute-routes.js';
import { firmwareRoutes } from './firmware-routes.js';
import { deviceGatewayPlugin } from './gateway.js';
import { ingestRoutes } from './ingest-routes.js';
import { provisionRoutes } from './provision-routes.js';
import { rpcRoutes } from './rpc-routes.js';
import { createDeviceThrottle } from './throttle.js';

export default async function deviceApiRoutes(app: FastifyInstance): Promise<void> {
  await app.register(deviceGatewayPlugin);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: app.config.MAX_PAYLOAD_BYTES }, (_req, body, done) =>
    done(null, body),
  );
  // The token in these URLs is kept out of request logs by plugins/log-redaction.ts (app-wide).
  // Per-device rate and per-IP unknown-token limits (429 + Retry-After), before any body is read.
  app.addHook('onRequest', createDeviceThrottle(app, app.log.child({ component: 'device-api' }) as unknown as Logger));
  await app.register(ingestRoutes);
  await app.register(attributeRoutes);
  await app.register(rpcRoutes);
  await app.register(provisionRoutes);
  // Firmware images in chunks (ThingsBoard's HTTP OTA), for the device's target only.
  await app.register(firmwareRoutes);
}
