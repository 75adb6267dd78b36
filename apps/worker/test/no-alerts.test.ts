/**
 * The worker publishes domain events and consumes none: the alerts processes (apps/alerts)
 * do. When the worker also ran an alerts processor, a stack that started its own processor
 * with other timings had to remember to turn the worker's off, or the two shared the events
 * (76d9dc1); this keeps a consumer from coming back into the worker.
 */
import { DOMAIN_EVENTS_QUEUE } from '@spms/contracts';
import { Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('domain events', () => {
  it('stay in their queue for the alerts processes: the worker has no consumer of its own', async () => {
    h = await createHarness('no_alerts');
    const dev = await h.addDevice();
    await h.start();
    const now = Date.now();
    await h.enqueue([telemetry(dev, "{'3':'true'}", now - 1000), telemetry(dev, "{'3':'false'}", now)]);
    await h.drained(1);
    const events = new Queue(DOMAIN_EVENTS_QUEUE, { connection: { url: h.redis.url }, prefix: h.redis.prefix });
    try {
      await expect.poll(async () => (await events.getJobCounts('waiting')).waiting).toBeGreaterThanOrEqual(1);
      expect(await events.getWorkers()).toEqual([]);
      expect(await events.getJobCounts('active', 'completed', 'failed')).toEqual({
        active: 0,
        completed: 0,
        failed: 0,
      });
      // The check above can see a consumer: one started here is listed.
      const consumer = new Worker(DOMAIN_EVENTS_QUEUE, null, {
        connection: { url: h.redis.url },
        prefix: h.redis.prefix,
        autorun: false,
      });
      await consumer.waitUntilReady();
      expect(await events.getWorkers()).toHaveLength(1);
      await consumer.close();
    } finally {
      await events.close();
    }
  });
});
