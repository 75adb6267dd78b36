/** Test harness: a fresh database + Redis prefix, a registered device, a queue to enqueue into. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLogger } from '@spms/log';
import {
  INGEST_JOB,
  INGEST_QUEUE,
  type IngestBatch,
  type IngestMessage,
  ingestQueueOptions,
  newMessageId,
} from '@spms/queue';
import { parseTelemetry } from '@spms/telemetry';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import { Queue } from 'bullmq';
import pg from 'pg';
import { loadWorkerConfig, type WorkerConfig } from '../../src/config.js';
import { type RunningWorker, startWorker } from '../../src/worker.js';

export const silent = createLogger({ name: 'test', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

export interface Harness {
  db: TestDatabase;
  redis: TestRedis;
  pool: pg.Pool;
  queue: Queue;
  config: WorkerConfig;
  addDevice(opts?: { timeoutSec?: number; momentarySec?: number }): Promise<string>;
  enqueue(messages: IngestMessage[], jobId?: string): Promise<string>;
  /** Waits until `n` jobs in total have completed or failed. */
  drained(n: number, timeoutMs?: number): Promise<void>;
  start(overrides?: Record<string, string>): Promise<RunningWorker>;
  outages(deviceId: string): Promise<OutageView[]>;
  close(): Promise<void>;
}

export interface OutageView {
  line: number;
  started_at: number;
  ended_at: number | null;
  duration_ms: number | null;
  unknown_ms: number;
  class: string;
}

export async function createHarness(label: string, env: Record<string, string> = {}): Promise<Harness> {
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  const pool = new pg.Pool({ connectionString: db.url, max: 3 });
  // pool.end() resolves before its sockets close; DROP DATABASE … FORCE may then hit a client
  // that no longer has the pool's error listener.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const opts = ingestQueueOptions(redis.prefix);
  const queue = new Queue(INGEST_QUEUE, {
    connection: { url: redis.url },
    prefix: opts.prefix,
    defaultJobOptions: opts.defaultJobOptions,
  });
  const config = loadWorkerConfig({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    WORKER_CONCURRENCY: '4',
    WORKER_DB_POOL: '6',
    ...env,
  });
  const workers: { close(): Promise<void> }[] = [];
  let added = 0;
  return {
    db,
    redis,
    pool,
    queue,
    config,
    async addDevice({ timeoutSec, momentarySec } = {}) {
      const id = randomUUID();
      await pool.query(
        `INSERT INTO devices (id, name, profile_id, inactivity_timeout_sec, momentary_threshold_sec, updated_at)
         VALUES ($1, $2, '00000000-0000-4000-8000-000000000001', $3, $4, now())`,
        [id, `dev_${id.slice(0, 8)}`, timeoutSec ?? null, momentarySec ?? null],
      );
      return id;
    },
    async enqueue(messages, jobId) {
      const batch: IngestBatch = { v: 1, messages };
      const job = await queue.add(INGEST_JOB, batch, jobId ? { jobId } : {});
      added++;
      return String(job.id);
    },
    async drained(n, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const c = await queue.getJobCounts('completed', 'failed');
        if ((c.completed ?? 0) + (c.failed ?? 0) >= n) return;
        if (Date.now() > end) throw new Error(`not drained: ${JSON.stringify(c)} of ${n} (added ${added})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async start(overrides = {}) {
      const w = await startWorker(
        { ...config, ...loadWorkerConfig({ ...toEnv(config), ...overrides }) },
        { logger: silent },
      );
      workers.push(w);
      return w;
    },
    async outages(deviceId) {
      const { rows } = await pool.query(
        `SELECT line, (extract(epoch from started_at) * 1000)::float8 AS started_at,
                (extract(epoch from ended_at) * 1000)::float8 AS ended_at, duration_ms::float8 AS duration_ms,
                unknown_ms::float8 AS unknown_ms, class
           FROM outages WHERE device_id = $1 ORDER BY line, started_at`,
        [deviceId],
      );
      return rows.map((r) => ({
        ...r,
        started_at: Math.round(r.started_at),
        ended_at: r.ended_at === null ? null : Math.round(r.ended_at),
      }));
    },
    async close() {
      for (const w of workers) await w.close();
      await queue.close();
      await pool.end();
      await redis.cleanup();
      await db.drop();
    },
  };
}

function toEnv(c: WorkerConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, String(v)]));
}

/** A telemetry message as the gateway would enqueue it (lenient parsing of the exact payload). */
export function telemetry(deviceId: string, payload: string, receivedAt: number, id = newMessageId()): IngestMessage {
  const parsed = parseTelemetry(payload);
  if (!parsed.ok) throw new Error(parsed.error);
  return { kind: 'telemetry', id, deviceId, receivedAt, transport: 'mqtt', entries: parsed.entries };
}

export interface FixtureEvent {
  t: number;
  payload: string;
}
// The firmware's byte-exact test vectors (repository fixtures/).
export const mqttFixture = JSON.parse(
  readFileSync(new URL('../../../../fixtures/mqtt-firmware.json', import.meta.url), 'utf8'),
) as { scenario: { events: FixtureEvent[]; expect_outages: { line: number; start_t: number; end_t: number }[] } };
