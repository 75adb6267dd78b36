/**
 * Redis Cluster: with a hash-tagged REDIS_PREFIX every key SPMS writes (BullMQ queues, our
 * own keys, the keys our Lua scripts touch) lands in one slot. The server here is a real
 * redis-server in cluster mode (a one-node cluster holding all 16,384 slots, private to
 * this test) and the apps reach it through REDIS_URL=redis+cluster://, i.e. ioredis'
 * Cluster client, so a multi-key command or script across slots fails as it would on a
 * larger cluster (CROSSSLOT). After real work (a device connects and publishes, an outage
 * opens and is alerted, the operator pushes attributes and sends an RPC, a sign-in fails)
 * every key is listed and its slot computed with CRC16 (cluster-key-slot, ioredis' own).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@spms/testing';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type FullStack, startFullStack, until } from './test-support/full-stack.js';

let server: ChildProcess | undefined;
let dir: string;
let port: number;
let admin: Redis;
let stack: FullStack;
const prefix = `{spmstest-${randomBytes(4).toString('hex')}}`;

async function startClusterNode(): Promise<void> {
  port = await freePort();
  dir = await mkdtemp(join(tmpdir(), 'spms-cluster-'));
  server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      // A lone node never learns its own address from a peer: announce it, or CLUSTER SLOTS names none.
      '--cluster-announce-ip',
      '127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  admin = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 100 });
  admin.on('error', () => {});
  await until(async () => (await admin.ping().catch(() => null)) === 'PONG', 20_000);
  await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  await until(async () => /cluster_state:ok/.test(String(await admin.call('CLUSTER', 'INFO'))), 20_000);
}

async function allKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

beforeAll(async () => {
  await startClusterNode();
  stack = await startFullStack(
    'rcluster',
    { url: `redis+cluster://127.0.0.1:${port}`, prefix },
    {
      broker: { DEVICE_AUTH_CACHE_SECRET: 'cluster-test-cache-secret-0123' },
      alerts: { ALERTS_ENABLED: 'true', SMS_PROVIDER: 'console', ALERT_DEBOUNCE_MS: '0' },
      api: { DEVICE_AUTH_CACHE_SECRET: 'cluster-test-cache-secret-0123' },
    },
  );
}, 60_000);

afterAll(async () => {
  await stack?.close();
  admin?.disconnect();
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Redis Cluster with REDIS_PREFIX={…}', () => {
  it('keeps every key the system writes in the prefix hash tag slot', async () => {
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    await stack.sql
      .query(
        `INSERT INTO recipients (id, name, phone, updated_at) VALUES (gen_random_uuid(), 'On call', '+94770000001', now())`,
      )
      .catch(() => undefined); // alerts still queue their timers without a recipient
    const { id, client } = await stack.connectDevice('cluster_dev');
    await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    for (let line = 1; line <= 8; line++)
      await client.publishAsync('v1/devices/me/telemetry', `{'${line}':'true'}`, { qos: 1 });
    await client.publishAsync('v1/devices/me/telemetry', "{'2':'false'}", { qos: 1 });
    await until(async () => (await stack.sql.query('SELECT 1 FROM outages WHERE device_id = $1', [id])).rowCount);

    // Operator → device through the command store scripts (owner, alive and inbox keys).
    const push = await stack.api.inject({
      method: 'POST',
      url: `/api/devices/${id}/attributes`,
      headers: auth,
      payload: { shared: { interval: 30 } },
    });
    expect(push.json()).toMatchObject({ delivered: 1 });
    client.on('message', (topic: string) => {
      const req = /rpc\/request\/(\d+)$/.exec(topic);
      if (req) void client.publishAsync(`v1/devices/me/rpc/response/${req[1]}`, '{"ok":true}', { qos: 1 });
    });
    const rpc = await stack.api.inject({
      method: 'POST',
      url: `/api/devices/${id}/rpc`,
      headers: auth,
      payload: { method: 'ping', params: {}, timeoutMs: 10_000 },
    });
    expect(rpc.statusCode).toBe(200);
    // Sign-in throttle and rate-limit keys.
    const login = await stack.api.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'nobody@example.com', password: 'wrong-password-1' },
    });
    expect(login.statusCode).toBeGreaterThanOrEqual(400);

    const keys = await allKeys();
    expect(keys.length).toBeGreaterThan(10);
    const slot = calculateSlot(prefix);
    const outside = keys.filter((k) => !k.startsWith(prefix) || calculateSlot(k) !== slot);
    expect(outside).toEqual([]);
    // What ran: BullMQ's ingest and events queues, our own keys, the scripts' keys.
    const names = keys.map((k) => k.slice(prefix.length));
    expect(names).toEqual(expect.arrayContaining([expect.stringMatching(/^:ingest:/)]));
    expect(names).toEqual(expect.arrayContaining([expect.stringMatching(/^:broker:session-owners$/)]));
    expect(names).toEqual(expect.arrayContaining([expect.stringMatching(/^:broker:gw:.+:alive$/)]));
  }, 90_000);

  it('computes slots as Redis does', async () => {
    // CLUSTER KEYSLOT from the server itself, against the library the assertion uses.
    // (Not 'foo{}{bar}': cluster-key-slot 1.1.1 hashes "bar" where Redis hashes the whole key.
    // isHashTagged follows Redis, so a prefix like '{}{spms}' is refused, never relied on.)
    for (const k of [prefix, `${prefix}:ingest:id`, 'spms:ingest:id', 'a{b}c', '{}x'])
      expect(Number(await admin.call('CLUSTER', 'KEYSLOT', k))).toBe(calculateSlot(k));
  });
});
