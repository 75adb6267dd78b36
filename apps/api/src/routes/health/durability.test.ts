/**
 * Durability of the device API's HTTP 200 as the API reports it: /readyz and GET /api/system
 * (the dashboard's banner) against the shared Redis (no persistence) and a private
 * redis-server with AOF on; REQUIRE_DURABLE_REDIS=true refuses to start against the former.
 */
import { createLogger } from '@spms/log';
import { DurabilityRequiredError } from '@spms/queue';
import { createTestDatabase, createTestRedis, type PrivateRedis, startPrivateRedis } from '@spms/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const apis: TestApi[] = [];
let aof: PrivateRedis | undefined;
afterAll(async () => {
  for (const a of apis) await a.close();
  await aof?.destroy();
});
const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };

/** A private redis-server with AOF on (appendfsync everysec, as the compose file runs). */
async function startAofRedis(): Promise<string> {
  aof = await startPrivateRedis({ appendfsync: 'everysec' });
  return aof.url;
}

describe('API: Redis durability', () => {
  it('shared Redis without persistence: /readyz and GET /api/system say not durable and why', async () => {
    const t = await createTestApi('api_durability');
    apis.push(t);
    const ready = await t.app.inject('/readyz');
    expect(ready.json()).toMatchObject({ status: 'ready', durability: { durable: false } });
    expect((await t.app.inject('/api/system')).statusCode).toBe(401);
    const sys = await t.app.inject({ url: '/api/system', headers: auth });
    expect(sys.statusCode).toBe(200);
    expect(sys.json().durability).toMatchObject({ durable: false, settings: { appendonly: 'no' } });
    expect(sys.json().durability.problems.join()).toMatch(/appendonly yes/);
  });

  it('REQUIRE_DURABLE_REDIS=true refuses to start against it', async () => {
    const db = await createTestDatabase('api_durability_req');
    const redis = createTestRedis('api_durability_req');
    try {
      const config = loadApiConfig({
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: redis.prefix,
        REQUIRE_DURABLE_REDIS: 'true',
      });
      const built = buildApp(config, { logger: createLogger({ name: 't', level: 'silent' }) });
      await expect(built).rejects.toBeInstanceOf(DurabilityRequiredError);
      await expect(built).rejects.toThrow(/REQUIRE_DURABLE_REDIS=true[\s\S]*appendonly yes/);
    } finally {
      await redis.cleanup();
      await db.drop();
    }
  });

  it('a private redis-server with AOF on is durable, and REQUIRE_DURABLE_REDIS=true starts', async () => {
    const url = await startAofRedis();
    const t = await createTestApi('api_durability_aof', { REDIS_URL: url, REQUIRE_DURABLE_REDIS: 'true' });
    apis.push(t);
    const sys = await t.app.inject({ url: '/api/system', headers: auth });
    expect(sys.json().durability).toMatchObject({ durable: true, settings: { appendonly: 'yes' } });
  });
});
