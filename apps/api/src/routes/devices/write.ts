import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../error-schema.js';
import type { DeviceRouteOptions } from './index.js';
import { CreateDeviceBody, Device, DeviceParams, DeviceWithIssued, UpdateDeviceBody } from './schemas.js';

const writeRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  app.post(
    '/',
    { schema: { body: CreateDeviceBody, response: { 201: DeviceWithIssued, ...errorResponses } } },
    async (req, reply) => reply.status(201).send(await registry.create(req.body)),
  );
  app.patch(
    '/:idOrName',
    { schema: { params: DeviceParams, body: UpdateDeviceBody, response: { 200: Device, ...errorResponses } } },
    async (req) => registry.update(req.params.idOrName, req.body),
  );
  app.delete(
    '/:idOrName',
    { schema: { params: DeviceParams, response: { 200: Device, ...errorResponses } } },
    async (req) => registry.remove(req.params.idOrName),
  );
};

export default writeRoutes;
