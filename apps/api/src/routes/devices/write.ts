import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../error-schema.js';
import type { DeviceRouteOptions } from './route-options.js';
import { CreateDeviceBody, Device, DeviceParams, DeviceWithIssued, UpdateDeviceBody } from './schemas.js';

// Scope: create/move outside it is 403, any other device is 404. Every change is audited in
// its own transaction (issued secrets are redacted by the audit log).
const writeRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  app.post(
    '/',
    { schema: { body: CreateDeviceBody, response: { 201: DeviceWithIssued, ...errorResponses } } },
    async (req, reply) => {
      const after = await registry.create(
        req.body,
        req.principal?.scope ?? null,
        app.auditing(req, (after) => ({ action: 'device.create', entityType: 'device', entityId: after.id, after })),
      );
      return reply.status(201).send(after);
    },
  );
  app.patch(
    '/:idOrName',
    { schema: { params: DeviceParams, body: UpdateDeviceBody, response: { 200: Device, ...errorResponses } } },
    async (req) => {
      const scope = req.principal?.scope ?? null;
      const before = await registry.get(req.params.idOrName, scope);
      const after = await registry.update(
        before.id,
        req.body,
        scope,
        app.auditing(req, (after) => ({
          action: 'device.update',
          entityType: 'device',
          entityId: after.id,
          before,
          after,
        })),
      );
      return after;
    },
  );
  app.delete(
    '/:idOrName',
    { schema: { params: DeviceParams, response: { 200: Device, ...errorResponses } } },
    async (req) => {
      const before = await registry.remove(
        req.params.idOrName,
        req.principal?.scope ?? null,
        app.auditing(req, (before) => ({ action: 'device.delete', entityType: 'device', entityId: before.id, before })),
      );
      return before;
    },
  );
};

export default writeRoutes;
