/**
 * For the persistent RPC tests (docs/rpc.md): two real broker gateways and a real API (its
 * RPC sweeper every 200 ms) on one test database and Redis prefix, devices with access
 * tokens, MQTT devices that record (and optionally answer) server-side RPCs, and operator
 * calls through the API.
 */
import { randomUUID } from 'node:crypto';
import { credentialsKey } from '@spms/credentials';
import { SerialClient } from '@spms/db';
import { createLogger } from '@spms/log';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import type pg from 'pg';
import { buildApp } from '../../../apps/api/src/app.js';
import { loadApiConfig } from '../../../apps/api/src/config.js';
import { adminAuth, testEnv } from '../../../apps/api/src/routes/users/access-fixtures.js';
import { loadBrokerConfig } from '../../../apps/broker/src/config.js';
import { type Gateway, startGateway } from '../../../apps/broker/src/gateway.js';

const logger = createLogger({ name: 'e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const PROFILE = '00000000-0000-4000-8000-000000000001';
const REQUEST = 'v1/devices/me/rpc/request/';

export interface Received {
  requestId: number;
  body: { method: string; params: unknown };
}

/** A JSON answer as the tests read it (asserted with expect, not typed). */
// biome-ignore lint/suspicious/noExplicitAny: test answers are checked by expect()
type Json = any;

export interface RpcStack {
  db: TestDatabase;
  redis: TestRedis;
  sql: pg.Client;
  api: FastifyInstance;
  /** The API's base URL (HTTP device API). */
  base: string;
  addDevice(): Promise<{ id: string; name: string; token: string }>;
  /** Connects to broker `i` with the device's token and subscribes to server-side RPC. */
  device(
    i: number,
    token: string,
    opts?: { answer?: (r: Received) => unknown; qos?: 0 | 1 },
  ): Promise<{ client: MqttClient; got: Received[] }>;
  call(
    method: string,
    url: string,
    payload?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Json }>;
  /** POST a persistent RPC. */
  send(dev: string, body: Record<string, unknown>): Promise<{ status: number; body: Json }>;
  /** GET /api/rpc/{rpcId}. */
  state(rpcId: string): Promise<Json>;
  close(): Promise<void>;
}

export async function startRpcStack(label: string, env: Record<string, string> = {}): Promise<RpcStack> {
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  // Tests query it concurrently (devices added in parallel): SerialClient sends one at a time.
  const sql = new SerialClient({ connectionString: db.url });
  await sql.connect();
  const common = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    ...env,
  };
  const brokerConfig = () =>
    loadBrokerConfig({
      ...common,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: '0',
    });
  const brokers: Gateway[] = [
    await startGateway(brokerConfig(), { logger }),
    await startGateway(brokerConfig(), { logger }),
  ];
  const api = await buildApp(loadApiConfig(testEnv(db, redis, { RPC_SWEEP_MS: '200', ...env })));
  const base = await api.listen({ host: '127.0.0.1', port: 0 });
  const clients: MqttClient[] = [];

  const call: RpcStack['call'] = async (method, url, payload, headers = adminAuth) => {
    const res = await api.inject({ method: method as 'GET', url, headers, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.body ? res.json() : undefined };
  };

  return {
    db,
    redis,
    sql,
    api,
    base,
    call,
    send: (dev, body) => call('POST', `/api/devices/${dev}/rpc`, { persistent: true, ...body }),
    state: async (rpcId) => (await call('GET', `/api/rpc/${rpcId}`)).body,
    async addDevice() {
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
    },
    async device(i, token, opts = {}) {
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
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await api.close();
      for (const b of brokers) await b.close();
      await sql.end();
      await redis.cleanup();
      await db.drop();
    },
  };
}
