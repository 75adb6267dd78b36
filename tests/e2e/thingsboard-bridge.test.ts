/**
 * The cut-over bridge end to end: devices publish to SPMS's gateway (MQTT, with the
 * credentials they had in ThingsBoard); the worker commits, feeds the bridge stream, and
 * its bridge forwards each message to a fake ThingsBoard MQTT broker (thingsboard-fake-mqtt.ts)
 * with that device's own ThingsBoard credentials, read from a fake ThingsBoard REST API.
 * Checked: the identity and `ts` ThingsBoard gets; ThingsBoard down for a while then back:
 * nothing lost, order kept, the backlog visible in GET /api/system; the worker stopped and
 * started again with messages pending and more arriving meanwhile: nothing lost, order kept.
 */
import { createLogger } from '@spms/log';
import { readTbBridgeStatus } from '@spms/queue';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { loadBrokerConfig } from '../../apps/broker/src/config.js';
import { type Gateway, startGateway } from '../../apps/broker/src/gateway.js';
import { loadWorkerConfig } from '../../apps/worker/src/config.js';
import { type RunningWorker, startWorker } from '../../apps/worker/src/worker.js';
import { createAppProcess, ensureBuilt } from '../fault/test-support/app-process.js';
import { type FakeDevice, type FakeThingsBoard, startFakeThingsBoard } from './test-support/thingsboard-fake.js';
import {
  type FakeThingsBoardMqtt,
  startFakeThingsBoardMqtt,
  type TbPublishRecord,
} from './test-support/thingsboard-fake-mqtt.js';

