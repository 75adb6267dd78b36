#!/usr/bin/env node
/**
 * Worker benchmark, in-process worker against a fresh database and Redis prefix (cleaned up).
 *
 * 1. Drain: pre-fill the `ingest` queue with BENCH_BATCHES jobs of BENCH_BATCH_SIZE
 *    firmware-like messages (voltage every 30 s, line changes) over BENCH_DEVICES devices,
 *    start the worker, time the drain → messages/s persisted with intervals maintained.
 * 2. Latency: background load of BENCH_RATE msg/s through the real group-commit producer,
 *    plus a probe every 100 ms (a line going down on a probe device, enqueued alone);
 *    latency = enqueue → its `outage.opened` event, which is published right after COMMIT.
 *
 * 3. Storm (BENCH_STORM=1, instead of 1 and 2): a grid failure and its restore. Every one of
 *    BENCH_DEVICES devices first reports its 8 lines on (untimed priming), then, timed from
 *    the first enqueue to the last job done: one message with all 8 lines off per device,
 *    then one with all 8 on (8 outages opened and closed per device), BENCH_BATCH_SIZE
 *    messages a job.
 *
 * Bench-only switches, applied to the bench database after the migrations:
 *   BENCH_ROLLUP_TRIGGERS=off   the outage day rollup triggers disabled (outages,
 *                               device_offline_periods): what they cost the write path
 *   BENCH_ROLLUP_TRIGGERS=sync  the outage triggers of migration 20261203000100 put back
 *                               (recompute in the writer's transaction, as before the dirty
 *                               marks of 20261203001000), for a before/after comparison
 *   BENCH_STATUS_SNAPSHOT=off   status_rows_refresh() replaced by a no-op: what the fleet
 *                               view's snapshot costs
 *
 *   npm run bench:worker
 *   BENCH_STORM=1 BENCH_DEVICES=10000 node apps/worker/dist/bench/worker.js
 *   BENCH_DEVICES=1000 BENCH_BATCHES=200 BENCH_BATCH_SIZE=500 BENCH_CONCURRENCY=64 BENCH_TRANSACTIONS=2 BENCH_RATE=2000 BENCH_SECONDS=10 npm run bench:worker
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { domainEventsChannel } from '@spms/contracts';
import { migrationsDir } from '@spms/db';
import { createLogger } from '@spms/log';
import {
  createIngestProducer,
  INGEST_JOB,
  INGEST_QUEUE,
  type IngestMessage,
  ingestQueueOptions,
  newMessageId,
} from '@spms/queue';
import { bench } from '@spms/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadWorkerConfig } from '../config.js';
import { startWorker } from '../worker.js';

const { admin, cleanup, dbName, dbUrl, migrate, prefix, REDIS_URL } = bench;

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const DEVICES = env('BENCH_DEVICES', 1000);
const BATCHES = env('BENCH_BATCHES', 200);
const BATCH_SIZE = env('BENCH_BATCH_SIZE', 500);
const CONCURRENCY = env('BENCH_CONCURRENCY', 64);
/** Transactions in flight (WORKER_TRANSACTIONS); the jobs in flight are merged into them. */
const TRANSACTIONS = env('BENCH_TRANSACTIONS', 2);
/** WORKER_MERGE_MAX_MESSAGES: at most this many messages merged into one transaction. */
const MERGE = env('BENCH_MERGE', 5000);
/** WORKER_SHARDS: parallel transactions per merged batch, split by device. */
const SHARDS = env('BENCH_SHARDS', 1);
const RATE = env('BENCH_RATE', 2000);
const SECONDS = env('BENCH_SECONDS', 10);
/** The gateway's group-commit delay (INGEST_MAX_DELAY_MS): larger means fewer, bigger jobs. */
const PRODUCER_DELAY_MS = env('BENCH_PRODUCER_DELAY_MS', 2);
const STORM = process.env.BENCH_STORM === '1';
const ROLLUP_TRIGGERS = process.env.BENCH_ROLLUP_TRIGGERS !== 'off';
const ROLLUP_SYNC = process.env.BENCH_ROLLUP_TRIGGERS === 'sync';
const STATUS_SNAPSHOT = process.env.BENCH_STATUS_SNAPSHOT !== 'off';

/** One message setting all 8 lines of a device on or off. */
function allLines(deviceId: string, on: boolean, receivedAt: number): IngestMessage {
  const values: Record<string, string> = {};
  for (let l = 1; l <= 8; l++) values[String(l)] = String(on);
  return { kind: 'telemetry', id: newMessageId(), deviceId, receivedAt, transport: 'mqtt', entries: [{ values }] };
}

