import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../error-schema.js';
import type { DeviceRouteOptions } from './index.js';
import { Device, DeviceList, DeviceParams, ListDevicesQuery } from './schemas.js';

const readRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  app.get(
    '/',
    { schema: { querystring: ListDevicesQuery, response: { 200: DeviceList, ...errorResponses } } },
    async (req) => registry.list(req.query),
  );
  app.get(
    '/:idOrName',
    { schema: { params: DeviceParams, response: { 200: Device, ...errorResponses } } },
    async (req) => registry.get(req.params.idOrName),
  );
};

export default readRoutes;
