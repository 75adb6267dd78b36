import { createTestRedis } from '@spms/testing';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { newMessageId } from './ids.js';
import { createIngestProducer } from './ingest-producer.js';
import { registerIngestMetrics } from './metrics.js';

const redis = createTestRedis('metrics');
const producer = createIngestProducer({ redisUrl: redis.url, prefix: redis.prefix });
afterAll(async () => {
  await producer.close();
  await redis.cleanup();
});

describe('registerIngestMetrics', () => {
  it('exposes the producer counters and latency histogram in Prometheus text', async () => {
    const registry = new Registry();
    registerIngestMetrics(registry, producer);
    const msg = () => ({
      id: newMessageId(),
      kind: 'connectivity' as const,
      event: 'activity' as const,
      deviceId: 'd',
      receivedAt: Date.now(),
      transport: 'mqtt' as const,
    });
    await Promise.all([producer.enqueue(msg()), producer.enqueue(msg()), producer.enqueue(msg())]);
    const text = await registry.metrics();
    expect(text).toMatch(/^spms_ingest_messages_total 3$/m);
    expect(text).toMatch(/^spms_ingest_redis_up 1$/m);
    expect(text).toMatch(/^spms_ingest_enqueue_latency_seconds_bucket\{le="\+Inf"\} 3$/m);
    expect(text).toMatch(/^spms_ingest_enqueue_latency_seconds_count 3$/m);
    await producer.enqueue(msg());
    expect(await registry.metrics()).toMatch(/^spms_ingest_messages_total 4$/m);
  });
});
