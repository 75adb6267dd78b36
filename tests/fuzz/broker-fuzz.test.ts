/**
 * Fuzzing the MQTT gateway over real TCP: mutated valid packets (mqtt-packet), mutated
 * firmware payloads and raw random bytes, for a bounded time and count, against the built
 * broker in a child process (so its RSS is its own, read from /proc). Meanwhile an honest
 * device publishes QoS 1 and every message must be acknowledged; the broker must stay up
 * and its RSS grow by less than 50 MiB.
 *
 * FUZZ_SECONDS (default 20) and FUZZ_RUNS (default 3000) bound the run; a failure prints
 * fast-check's seed (replay with FUZZ_SEED).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { credentialsKey } from '@spms/credentials';
import { createTestDatabase, createTestRedis, freePort, type TestDatabase, type TestRedis } from '@spms/testing';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../fault/test-support/app-process.js';
import { type MqttSession, mqttSessionArb } from './test-support/mutations.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const HONEST = 'FUZZ_HONEST_TOKEN_01';
const FUZZ = 'FUZZ_DEVICE_TOKEN_02';
const PROFILE = '00000000-0000-4000-8000-0000000000f1';

let db: TestDatabase;
let redis: TestRedis;
let broker: ChildProcess;
let output = '';
let mqttPort: number;
let httpPort: number;

const rssBytes = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
};
const alive = () => broker.exitCode === null && broker.signalCode === null;

beforeAll(async () => {
  ensureBuilt(['broker']);
  db = await createTestDatabase('fuzz_broker');
  redis = createTestRedis('fuzz-broker');
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await sql.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'fuzz', now())`, [PROFILE]);
  for (const [name, token] of [
    ['0900_MSAN', HONEST],
    ['0901_MSAN', FUZZ],
  ]) {
    const id = randomUUID();
    await sql.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
      id,
      name,
      PROFILE,
    ]);
    await sql.query(
      `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at) VALUES ($1, 'ACCESS_TOKEN', $2, now())`,
      [id, credentialsKey({ type: 'ACCESS_TOKEN', token: token ?? '' })],
    );
  }
  await sql.end();
  mqttPort = await freePort();
  httpPort = await freePort();
  broker = spawn(process.execPath, [`${repoRoot}apps/broker/dist/main.js`], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'warn',
      // Every fuzz connection comes from 127.0.0.1: per-IP limits would soon refuse them all
      // and the fuzzer would only exercise the refusal.
      CONNECT_RATE_PER_IP: '0',
      AUTH_FAILURES_PER_IP: '0',
      CONNECT_TIMEOUT_MS: '2000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-16_384);
  };
  broker.stdout?.on('data', keep);
  broker.stderr?.on('data', keep);
  const end = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (!alive() || Date.now() > end) throw new Error(`broker did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (broker && alive()) {
    const exited = new Promise((r) => broker.once('exit', r));
    broker.kill('SIGTERM');
    await exited;
  }
  await redis?.cleanup();
  await db?.drop();
});

/** One fuzz connection: send, then wait briefly for the broker to answer or close. */
function runSession(s: MqttSession, validConnect: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const sock = netConnect(mqttPort, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    };
    const timer = setTimeout(done, 100);
    sock.on('error', done);
    sock.on('close', done);
    sock.on('data', () => {});
    sock.on('connect', () => {
      sock.write(s.validConnect ? validConnect : s.connect);
      for (const p of s.packets) sock.write(p);
    });
  });
}

it(`survives ${SECONDS} s of mutated and random MQTT input while an honest device is acknowledged`, async () => {
  const pid = broker.pid ?? 0;
  const honest: MqttClient = await new Promise((resolve, reject) => {
    const c = mqtt.connect({
      host: '127.0.0.1',
      port: mqttPort,
      username: HONEST,
      clientId: 'honest',
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  let honestClosed = false;
  honest.on('close', () => {
    honestClosed = true;
  });
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let longestAckMs = 0;
  let stop = false;
  const honestLoop = (async () => {
    while (!stop && !honestClosed) {
      const at = Date.now();
      sent++;
      await honest.publishAsync('v1/devices/me/telemetry', "{'V':230.5}", { qos: 1 }).then(
        () => {
          acked++;
          longestAckMs = Math.max(longestAckMs, Date.now() - at);
        },
        () => {
          failed++;
        },
      );
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  const { connectPacket } = await import('./test-support/mutations.js');
  const validConnect = connectPacket(FUZZ, 'fuzzer');
  // Warm-up (module caches, first connections) before the baseline RSS.
  for (let i = 0; i < 50; i++)
    await runSession({ validConnect: true, connect: validConnect, packets: [] }, validConnect);
  const rssBefore = rssBytes(pid);
  let runs = 0;
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  await fc.assert(
    fc.asyncProperty(fc.array(mqttSessionArb(FUZZ), { minLength: 4, maxLength: 4 }), async (sessions) => {
      runs++;
      // Four connections at a time.
      await Promise.all(sessions.map((s) => runSession(s, validConnect)));
      return alive();
    }),
    {
      numRuns: RUNS,
      interruptAfterTimeLimit: SECONDS * 1000,
      markInterruptAsFailure: false,
      ...(seed !== undefined ? { seed } : {}),
    },
  );
  stop = true;
  await honestLoop;
  // Let the broker settle (closed sockets released) before reading its RSS.
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfter = rssBytes(pid);
  const growthMiB = (rssAfter - rssBefore) / 1024 / 1024;
  console.info(
    `broker fuzz: ${runs * 4} connections in ~${SECONDS} s, RSS ${(rssBefore / 1048576).toFixed(1)} → ${(rssAfter / 1048576).toFixed(1)} MiB (+${growthMiB.toFixed(1)}), honest ${acked}/${sent} acked, longest ack ${longestAckMs} ms`,
  );
  expect(alive(), output).toBe(true);
  expect(runs).toBeGreaterThan(10);
  expect(honestClosed).toBe(false);
  expect(failed).toBe(0);
  expect(acked).toBe(sent);
  expect(acked).toBeGreaterThan(10);
  expect(growthMiB).toBeLessThan(50);
  expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
  await honest.endAsync();
}, 120_000);
