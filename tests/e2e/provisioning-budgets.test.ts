/**
 * The provisioning budgets are one budget for MQTT (broker) and HTTP (API): a real broker and
 * a real API on one database and Redis, given the same small budgets, and a client
 * provisioning alternately over both from one address. Whatever one transport spends, the
 * other no longer has.
 */
import { createLogger } from '@spms/log';
import { ProvisionRefused, provisionOverHttp, provisionOverMqtt } from '@spms/simulator';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { adminAuth, testEnv } from '../../apps/api/src/routes/users/access-fixtures.js';
import { loadBrokerConfig } from '../../apps/broker/src/config.js';
import { type Gateway, startGateway } from '../../apps/broker/src/gateway.js';

const BUDGETS = { PROVISION_REQUESTS_PER_IP_PER_MIN: '4', PROVISION_CREATES_PER_PROFILE_PER_MIN: '2' };
const KEY = { key: 'shared-budget-key', secret: 'shared-budget-secret-0123' };
let db: TestDatabase;
let redis: TestRedis;
let gateway: Gateway;
let api: FastifyInstance;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase('e2e_provision_budgets');
  redis = createTestRedis('e2e_provision_budgets');
  gateway = await startGateway(
    loadBrokerConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'silent',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: '0',
      ...BUDGETS,
    }),
    { logger: createLogger({ name: 'e2e', level: 'silent', pretty: false }) },
  );
  api = await buildApp(loadApiConfig(testEnv(db, redis, BUDGETS)));
  base = await api.listen({ host: '127.0.0.1', port: 0 });
  const headers = { ...adminAuth, 'content-type': 'application/json' };
  const created = await fetch(`${base}/api/profiles`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'shared' }),
  });
  expect(created.status).toBe(201);
  const set = await fetch(`${base}/api/profiles/shared`, {
    method: 'PATCH',
    headers,
    body: JSON.stringify({ provisioning: { strategy: 'allow_create', key: KEY.key, secret: KEY.secret } }),
  });
  expect(set.status).toBe(200);
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await redis?.cleanup();
  await db?.drop();
});

const mqtt = (deviceName: string) =>
  provisionOverMqtt({ host: '127.0.0.1', port: gateway.mqttPort }, { deviceName, ...KEY }).then(
    () => 'SUCCESS',
    (err: unknown) => (err instanceof ProvisionRefused ? err.errorMsg : String(err)),
  );
const http = async (deviceName: string) => {
  const res = await fetch(`${base}/api/v1/provision`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ deviceName, provisionDeviceKey: KEY.key, provisionDeviceSecret: KEY.secret }),
  });
  return { status: res.status, body: await res.json() };
};

describe('provisioning budgets across MQTT and HTTP', () => {
  it('devices created and requests per address are counted once for both transports', async () => {
    // The simulator's HTTP client, for a SUCCESS: the same endpoint as `http` below.
    expect((await provisionOverHttp(base, { deviceName: 'SHARED_1', ...KEY })).token).toBeTruthy();
    expect(await mqtt('SHARED_2')).toBe('SUCCESS');
    // The profile's 2 creations are spent (one each): HTTP's 3rd request is refused...
    expect(await http('SHARED_3')).toMatchObject({
      status: 429,
      body: { status: 'FAILURE', errorMsg: expect.stringMatching(/^too many devices created in this profile/) },
    });
    // ...and so is MQTT's 4th, still within the address's 4 requests.
    expect(await mqtt('SHARED_4')).toBe('too many devices created in this profile; retry later');
    // The address's 4 requests are spent across both: the 5th, either way, is refused for that.
    expect(await mqtt('SHARED_5')).toBe('too many provisioning requests from this address; retry later');
    expect(await http('SHARED_6')).toMatchObject({
      status: 429,
      body: { errorMsg: expect.stringMatching(/^too many provisioning requests from this address/) },
    });
    const { rows } = await api.pg.query(`SELECT name FROM devices WHERE name LIKE 'SHARED_%' ORDER BY name`);
    expect(rows.map((r) => r.name)).toEqual(['SHARED_1', 'SHARED_2']);
  });
});