const logger = createLogger({ name: 'e2e-tb-bridge', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const ADMIN_KEY = 'tb-bridge-admin-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

const none = { SERVER_SCOPE: {}, SHARED_SCOPE: {}, CLIENT_SCOPE: {} };
const devices: FakeDevice[] = [
  {
    id: 'bbbbbbbb-0000-4000-8000-00000000000a',
    name: 'BR_A',
    type: 'default',
    customerTitle: null,
    createdTime: Date.now() - 86_400_000,
    credentials: { credentialsType: 'ACCESS_TOKEN', credentialsId: 'brA-token-0123456789abc', credentialsValue: null },
    attributes: none,
    series: {},
  },
  {
    id: 'bbbbbbbb-0000-4000-8000-00000000000b',
    name: 'BR_B',
    type: 'default',
    customerTitle: null,
    createdTime: Date.now() - 86_400_000,
    credentials: {
      credentialsType: 'MQTT_BASIC',
      credentialsId: null,
      credentialsValue: JSON.stringify({ clientId: 'brB-cid', userName: 'brB-user', password: 'brB-password-1' }),
    },
    attributes: none,
    series: {},
  },
];

let db: TestDatabase;
let redis: TestRedis;
let gateway: Gateway;
let app: FastifyInstance;
let tbRest: FakeThingsBoard;
let tb: FakeThingsBoardMqtt;
let worker: RunningWorker | undefined;

const bridgeEnv = () => ({
  DATABASE_URL: db.url,
  REDIS_URL: redis.url,
  REDIS_PREFIX: redis.prefix,
  TB_BRIDGE_URL: tb.url,
  TB_BRIDGE_API_URL: tbRest.url,
  TB_BRIDGE_USERNAME: 'tenant@example.com',
  TB_BRIDGE_PASSWORD: 'secret',
  TB_BRIDGE_RETRY_MAX_MS: '400',
});
const startBridgeWorker = () => startWorker(loadWorkerConfig({ ...bridgeEnv(), LOG_LEVEL: 'silent' }), { logger });

beforeAll(async () => {
  db = await createTestDatabase('e2e_tb_bridge');
  redis = createTestRedis('e2e_tb_bridge');
  const common = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' };
  gateway = await startGateway(
    loadBrokerConfig({
      ...common,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: '0',
    }),
    { logger },
  );
  app = await buildApp(loadApiConfig({ ...common, SPMS_ADMIN_API_KEY: ADMIN_KEY }));
  tbRest = await startFakeThingsBoard({ username: 'tenant@example.com', password: 'secret', devices, tokenUses: 3 });
  tb = await startFakeThingsBoardMqtt(devices);
  // The same devices in SPMS, with the credentials they have in ThingsBoard.
  for (const payload of [
    { name: 'BR_A', credentials: { type: 'ACCESS_TOKEN', token: 'brA-token-0123456789abc' } },
    {
      name: 'BR_B',
      credentials: { type: 'MQTT_BASIC', clientId: 'brB-cid', username: 'brB-user', password: 'brB-password-1' },
    },
  ]) {
    const res = await app.inject({ method: 'POST', url: '/api/devices', headers: admin, payload });
    expect(res.statusCode, res.body).toBe(201);
  }
  worker = await startBridgeWorker();
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await gateway?.close();
  await app?.close();
  await tb?.close();
  await tbRest?.close();
  await redis?.cleanup();
  await db?.drop();
});

async function until<T>(fn: () => Promise<T | undefined | null | false> | T, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const connectDevice = (o: { clientId: string; username: string; password?: string }) =>
  mqtt.connectAsync({ host: '127.0.0.1', port: gateway.mqttPort, protocolVersion: 4, reconnectPeriod: 0, ...o });

/** The `seq` values ThingsBoard received for a device, first copies only (delivery is at least once). */
function seqs(device: string): number[] {
  const out: number[] = [];
  for (const p of tb.published as TbPublishRecord[]) {
    const v = (p.payload as { values?: { seq?: number } }).values?.seq;
    if (p.device === device && typeof v === 'number' && !out.includes(v)) out.push(v);
  }
  return out;
}

/** Stream entries the bridge has read and ThingsBoard not yet acknowledged. */
const pending = async () => {
  const groups = (await app.redis.xinfo('GROUPS', `${redis.prefix}:tb-bridge:stream`)) as unknown[][];
  const tbGroup = groups.find((g) => g[1] === 'tb') ?? [];
  return Number(tbGroup[tbGroup.indexOf('pending') + 1]);
};

const system = async () => (await app.inject({ url: '/api/system', headers: admin })).json().thingsboardBridge;

describe('cut-over bridge to ThingsBoard', () => {
  it("forwards what SPMS accepts with each device's ThingsBoard credentials and the original time", async () => {
    const a = await connectDevice({ clientId: 'anything', username: 'brA-token-0123456789abc' });
    const b = await connectDevice({ clientId: 'brB-cid', username: 'brB-user', password: 'brB-password-1' });
    const t0 = Date.now();
    await a.publishAsync('v1/devices/me/telemetry', "{'3':'false'}", { qos: 1 });
    const t1 = Date.now();
    const deviceTs = t0 - 60_000;
    await b.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: deviceTs, values: { V: 231.5 } }), { qos: 1 });
    await b.publishAsync('v1/devices/me/attributes', JSON.stringify({ fw: '2.0.1' }), { qos: 1 });
    await until(() => tb.published.length >= 3);
    const byDevice = (name: string) => tb.published.filter((p) => p.device === name);
    const [fromA] = byDevice('BR_A');
    expect(fromA).toMatchObject({ username: 'brA-token-0123456789abc', topic: 'v1/devices/me/telemetry' });
    const pa = fromA?.payload as { ts: number; values: unknown };
    expect(pa.values).toEqual({ '3': 'false' });
    // ts = SPMS's receive time (between the publish and its PUBACK), not the forwarding time.
    expect(pa.ts).toBeGreaterThanOrEqual(t0);
    expect(pa.ts).toBeLessThanOrEqual(t1);
    expect(byDevice('BR_B')).toEqual([
      {
        device: 'BR_B',
        clientId: 'brB-cid',
        username: 'brB-user',
        topic: 'v1/devices/me/telemetry',
        payload: { ts: deviceTs, values: { V: 231.5 } },
      },
      {
        device: 'BR_B',
        clientId: 'brB-cid',
        username: 'brB-user',
        topic: 'v1/devices/me/attributes',
        payload: { fw: '2.0.1' },
      },
    ]);
    expect(tb.refused).toBe(0);
    await until(async () => (await system()).backlog === 0);
    expect(await system()).toMatchObject({ state: 'forwarding', backlog: 0, dropped: 0, leader: { target: tb.url } });
    await Promise.all([a.endAsync(), b.endAsync()]);
  });

  it('ThingsBoard down for a while, then back: nothing lost, order kept, the backlog visible meanwhile', async () => {
    await tb.stop();
    const a = await connectDevice({ clientId: 'anything', username: 'brA-token-0123456789abc' });
    for (let i = 1; i <= 30; i++)
      await a.publishAsync('v1/devices/me/telemetry', JSON.stringify({ seq: i }), { qos: 1 });
    // Every message is acknowledged to the device at once: the bridge is not on that path.
    const waiting = await until(async () => {
      const s = await system();
      return s.backlog === 30 && s.state === 'retrying' ? s : null;
    });
    expect(waiting.leader.lastError).toMatch(/BR_A/);
    // It names a device: an operator limited to a region does not see it.
    const key = await app.inject({
      method: 'POST',
      url: '/api/api-keys',
      headers: admin,
      payload: { name: 'north operator', role: 'operator', userId: null, regions: ['North'] },
    });
    expect(key.statusCode, key.body).toBe(201);
    const scoped = await app.inject({ url: '/api/system', headers: { authorization: `Bearer ${key.json().key}` } });
    expect(scoped.json().thingsboardBridge).toMatchObject({ backlog: 30, leader: { lastError: 'hidden' } });
    await tb.start();
    await until(() => seqs('BR_A').length === 30);
    expect(seqs('BR_A')).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    await until(async () => (await system()).backlog === 0);
    await a.endAsync();
  });

  it('the worker stopped with messages pending and more arriving meanwhile: nothing lost, order kept', async () => {
    await tb.stop();
    const b = await connectDevice({ clientId: 'brB-cid', username: 'brB-user', password: 'brB-password-1' });
    for (let i = 1; i <= 10; i++)
      await b.publishAsync('v1/devices/me/telemetry', JSON.stringify({ seq: i }), { qos: 1 });
    await until(async () => (await system()).backlog === 10 && (await pending()) === 10); // read, not delivered
    await worker?.close();
    worker = undefined;
    // Accepted by the gateway while no worker runs: they wait in the ingest queue.
    for (let i = 11; i <= 20; i++)
      await b.publishAsync('v1/devices/me/telemetry', JSON.stringify({ seq: i }), { qos: 1 });
    await tb.start();
    worker = await startBridgeWorker();
    await until(() => seqs('BR_B').length === 20);
    expect(seqs('BR_B')).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await until(async () => (await system()).backlog === 0);
    expect(tb.refused).toBe(0);
    await b.endAsync();
  });

  it('the worker SIGKILLed while messages wait for ThingsBoard: the next one forwards them all, in order', async () => {
    ensureBuilt(['worker']);
    await worker?.close();
    worker = undefined;
    const child = createAppProcess(
      'worker',
      { ...bridgeEnv(), WORKER_HTTP_PORT: '0', WORKER_HTTP_HOST: '127.0.0.1' },
      async () => (await system()).leader !== null,
    );
    try {
      await child.start();
      await tb.stop();
      const a = await connectDevice({ clientId: 'anything', username: 'brA-token-0123456789abc' });
      for (let i = 101; i <= 110; i++)
        await a.publishAsync('v1/devices/me/telemetry', JSON.stringify({ seq: i }), { qos: 1 });
      // Read by the bridge of the child process (pending in the stream's group), not delivered.
      await until(async () => (await pending()) === 10);
      await child.kill();
      for (let i = 111; i <= 120; i++)
        await a.publishAsync('v1/devices/me/telemetry', JSON.stringify({ seq: i }), { qos: 1 });
      await tb.start();
      // The killed leader's lease expires (10 s), then the restarted worker takes over.
      await child.start();
      const later = () => seqs('BR_A').filter((n) => n > 100);
      await until(() => later().length === 20, 60_000);
      expect(later()).toEqual(Array.from({ length: 20 }, (_, i) => 101 + i));
      await until(async () => (await system()).backlog === 0);
      expect(child.crashes()).toEqual([]);
      await a.endAsync();
    } finally {
      await child.stop();
    }
  }, 90_000);

  it('bounded backlog: past TB_BRIDGE_MAX_BACKLOG the oldest waiting messages are dropped and counted', async () => {
    await worker?.close();
    worker = await startWorker(
      loadWorkerConfig({ ...bridgeEnv(), LOG_LEVEL: 'silent', TB_BRIDGE_MAX_BACKLOG: '100' }),
      { logger },
    );
    await tb.stop();
    const b = await connectDevice({ clientId: 'brB-cid', username: 'brB-user', password: 'brB-password-1' });
    for (let i = 1001; i <= 1130; i++)
      await b.publishAsync('v1/devices/me/telemetry', JSON.stringify({ seq: i }), { qos: 1 });
    const full = await until(async () => {
      const s = await system();
      return s.dropped === 30 && s.state === 'retrying' ? s : null; // (the heartbeat is every 2 s)
    });
    expect(full).toMatchObject({ backlog: 100, dropped: 30, state: 'retrying' });
    await tb.start();
    // The newest 100 all arrive, in order; of the 30 dropped from the stream, only those the
    // bridge had already read may still arrive (before them).
    const later = () => seqs('BR_B').filter((n) => n > 1000);
    await until(() => later().filter((n) => n > 1030).length === 100);
    expect(later().filter((n) => n > 1030)).toEqual(Array.from({ length: 100 }, (_, i) => 1031 + i));
    expect(later()).toEqual([...later()].sort((x, y) => x - y));
    await until(async () => (await system()).backlog === 0);
    await b.endAsync();
  });

  it('is off without TB_BRIDGE_URL, and refuses a half configuration naming what is missing', async () => {
    expect(() =>
      loadWorkerConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, TB_BRIDGE_URL: 'mqtt://127.0.0.1:1883' }),
    ).toThrow(/TB_BRIDGE_API_URL: required with TB_BRIDGE_URL/);
    const status = await readTbBridgeStatus(
      (app as unknown as { redis: Parameters<typeof readTbBridgeStatus>[0] }).redis,
      'no-such-prefix',
    );
    expect(status).toEqual({ state: 'off', backlog: 0, dropped: 0, leader: null });
  });
});
