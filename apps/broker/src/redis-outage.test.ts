/**
 * Redis (the durable queue) going away: no PUBACK for what cannot be enqueued, new devices
 * told "server unavailable", the failure visible in /readyz and /metrics, and recovery
 * without a restart; a Redis that comes back empty gets the owner records of the sessions
 * that stayed connected again at once. Uses its own throw-away redis-server, never the shared one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { sessionOwnersKey } from '@spms/queue';
import { freePort } from '@spms/testing';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayMetric, type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
let redisPort: number;
let redis: ChildProcess | undefined;
const TOKEN = 'token-0010-outage';

async function startRedis(): Promise<void> {
  redis = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve) => {
    redis?.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) resolve();
    });
  });
}

async function stopRedis(): Promise<void> {
  const child = redis;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

function connack(): Promise<number> {
  return new Promise((resolve) => {
    const c = mqtt.connect({ host: '127.0.0.1', port: h.gateway.mqttPort, username: TOKEN, reconnectPeriod: 0 });
    c.once('connect', () => {
      c.end(true);
      resolve(0);
    });
    c.once('error', (err: Error & { code?: number }) => {
      c.end(true);
      resolve(err.code ?? -1);
    });
  });
}

function publishOutcome(client: MqttClient, payload: string): Promise<'puback' | 'closed'> {
  return new Promise((resolve) => {
    client.once('close', () => resolve('closed'));
    client.publish('v1/devices/me/telemetry', payload, { qos: 1 }, (err) => {
      if (!err) resolve('puback');
    });
  });
}

beforeAll(async () => {
  redisPort = await freePort();
  await startRedis();
  process.env.TEST_REDIS_URL = `redis://127.0.0.1:${redisPort}`;
  h = await startHarness('broker_outage', { INGEST_ENQUEUE_TIMEOUT_MS: '1000' });
  await h.addDevice('0010_MSAN', { type: 'ACCESS_TOKEN', token: TOKEN });
});
afterAll(async () => {
  await h?.close().catch(() => undefined);
  await stopRedis();
});

describe('Redis outage', () => {
  it('withholds the PUBACK, refuses new connections with 0x03, and recovers by itself', async () => {
    const device = await h.connect({ username: TOKEN });
    expect(await publishOutcome(device, "{'V':229.0}")).toBe('puback');

    await stopRedis();
    // [MQTT-3.3.5-2]: not accepted, so no positive PUBACK: the connection is closed and
    // the device keeps the message for its next session.
    expect(await publishOutcome(device, "{'V':228.0}")).toBe('closed');
    await until(async () => (await connack()) === 3);
    const base = `http://127.0.0.1:${h.gateway.httpPort}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(
      /spms_broker_refusals_total\{reason="enqueue_failed"\} [1-9]/,
    );

    await startRedis();
    await until(async () => (await connack()) === 0, 15_000);
    const since = await h.mark();
    const again = await h.connect({ username: TOKEN });
    expect(await publishOutcome(again, "{'V':228.0}")).toBe('puback');
    const telemetry = (await since()).filter((m) => m.kind === 'telemetry');
    expect(telemetry).toHaveLength(1);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await again.endAsync();
  }, 40_000);

  it('claims the sessions that stayed connected again as soon as an empty Redis is back', async () => {
    // Shipped SESSION_FULL_CHECK_MS (60 s): only the reconnect can bring the record back in time.
    const owners = sessionOwnersKey(h.redis.prefix);
    const record = async () => {
      const r = new Redis(`redis://127.0.0.1:${redisPort}`, { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await r.connect();
        return await r.hgetall(owners);
      } catch {
        return null;
      } finally {
        r.disconnect();
      }
    };
    const idle = await h.connect({ username: TOKEN });
    await until(async () => Object.keys((await record()) ?? {}).length === 1);
    const base = `http://127.0.0.1:${h.gateway.httpPort}`;
    await stopRedis();
    await until(async () => (await fetch(`${base}/readyz`)).status === 503);
    await startRedis(); // no persistence: it comes back empty
    await until(async () => Object.keys((await record()) ?? {}).length === 1, 8000);
    expect(idle.connected).toBe(true);
    await idle.endAsync();
  }, 40_000);

  it('records a claim Redis refused, with the connection up, at the next sweep', async () => {
    const owners = sessionOwnersKey(h.redis.prefix);
    const r = new Redis(`redis://127.0.0.1:${redisPort}`);
    try {
      await until(async () => (await connack()) === 0, 15_000); // the queue is back from the restart
      await until(async () => (await r.hlen(owners)) === 0);
      // Not a hash: the claim script fails at its first command, before it writes (standing in
      // for a Redis out of memory, or a Cluster node failing over), while the queue works on.
      await r.set(owners, 'not a hash');
      const failures = () => gatewayMetric(h, 'spms_broker_session_claim_failures_total');
      const before = await failures();
      const device = await h.connect({ username: TOKEN });
      await until(async () => (await failures()) > before);
      expect(await r.get(owners)).toBe('not a hash');
      await r.del(owners);
      // Shipped SESSION_FULL_CHECK_MS (60 s): only the retry at the next sweep can do it in time.
      await until(async () => (await r.hlen(owners)) === 1, 8000);
      expect(device.connected).toBe(true);
      await device.endAsync();
    } finally {
      r.disconnect();
    }
  }, 40_000);
});
