/**
 * The OpenAPI 3 document (/docs/json) and interactive docs (/docs), generated from the
 * routes' TypeBox schemas. Must be registered before the routes: @fastify/swagger collects
 * them in an onRoute hook. Operator routes are tagged by their first path segment; the
 * ThingsBoard device API (token in the URL) and health checks declare no bearer security.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

// Device API (token in the URL), sign-in, Twilio's signed receipts, and everything outside
// /api (health checks, the dashboard's files) take no bearer.
const UNAUTHENTICATED = [/^\/api\/v1\//, /^\/api\/auth\/login$/, /^\/api\/sms\/status/, /^\/(?!api\/)/];

function tagFor(url: string): string {
  if (url.startsWith('/api/v1/')) return 'device API (ThingsBoard-compatible)';
  const m = /^\/api\/([^/]+)/.exec(url);
  return m?.[1] ?? 'service';
}

export const openapiPlugin = fp(
  async (app: FastifyInstance, opts: { version?: string } = {}) => {
    await app.register(swagger, {
      openapi: {
        // 3.1: the request schemas use JSON-Schema type arrays (`["string", "null"]`).
        openapi: '3.1.0',
        info: {
          title: 'SPMS operator API',
          description:
            'Operator API of SPMS (device registry, status, outages, reports, users) and the ThingsBoard-compatible HTTP device API. ' +
            'Authenticate with `Authorization: Bearer <token>`: a session token from POST /api/auth/login, an API key, or SPMS_ADMIN_API_KEY.',
          version: opts.version ?? '0.1.0',
        },
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              description: 'session token (spms_s_…), API key (spms_k_…) or the SPMS_ADMIN_API_KEY',
            },
          },
        },
        security: [{ bearerAuth: [] }],
      },
      transform: ({ schema, url }) => {
        const s = { ...(schema ?? {}) } as Record<string, unknown>;
        if (!s.tags) s.tags = [tagFor(url)];
        if (UNAUTHENTICATED.some((re) => re.test(url))) s.security = [];
        return { schema: s as typeof schema, url };
      },
    });
    // No `staticCSP`: the API's policy (plugins/security-headers.ts) covers these pages too;
    // swagger-ui's own added upgrade-insecure-requests, which breaks /docs over plain HTTP.
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'openapi' },
);
