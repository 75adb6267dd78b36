/**
 * The worker's Prometheus endpoint, as main.ts serves it: after a job with a line change and
 * one invalid message, the counters say what happened (Prometheus text format, real HTTP).
 */
import type { Server } from 'node:http';
import { type IngestMessage, newMessageId } from '@spms/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { serveMetrics } from '../src/metrics.js';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
let server: Server | undefined;
afterEach(async () => {
  server?.close();
  await h?.close();
  h = undefined;
});

const sample = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('worker metrics', () => {
  it('counts jobs, messages, events by type, dead letters, and reports the queue and the process', async () => {
    h = await createHarness('worker_metrics');
    const dev = await h.addDevice();
    const w = await h.start();
    server = await serveMetrics(w.metrics.registry, 0, '127.0.0.1');
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const bad: IngestMessage = {
      kind: 'telemetry',
      id: newMessageId(),
      deviceId: dev,
      receivedAt: Date.now(),
      transport: 'mqtt',
      entries: [{ ts: 1733150000, values: { 2: false } }], // seconds: refused alone
    };
    const now = Date.now();
    await h.enqueue([telemetry(dev, "{'3':'true'}", now - 1000), telemetry(dev, "{'3':'false'}", now), bad]);
    await h.drained(1);
    // 'completed' is emitted after the job is counted in the queue: wait for the counter.
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await (await fetch(`${url}/metrics`)).text();
      if (sample(text, 'spms_worker_ingest_jobs_total{result="completed"}') === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sample(text, 'spms_worker_ingest_jobs_total{result="completed"}')).toBe(1);
    expect(sample(text, 'spms_worker_ingest_messages_total')).toBe(2); // the invalid one is a dead letter
    expect(sample(text, 'spms_worker_domain_events_total{type="outage.opened"}')).toBe(1);
    expect(sample(text, 'spms_worker_dead_letters_total{kind="message"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'spms_worker_transaction_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'spms_ingest_queue_jobs{state="waiting"}')).toBe(0);
    expect(sample(text, 'spms_ingest_queue_oldest_waiting_seconds')).toBe(0);
    expect(sample(text, 'spms_redis_durable')).toBe(0); // the shared Redis keeps nothing on disk
    expect(text).toMatch(/^spms_worker_process_resident_memory_bytes \d+/m);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });
});
