/**
 * The real API on a free port with its own database and Redis prefix, for driving the CLI
 * in-process as a user would (over HTTP with an API key).
 */
import { createTestDatabase, createTestRedis, freePort } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../api/src/app.js';
import { loadApiConfig } from '../../../api/src/config.js';

export interface ListeningApi {
  app: FastifyInstance;
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

/** `name` names the test database and Redis prefix; `env` adds API settings (all strings). */
export async function startListeningApi(
  name: string,
  adminKey: string,
  env: Record<string, string> = {},
): Promise<ListeningApi> {
  const db = await createTestDatabase(name);
  const redis = createTestRedis(name);
  const app = await buildApp(
    loadApiConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'silent',
      SPMS_ADMIN_API_KEY: adminKey,
      ...env,
    }),
  );
  const port = await freePort();
  await app.listen({ port, host: '127.0.0.1' });
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await app.close();
      await redis.cleanup();
      await db.drop();
    },
  };
}
