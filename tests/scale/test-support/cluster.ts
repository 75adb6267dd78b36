/**
 * Several brokers, workers and APIs as real processes (built entry points, as deployed)
 * against ONE test database and ONE Redis key prefix, each on its own ports, so a test
 * chooses which broker a device connects to and which API an operator calls. What crosses
 * processes must go through PostgreSQL or Redis; nothing is shared in memory.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { credentialsKey } from '@spms/credentials';
import { createTestDatabase, createTestRedis, freePort, type TestDatabase, type TestRedis } from '@spms/testing';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import {
  type AppName,
  type AppProcess,
  createAppProcess,
  ensureBuilt,
  httpReady,
} from '../../fault/test-support/app-process.js';

const PROFILE = '00000000-0000-4000-8000-000000000001';
export const ADMIN_KEY = 'cross-process-admin-key-0123456789';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Cluster {
  db: TestDatabase;
  redis: TestRedis;
  sql: pg.Pool;
  brokers: { proc: AppProcess; mqttPort: number; httpPort: number }[];
  apis: { proc: AppProcess; url: string }[];
  workers: { proc: AppProcess; httpPort: number }[];
  addDevice(): Promise<{ id: string; name: string; token: string }>;
  /** An MQTT client of `device` connected to broker `i` (closed with the cluster). */
  connect(i: number, device: { token: string }, clientId: string): Promise<MqttClient>;
  /** Operator call with the admin key. */
  api(
    i: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A Prometheus sample of process `port`'s /metrics (0 when absent). */
  metric(port: number, name: string, labels?: string): Promise<number>;
  /** What every process wrote lately (to explain a failure). */
  output(): string;
  close(): Promise<void>;
}

export interface ClusterOptions {
  brokers: number;
  workers: number;
  apis: number;
  /** Added to every broker's and API's environment (e.g. PUBSUB_WAKEUPS). */
  env?: Record<string, string>;
}

export async function startCluster(label: string, opts: ClusterOptions): Promise<Cluster> {
  const apps: AppName[] = ['broker', 'api', ...(opts.workers > 0 ? (['worker'] as const) : [])];
  ensureBuilt(apps);
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  const sql = new pg.Pool({ connectionString: db.url, max: 3 });
  sql.on('error', () => {});
  const common = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix };
  const clients: MqttClient[] = [];
  const cluster: Cluster = {
    db,
    redis,
    sql,
    brokers: [],
    apis: [],
    workers: [],
    async addDevice() {
      const id = randomUUID();
      const dev = { id, name: `xp_${id.slice(0, 8)}`, token: randomBytes(12).toString('hex') };
      await sql.query(`INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())`, [
        dev.id,
        dev.name,
        PROFILE,
      ]);
      await sql.query(
        `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at) VALUES ($1, 'ACCESS_TOKEN', $2, now())`,
        [dev.id, credentialsKey({ type: 'ACCESS_TOKEN', token: dev.token })],
      );
      return dev;
    },
    async connect(i, device, clientId) {
      const port = cluster.brokers[i]?.mqttPort;
      const c = mqtt.connect({ host: '127.0.0.1', port, clientId, username: device.token, reconnectPeriod: 0 });
      clients.push(c);
      c.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
        c.once('close', () => reject(new Error(`connection to broker ${i} closed before CONNACK`)));
      });
      return c;
    },
    async api(i, method, path, body) {
      const res = await fetch(`${cluster.apis[i]?.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : {} };
    },
    async metric(port, name, labels = '') {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
      const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name}${labels} `));
      return line ? Number(line.split(' ')[1]) : 0;
    },
    output() {
      const all = [...cluster.brokers, ...cluster.apis, ...cluster.workers];
      return all.map((a, i) => `--- ${a.proc.name} #${i}\n${a.proc.output().slice(-2000)}`).join('\n');
    },
    async close() {
      for (const c of clients) c.end(true);
      const all = [...cluster.brokers, ...cluster.apis, ...cluster.workers];
      await Promise.all(all.map((a) => a.proc.stop().catch(() => undefined)));
      await sql.end().catch(() => undefined);
      await redis.cleanup();
      await db.drop();
    },
  };
  try {
    for (let i = 0; i < opts.brokers; i++) {
      const [mqttPort, httpPort] = [await freePort(), await freePort()];
      const proc = createAppProcess(
        'broker',
        {
          ...common,
          ...opts.env,
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: String(mqttPort),
          BROKER_HTTP_HOST: '127.0.0.1',
          BROKER_HTTP_PORT: String(httpPort),
          AUTH_FAILURES_PER_IP: '0',
        },
        httpReady(`http://127.0.0.1:${httpPort}/readyz`),
      );
      cluster.brokers.push({ proc, mqttPort, httpPort });
    }
    for (let i = 0; i < opts.apis; i++) {
      const port = await freePort();
      const proc = createAppProcess(
        'api',
        {
          ...common,
          ...opts.env,
          SPMS_ADMIN_API_KEY: ADMIN_KEY,
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: String(port),
          API_METRICS_PORT: '0',
        },
        httpReady(`http://127.0.0.1:${port}/readyz`),
      );
      cluster.apis.push({ proc, url: `http://127.0.0.1:${port}` });
    }
    for (let i = 0; i < opts.workers; i++) {
      const httpPort = await freePort();
      const proc = createAppProcess(
        'worker',
        { ...common, WORKER_HTTP_HOST: '127.0.0.1', WORKER_HTTP_PORT: String(httpPort) },
        httpReady(`http://127.0.0.1:${httpPort}/healthz`),
      );
      cluster.workers.push({ proc, httpPort });
    }
    // One at a time: the API migrates nothing, but every process opens pools and subscriptions.
    for (const a of [...cluster.brokers, ...cluster.workers, ...cluster.apis]) await a.proc.start();
  } catch (err) {
    await cluster.close().catch(() => undefined);
    throw err;
  }
  return cluster;
}

/** Polls `probe` every 25 ms until it returns a truthy value; fails after `ms` with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null>, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Answers every server-side RPC with `{ok, method}` (what a firmware with RPC support does); returns the requests. */
export async function answerRpcs(device: MqttClient): Promise<{ method: string; params: unknown }[]> {
  const got: { method: string; params: unknown }[] = [];
  device.on('message', (topic, payload) => {
    if (!topic.startsWith('v1/devices/me/rpc/request/')) return;
    const req = JSON.parse(payload.toString()) as { method: string; params: unknown };
    got.push(req);
    const id = topic.split('/').at(-1);
    device.publish(`v1/devices/me/rpc/response/${id}`, JSON.stringify({ ok: true, method: req.method }), { qos: 1 });
  });
  await device.subscribeAsync(['v1/devices/me/rpc/request/+', 'v1/devices/me/attributes'], { qos: 1 });
  return got;
}

/** One telemetry report at `ts` (PUBACK awaited: it is in the queue). */
export const telemetry = (device: MqttClient, ts: number, values: Record<string, boolean>) =>
  device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts, values }), { qos: 1 });
