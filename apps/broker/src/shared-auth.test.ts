/**
 * Authentication across broker processes (two gateways on one database and one Redis, as
 * `npm start` runs them): devices with supplied (scrypt-stored) MQTT Basic passwords are
 * hashed once for all processes; a rotated password is refused by every process and closes
 * the live session wherever it is; the failed-authentication budget of an address is spent
 * across processes, known-good devices still passing; a full password queue is CONNACK 0x03.
 */
import { randomBytes, randomUUID, scrypt } from 'node:crypto';
import { credentialsKey, hashSecret } from '@spms/credentials';
import { bumpCredentials } from '@spms/device-auth';
import { createLogger } from '@spms/log';
import { credentialsChangedChannel } from '@spms/queue';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBrokerConfig } from './config.js';
import { type Gateway, startGateway } from './gateway.js';
import { until } from './test-support/harness.js';

const PROFILE = '00000000-0000-4000-8000-0000000000d3';
const SECRET = 'broker-shared-auth-test-secret-42';

interface Cluster {
  db: TestDatabase;
  redis: TestRedis;
  sql: pg.Client;
  r: Redis;
  gateways: Gateway[];
}
const clusters: Cluster[] = [];
const clients: MqttClient[] = [];

async function startCluster(label: string, n: number, env: Record<string, string> = {}): Promise<Cluster> {
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await sql.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'shared-auth', now())`, [PROFILE]);
  const logger = createLogger({ name: 'broker-test', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
  const gateways: Gateway[] = [];
  for (let i = 0; i < n; i++) {
    const config = loadBrokerConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: '0',
      LOG_LEVEL: 'silent',
      DEVICE_AUTH_CACHE_SECRET: SECRET,
      ...env,
    });
    gateways.push(await startGateway(config, { logger }));
  }
  const c = { db, redis, sql, r: new Redis(redis.url), gateways };
  clusters.push(c);
  return c;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  for (const c of clusters) {
    for (const g of c.gateways) await g.close();
    c.r.disconnect();
    await c.sql.end();
    await c.redis.cleanup();
    await c.db.drop();
  }
});

/** An imported firmware credential (client id, username, supplied password stored with `hash`). */
async function addDevice(c: Cluster, n: string, password: string, hash?: string): Promise<string> {
  const id = randomUUID();
  await c.sql.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
    id,
    `${n}_MSAN`,
    PROFILE,
  ]);
  await setPassword(c, id, n, hash ?? (await hashSecret(password, 'supplied')));
  return id;
}

async function setPassword(c: Cluster, id: string, n: string, passwordHash: string): Promise<void> {
  const creds = { type: 'MQTT_BASIC' as const, clientId: `esp-${n}`, username: `user-${n}` };
  await c.sql.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
     VALUES ($1, 'MQTT_BASIC', $2, $3, $4, $5, now())
     ON CONFLICT (device_id) DO UPDATE SET password_hash = EXCLUDED.password_hash`,
    [id, credentialsKey(creds), creds.clientId, creds.username, passwordHash],
  );
}

/** CONNACK return code (0 = accepted; the client is kept open then). */
function connack(
  g: Gateway,
  n: string,
  password: string,
  connectTimeout = 30_000,
): Promise<{ code: number; client: MqttClient }> {
  return new Promise((resolve) => {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port: g.mqttPort,
      clientId: `esp-${n}`,
      username: `user-${n}`,
      password,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout,
    });
    clients.push(client);
    client.once('connect', () => resolve({ code: 0, client }));
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      resolve({ code: typeof err.code === 'number' ? err.code : -1, client });
    });
  });
}

async function metric(g: Gateway, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.httpPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}
const hashes = (g: Gateway) => metric(g, 'spms_broker_auth_hashes_total ');
const invalidations = (g: Gateway) => metric(g, 'spms_broker_auth_invalidations_total ');

describe('two broker processes, one Redis', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster('broker_shared_auth', 2);
  });

  it('hash a supplied password once: the other process answers from the shared cache', async () => {
    await addDevice(c, '0201', 'fw-pass-0201');
    const [g1, g2] = c.gateways as [Gateway, Gateway];
    const first = await connack(g1, '0201', 'fw-pass-0201');
    expect(first.code).toBe(0);
    await first.client.endAsync();
    expect(await hashes(g1)).toBe(1);
    await until(async () => (await metric(g1, 'spms_broker_auth_shared_cache_total{result="stored"} ')) === 1);
    const second = await connack(g2, '0201', 'fw-pass-0201');
    expect(second.code).toBe(0);
    expect(await hashes(g2)).toBe(0);
    expect(await metric(g2, 'spms_broker_auth_shared_cache_total{result="hit"} ')).toBe(1);
  });

  it('a rotated password closes the live session and is refused by every process, cached or not', async () => {
    const id = await addDevice(c, '0202', 'old-pass-0202');
    const [g1, g2] = c.gateways as [Gateway, Gateway];
    const a = await connack(g1, '0202', 'old-pass-0202');
    expect(a.code).toBe(0);
    await a.client.endAsync();
    // Connected through the other process, answered from the shared cache.
    const live = await connack(g2, '0202', 'old-pass-0202');
    expect(live.code).toBe(0);
    const closed = new Promise<void>((res) => live.client.once('close', () => res()));
    const heardBefore = await invalidations(g1);
    // What the registry does: commit, bump the shared entries, announce.
    await setPassword(c, id, '0202', await hashSecret('new-pass-0202', 'supplied'));
    await bumpCredentials(c.r, c.redis.prefix, [id]);
    await c.r.publish(credentialsChangedChannel(c.redis.prefix), id);
    await closed;
    // g1 (no session of this device) hears the change on its own time: wait until it has.
    await until(async () => (await invalidations(g1)) > heardBefore);
    expect((await connack(g1, '0202', 'old-pass-0202')).code).toBe(5);
    expect((await connack(g2, '0202', 'old-pass-0202')).code).toBe(5);
    const fresh = await connack(g2, '0202', 'new-pass-0202');
    expect(fresh.code).toBe(0);
    await fresh.client.endAsync();
  });
});

