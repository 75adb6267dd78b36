import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../error-schema.js';
import type { DeviceRouteOptions } from './index.js';
import { Device, DeviceList, DeviceParams, ListDevicesQuery } from './schemas.js';

// A scoped caller lists only in-scope devices and gets 404 for any other (as if missing).
const readRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  app.get(
    '/',
    { schema: { querystring: ListDevicesQuery, response: { 200: DeviceList, ...errorResponses } } },
    async (req) => registry.list(req.query, req.principal?.scope ?? null),
  );
  app.get(
    '/:idOrName',
    { schema: { params: DeviceParams, response: { 200: Device, ...errorResponses } } },
    async (req) => registry.get(req.params.idOrName, req.principal?.scope ?? null),
  );
};

export default readRoutes;
