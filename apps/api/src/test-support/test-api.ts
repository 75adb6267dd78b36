/**
 * One API instance per test file on its own PostgreSQL database and Redis prefix
 * (@spms/testing), configured the way most API tests need it. Test-only (excluded from the
 * build).
 */
import { randomUUID } from 'node:crypto';
import { credentialsKey } from '@spms/credentials';
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

/**
 * A device with an access token (HTTP device API, profile SPMS-HTTP), written straight into
 * the registry tables; returns its id.
 */
export async function insertTokenDevice(app: FastifyInstance, name: string, token: string): Promise<string> {
  const id = randomUUID();
  await app.pg.query(
    `INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, '00000000-0000-4000-8000-000000000002', now())`,
    [id, name],
  );
  await app.pg.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at) VALUES ($1, 'ACCESS_TOKEN', $2, now())`,
    [id, credentialsKey({ type: 'ACCESS_TOKEN', token })],
  );
  return id;
}
