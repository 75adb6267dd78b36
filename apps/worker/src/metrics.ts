/**
 * Prometheus metrics of one worker (its own registry: tests start several in one process),
 * served by main.ts on WORKER_HTTP_PORT (`/metrics`, `/healthz`). What an operator watches:
 * is the ingest queue draining (depth, age of the oldest waiting job), how fast and how
 * slowly (jobs, messages, transaction time), what it produced (domain events by type), what
 * it refused for good (dead letters), and whether Redis keeps acknowledgements durably (what
 * the alerts send, the alerts process counts: apps/alerts/src/metrics.ts). Names follow
 * Prometheus' conventions (tests/e2e/metrics-conventions.test.ts): counters end in `_total`,
 * times are `_seconds`.
 */
import type { Server } from 'node:http';
import {
  type DurabilityReport,
  registerProcessMetrics,
  registerRedisDurableGauge,
  serveMetricsHttp,
} from '@spms/queue';
import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { deadLetterCounts } from './dead-letter.js';
import { firmwareReportCounts } from './persist/firmware-state.js';

export interface WorkerMetrics {
  registry: Registry;
  jobs: Counter<'result'>;
  messages: Counter;
  transaction: Histogram;
  events: Counter<'type'>;
  outagesOpened: Counter;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;

export function createWorkerMetrics(opts: { queue: Queue; durability?: () => DurabilityReport }): WorkerMetrics {
  const registry = new Registry();
  registerProcessMetrics(registry, 'spms_worker_');
  // Queue reads are cached: a scrape every second must not add Redis load under a backlog.
  let cached: { at: number; counts: Record<string, number>; oldest: number | null } | undefined;
  const queueState = async () => {
    if (cached && Date.now() - cached.at < 5000) return cached;
    const [counts, waiting] = await Promise.all([
      opts.queue.getJobCounts(...QUEUE_STATES),
      opts.queue.getWaiting(0, 0),
    ]);
    const oldest = waiting[0]?.timestamp ?? null;
    cached = { at: Date.now(), counts, oldest };
    return cached;
  };
  new Gauge({
    name: 'spms_ingest_queue_jobs',
    help: 'Jobs in the ingest queue by state (cached, refreshed at most every 5 s)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const { counts } = await queueState();
      for (const s of QUEUE_STATES) this.set({ state: s }, counts[s] ?? 0);
    },
  });
  new Gauge({
    name: 'spms_ingest_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job waiting in the ingest queue (0 when none waits)',
    registers: [registry],
    async collect() {
      const { oldest } = await queueState();
      this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
    },
  });
  new Counter({
    name: 'spms_worker_dead_letters_total',
    help: 'Messages (kind=message) and whole jobs (kind=job) refused for good and recorded in dead_letters by this process',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      // Counted where they are recorded (dead-letter.ts), process-wide.
      this.reset();
      this.inc({ kind: 'message' }, deadLetterCounts.messages);
      this.inc({ kind: 'job' }, deadLetterCounts.jobs);
    },
  });
  new Counter({
    name: 'spms_worker_firmware_reports_total',
    help: "Devices whose firmware report (current_fw_*, fw_state, fw_error) a batch applied to device_firmware (result=applied), and fw_state values ignored as not one of ThingsBoard's states (result=invalid_state)",
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'applied' }, firmwareReportCounts.applied);
      this.inc({ result: 'invalid_state' }, firmwareReportCounts.invalidState);
    },
  });
  if (opts.durability) registerRedisDurableGauge(registry, opts.durability);
  return {
    registry,
    jobs: new Counter({
      name: 'spms_worker_ingest_jobs_total',
      help: 'Ingest jobs finished by this worker, by result (failed = will be retried or dead-lettered)',
      labelNames: ['result'],
      registers: [registry],
    }),
    messages: new Counter({
      name: 'spms_worker_ingest_messages_total',
      help: 'Device messages processed in the ingest jobs this worker completed (dead-lettered ones are counted apart)',
      registers: [registry],
    }),
    transaction: new Histogram({
      name: 'spms_worker_transaction_seconds',
      help: 'Duration of one ingest transaction (a merged batch: insert, engines, events, COMMIT)',
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    events: new Counter({
      name: 'spms_worker_domain_events_total',
      help: 'Domain events committed by this worker, by type (outage.opened, device.offline, …)',
      labelNames: ['type'],
      registers: [registry],
    }),
    outagesOpened: new Counter({
      name: 'spms_worker_outages_opened_total',
      help: 'Outages opened by the ingest transactions this worker committed (the outage.opened events)',
      registers: [registry],
    }),
  };
}

/** `/metrics` and `/healthz` on a plain HTTP server (the worker serves nothing else). */
export function serveMetrics(registry: Registry, port: number, host: string): Promise<Server> {
  return serveMetricsHttp(registry, port, host, { healthz: true });
}
