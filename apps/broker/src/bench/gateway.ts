#!/usr/bin/env node
/**
 * Gateway benchmark: the built broker (apps/broker/dist/main.js) in a child process, with
 * its own test database and Redis prefix, against the same load on the Mosquitto at
 * 127.0.0.1:1883 (MOSQUITTO_PORT). Loopback only, bounded in time, cleans up after itself.
 *
 *   npm run bench:gateway
 *   BENCH_DEVICES=1000 BENCH_INFLIGHT=4 BENCH_SECONDS=10 BENCH_IDLE=10000 BENCH_PROFILE=1 npm run bench:gateway
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { INGEST_QUEUE, type IngestBatch } from '@spms/queue';
import { createTestDatabase, createTestRedis, freePort } from '@spms/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type BrokerProcess, seedTokenDevices, startBrokerProcess } from './broker-process.js';
import { connectAll, cpuTicks, idleMemory, waitForPort } from './measure.js';
import { summarizeProfile } from './profile.js';
import { encodePublish, type RawClient } from './raw-client.js';

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const DEVICES = env('BENCH_DEVICES', 1000);
const INFLIGHT = env('BENCH_INFLIGHT', 4);
const SECONDS = env('BENCH_SECONDS', 10);
const IDLE = env('BENCH_IDLE', 10_000);
const MOSQUITTO_PORT = env('MOSQUITTO_PORT', 1883);
const PROFILE = process.env.BENCH_PROFILE === '1';
// The fleet's mix: voltages with one decimal (200.0–240.0: ~350 of the 401 values) and line changes.
const PAYLOADS = Array.from({ length: 1024 }, (_, i) =>
  i % 4 === 3
    ? `{'${1 + (i % 8)}':'${i % 8 < 4 ? 'false' : 'true'}'}`
    : `{'V':${(200 + Math.random() * 40).toFixed(1)}}`,
);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface LoadResult {
  accepted: number;
  rate: number;
  p50: number;
  p99: number;
  cpuPct?: number;
  loadGenPct: number;
  loadAvg: number;
}

async function runLoad(
  port: number,
  user: (i: number) => string | undefined,
  topic: string,
  tag: string,
  pid?: number,
): Promise<LoadResult> {
  const clients = await connectAll(DEVICES, port, user, tag);
  const templates = PAYLOADS.map((p) => encodePublish(topic, p));
  const latencies: number[] = [];
  let accepted = 0;
  let measuring = false;
  let stop = false;
  const loop = async (c: RawClient, k: number) => {
    for (let n = k; !stop && !c.closed; n++) {
      const t = templates[n % templates.length] as { template: Buffer; idOffset: number };
      const ms = await c.publish(t.template, t.idOffset);
      if (ms >= 0 && measuring) {
        accepted++;
        latencies.push(ms);
      }
    }
  };
  const loops = clients.flatMap((c, i) => Array.from({ length: INFLIGHT }, (_, k) => loop(c, i + k)));
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  measuring = true;
  const t0 = performance.now();
  const c0 = pid ? cpuTicks(pid) : 0;
  const self0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPct = pid ? (cpuTicks(pid) - c0) / elapsed : undefined;
  const self = process.cpuUsage(self0);
  const loadGenPct = (100 * (self.user + self.system)) / 1e6 / elapsed;
  stop = true;
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 5000))]);
  for (const c of clients) c.close();
  latencies.sort((a, b) => a - b);
  return {
    accepted,
    rate: accepted / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    loadGenPct,
    loadAvg: loadavg()[0] ?? 0,
    ...(cpuPct !== undefined ? { cpuPct } : {}),
  };
}

async function countQueued(redisUrl: string, prefix: string): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(INGEST_QUEUE, { connection, prefix });
  let n = 0;
  const total = await queue.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
  for (let start = 0; start < total; start += 500) {
    const jobs = await queue.getJobs(
      ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'],
      start,
      start + 499,
    );
    for (const j of jobs) n += (j.data as IngestBatch).messages.filter((m) => m.kind === 'telemetry').length;
  }
  await queue.close();
  connection.disconnect();
  return n;
}

async function main(): Promise<void> {
  const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  console.log('SPMS gateway benchmark');
  console.log(`  CPU: ${cpus()[0]?.model ?? '?'} × ${cpus().length}, node ${process.version}, ${process.platform}`);
  console.log(
    `  load: ${DEVICES} devices × ${INFLIGHT} QoS 1 in flight, firmware payloads, ${SECONDS} s (+1 s warm-up)`,
  );
  console.log(
    `  idle: ${IDLE} connections; comparison: Mosquitto on 127.0.0.1:${MOSQUITTO_PORT} (memory: a private fresh mosquitto)`,
  );
  console.log(
    `  machine load average before the run: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (shared machine)\n`,
  );

  const db = await createTestDatabase('bench_gateway');
  const redis = createTestRedis('bench-gateway');
  const profileDir = PROFILE ? mkdtempSync(join(tmpdir(), 'spms-gw-prof-')) : undefined;
  let broker: BrokerProcess | undefined;
  try {
    const tokens = await seedTokenDevices(
      db.url,
      Math.max(DEVICES, IDLE),
      'bench',
      '00000000-0000-4000-8000-00000000be01',
    );

    broker = await startBrokerProcess({
      dbUrl: db.url,
      redisUrl: redis.url,
      prefix: redis.prefix,
      nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    const pid = broker.child.pid as number;
    const token = (i: number) => tokens[i];
    // Memory first, on a fresh process: after the load phase the heap is already grown and
    // RSS deltas understate what connections cost. Mosquitto likewise: a private, fresh
    // instance (the long-running one at 1883 keeps freed memory resident).
    const idleOurs = await idleMemory(IDLE, broker.mqttPort, pid, token, 'spms-idle');
    let mosqLine: string;
    const mosqPort = await freePort();
    const mosquitto = spawn('mosquitto', ['-p', String(mosqPort)], { stdio: 'ignore' });
    try {
      await waitForPort(mosqPort);
      const idleMosq = await idleMemory(IDLE, mosqPort, mosquitto.pid as number, () => undefined, 'mosq-idle');
      mosqLine = `fresh Mosquitto ${fmt(idleMosq.perConnKiB, 1)} KiB/connection; ratio SPMS/Mosquitto ${fmt(idleOurs.perConnKiB / idleMosq.perConnKiB, 1)}`;
    } catch (err) {
      mosqLine = `Mosquitto: ${(err as Error).message}`;
    } finally {
      mosquitto.kill();
    }
    console.log(`Memory (${fmt(idleOurs.n)} idle authenticated connections, RSS delta / connections)`);
    console.log(`  SPMS gateway ${fmt(idleOurs.perConnKiB, 1)} KiB/connection; ${mosqLine}`);
    console.log(`  → 50,000 connections ≈ ${fmt((idleOurs.perConnKiB * 50_000) / 1024)} MiB for the gateway process\n`);

    const ours = await runLoad(broker.mqttPort, token, 'v1/devices/me/telemetry', 'spms', pid);
    const queued = await countQueued(redis.url, redis.prefix);
    const metrics = await (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
    const num = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? Number.NaN);
    const enqMean =
      (1000 * num(/spms_broker_enqueue_seconds_sum (\S+)/)) / num(/spms_broker_enqueue_seconds_count (\S+)/);
    const mosq = await runLoad(
      MOSQUITTO_PORT,
      () => undefined,
      `spms-bench/${redis.prefix}/telemetry`,
      `spms-bench-${process.pid}`,
    );
    console.log('Throughput (QoS 1, PUBACK = durably in the Redis queue for SPMS; in memory for Mosquitto)');
    console.log(
      `  SPMS gateway: ${fmt(ours.rate)} msg/s accepted, PUBACK p50 ${fmt(ours.p50, 1)} ms, p99 ${fmt(ours.p99, 1)} ms, broker CPU ${fmt(ours.cpuPct ?? 0)} % of one core, load generator ${fmt(ours.loadGenPct)} %, load avg ${fmt(ours.loadAvg, 1)}`,
    );
    console.log(
      `  Mosquitto:    ${fmt(mosq.rate)} msg/s, PUBACK p50 ${fmt(mosq.p50, 1)} ms, p99 ${fmt(mosq.p99, 1)} ms, load generator ${fmt(mosq.loadGenPct)} %, load avg ${fmt(mosq.loadAvg, 1)}`,
    );
    console.log(`  SPMS broker-side enqueue (PUBLISH received → in Redis): mean ${fmt(enqMean, 1)} ms`);
    console.log(`  ratio SPMS/Mosquitto: ${fmt(ours.rate / mosq.rate, 2)}`);
    console.log(
      `  queue check: ${fmt(queued)} telemetry messages in the ingest queue for ≥ ${fmt(ours.accepted)} PUBACKs measured (warm-up/drain included)\n`,
    );
  } finally {
    if (broker) {
      const exited = new Promise((r) => broker?.child.once('exit', r));
      broker.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    await redis.cleanup();
    await db.drop();
    if (profileDir) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (file)
        console.log(
          `\nWhere the broker's CPU time goes (self time, share of busy samples over the whole run):\n${summarizeProfile(join(profileDir, file))}`,
        );
      rmSync(profileDir, { recursive: true, force: true });
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('benchmark failed:', err);
    process.exit(1);
  },
);
