/**
 * Prometheus metrics of an IngestProducer, read from `stats()` at scrape time (the hot
 * path only bumps plain counters). Register once per producer on the app's registry.
 */
import { Counter, collectDefaultMetrics, Gauge, type Metric, type Registry } from 'prom-client';
import type { DurabilityReport } from './durability-monitor.js';
import type { IngestProducer } from './ingest-producer.js';

export function registerIngestMetrics(registry: Registry, producer: IngestProducer, prefix = 'spms_ingest'): void {
  const registers = [registry];
  // Counters follow the producer's running totals: add the difference since the last scrape.
  const counter = (name: string, help: string, read: () => number) => {
    let seen = 0;
    new Counter({
      name: `${prefix}_${name}`,
      help,
      registers,
      collect() {
        const now = read();
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name: `${prefix}_${name}`,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  counter('batches_total', 'Batches (BullMQ jobs) committed to the ingest queue', () => producer.stats().batches);
  counter('messages_total', 'Messages durably enqueued (their enqueue resolved)', () => producer.stats().messages);
  counter('failed_batches_total', 'Commits that failed or timed out', () => producer.stats().failedBatches);
  counter(
    'failed_messages_total',
    'Messages whose enqueue was rejected (device not acknowledged)',
    () => producer.stats().failedMessages,
  );
  counter(
    'rejected_messages_total',
    'Messages refused alone before any commit (not serialisable as JSON, or too big)',
    () => producer.stats().rejectedMessages,
  );
  gauge('last_batch_size', 'Messages in the last committed batch', () => producer.stats().lastBatchSize);
  gauge('pending_messages', 'Messages waiting for a commit', () => producer.stats().pending);
  gauge('in_flight_commits', 'Commits awaiting Redis', () => producer.stats().inFlight);
  gauge('redis_up', '1 while Redis accepts writes', () => (producer.isHealthy() ? 1 : 0));

  // The latency histogram is kept by the producer; expose its buckets as a Prometheus histogram.
  const name = `${prefix}_enqueue_latency_seconds`;
  const help = 'Time from enqueue to durable acknowledgement (successful enqueues)';
  const histogram = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const l = producer.stats().latency;
      const values = l.bucketsMs.map((ms, i) => ({
        metricName: `${name}_bucket`,
        labels: { le: ms / 1000 },
        value: l.cumulative[i] ?? 0,
      }));
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' as never }, value: l.count });
      return {
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: [
          ...values,
          { metricName: `${name}_sum`, labels: {}, value: l.sumMs / 1000 },
          { metricName: `${name}_count`, labels: {}, value: l.count },
        ],
      };
    },
    reset() {},
  };
  registry.registerMetric(histogram as unknown as Metric);
}

/**
 * prom-client's default process metrics (CPU, memory, event-loop lag, GC, handles) under
 * `prefix`, less its three `nodejs_active_*_total` families: gauges named like counters,
 * which Prometheus' conventions (and `promtool check metrics`) reject. The same counts stay
 * available by type in `nodejs_active_handles`, `_requests` and `_resources`; sum them.
 */
export function registerProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const what of ['handles', 'requests', 'resources'])
    registry.removeSingleMetric(`${prefix}nodejs_active_${what}_total`);
}

/** `spms_redis_durable` of a process that watches Redis durability (startDurabilityMonitor). */
export function registerRedisDurableGauge(registry: Registry, durability: () => DurabilityReport): void {
  new Gauge({
    name: 'spms_redis_durable',
    help: '1 when Redis keeps acknowledged messages durably (appendonly yes, appendfsync not no, maxmemory-policy noeviction), else 0',
    registers: [registry],
    collect() {
      this.set(durability().durable ? 1 : 0);
    },
  });
}
