/**
 * Several broker processes on one MQTT port, as `npm start` runs them: scripts/supervise.mjs
 * (the launcher's process supervisor) with BROKER_PROCESSES=2 from the built apps
 * (apps/broker/dist, built by CI before `npm test`). Which process took a connection is read
 * from each process's own /metrics (spms_broker_connects_total{result="accepted"}).
 * Checked: devices on either process get PUBACKs; a device connecting again on the other
 * process keeps one session (the older one is closed as session_replaced); a SIGKILLed
 * broker process is restarted and serves again; SIGTERM stops everything. These run with
 * CLUSTER_SCHEDULING=primary (the supervisor hands connections out in turn), so that a few
 * connects are sure to reach both processes; with the default `os` the kernel picks the
 * process, checked apart: every connect is served and counted by exactly one process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { credentialsKey } from '@spms/credentials';
import { LeanMqttClient, TELEMETRY_TOPIC } from '@spms/simulator';
import {
  createTestDatabase,
  createTestRedis,
  freePort,
  portFree,
  sliceOf,
  type TestDatabase,
  type TestRedis,
} from '@spms/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../fault/test-support/app-process.js';

const PROFILE = '00000000-0000-4000-8000-000000000001';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${output.slice(-3000)}`);
    await sleep(50);
  }
}

/** Two ports p and p + 2 that were free a moment ago (the launcher's per-process step is 2),
 * both in this test worker's slice of ports. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + 2 > 65535 || sliceOf(p + 2) !== sliceOf(p)) continue;
    const ok = await portFree(p + 2, '127.0.0.1');
    if (ok) return p;
  }
}

let db: TestDatabase;
let redis: TestRedis;
let sql: pg.Pool;
let supervisor: ChildProcess;
let output = '';
let mqttPort: number;
let httpPorts: number[];

async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}
const accepted = (port: number) => metric(port, 'spms_broker_connects_total', '{result="accepted"}');
const ready = async (port: number) =>
  (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;

async function addDevice(): Promise<{ id: string; token: string }> {
  const dev = { id: randomUUID(), token: randomBytes(12).toString('hex') };
  await sql.query(`INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())`, [
    dev.id,
    `scale_${dev.id.slice(0, 8)}`,
    PROFILE,
  ]);
  await sql.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at) VALUES ($1, 'ACCESS_TOKEN', $2, now())`,
    [dev.id, credentialsKey({ type: 'ACCESS_TOKEN', token: dev.token })],
  );
  return dev;
}

const clients: LeanMqttClient[] = [];

/** Connects and returns the client with the index of the broker process that accepted it. */
async function connect(dev: { token: string }, clientId: string): Promise<{ client: LeanMqttClient; on: number }> {
  const before = await Promise.all(httpPorts.map(accepted));
  const client = new LeanMqttClient({
    host: '127.0.0.1',
    port: mqttPort,
    clientId,
    username: dev.token,
    keepalive: 60,
  });
  clients.push(client);
  await client.connect();
  // The counter is incremented before CONNACK is written: it is already visible.
  const after = await Promise.all(httpPorts.map(accepted));
  const on = after.findIndex((n, i) => n > (before[i] as number));
  expect(on).toBeGreaterThanOrEqual(0);
  return { client, on };
}

const publish = (c: LeanMqttClient) =>
  c.publish(TELEMETRY_TOPIC, JSON.stringify({ ts: Date.now(), values: { '3': true } }), 1);

