/** Inactivity deadlines: the sweeper's removal takes only the deadlines it handled, many in one call. */
import { createTestRedis, type TestRedis } from '@spms/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deadlines } from '../src/deadlines.js';

let redis: TestRedis;
let r: Redis;
beforeAll(() => {
  redis = createTestRedis('worker-deadlines');
  r = new Redis(redis.url);
});
afterAll(async () => {
  r?.disconnect();
  await redis?.cleanup();
});

describe('inactivity deadlines', () => {
  it('removes every handled deadline in one call, and keeps one raised since', async () => {
    const d = new Deadlines(r, redis.prefix);
    const handled: [string, number][] = Array.from({ length: 600 }, (_, i) => [`dev-${i}`, 1000 + i]);
    await d.raise(handled);
    // dev-7 spoke again after the sweeper read it: its deadline moved on.
    await d.raise([['dev-7', 50_000]]);
    // Other tests share this Redis: only commands on this test's key count.
    const sent: string[][] = [];
    const watch = r.duplicate();
    await watch.monitor().then((m) => m.on('monitor', (_t: string, args: string[]) => sent.push(args)));
    expect(await d.removeIfUnchanged(handled)).toBe(599);
    await new Promise((res) => setTimeout(res, 100));
    watch.disconnect();
    expect(await d.expired(1_000_000, 1000)).toEqual([['dev-7', 50_000]]);
    // One script call (by its SHA once loaded), not one per device.
    const calls = sent.filter((args) => /^eval/i.test(args[0] ?? '') && args.includes(d.key));
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it('removes nothing for an empty list', async () => {
    const d = new Deadlines(r, redis.prefix);
    expect(await d.removeIfUnchanged([])).toBe(0);
  });
});
