/**
 * Producer throughput: N messages from C concurrent callers (each awaits its enqueue, as
 * a device connection awaits its PUBACK), against a Redis under a throw-away prefix.
 *   node packages/queue/dist/bench/ingest-producer.js [messages=100000] [callers=1000] [redisUrl]
 * Prints msg/s, enqueue latency percentiles and batch sizes; deletes its keys afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { IngestMessage } from '../contracts.js';
import { newMessageId } from '../ids.js';
import { createIngestProducer } from '../ingest-producer.js';

const total = Number(process.argv[2] ?? 100_000);
const callers = Number(process.argv[3] ?? 1000);
const redisUrl = process.argv[4] ?? 'redis://127.0.0.1:6379';
const prefix = `spmsbench:${randomBytes(4).toString('hex')}`;

const producer = createIngestProducer({ redisUrl, prefix });
const latencies = new Float64Array(total);
let issued = 0;
let failed = 0;

async function caller(n: number): Promise<void> {
  while (issued < total) {
    const i = issued++;
    const msg: IngestMessage = {
      id: newMessageId(),
      kind: 'telemetry',
      deviceId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      receivedAt: Date.now(),
      transport: 'mqtt',
      entries: [{ values: { V: 229.4 } }],
    };
    const t = performance.now();
    try {
      await producer.enqueue(msg);
    } catch {
      failed++;
    }
    latencies[i] = performance.now() - t;
  }
}

// Warm-up (connection, BullMQ script load) outside the measurement.
const warmUp: IngestMessage = {
  id: newMessageId(),
  kind: 'connectivity',
  event: 'activity',
  deviceId: 'warm-up',
  receivedAt: Date.now(),
  transport: 'mqtt',
};
await producer.enqueue(warmUp).catch(() => {});
const started = performance.now();
await Promise.all(Array.from({ length: callers }, (_, n) => caller(n)));
const seconds = (performance.now() - started) / 1000;
const s = producer.stats();
await producer.close();

const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p: number) => (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0).toFixed(2);
process.stdout.write(
  `${JSON.stringify({
    messages: total,
    callers,
    failed,
    seconds: Number(seconds.toFixed(2)),
    msgPerSec: Math.round(total / seconds),
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: pct(100) },
    batches: s.batches - 1,
    avgBatch: Math.round((s.messages - 1) / Math.max(1, s.batches - 1)),
  })}\n`,
);

const r = new Redis(redisUrl);
let cursor = '0';
do {
  const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length) await r.unlink(...keys);
} while (cursor !== '0');
r.disconnect();
