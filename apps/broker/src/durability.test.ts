/**
 * Durability of acknowledgements as the broker reports it: against the shared Redis (no
 * persistence) /readyz and /metrics say "not durable" and REQUIRE_DURABLE_REDIS=true refuses
 * to start; against a private redis-server with AOF on it reports durable.
 */
import { createLogger } from '@spms/log';
import { DurabilityRequiredError } from '@spms/queue';
import { createTestDatabase, createTestRedis, type PrivateRedis, startPrivateRedis } from '@spms/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBrokerConfig } from './config.js';
import { startGateway } from './gateway.js';
import { type Harness, startHarness } from './test-support/harness.js';

const harnesses: Harness[] = [];
let aof: PrivateRedis | undefined;
afterAll(async () => {
  for (const h of harnesses) await h.close();
  await aof?.destroy();
});

/** A private redis-server with AOF on (appendfsync everysec, as the compose file runs). */
async function startAofRedis(): Promise<string> {
  aof = await startPrivateRedis({ appendfsync: 'everysec' });
  return aof.url;
}

const get = (h: Harness, path: string) => fetch(`http://127.0.0.1:${h.gateway.httpPort}${path}`);

describe('broker: Redis durability', () => {
  it('shared Redis without persistence: /readyz and /metrics say acknowledgements are not durable', async () => {
    const h = await startHarness('broker_durability');
    harnesses.push(h);
    const ready = (await (await get(h, '/readyz')).json()) as {
      durability: { durable: boolean; problems: string[]; settings: { appendonly: string } };
    };
    expect(ready.durability.durable).toBe(false);
    expect(ready.durability.settings.appendonly).toBe('no');
    expect(ready.durability.problems.join()).toMatch(/appendonly yes/);
    const metrics = await (await get(h, '/metrics')).text();
    expect(metrics).toMatch(/^spms_redis_durable 0$/m);
    expect(metrics).toMatch(/^spms_redis_persistence_info\{appendonly="no",.*\} 1$/m);
  });

  it('REQUIRE_DURABLE_REDIS=true refuses to start against it, naming the variable and the settings', async () => {
    const db = await createTestDatabase('broker_durability_req');
    const redis = createTestRedis('broker_durability_req');
    const config = loadBrokerConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: '0',
      REQUIRE_DURABLE_REDIS: 'true',
    });
    try {
      const started = startGateway(config, { logger: createLogger({ name: 't', level: 'silent' }) });
      await expect(started).rejects.toBeInstanceOf(DurabilityRequiredError);
      await expect(started).rejects.toThrow(/REQUIRE_DURABLE_REDIS=true[\s\S]*appendonly yes/);
    } finally {
      await redis.cleanup();
      await db.drop();
    }
  });

  it('a private redis-server with AOF on is durable, and REQUIRE_DURABLE_REDIS=true starts', async () => {
    const url = await startAofRedis();
    const h = await startHarness('broker_durability_aof', { REDIS_URL: url, REQUIRE_DURABLE_REDIS: 'true' });
    harnesses.push(h);
    const ready = (await (await get(h, '/readyz')).json()) as { status: string; durability: { durable: boolean } };
    expect(ready).toMatchObject({ status: 'ready', durability: { durable: true } });
    expect(await (await get(h, '/metrics')).text()).toMatch(/^spms_redis_durable 1$/m);
  });
});
