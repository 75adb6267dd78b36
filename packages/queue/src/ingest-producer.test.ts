import { createServer, type Socket } from 'node:net';
import {
  createTcpProxy,
  createTestRedis,
  freePort,
  readIngestBatches as readBatches,
  type TestRedis,
} from '@spms/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestMessage } from './contracts.js';
import { newMessageId } from './ids.js';
import { createIngestProducer, type IngestProducer } from './ingest-producer.js';

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

/** A server that accepts connections and never answers: a Redis that hangs. Its port. */
async function blackholeRedis(): Promise<number> {
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
  return port;
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

  it('closes a batch early when the messages are big (their serialised size)', async () => {
    const redis = createTestRedis('producer-bytes');
    const producer = track(
      createIngestProducer({ redisUrl: redis.url, prefix: redis.prefix, maxBatchBytes: 250_000, maxDelayMs: 20 }),
      redis,
    );
    const big = (i: number): IngestMessage => ({
      ...message('big', i),
      entries: [{ values: { s: 'x'.repeat(100_000) } }],
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => producer.enqueue(big(i))));
    const batches = await readBatches(redis.url, redis.prefix);
    expect(batches.flatMap((b) => b.messages)).toHaveLength(10);
    expect(Math.max(...batches.map((b) => b.messages.length))).toBeLessThanOrEqual(3);
  });

  it('refuses a message that cannot be serialised, or is too big, alone: its group commits', async () => {
    const redis = createTestRedis('producer-isolation');
    const producer = track(
      createIngestProducer({ redisUrl: redis.url, prefix: redis.prefix, maxDelayMs: 20, maxMessageBytes: 10_000 }),
      redis,
    );
    // What a gateway without depth limits would hand over: JSON.stringify overflows its stack.
    let deep: Record<string, unknown> = { n: 1 };
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const hostile = [
      { ...message('bad', 0), entries: [{ values: deep }] },
      { ...message('bad', 1), entries: [{ values: { n: 10n } }] },
      { ...message('bad', 2), entries: [{ values: { s: 'x'.repeat(20_000) } }] },
    ] as unknown as IngestMessage[];
    const good = Array.from({ length: 20 }, (_, i) => message(`good-${i}`, i));
    const results = await Promise.allSettled(
      [...good.slice(0, 10), ...hostile, ...good.slice(10)].map((m) => producer.enqueue(m)),
    );
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected.map((r) => (r.reason as Error).name)).toEqual(Array(3).fill('IngestRejectedError'));
    expect(String(rejected[0]?.reason)).toMatch(/cannot be serialised as JSON/);
    expect(String(rejected[2]?.reason)).toMatch(/at most 10000/);
    const got = (await readBatches(redis.url, redis.prefix)).flatMap((b) => b.messages);
    expect(got.map((m) => m.id).sort()).toEqual(good.map((m) => m.id).sort());
    expect(producer.stats()).toMatchObject({ messages: 20, failedMessages: 0, failedBatches: 0, rejectedMessages: 3 });
  });

  it('keeps groups that wait for a commit slot while Redis answers slowly, and merges them', async () => {
    const redis = createTestRedis('producer-slow');
    // Every reply of Redis 100 ms late: with one commit at a time, the tenth group would wait
    // about 1 s for its slot, longer than the 800 ms deadline of a commit.
    const proxy = createTcpProxy(await freePort(), { port: Number(new URL(redis.url).port || 6379) });
    await proxy.open();
    cleanups.push(() => proxy.cut());
    proxy.delayReplies(100);
    const port = proxy.port;
    const url = Object.assign(new URL(redis.url), { port: String(port) }).toString();
    const producer = track(
      createIngestProducer({
        redisUrl: url,
        prefix: redis.prefix,
        enqueueTimeoutMs: 800,
        maxInFlight: 1,
        maxDelayMs: 1,
      }),
      redis,
    );
    const sent: IngestMessage[] = [message('slow', -1)];
    await producer.enqueue(sent[0] as IngestMessage); // connected, scripts loaded
    const results: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const m = message('slow', i);
      sent.push(m);
      results.push(producer.enqueue(m));
      await new Promise((r) => setTimeout(r, 5)); // a group of its own (maxDelayMs 1)
    }
    const settled = await Promise.allSettled(results);
    expect(settled.filter((r) => r.status === 'rejected')).toEqual([]);
    const batches = await readBatches(redis.url, redis.prefix);
    expect(batches.flatMap((b) => b.messages).map((m) => m.id)).toEqual(sent.map((m) => m.id));
    // The groups that waited went out together, not one commit each.
    expect(batches.length).toBeLessThan(20);
    expect(producer.stats()).toMatchObject({ messages: 41, failedMessages: 0, failedBatches: 0 });
  });

  it('fails the groups waiting for a slot with the commit that Redis never answered', async () => {
    const port = await blackholeRedis();
    const producer = track(
      createIngestProducer({
        redisUrl: `redis://127.0.0.1:${port}`,
        prefix: 'spmstest:hole',
        enqueueTimeoutMs: 300,
        maxInFlight: 1,
        maxDelayMs: 1,
      }),
    );
    const started = Date.now();
    const first = producer.enqueue(message('d', 1));
    await new Promise((r) => setTimeout(r, 20)); // the first group is sent; the next ones wait
    const waiting = [producer.enqueue(message('d', 2)), producer.enqueue(message('d', 3))];
    const settled = await Promise.allSettled([first, ...waiting]);
    expect(settled.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/did not acknowledge within 300 ms/);
    // One deadline, not one per waiting group.
    expect(Date.now() - started).toBeLessThan(1500);
    expect(producer.stats()).toMatchObject({ messages: 0, failedMessages: 3 });
    // Still hung: a message enqueued after that is refused within a deadline too, not held
    // behind the commit Redis never answered.
    const later = Date.now();
    await expect(producer.enqueue(message('d', 4))).rejects.toThrow();
    expect(Date.now() - later).toBeLessThan(1500);
  });

  it('rejects at its deadline when Redis accepts the connection but never answers', async () => {
    const port = await blackholeRedis();
    const producer = track(
      createIngestProducer({ redisUrl: `redis://127.0.0.1:${port}`, prefix: 'spmstest:hole', enqueueTimeoutMs: 300 }),
    );
    await expect(producer.enqueue(message('d', 1))).rejects.toThrow(/did not acknowledge within 300 ms/);
    expect(producer.stats()).toMatchObject({ messages: 0, failedMessages: 1, failedBatches: 1 });
  });
});
