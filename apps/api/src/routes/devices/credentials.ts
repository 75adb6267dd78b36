/** Rotate (supply or generate new) and revoke a device's credentials; gateways are told at once. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../error-schema.js';
import type { DeviceRouteOptions } from './route-options.js';
import { CredentialsBody, Device, DeviceParams, DeviceWithIssued } from './schemas.js';

// Audited with the device's non-secret credentials description only (type, client id,
// username, hasPassword); issued secrets are redacted by the audit log.
const credentialRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  app.post(
    '/:idOrName/credentials',
    {
      schema: {
        params: DeviceParams,
        body: CredentialsBody,
        response: { 200: DeviceWithIssued, ...errorResponses },
      },
    },
    async (req) => {
      const scope = req.principal?.scope ?? null;
      const before = await registry.get(req.params.idOrName, scope);
      const after = await registry.rotateCredentials(
        before.id,
        req.body,
        scope,
        app.auditing(req, (after) => ({
          action: 'device.credentials.rotate',
          entityType: 'device',
          entityId: after.id,
          before: { credentials: before.credentials },
          after: { credentials: after.credentials },
        })),
      );
      return after;
    },
  );
  app.delete(
    '/:idOrName/credentials',
    { schema: { params: DeviceParams, response: { 200: Device, ...errorResponses } } },
    async (req) => {
      const scope = req.principal?.scope ?? null;
      const before = await registry.get(req.params.idOrName, scope);
      const after = await registry.revokeCredentials(
        before.id,
        scope,
        app.auditing(req, (after) => ({
          action: 'device.credentials.revoke',
          entityType: 'device',
          entityId: after.id,
          before: { credentials: before.credentials },
          after: { credentials: after.credentials },
        })),
      );
      return after;
    },
  );
};

export default credentialRoutes;