beforeAll(async () => {
  ensureBuilt(['broker']);
  db = await createTestDatabase('scale');
  redis = createTestRedis('scale');
  sql = new pg.Pool({ connectionString: db.url, max: 2 });
  mqttPort = await freePort();
  const base = await freePortPair();
  httpPorts = [base, base + 2];
  supervisor = spawn(process.execPath, ['scripts/supervise.mjs'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...brokerEnv(mqttPort, base),
      CLUSTER_SCHEDULING: 'primary',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => {
    output += d.toString();
  };
  supervisor.stdout?.on('data', keep);
  supervisor.stderr?.on('data', keep);
  for (const port of httpPorts) await waitFor(`broker on :${port} ready`, () => ready(port), 40_000);
}, 60_000);

/** Two broker processes on `port`, health/metrics on base and base + 2, nothing else. */
function brokerEnv(port: number, base: number): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    LOG_LEVEL: 'warn',
    BROKER_PROCESSES: '2',
    WORKER_PROCESSES: '0',
    API_PROCESSES: '0',
    ALERTS_PROCESSES: '0',
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(port),
    BROKER_HTTP_HOST: '127.0.0.1',
    BROKER_HTTP_PORT: String(base),
    CONNECT_RATE_PER_IP: '0',
    AUTH_FAILURES_PER_IP: '0',
  };
}

afterAll(async () => {
  for (const c of clients) c.destroy();
  if (supervisor && supervisor.exitCode === null) {
    supervisor.kill('SIGKILL');
  }
  await sql?.end();
  await redis?.cleanup();
  await db?.drop();
});

