/**
 * GET /api/status (the whole fleet in one response) and GET /api/devices/:idOrName/state.
 * Status answers from a short per-scope+filters cache (STATUS_CACHE_MS, default 1 s) holding
 * the serialized JSON; concurrent misses share one database round trip.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../plugins/errors.js';
import { scopeKey } from '../../services/scope.js';
import { loadDeviceDetail, loadFleetStatus, type StatusFilters } from '../../services/status.js';
import { resolveDevice } from '../device-commands/resolve-device.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { DeviceDetail, FleetStatus, IdOrNameParams, StatusQuery } from './schemas.js';

interface Entry {
  expires: number;
  body: Promise<string>;
}

export const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const ttl = app.config.STATUS_CACHE_MS;
  const cache = new Map<string, Entry>();

  app.get(
    '/',
    { schema: { querystring: StatusQuery, response: { 200: FleetStatus, ...errorResponses } } },
    async (req, reply) => {
      const scope = req.principal?.scope ?? null;
      const filters = req.query as StatusFilters;
      const key = `${scopeKey(scope)}|${filters.region ?? ''}|${filters.customer ?? ''}|${filters.state ?? ''}`;
      const now = Date.now();
      let entry = cache.get(key);
      if (!entry || entry.expires <= now) {
        if (cache.size > 1000) cache.clear(); // many distinct filters: bound the memory
        const body = loadFleetStatus(app.pg, scope, filters).then((s) => reply.serialize(s) as string);
        entry = { expires: now + ttl, body };
        if (ttl > 0) cache.set(key, entry);
        body.catch(() => cache.delete(key));
      }
      const json = await entry.body;
      // Already-serialized JSON: Fastify sends a string with this content type as it is.
      return (reply as FastifyReply).type('application/json; charset=utf-8').send(json);
    },
  );
};

export const deviceStateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.get(
    '/:idOrName/state',
    { schema: { params: IdOrNameParams, response: { 200: DeviceDetail, ...errorResponses } } },
    async (req) => {
      const device = await resolveDevice(app.pg, req.params.idOrName);
      const detail = await loadDeviceDetail(app.pg, req.principal?.scope ?? null, device.id);
      if (!detail) throw new AppError('NOT_FOUND', `no device "${req.params.idOrName}"`);
      return detail;
    },
  );
};

/** Registers both under their prefixes (one line in app.ts). */
export default async function statusPlugins(app: FastifyInstance): Promise<void> {
  await app.register(statusRoutes, { prefix: '/api/status' });
  await app.register(deviceStateRoutes, { prefix: '/api/devices' });
}
