/**
 * The API's OpenAPI document (what GET /docs/json serves) without any running service: the
 * dashboard generates its API types from it (apps/web: `npm run openapi`, run by its build).
 *
 * The document is collected from the route schemas while the routes register. Prisma and the
 * pg pools connect on their first query (none opened ahead: API_DB_POOL_MIN 0), and none is made; Redis is pointed at a closed port
 * and its failed start-up is only logged (no logger here). Nothing listens.
 */
import { buildApp } from './app.js';
import { loadApiConfig } from './config.js';

export async function openapiDocument(): Promise<Record<string, unknown>> {
  const config = loadApiConfig({
    DATABASE_URL: 'postgresql://openapi@127.0.0.1:1/none',
    REDIS_URL: 'redis://127.0.0.1:1',
    API_DOCS: 'true',
    REPORT_SCHEDULE: 'false',
    PUBSUB_WAKEUPS: 'false',
    API_DB_POOL_MIN: '0',
  });
  const app = await buildApp(config);
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
