/**
 * REQUIRE_DURABLE_REDIS in the worker: refused against the shared Redis (no persistence),
 * started against a private redis-server with AOF on.
 */
import { createLogger } from '@spms/log';
import { DurabilityRequiredError } from '@spms/queue';
import {
  createTestDatabase,
  createTestRedis,
  type PrivateRedis,
  startPrivateRedis,
  type TestDatabase,
  type TestRedis,
} from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from './config.js';
import { startWorker } from './worker.js';

const logger = createLogger({ name: 'worker-durability-test', level: 'silent' });
let db: TestDatabase;
let redis: TestRedis;
let aof: PrivateRedis | undefined;
beforeAll(async () => {
  db = await createTestDatabase('worker_durability');
  redis = createTestRedis('worker_durability');
});
afterAll(async () => {
  await aof?.destroy();
  await redis?.cleanup();
  await db?.drop();
});

const config = (env: Record<string, string>) =>
  loadWorkerConfig({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    REQUIRE_DURABLE_REDIS: 'true',
    ...env,
  });

describe('worker: REQUIRE_DURABLE_REDIS', () => {
  it('refuses to start against a Redis without AOF, naming the variable and the settings', async () => {
    const started = startWorker(config({}), { logger });
    await expect(started).rejects.toBeInstanceOf(DurabilityRequiredError);
    await expect(started).rejects.toThrow(/REQUIRE_DURABLE_REDIS=true[\s\S]*appendonly yes/);
  });

  it('starts against a private redis-server with AOF on', async () => {
    aof = await startPrivateRedis({ appendfsync: 'everysec' });
    const worker = await startWorker(config({ REDIS_URL: aof.url }), { logger });
    await worker.close();
  });
});
