/**
 * Persistent RPC end to end (docs/rpc.md): two real broker processes' gateways and a real API
 * (its sweeper every 200 ms) on one test database and Redis prefix; devices over MQTT and
 * over the HTTP device API.
 * - queued for an offline device, delivered by the OTHER broker when the device reconnects
 *   there, answered → SUCCESSFUL with the answer in the device's history;
 * - unanswered → each attempt times out and is sent again, `retries` times, then TIMEOUT;
 * - expired while the device is offline → EXPIRED and never delivered;
 * - Redis emptied while QUEUED → still delivered (the database is the truth);
 * - cancelled while QUEUED → never delivered; viewers cannot cancel;
 * - another device's answer changes nothing;
 * - oneway → DELIVERED on the PUBACK, final;
 * - an HTTP device's long-poll gets it, and its answer is recorded.
 * "Never delivered" is shown by order: a later RPC arrives while the earlier one did not.
 */
import { randomUUID } from 'node:crypto';
import { credentialsKey } from '@spms/credentials';
import { createLogger } from '@spms/log';
import { deviceCommandsKey, rpcPendingDevicesKey } from '@spms/queue';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { adminAuth, bearer, createKey, testEnv } from '../../apps/api/src/routes/users/access-fixtures.js';
import { loadBrokerConfig } from '../../apps/broker/src/config.js';
import { type Gateway, startGateway } from '../../apps/broker/src/gateway.js';

const logger = createLogger({ name: 'e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const PROFILE = '00000000-0000-4000-8000-000000000001';
const REQUEST = 'v1/devices/me/rpc/request/';
let db: TestDatabase;
let redis: TestRedis;
let sql: pg.Client;
let brokers: Gateway[] = [];
let api: FastifyInstance;
let base: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase('e2e_prpc');
  redis = createTestRedis('e2e_prpc');
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const common = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' };
  const brokerConfig = () =>
    loadBrokerConfig({
      ...common,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: '0',
    });
  brokers = [await startGateway(brokerConfig(), { logger }), await startGateway(brokerConfig(), { logger })];
  api = await buildApp(loadApiConfig(testEnv(db, redis, { RPC_SWEEP_MS: '200' })));
  base = await api.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await api?.close();
  for (const b of brokers) await b.close();
  await sql?.end();
  await redis?.cleanup();
  await db?.drop();
});

