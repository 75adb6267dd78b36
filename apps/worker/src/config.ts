/**
 * The worker's whole configuration: one TypeBox schema, parsed once at start-up
 * (`loadWorkerConfig(process.env)`); keys are the environment variable names.
 */

import { Port, parseConfig, ServiceConfigProps, type Static, Type } from '@spms/config';
import { redisLayoutProblem } from '@spms/queue';
import { BridgeConfigSchema, bridgeSettings } from './bridge/config.js';

export const WorkerConfigSchema = Type.Object({
  ...ServiceConfigProps,
  /** Prometheus metrics (`/metrics`) and liveness (`/healthz`) of the worker process (0 = any free port). */
  WORKER_HTTP_PORT: Port(9092),
  WORKER_HTTP_HOST: Type.String({ default: '0.0.0.0' }),
  /** Ingest jobs taken from the queue at once by this process (merged into WORKER_TRANSACTIONS). */
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1024, default: 64, description: 'jobs in flight' }),
  /** Ingest transactions in flight at once; each takes every job queued so far (group commit). */
  WORKER_TRANSACTIONS: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'transactions' }),
  /** Each merged batch is split by device into this many parallel transactions (no shared locks).
   *  Measured on 2 cores: 2 gives ~10 % more drain but several times the latency at light load. */
  WORKER_SHARDS: Type.Integer({ minimum: 1, maximum: 16, default: 1, description: 'transactions per batch' }),
  /** At most this many messages merged into one transaction. */
  WORKER_MERGE_MAX_MESSAGES: Type.Integer({ minimum: 1, default: 5000, description: 'messages' }),
  /** PostgreSQL connections of this process (needs ≥ WORKER_TRANSACTIONS × WORKER_SHARDS + 2 to never wait). */
  WORKER_DB_POOL: Type.Integer({ minimum: 2, maximum: 200, default: 12, description: 'pg pool size' }),
  /** A job whose worker died is handed to another worker after about this long (BullMQ lock). */
  WORKER_LOCK_MS: Type.Integer({ minimum: 1000, default: 30_000, description: 'milliseconds' }),
  /** How often the inactivity sweeper looks for expired devices (ThingsBoard: 60 s). */
  SWEEP_INTERVAL_MS: Type.Integer({ minimum: 20, maximum: 60_000, default: 200, description: 'milliseconds' }),
  /** The outage day rollups' refresher (migration 20261203001000): one transaction of at most
   *  ROLLUP_REFRESH_LIMIT dirty marks (≤ 1,000, so it locks per device) every ROLLUP_REFRESH_MS
   *  (sooner while a backlog lasts: persist/rollups.ts). */
  ROLLUP_REFRESH_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000, description: 'milliseconds' }),
  ROLLUP_REFRESH_LIMIT: Type.Integer({ minimum: 1, maximum: 1000, default: 1000 }),
  /** The staged firmware rollouts' controller ticks this often (docs/rollouts.md). */
  ROLLOUT_TICK_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000, description: 'milliseconds' }),
  /** Device settings (timeouts, limits, line labels) are re-read after this long. */
  DEVICE_CACHE_TTL_MS: Type.Integer({ minimum: 0, default: 10_000, description: 'milliseconds' }),
  /** Voltage readings outside this physical range are rejected (and recorded) as sensor faults. */
  VOLTAGE_SANE_MIN: Type.Number({ default: 0 }),
  VOLTAGE_SANE_MAX: Type.Number({ default: 400 }),
  /** Outages of one device starting within this many ms of each other are one site event. */
  SITE_GROUP_WINDOW_MS: Type.Integer({ minimum: 0, default: 5000, description: 'milliseconds' }),
  /** The local day of the outage day rollups (the same variable the alerts process uses for
   *  message texts and quiet hours). */
  SPMS_TIME_ZONE: Type.String({ default: 'Asia/Colombo', minLength: 1 }),
  /** Cut-over bridge to ThingsBoard (see apps/worker/src/bridge/config.ts); off unless TB_BRIDGE_URL is set. */
  ...BridgeConfigSchema.properties,
});

export type WorkerConfig = Static<typeof WorkerConfigSchema>;

export function loadWorkerConfig(env: Record<string, string | undefined>): WorkerConfig {
  // REDIS_URL's form (one server, Sentinel, Cluster) and, on Cluster, a hash-tagged REDIS_PREFIX.
  const config = parseConfig(WorkerConfigSchema, env, (c) => redisLayoutProblem(c.REDIS_URL, c.REDIS_PREFIX));
  bridgeSettings(config); // a half-configured bridge is refused here, naming what is missing
  return config;
}
