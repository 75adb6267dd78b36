/** Rotate (supply or generate new) and revoke a device's credentials; gateways are told at once. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../error-schema.js';
import type { DeviceRouteOptions } from './index.js';
import { CredentialsBody, Device, DeviceParams, DeviceWithIssued } from './schemas.js';

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
    async (req) => registry.rotateCredentials(req.params.idOrName, req.body),
  );
  app.delete(
    '/:idOrName/credentials',
    { schema: { params: DeviceParams, response: { 200: Device, ...errorResponses } } },
    async (req) => registry.revokeCredentials(req.params.idOrName),
  );
};

export default credentialRoutes;
