/**
 * One API instance per test file on its own PostgreSQL database and Redis prefix
 * (@spms/testing), configured the way most API tests need it. Test-only (excluded from the
 * build).
 */
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { loadApiConfig } from '../config.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface TestApi {
  app: FastifyInstance;
  db: TestDatabase;
  redis: TestRedis;
  close(): Promise<void>;
}

export async function createTestApi(label: string, env: Record<string, string> = {}): Promise<TestApi> {
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  const app = await buildApp(
    loadApiConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'silent',
      SPMS_ADMIN_API_KEY: TEST_ADMIN_KEY,
      ...env,
    }),
  );
  return {
    app,
    db,
    redis,
    async close() {
      await app.close();
      await redis.cleanup();
      await db.drop();
    },
  };
}
