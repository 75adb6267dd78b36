/**
 * Test support (no test framework imports): the read-side routes on a Fastify instance whose
 * `authenticate` takes the principal's scope from an `x-test-scope` header (JSON), so tests
 * can act as a region-scoped user without the access-control tables. Never used by app.ts.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ApiConfig } from '../config.js';
import type { Scope } from '../core/principal.js';
import { errorsPlugin } from '../plugins/errors.js';
import { resourcesPlugin } from '../plugins/resources.js';
import readSideRoutes from '../routes/status/read-side.js';
import type { StreamOptions } from '../routes/stream/index.js';

export async function buildReadSideTestApp(config: ApiConfig, opts: StreamOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } } });
  await app.register(errorsPlugin);
  await app.register(resourcesPlugin, { config });
  app.decorateRequest('principal', undefined);
  app.decorate('authenticate', async (req: FastifyRequest) => {
    const raw = req.headers['x-test-scope'];
    const scope = typeof raw === 'string' ? (JSON.parse(raw) as Scope | null) : null;
    req.principal = { kind: 'api-key', id: 'test', role: 'viewer', scope };
  });
  await app.register(readSideRoutes, opts);
  return app;
}
