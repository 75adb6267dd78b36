/**
 * The worker process's wiring: a BullMQ Worker on the `ingest` queue (one handler file per
 * job in handlers/), the domain-events queue it publishes to, and the inactivity sweeper.
 * `startWorker` is also used in-process by tests and the benchmark.
 */
import { DOMAIN_EVENTS_QUEUE } from '@spms/contracts';
import { createPool } from '@spms/db';
import { createLogger, type Logger } from '@spms/log';
import { createRedis, INGEST_QUEUE, ingestQueueOptions, startDurabilityMonitor } from '@spms/queue';
import { Queue, Worker } from 'bullmq';
import { bridgeSettings } from './bridge/config.js';
import { startBridge } from './bridge/index.js';
import type { WorkerConfig } from './config.js';
import { Deadlines } from './deadlines.js';
import { createIngestHandler } from './handlers/ingest-batch.js';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { EventPublisher } from './outbox.js';
import { DeviceConfigCache } from './persist/device-config.js';
import { ensureRollupZone, startRollupRefresher } from './persist/rollups.js';
import { createRolloutMetrics, startRolloutController } from './rollouts/controller.js';
import { startSweeper } from './sweeper.js';

export type { WorkerConfig } from './config.js';

export interface RunningWorker {
  /** Prometheus metrics of this worker (main.ts serves them on WORKER_HTTP_PORT). */
  metrics: WorkerMetrics;
  close(): Promise<void>;
}

export async function startWorker(config: WorkerConfig, opts: { logger?: Logger } = {}): Promise<RunningWorker> {
  const logger = opts.logger ?? createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const prefix = config.REDIS_PREFIX;
  // JIT off: every statement here is a short one over a batch (see createPool's `jit`).
  const pool = createPool(config.DATABASE_URL, {
    max: config.WORKER_DB_POOL,
    applicationName: 'spms-worker',
    jit: false,
  });
  // BullMQ's blocking connection needs maxRetriesPerRequest: null; commands of our own share it.
  const redis = createRedis(config.REDIS_URL, { maxRetriesPerRequest: null });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  // The queue this worker drains is only as durable as Redis: say so (or refuse) first.
  const durability = await startDurabilityMonitor({
    redis,
    logger: logger.child({ component: 'durability' }),
    require: config.REQUIRE_DURABLE_REDIS,
  }).catch(async (err: unknown) => {
    redis.disconnect();
    await pool.end();
    throw err;
  });
  // Reports' day rollups must be in SPMS_TIME_ZONE's days (a rebuild after a change of zone).
  await ensureRollupZone(pool, config.SPMS_TIME_ZONE, logger).catch(async (err: unknown) => {
    durability.stop();
    redis.disconnect();
    await pool.end();
    throw err;
  });
  const eventsQueue = new Queue(DOMAIN_EVENTS_QUEUE, {
    connection: redis,
    prefix,
    defaultJobOptions: {
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 24 * 3600, count: 100_000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    },
  });
  const deadlines = new Deadlines(redis, prefix);
  const configs = new DeviceConfigCache(pool, config.DEVICE_CACHE_TTL_MS);
  const publisher = new EventPublisher(pool, eventsQueue, redis, prefix);
  // Read-only handle on the ingest queue, for the depth and age gauges.
  const ingestQueue = new Queue(INGEST_QUEUE, { connection: redis, prefix: ingestQueueOptions(prefix).prefix });
  const metrics = createWorkerMetrics({ queue: ingestQueue, durability: () => durability.current() });
  // The cut-over bridge to ThingsBoard (off unless TB_BRIDGE_URL is set).
  const bridgeConf = bridgeSettings(config);
  const bridge = bridgeConf
    ? startBridge({
        settings: bridgeConf,
        redis,
        redisUrl: config.REDIS_URL,
        prefix,
        pool,
        logger,
        registry: metrics.registry,
      })
    : null;
  const handler = createIngestHandler({
    pool,
    configs,
    deadlines,
    publisher,
    logger,
    saneMin: config.VOLTAGE_SANE_MIN,
    saneMax: config.VOLTAGE_SANE_MAX,
    siteWindowMs: config.SITE_GROUP_WINDOW_MS,
    transactions: config.WORKER_TRANSACTIONS,
    mergeMaxMessages: config.WORKER_MERGE_MAX_MESSAGES,
    shards: config.WORKER_SHARDS,
    onCommitted(seconds, events) {
      metrics.transaction.observe(seconds);
      for (const e of events) {
        metrics.events.inc({ type: e.type });
        if (e.type === 'outage.opened') metrics.outagesOpened.inc();
      }
    },
    ...(bridge ? { afterCommit: (messages) => bridge.feed.append(messages) } : {}),
  });
  const workerConnection = createRedis(config.REDIS_URL, { maxRetriesPerRequest: null });
  workerConnection.on('error', () => {}); // reported through the worker's 'error' event
  const worker = new Worker(INGEST_QUEUE, handler, {
    connection: workerConnection,
    prefix: ingestQueueOptions(prefix).prefix,
    concurrency: config.WORKER_CONCURRENCY,
    // A killed worker's jobs come back once their lock expires (BullMQ stalled-job check).
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_LOCK_MS,
    maxStalledCount: 5,
  });
  worker.on('completed', (_job, result: { messages?: number } | undefined) => {
    metrics.jobs.inc({ result: 'completed' });
    metrics.messages.inc(result?.messages ?? 0);
  });
  worker.on('failed', (job, err) => {
    metrics.jobs.inc({ result: 'failed' });
    logger.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'ingest job failed');
  });
  worker.on('error', (err) => logger.warn({ err: err.message }, 'worker error'));
  const sweeper = startSweeper({
    pool,
    redis,
    prefix,
    deadlines,
    configs,
    publisher,
    logger,
    intervalMs: config.SWEEP_INTERVAL_MS,
  });
  const rollupRefresher = startRollupRefresher({
    pool,
    logger: logger.child({ component: 'rollups' }),
    intervalMs: config.ROLLUP_REFRESH_MS,
    limit: config.ROLLUP_REFRESH_LIMIT,
  });
  // Staged firmware rollouts: one worker process at a time drives them (a Redis lease).
  const rollouts = startRolloutController({
    pool,
    redis,
    prefix,
    logger: logger.child({ component: 'rollouts' }),
    metrics: createRolloutMetrics(metrics.registry),
    intervalMs: config.ROLLOUT_TICK_MS,
  });
  await worker.waitUntilReady();
  logger.info(
    { concurrency: config.WORKER_CONCURRENCY, transactions: config.WORKER_TRANSACTIONS, prefix },
    'worker started',
  );
  let closed: Promise<void> | undefined;
  return {
    metrics,
    close() {
      closed ??= (async () => {
        durability.stop();
        await worker.close();
        await bridge?.close();
        await sweeper.close();
        await rollupRefresher.close();
        await rollouts.close();
        await eventsQueue.close();
        await ingestQueue.close();
        workerConnection.disconnect();
        redis.disconnect();
        await pool.end();
      })();
      return closed;
    },
  };
}
