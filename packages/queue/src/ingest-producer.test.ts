import { createServer, type Socket } from 'node:net';
import { createTestRedis, freePort, type TestRedis } from '@spms/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestMessage } from './contracts.js';
import { newMessageId } from './ids.js';
import { createIngestProducer, type IngestProducer } from './ingest-producer.js';
import { readIngestBatches as readBatches } from './read-batches.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function message(deviceId: string, n: number): IngestMessage {
  return {
    id: newMessageId(),
    kind: 'telemetry',
    deviceId,
    receivedAt: Date.now(),
    transport: 'mqtt',
    entries: [{ values: { n } }],
  };
}

function track(p: IngestProducer, redis?: TestRedis): IngestProducer {
  cleanups.push(() => p.close());
  if (redis) cleanups.push(() => redis.cleanup());
  return p;
}

describe('ingest producer (group commit)', () => {
  it('commits many concurrent enqueues as few jobs, each message exactly once, per-device order kept', async () => {
    const redis = createTestRedis('producer');
    const producer = track(createIngestProducer({ redisUrl: redis.url, prefix: redis.prefix, maxBatch: 200 }), redis);
    const sent: IngestMessage[] = [];
    for (let i = 0; i < 2000; i++) sent.push(message(`dev-${i % 10}`, i));
    await Promise.all(sent.map((m) => producer.enqueue(m)));

    const batches = await readBatches(redis.url, redis.prefix);
    const got = batches.flatMap((b) => b.messages);
    expect(batches.length).toBeLessThanOrEqual(2000 / 200 + 5);
    expect(batches.every((b) => b.v === 1 && b.messages.length <= 200)).toBe(true);
    expect(got.map((m) => m.id).sort()).toEqual(sent.map((m) => m.id).sort());
    const ns = (dev: string) =>
      got.filter((m) => m.deviceId === dev).map((m) => (m.kind === 'telemetry' ? m.entries[0]?.values.n : -1));
    const dev3 = ns('dev-3');
    expect(dev3).toEqual([...dev3].sort((a, b) => Number(a) - Number(b)));
    const s = producer.stats();
    expect(s.messages).toBe(2000);
    expect(s.batches).toBe(batches.length);
    expect(s.latency.count).toBe(2000);
    expect(producer.isHealthy()).toBe(true);
  });

  it('rejects (does not buffer) while Redis is unreachable', async () => {
    const port = await freePort();
    const producer = track(
      createIngestProducer({
        redisUrl: `redis://127.0.0.1:${port}`,
        prefix: 'spmstest:nowhere',
        enqueueTimeoutMs: 300,
      }),
    );
    const started = Date.now();
    await expect(producer.enqueue(message('d', 1))).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(producer.isHealthy()).toBe(false);
    expect(producer.stats()).toMatchObject({ messages: 0, failedMessages: 1 });
  });

  it('closes a batch early when the messages are big (approxBytes)', async () => {
    const redis = createTestRedis('producer-bytes');
    const producer = track(
      createIngestProducer({ redisUrl: redis.url, prefix: redis.prefix, maxBatchBytes: 250_000, maxDelayMs: 20 }),
      redis,
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.enqueue(message('big', i), 100_000)));
    const batches = await readBatches(redis.url, redis.prefix);
    expect(batches.flatMap((b) => b.messages)).toHaveLength(10);
    expect(Math.max(...batches.map((b) => b.messages.length))).toBeLessThanOrEqual(3);
  });

  it('rejects at its deadline when Redis accepts the connection but never answers', async () => {
    const sockets: Socket[] = [];
    const blackhole = createServer((s) => sockets.push(s));
    const port = await freePort();
    await new Promise<void>((r) => blackhole.listen(port, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise((r) => {
          for (const s of sockets) s.destroy();
          blackhole.close(r);
        }),
    );
    const producer = track(
      createIngestProducer({ redisUrl: `redis://127.0.0.1:${port}`, prefix: 'spmstest:hole', enqueueTimeoutMs: 300 }),
    );
    await expect(producer.enqueue(message('d', 1))).rejects.toThrow(/did not acknowledge within 300 ms/);
    expect(producer.stats()).toMatchObject({ messages: 0, failedMessages: 1, failedBatches: 1 });
  });
});
