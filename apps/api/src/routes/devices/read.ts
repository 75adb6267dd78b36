import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../error-schema.js';
import { credentialsForRole } from './credentials-request.js';
import type { DeviceRouteOptions } from './route-options.js';
import { Device, DeviceList, DeviceParams, ListDevicesQuery } from './schemas.js';

// A scoped caller lists only in-scope devices and gets 404 for any other (as if missing).
// Viewers see the credential type and whether one exists, not client ids / usernames.
const readRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  app.get(
    '/',
    { schema: { querystring: ListDevicesQuery, response: { 200: DeviceList, ...errorResponses } } },
    async (req) => {
      const list = await registry.list(req.query, req.principal?.scope ?? null);
      return { ...list, items: list.items.map((d) => credentialsForRole(d, req.principal?.role)) };
    },
  );
  app.get(
    '/:idOrName',
    { schema: { params: DeviceParams, response: { 200: Device, ...errorResponses } } },
    async (req) =>
      credentialsForRole(await registry.get(req.params.idOrName, req.principal?.scope ?? null), req.principal?.role),
  );
};

export default readRoutes;
