/**
 * GET /api/status (the whole fleet in one response) and GET /api/devices/:idOrName/state.
 * Status answers from a short per-scope+filters cache (STATUS_CACHE_MS, default 1 s) holding
 * the serialized JSON; concurrent misses share one database round trip.
 */
import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { metricsOf } from '../../plugins/metrics.js';
import { resolveDevice } from '../device-commands/resolve-device.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { compactStatusRoutes } from './compact.js';
import { DeviceDetail, FleetStatus, IdOrNameParams, StatusQuery } from './schemas.js';
import { loadDeviceDetail, loadFleetStatus, type StatusFilters, statusCacheKey } from './status.js';

interface Entry {
  at: number;
  json: string;
  /** gzip of json, made once per entry for the first client that accepts it. */
  gzip?: Promise<Buffer>;
}

const gzipAsync = promisify(gzip);
/** An expired entry is still served while its refresh runs, if younger than this. */
const MAX_STALE_MS = 10_000;

export const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const ttl = app.config.STATUS_CACHE_MS;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Entry>>();

  /** One database round trip per key at a time, however many clients ask. */
  function refresh(key: string, scope: Scope | null, filters: StatusFilters): Promise<Entry> {
    let p = inflight.get(key);
    if (!p) {
      p = loadFleetStatus(app.pgRead, scope, filters)
        .then((s) => {
          // JSON.stringify, not the route's schema serializer: with 80,000 line objects its
          // anyOf branches (nullable fields) are decided by validation per value, ~10× slower.
          // The shape is FleetStatus by construction (routes/status/status.ts types).
          const entry: Entry = { at: Date.now(), json: JSON.stringify(s) };
          if (ttl > 0) {
            if (cache.size > 1000) cache.clear(); // many distinct filters: bound the memory
            cache.set(key, entry);
          }
          return entry;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  }

  app.get(
    '/',
    { schema: { querystring: StatusQuery, response: { 200: FleetStatus, ...errorResponses } } },
    async (req, reply) => {
      const scope = req.principal?.scope ?? null;
      const filters = req.query as StatusFilters;
      const key = statusCacheKey(scope, filters);
      const age = (e: Entry | undefined) => (e ? Date.now() - e.at : Number.POSITIVE_INFINITY);
      let entry = cache.get(key);
      let result = 'hit';
      if (age(entry) >= ttl) {
        if (entry && age(entry) < ttl + MAX_STALE_MS) {
          // Stale-while-revalidate: clients never queue behind the rebuild of a cached answer.
          result = 'stale';
          refresh(key, scope, filters).catch((err: Error) => req.log.error({ err }, 'status refresh failed'));
        } else {
          result = 'miss';
          entry = await refresh(key, scope, filters);
        }
      }
      metricsOf(app).cache.inc({ cache: 'status', result });
      const e = entry as Entry;
      const r = (reply as FastifyReply).type('application/json; charset=utf-8').header('vary', 'accept-encoding');
      // The whole fleet is ~1 KB per device: compressed once per cache entry, not per request.
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
        e.gzip ??= gzipAsync(e.json, { level: constants.Z_BEST_SPEED });
        return r.header('content-encoding', 'gzip').send(await e.gzip);
      }
      // Already-serialized JSON: Fastify sends a string with this content type as it is.
      return r.send(e.json);
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
  await app.register(compactStatusRoutes, { prefix: '/api/status/compact' });
  await app.register(deviceStateRoutes, { prefix: '/api/devices' });
}