async function addDevice(): Promise<{ id: string; name: string; token: string }> {
  const id = randomUUID();
  const name = `prpc-${id.slice(0, 8)}`;
  const token = `prpc-token-${randomUUID()}`;
  await sql.query('INSERT INTO devices (id, name, profile_id, region, updated_at) VALUES ($1, $2, $3, $4, now())', [
    id,
    name,
    PROFILE,
    'North',
  ]);
  await sql.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at) VALUES ($1, 'ACCESS_TOKEN', $2, now())`,
    [id, credentialsKey({ type: 'ACCESS_TOKEN', token })],
  );
  return { id, name, token };
}

interface Received {
  requestId: number;
  body: { method: string; params: unknown };
}

/** Connects to broker `i` with the device's token and subscribes to server-side RPC. */
async function device(
  i: number,
  token: string,
  opts: { answer?: (r: Received) => unknown; qos?: 0 | 1 } = {},
): Promise<{ client: MqttClient; got: Received[] }> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port: brokers[i]?.mqttPort,
    protocolVersion: 4,
    reconnectPeriod: 0,
    username: token,
    clientId: `prpc-${randomUUID().slice(0, 8)}`,
  });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const got: Received[] = [];
  client.on('message', (topic, payload) => {
    if (!topic.startsWith(REQUEST)) return;
    const r = { requestId: Number(topic.slice(REQUEST.length)), body: JSON.parse(payload.toString()) };
    got.push(r);
    const answer = opts.answer?.(r);
    if (answer !== undefined) client.publish(`v1/devices/me/rpc/response/${r.requestId}`, JSON.stringify(answer));
  });
  await client.subscribeAsync(`${REQUEST}+`, { qos: opts.qos ?? 1 });
  return { client, got };
}

async function call(method: string, url: string, payload?: unknown, headers: Record<string, string> = adminAuth) {
  const res = await api.inject({ method: method as 'GET', url, headers, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : undefined };
}

const send = (dev: string, body: Record<string, unknown>) =>
  call('POST', `/api/devices/${dev}/rpc`, { persistent: true, ...body });
const state = async (rpcId: string) => (await call('GET', `/api/rpc/${rpcId}`)).body;

describe('persistent RPC', () => {
  it('is queued for an offline device, delivered by the other broker, and its answer is kept in the history', async () => {
    const dev = await addDevice();
    // Connected once to broker #1, then gone.
    const first = await device(0, dev.token);
    await first.client.endAsync();
    const sent = await send(dev.name, { method: 'setInterval', params: { s: 30 }, additionalInfo: { why: 'test' } });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ status: 'QUEUED' });
    expect(sent.body.requestId).toBeGreaterThanOrEqual(1_000_000_000);
    expect(await state(sent.body.rpcId)).toMatchObject({ status: 'QUEUED', attempts: 0, deviceName: dev.name });

    const second = await device(1, dev.token, { answer: (r) => ({ ok: true, method: r.body.method }) });
    await expect
      .poll(() => second.got)
      .toEqual([{ requestId: sent.body.requestId, body: { method: 'setInterval', params: { s: 30 } } }]);
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('SUCCESSFUL');
    const history = await call('GET', `/api/devices/${dev.name}/rpc`);
    expect(history.body.items).toHaveLength(1);
    expect(history.body.items[0]).toMatchObject({
      id: sent.body.rpcId,
      status: 'SUCCESSFUL',
      response: { ok: true, method: 'setInterval' },
      attempts: 1,
      additionalInfo: { why: 'test' },
    });
    expect((await call('GET', `/api/devices/${dev.name}/rpc?status=QUEUED`)).body.items).toEqual([]);
  });

  it('sends an unanswered RPC again after each timeout, `retries` times, then ends TIMEOUT', async () => {
    const dev = await addDevice();
    const d = await device(0, dev.token);
    const sent = await send(dev.id, { method: 'silent', timeoutMs: 300, retries: 2 });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('TIMEOUT');
    const final = await state(sent.body.rpcId);
    expect(final).toMatchObject({ attempts: 3, retries: 2 });
    expect(final.error).toMatch(/no answer within 300 ms \(attempt 3 of 3\)/);
    expect(d.got.map((g) => g.requestId)).toEqual([sent.body.requestId, sent.body.requestId, sent.body.requestId]);
  });

  it('expires while the device is offline and is never delivered afterwards', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'tooLate', expirationTime: Date.now() + 500 });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('EXPIRED');
    const d = await device(1, dev.token, { answer: () => 'ok' });
    const later = await send(dev.name, { method: 'inTime' });
    await expect.poll(async () => (await state(later.body.rpcId)).status).toBe('SUCCESSFUL');
    expect(d.got.map((g) => g.body.method)).toEqual(['inTime']);
    expect((await state(sent.body.rpcId)).status).toBe('EXPIRED');
  });

  it('is cancelled while queued (operators only) and then never delivered', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'cancelMe' });
    const viewer = await createKey(api, { name: 'prpc viewer', role: 'viewer' });
    expect((await call('DELETE', `/api/rpc/${sent.body.rpcId}`, undefined, bearer(viewer.key))).status).toBe(403);
    expect((await call('GET', `/api/rpc/${sent.body.rpcId}`, undefined, bearer(viewer.key))).status).toBe(200);
    const cancelled = await call('DELETE', `/api/rpc/${sent.body.rpcId}`);
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'CANCELLED' } });
    expect((await call('DELETE', `/api/rpc/${sent.body.rpcId}`)).status).toBe(409);
    const audit = await sql.query(`SELECT 1 FROM audit_log WHERE action = 'device.rpc.cancel' AND entity_id = $1`, [
      dev.id,
    ]);
    expect(audit.rowCount).toBe(1);
    const d = await device(0, dev.token, { answer: () => 'ok' });
    const later = await send(dev.name, { method: 'afterCancel' });
    await expect.poll(async () => (await state(later.body.rpcId)).status).toBe('SUCCESSFUL');
    expect(d.got.map((g) => g.body.method)).toEqual(['afterCancel']);
  });

  it("records only the addressed device's answer", async () => {
    const dev = await addDevice();
    const other = await addDevice();
    const d = await device(0, dev.token);
    const intruder = await device(1, other.token);
    const sent = await send(dev.name, { method: 'mine', timeoutMs: 60_000 });
    await expect.poll(() => d.got.length).toBe(1);
    await intruder.client.publishAsync(`v1/devices/me/rpc/response/${sent.body.requestId}`, '{"forged":true}', {
      qos: 1,
    });
    // Acknowledged (QoS 1) after it was handled: the row did not change.
    expect((await state(sent.body.rpcId)).status).not.toBe('SUCCESSFUL');
    await d.client.publishAsync(`v1/devices/me/rpc/response/${sent.body.requestId}`, '{"real":true}', { qos: 1 });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('SUCCESSFUL');
    expect((await state(sent.body.rpcId)).response).toEqual({ real: true });
    // A second answer changes nothing either.
    await d.client.publishAsync(`v1/devices/me/rpc/response/${sent.body.requestId}`, '{"again":true}', { qos: 1 });
    expect((await state(sent.body.rpcId)).response).toEqual({ real: true });
  });

  it('ends a oneway RPC DELIVERED on the PUBACK', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'reboot', oneway: true, timeoutMs: 300 });
    const d = await device(1, dev.token);
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('DELIVERED');
    const delivered = await state(sent.body.rpcId);
    expect(delivered.completedAt).not.toBeNull();
    expect(delivered.deliveredAt).not.toBeNull();
    expect(d.got.map((g) => g.body.method)).toEqual(['reboot']);
    // Final: a later RPC goes through while this one stays DELIVERED, sent once.
    const later = await send(dev.name, { method: 'next', oneway: true });
    await expect.poll(async () => (await state(later.body.rpcId)).status).toBe('DELIVERED');
    expect(await state(sent.body.rpcId)).toMatchObject({ status: 'DELIVERED', attempts: 1 });
  });

  it('counts a QoS 0 subscription as delivered once written (there is no PUBACK)', async () => {
    const dev = await addDevice();
    const d = await device(0, dev.token, { qos: 0 });
    const sent = await send(dev.name, { method: 'qos0', oneway: true });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('DELIVERED');
    expect(d.got.map((g) => g.body.method)).toEqual(['qos0']);
  });

  it("reaches an HTTP device's long-poll, and its answer is recorded", async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'httpCall', params: { a: 1 } });
    const poll = await fetch(`${base}/api/v1/${dev.token}/rpc?timeout=20000`);
    expect(poll.status).toBe(200);
    expect(await poll.json()).toEqual({ id: sent.body.requestId, method: 'httpCall', params: { a: 1 } });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('DELIVERED');
    const answer = await fetch(`${base}/api/v1/${dev.token}/rpc/${sent.body.requestId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ done: true }),
    });
    expect(answer.status).toBe(200);
    expect(await state(sent.body.rpcId)).toMatchObject({ status: 'SUCCESSFUL', response: { done: true } });
  });

  it('refuses bad persistent requests with a message saying what to fix, storing nothing', async () => {
    const dev = await addDevice();
    const past = await send(dev.name, { method: 'x', expirationTime: Date.now() - 1000 });
    expect(past.status).toBe(400);
    expect(past.body.message).toMatch(/expirationTime/);
    const tooFar = await send(dev.name, { method: 'x', expirationTime: Date.now() + 365 * 86_400_000 });
    expect(tooFar.status).toBe(400);
    expect((await send(dev.name, { method: 'x', retries: 10_000 })).status).toBe(400);
    const lightweight = await call('POST', `/api/devices/${dev.name}/rpc`, { method: 'x', retries: 1 });
    expect(lightweight.status).toBe(400);
    expect(lightweight.body.message).toMatch(/persistent/);
    expect((await call('GET', `/api/devices/${dev.name}/rpc`)).body.items).toEqual([]);
    expect((await call('GET', `/api/rpc/${randomUUID()}`)).status).toBe(404);
  });

  it('puts a lost copy back when the device connects (the marker spares a query for unmarked devices)', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'marked' });
    const r = new Redis(redis.url);
    try {
      // The copy is gone (a trimmed list); the sweeper's rebuild is held off, so only the
      // connect can bring it back.
      await r.set(`${rpcPendingDevicesKey(redis.prefix)}:rebuild`, '1', 'PX', 60_000);
      await r.del(deviceCommandsKey(redis.prefix, dev.id));
      expect(await r.sismember(rpcPendingDevicesKey(redis.prefix), dev.id)).toBe(1);
      const d = await device(1, dev.token, { answer: () => 'ok' });
      await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('SUCCESSFUL');
      expect(d.got.map((g) => g.body.method)).toEqual(['marked']);
    } finally {
      await r.del(`${rpcPendingDevicesKey(redis.prefix)}:rebuild`);
      r.disconnect();
    }
  });

  // Last: it empties the test's Redis prefix under everything above.
  it('is still delivered after Redis lost everything while it was queued', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'survivor' });
    const r = new Redis(redis.url);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${redis.prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      r.disconnect();
    }
    const d = await device(0, dev.token, { answer: () => ({ alive: true }) });
    await expect.poll(async () => (await state(sent.body.rpcId)).status, { timeout: 20_000 }).toBe('SUCCESSFUL');
    expect(d.got.map((g) => g.body.method)).toEqual(['survivor']);
  });
});