function jobsOf(messages: IngestMessage[]) {
  const jobs = [];
  for (let i = 0; i < messages.length; i += BATCH_SIZE)
    jobs.push({ name: INGEST_JOB, data: { v: 1 as const, messages: messages.slice(i, i + BATCH_SIZE) } });
  return jobs;
}

/** Firmware-like traffic: per device a line state per line, V most of the time, some line changes. */
function makeTraffic(devices: string[]) {
  const lines = new Map(devices.map((d) => [d, Array.from({ length: 8 }, () => true)]));
  let clock = Date.now() - 3_600_000;
  return (deviceId: string, now?: number): IngestMessage => {
    clock += 1;
    const receivedAt = now ?? clock;
    const id = newMessageId();
    let values: Record<string, string | number>;
    if (Math.random() < 0.2) {
      const state = lines.get(deviceId) as boolean[];
      const line = 1 + Math.floor(Math.random() * 8);
      state[line - 1] = !state[line - 1];
      values = { [String(line)]: String(state[line - 1]) };
    } else values = { V: Math.round((215 + Math.random() * 20) * 10) / 10 };
    return { kind: 'telemetry', id, deviceId, receivedAt, transport: 'mqtt', entries: [{ values }] };
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function workerConfig() {
  return loadWorkerConfig({
    DATABASE_URL: dbUrl,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WORKER_TRANSACTIONS: String(TRANSACTIONS),
    WORKER_MERGE_MAX_MESSAGES: String(MERGE),
    WORKER_SHARDS: String(SHARDS),
    WORKER_DB_POOL: String(TRANSACTIONS * SHARDS + 4),
    ...(process.env.ROLLUP_REFRESH_LIMIT ? { ROLLUP_REFRESH_LIMIT: process.env.ROLLUP_REFRESH_LIMIT } : {}),
    ...(process.env.ROLLUP_REFRESH_MS ? { ROLLUP_REFRESH_MS: process.env.ROLLUP_REFRESH_MS } : {}),
  });
}

async function waitForJobs(queue: Queue, total: number): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('completed', 'failed', 'delayed');
    if (counts.delayed) throw new Error('a batch failed and waits for a retry: see the log');
    if ((counts.completed ?? 0) + (counts.failed ?? 0) >= total) {
      if (counts.failed) console.log(`  ${counts.failed} batches FAILED`);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** 3. Storm: all lines of every device off, then all on; timed from enqueue to the last job done. */
async function storm(
  queue: Queue,
  devices: string[],
  pool: pg.Pool,
  logger: ReturnType<typeof createLogger>,
): Promise<{ close(): Promise<void> }> {
  const t = Date.now() - 600_000;
  const prime = jobsOf(devices.map((d) => allLines(d, true, t)));
  await queue.addBulk(prime);
  const worker = await startWorker(workerConfig(), { logger });
  await waitForJobs(queue, prime.length);
  const off = jobsOf(devices.map((d, i) => allLines(d, false, t + 60_000 + i)));
  const on = jobsOf(devices.map((d, i) => allLines(d, true, t + 120_000 + i)));
  const load = loadavg()[0]?.toFixed(2);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await queue.addBulk(off);
  await queue.addBulk(on);
  await waitForJobs(queue, prime.length + off.length + on.length);
  const secs = (performance.now() - t0) / 1000;
  const cpuUsed = process.cpuUsage(cpu0);
  const nodeCpu = (cpuUsed.user + cpuUsed.system) / 1e6;
  const total = 2 * devices.length;
  const { rows } = await pool.query(
    'SELECT count(*)::int AS n, count(*) FILTER (WHERE ended_at IS NOT NULL)::int AS closed FROM outages',
  );
  console.log(
    `storm: ${devices.length} devices × 8 lines off then on = ${total} messages (${off.length + on.length} jobs) ` +
      `drained in ${secs.toFixed(2)} s = ${Math.round(total / secs)} msg/s; outages ${rows[0].n} (${rows[0].closed} closed, ` +
      `expected ${8 * devices.length}); worker process CPU ${nodeCpu.toFixed(2)} s; load at start ${load}, at end ${loadavg()[0]?.toFixed(2)}`,
  );
  // The rollup refresher's backlog left by the storm, and when it is gone (reports read raw rows until then).
  const dirtyCount = async () =>
    (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outage_rollup_dirty')).rows[0]?.n ?? 0;
  const backlog = await dirtyCount();
  while ((await dirtyCount()) > 0) await new Promise((r) => setTimeout(r, 100));
  console.log(
    `  rollup marks left at drain end ${backlog}; rollups caught up ${((performance.now() - t0) / 1000).toFixed(2)} s after the storm began`,
  );
  return worker;
}

async function main(): Promise<void> {
  await admin(`CREATE DATABASE ${dbName}`);
  // BENCH_EXPLAIN=<ms>: statements slower than that are logged with their plans (server log).
  if (process.env.BENCH_EXPLAIN) {
    const ms = Number(process.env.BENCH_EXPLAIN);
    await admin(`ALTER DATABASE ${dbName} SET session_preload_libraries = 'auto_explain'`);
    await admin(`ALTER DATABASE ${dbName} SET auto_explain.log_min_duration = ${ms}`);
    await admin(`ALTER DATABASE ${dbName} SET auto_explain.log_analyze = on`);
    await admin(`ALTER DATABASE ${dbName} SET auto_explain.log_buffers = on`);
  }
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  const redis = new Redis(REDIS_URL);
  const logger = createLogger({ name: 'bench', level: process.env.LOG_LEVEL ?? 'warn', pretty: false });
  const opts = ingestQueueOptions(prefix);
  const queue = new Queue(INGEST_QUEUE, {
    connection: { url: REDIS_URL },
    prefix,
    defaultJobOptions: opts.defaultJobOptions,
  });
  let worker: { close(): Promise<void> } | undefined;
  try {
    await migrate(pool);
    if (!ROLLUP_TRIGGERS) {
      await pool.query(
        `ALTER TABLE outages DISABLE TRIGGER outage_rollups_insert, DISABLE TRIGGER outage_rollups_update,
           DISABLE TRIGGER outage_rollups_delete`,
      );
      await pool.query(
        `ALTER TABLE device_offline_periods DISABLE TRIGGER outage_rollups_offline_insert,
           DISABLE TRIGGER outage_rollups_offline_update, DISABLE TRIGGER outage_rollups_offline_delete`,
      );
    }
    if (ROLLUP_SYNC) {
      const sql = await readFile(join(migrationsDir, '20261203000100_outage_day_rollups', 'migration.sql'), 'utf8');
      const fn = /CREATE OR REPLACE FUNCTION outage_rollups_on_outages\(\)[\s\S]*?\n\$\$;\n/.exec(sql)?.[0];
      if (!fn) throw new Error('outage_rollups_on_outages() not found in migration 20261203000100');
      await pool.query(fn);
    }
    if (!STATUS_SNAPSHOT)
      await pool.query(
        'CREATE OR REPLACE FUNCTION status_rows_refresh(ids UUID[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$',
      );
    const devices = Array.from({ length: DEVICES + 1 }, () => randomUUID());
    await pool.query(
      `INSERT INTO devices (id, name, profile_id, updated_at)
       SELECT d, 'bench_' || d, '00000000-0000-4000-8000-000000000001', now() FROM unnest($1::uuid[]) AS d`,
      [devices],
    );
    const probe = devices.pop() as string;
    const next = makeTraffic(devices);
    const cpu = cpus();
    console.log(
      `conditions: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, node ${process.version}, devices ${DEVICES}, batch ${BATCH_SIZE} msgs, ` +
        `${STORM ? 'storm' : `${BATCHES} batches`}, worker concurrency ${CONCURRENCY} jobs / ${TRANSACTIONS} transactions of ≤ ${MERGE} msgs × ${SHARDS} device shards, ` +
        `rollup triggers ${ROLLUP_SYNC ? 'SYNC (20261203000100)' : ROLLUP_TRIGGERS ? 'on' : 'OFF'}, status snapshot ${STATUS_SNAPSHOT ? 'on' : 'OFF'}, PostgreSQL + Redis on the same machine`,
    );
    if (STORM) {
      worker = await storm(queue, devices, pool, logger);
      return;
    }

    // 1. drain
    for (let b = 0; b < BATCHES; b += 50) {
      const jobs = [];
      for (let j = b; j < Math.min(BATCHES, b + 50); j++) {
        const messages = Array.from({ length: BATCH_SIZE }, () =>
          next(devices[Math.floor(Math.random() * devices.length)] as string),
        );
        jobs.push({ name: INGEST_JOB, data: { v: 1 as const, messages } });
      }
      await queue.addBulk(jobs);
    }
    const config = workerConfig();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    worker = await startWorker(config, { logger });
    for (;;) {
      const counts = await queue.getJobCounts('completed', 'failed', 'delayed');
      if (counts.delayed) throw new Error('a batch failed and waits for a retry: see the log');
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= BATCHES) {
        if (counts.failed) console.log(`  ${counts.failed} batches FAILED`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const secs = (performance.now() - t0) / 1000;
    const cpuUsed = process.cpuUsage(cpu0);
    const nodeCpu = (cpuUsed.user + cpuUsed.system) / 1e6;
    const total = BATCHES * BATCH_SIZE;
    const outages = await pool.query('SELECT count(*)::int AS n FROM outages');
    console.log(
      `drain: ${total} messages in ${secs.toFixed(2)} s = ${Math.round(total / secs)} msg/s ` +
        `(${outages.rows[0].n} outages maintained, ${Math.round(BATCHES / secs)} batches/s; ` +
        `worker process CPU ${nodeCpu.toFixed(2)} s = ${Math.round((100 * nodeCpu) / secs)} % of one core)`,
    );

    // 2. latency at a background load
    const sub = new Redis(REDIS_URL);
    const pending = new Map<string, number>();
    const latencies: number[] = [];
    await sub.subscribe(domainEventsChannel(prefix));
    sub.on('message', (_ch, text: string) => {
      const e = JSON.parse(text) as { type: string; payload: { outage?: { startMsgId: string } } };
      const id = e.payload.outage?.startMsgId;
      if (e.type === 'outage.opened' && id && pending.has(id)) {
        latencies.push(performance.now() - (pending.get(id) as number));
        pending.delete(id);
      }
    });
    const producer = createIngestProducer({ redisUrl: REDIS_URL, prefix, logger, maxDelayMs: PRODUCER_DELAY_MS });
    const probeProducer = createIngestProducer({ redisUrl: REDIS_URL, prefix, logger, maxDelayMs: 0 });
    let probeState = true;
    const phaseStart = Date.now();
    const end = Date.now() + SECONDS * 1000;
    let sent = 0;
    const tick = 10;
    const bg = setInterval(() => {
      // catch up with the schedule (timers drift under load): the rate is RATE on average
      const n = Math.floor((RATE * (Date.now() - phaseStart)) / 1000) - sent;
      for (let i = 0; i < n; i++) {
        producer
          .enqueue(next(devices[Math.floor(Math.random() * devices.length)] as string, Date.now()))
          .catch(() => {});
        sent++;
      }
    }, tick);
    while (Date.now() < end) {
      probeState = !probeState;
      const id = newMessageId();
      const m: IngestMessage = {
        kind: 'telemetry',
        id,
        deviceId: probe,
        receivedAt: Date.now(),
        transport: 'mqtt',
        entries: [{ values: { '3': String(probeState) } }],
      };
      if (!probeState) pending.set(id, performance.now());
      await probeProducer.enqueue(m);
      await new Promise((r) => setTimeout(r, 100));
    }
    clearInterval(bg);
    await new Promise((r) => setTimeout(r, 1000));
    latencies.sort((a, b) => a - b);
    console.log(
      `latency at ~${Math.round(sent / SECONDS)} msg/s background (group commit ${PRODUCER_DELAY_MS} ms): line change enqueued → outage row committed ` +
        `(event received): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, ` +
        `max ${(latencies[latencies.length - 1] ?? Number.NaN).toFixed(1)} ms over ${latencies.length} probes (${pending.size} missing)`,
    );
    // Where the time goes: waiting in the queue vs inside the handler (BullMQ's own stamps).
    const done = (await queue.getJobs(['completed'], 0, 5000)).filter((j) => j.timestamp >= phaseStart);
    const wait = done.map((j) => (j.processedOn ?? 0) - j.timestamp).sort((a, b) => a - b);
    const run = done.map((j) => (j.finishedOn ?? 0) - (j.processedOn ?? 0)).sort((a, b) => a - b);
    const size = done.reduce((n, j) => n + (j.data as { messages: unknown[] }).messages.length, 0) / (done.length || 1);
    console.log(
      `  ${done.length} jobs (avg ${size.toFixed(1)} msgs): queue wait p50 ${percentile(wait, 50)} ms / p99 ${percentile(wait, 99)} ms, ` +
        `handler p50 ${percentile(run, 50)} ms / p99 ${percentile(run, 99)} ms`,
    );
    await producer.close();
    await probeProducer.close();
    sub.disconnect();
  } finally {
    await worker?.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    redis.disconnect();
    await pool.end();
    await cleanup();
  }
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