describe('broker processes sharing one MQTT port (scripts/supervise.mjs)', () => {
  it('devices land on both processes and every one gets its PUBACK', async () => {
    const landed = new Set<number>();
    // Round-robin normally alternates; connect until both processes hold a device (bounded).
    for (let i = 0; i < 6 && landed.size < 2; i++) {
      const { client, on } = await connect(await addDevice(), `scale-${i}`);
      landed.add(on);
      await publish(client);
    }
    expect([...landed].sort()).toEqual([0, 1]);
  });

  it('a device connecting again on the other process keeps one session', async () => {
    const dev = await addDevice();
    let holder = await connect(dev, 'scale-takeover');
    await publish(holder.client);
    let crossed = false;
    for (let attempt = 0; attempt < 6 && !crossed; attempt++) {
      const older = holder.client;
      const next = await connect(dev, 'scale-takeover');
      crossed = next.on !== holder.on;
      await waitFor('the older session to be closed', async () => older.closed);
      if (crossed) {
        expect(
          await metric(
            httpPorts[holder.on] as number,
            'spms_broker_connectivity_events_total',
            '{event="session_replaced"}',
          ),
        ).toBeGreaterThan(0);
      }
      holder = next;
    }
    expect(crossed).toBe(true);
    await publish(holder.client);
    expect(holder.client.closed).toBe(false);
  });

  it('a SIGKILLed broker process is restarted and serves again', async () => {
    const pid = Number(/broker2 started \(pid (\d+)\)/.exec(output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await waitFor('the exit to be logged', async () => output.includes(`broker2 (pid ${pid}) exited (SIGKILL)`));
    const newPid = await waitFor('broker2 to be started again', async () => {
      const all = [...output.matchAll(/broker2 started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
      const last = all.at(-1);
      return last !== undefined && last !== pid ? last : undefined;
    });
    expect(newPid).not.toBe(pid);
    await waitFor('broker2 ready again', () => ready(httpPorts[1] as number), 40_000);
    const landed = new Set<number>();
    for (let i = 0; i < 6 && landed.size < 2; i++) {
      const { client, on } = await connect(await addDevice(), `scale-after-${i}`);
      landed.add(on);
      await publish(client);
    }
    expect([...landed].sort()).toEqual([0, 1]);
  }, 60_000);

  it('SIGTERM stops every broker process and the supervisor exits 0', async () => {
    const pids = [...output.matchAll(/broker\d started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    // Devices gone first: a broker's listener waits for its open connections when it closes.
    for (const c of clients) c.destroy();
    const exited = new Promise<number | null>((r) => supervisor.once('exit', (code) => r(code)));
    supervisor.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout')]);
    expect(code).toBe(0);
    const alive = pids.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  }, 40_000);
});

describe('CLUSTER_SCHEDULING=os (the default): the processes accept from the shared socket themselves', () => {
  it('serves every connect, each counted by exactly one process', async () => {
    const port = await freePort();
    const base = await freePortPair();
    const ports = [base, base + 2];
    const env: Record<string, string | undefined> = { ...process.env, ...brokerEnv(port, base) };
    delete env.CLUSTER_SCHEDULING;
    const child = spawn(process.execPath, ['scripts/supervise.mjs'], { cwd: repoRoot, env, stdio: 'ignore' });
    const devices: LeanMqttClient[] = [];
    try {
      for (const p of ports) await waitFor(`broker on :${p} ready`, () => ready(p), 40_000);
      const n = 8;
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const client = new LeanMqttClient({
            host: '127.0.0.1',
            port,
            clientId: `os-${i}`,
            username: (await addDevice()).token,
            keepalive: 60,
          });
          devices.push(client);
          await client.connect();
          await publish(client);
        }),
      );
      const counted = await Promise.all(ports.map(accepted));
      expect(counted.reduce((a, b) => a + b, 0)).toBe(n);
    } finally {
      for (const c of devices) c.destroy();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
    }
  }, 60_000);
});

/** Runs `script` with `env` over this environment until it exits: its code, stdout and stderr. */
async function runToExit(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [script], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { code, out, err };
}

describe('a process that cannot start', () => {
  it('an unknown CLUSTER_SCHEDULING stops the supervisor before starting anything', async () => {
    const r = await runToExit('scripts/supervise.mjs', {
      CLUSTER_SCHEDULING: 'rr',
      BROKER_PROCESSES: '1',
      WORKER_PROCESSES: '0',
    });
    expect(r.code).toBe(1);
    expect(r.err).toContain('CLUSTER_SCHEDULING must be "os" or "primary"');
    expect(r.out).not.toContain('started');
  });

  it('stops the supervisor with its exit code and message instead of restarting forever', async () => {
    const r = await runToExit('scripts/supervise.mjs', {
      BROKER_PROCESSES: '1',
      WORKER_PROCESSES: '0',
      API_PROCESSES: '0',
      ALERTS_PROCESSES: '0',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/unused',
      MQTT_PORT: String(await freePort()),
      BROKER_HTTP_PORT: String(await freePort()),
      MAX_PAYLOAD_BYTES: '1',
    });
    const { code } = r;
    const out = r.out + r.err;
    expect(code).toBe(1);
    expect(out).toContain('MAX_PAYLOAD_BYTES');
    expect(out).toMatch(/broker \(pid \d+\) could not start \(code 1\)/);
    expect(out.match(/broker started/g)).toHaveLength(1);
  });
});

describe('npm start (scripts/start.mjs) port pre-check', () => {
  it('refuses at once when a derived per-process port is taken, naming it', async () => {
    const { createServer } = await import('node:net');
    const base = await freePortPair();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(base + 2, '0.0.0.0', () => r()));
    try {
      const { code, err } = await runToExit('scripts/start.mjs', {
        // Both secrets given: start.mjs would otherwise write them into the repository's .env.
        SPMS_ADMIN_API_KEY: 'scale-test-placeholder-key',
        DEVICE_AUTH_CACHE_SECRET: 'scale-test-placeholder-secret',
        BROKER_PROCESSES: '2',
        WORKER_PROCESSES: '1',
        API_PROCESSES: '1',
        MQTT_PORT: String(await freePort()),
        HTTP_PORT: String(await freePort()),
        WORKER_HTTP_PORT: String(await freePort()),
        BROKER_HTTP_PORT: String(base),
      });
      expect(code).toBe(1);
      expect(err).toContain(`port ${base + 2} is already in use (BROKER_HTTP_PORT + 2, broker process 2 of 2)`);
      expect(err).toContain(`BROKER_HTTP_PORT=${base + 1000}`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