describe('failed-authentication budget of an address, across processes', () => {
  it('is spent by failures at either process; devices known good from the shared cache still connect', async () => {
    const c = await startCluster('broker_shared_authfail', 2, { AUTH_FAILURES_PER_IP: '3' });
    const [g1, g2] = c.gateways as [Gateway, Gateway];
    await addDevice(c, '0301', 'fw-pass-0301');
    await addDevice(c, '0302', 'fw-pass-0302');
    // 0301 is verified once at g1 (so it is known good everywhere), before the failures.
    const ok = await connack(g1, '0301', 'fw-pass-0301');
    expect(ok.code).toBe(0);
    await ok.client.endAsync();
    await until(async () => (await metric(g1, 'spms_broker_auth_shared_cache_total{result="stored"} ')) === 1);
    expect((await connack(g1, '0302', 'wrong-0302-a')).code).toBe(5);
    expect((await connack(g1, '0302', 'wrong-0302-b')).code).toBe(5);
    expect((await connack(g2, '0302', 'wrong-0302-c')).code).toBe(5);
    // The budget (3/min) is spent across both: g2 refuses guesses with 0x03, without hashing.
    const before = await hashes(g2);
    expect((await connack(g2, '0302', 'wrong-0302-d')).code).toBe(3);
    expect((await connack(g2, '0302', 'fw-pass-0302')).code).toBe(3);
    expect(await hashes(g2)).toBe(before);
    expect(await metric(g2, 'spms_broker_refusals_total{reason="auth_failure_rate"} ')).toBe(2);
    // g2 never saw 0301 itself: the shared cache vouches for it.
    const known = await connack(g2, '0301', 'fw-pass-0301');
    expect(known.code).toBe(0);
    await known.client.endAsync();
  });
});

describe('password check queue', () => {
  /** A stored hash that takes long to check (scrypt N=2^14, r=8, p=48: seconds), to hold the queue. */
  async function slowHash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await new Promise<Buffer>((res, rej) =>
      scrypt(password, salt, 32, { N: 16384, r: 8, p: 48, maxmem: 64 * 1024 * 1024 }, (e, k) => (e ? rej(e) : res(k))),
    );
    return `scrypt$16384$8$48$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  it('holds checks beyond AUTH_VERIFY_CONCURRENCY in a bounded queue and answers 0x03 at once when it is full', async () => {
    const c = await startCluster('broker_verify_queue', 1, {
      AUTH_VERIFY_CONCURRENCY: '1',
      AUTH_VERIFY_QUEUE_MAX: '1',
      // Only the length bound here: a wait bound would depend on how fast this machine hashes.
      AUTH_VERIFY_MAX_WAIT_MS: '0',
    });
    const g = c.gateways[0] as Gateway;
    const slow = await slowHash('slow-pass-0401');
    for (const n of ['0401', '0402', '0403']) await addDevice(c, n, 'slow-pass-0401', slow);
    const running = () => metric(g, 'spms_broker_auth_verify_queue{state="running"} ');
    const waiting = () => metric(g, 'spms_broker_auth_verify_queue{state="waiting"} ');
    // Each slow check takes seconds on a quiet machine and several times that on a loaded
    // one (the CI runs test files in parallel): the first two may wait for both checks.
    const SLOW = 180_000;
    const first = connack(g, '0401', 'slow-pass-0401', SLOW);
    await until(async () => (await running()) === 1, 15_000);
    const second = connack(g, '0402', 'slow-pass-0401', SLOW);
    await until(async () => (await waiting()) === 1, 15_000);
    // The queue holds one: a third cold check is refused at once, while the first still hashes.
    expect((await connack(g, '0403', 'slow-pass-0401')).code).toBe(3);
    expect(await running()).toBe(1);
    expect(await metric(g, 'spms_broker_refusals_total{reason="verify_busy"} ')).toBe(1);
    expect(await metric(g, 'spms_broker_auth_verify_queue_full_total ')).toBe(1);
    expect((await first).code).toBe(0);
    expect((await second).code).toBe(0);
  }, 300_000);
});
