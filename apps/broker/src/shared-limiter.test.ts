/**
 * SharedKeyedLimiter on the broker's auto-pipelined Redis connection (gateway.ts). Its script
 * must be defined when the limiter is made: ioredis gives a pipeline the commands defined when
 * it was opened, so a first script call queued onto a pipeline opened just before (by any
 * other command of the same tick, as in a reconnect storm) left a reply callback without a
 * command, and ioredis then threw "results[i] is not iterable" outside any caller: the broker
 * process died (seen at the start of warm storms).
 */
import { createRedis } from '@spms/queue';
import { createTestRedis } from '@spms/testing';
import { afterAll, expect, it } from 'vitest';
import { SharedKeyedLimiter } from './limits.js';

const t = createTestRedis('shared_limiter');
afterAll(() => t.cleanup());

it('takes tokens in the same tick as other commands on an auto-pipelined connection', async () => {
  const redis = createRedis(t.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  process.on('uncaughtException', onCrash);
  try {
    await redis.ping();
    const limiter = new SharedKeyedLimiter(redis, `${t.prefix}:limit:`, 60);
    // A command opens this tick's pipeline, then the limiter's first script call joins it.
    const other = redis.get(`${t.prefix}:other`);
    const taken = await Promise.all([limiter.take('a'), limiter.take('a'), limiter.exhausted('b')]);
    await other;
    await new Promise((r) => setTimeout(r, 50)); // any late throw from the pipeline's callbacks
    expect(crashes).toEqual([]);
    expect(taken).toEqual([true, true, false]);
    // The bucket lives in Redis (not this process's fallback): two of the minute's 60 spent.
    const tokens = Number(await redis.hget(`${t.prefix}:limit:a`, 'tokens'));
    expect(tokens).toBeGreaterThanOrEqual(57.9);
    expect(tokens).toBeLessThan(58.1);
    limiter.close();
  } finally {
    process.off('uncaughtException', onCrash);
    redis.disconnect();
  }
});
