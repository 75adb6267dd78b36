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
    // The commands this connection sends to Redis, as they are written. (A MONITOR connection
    // raced ioredis: a monitored command arriving with MONITOR's own reply failed the test with
    // "Command queue state error" while other tests used the shared Redis.)
    const sent: string[][] = [];
    const send = r.sendCommand.bind(r);
    r.sendCommand = ((cmd: { name: string; args: unknown[] }) => {
      sent.push([cmd.name, ...cmd.args.map(String)]);
      return send(cmd as Parameters<typeof send>[0]);
    }) as typeof r.sendCommand;
    expect(await d.removeIfUnchanged(handled)).toBe(599);
    r.sendCommand = send;
    expect(await d.expired(1_000_000, 1000)).toEqual([['dev-7', 50_000]]);
    // One script call (by its SHA once loaded), not one per device. Only commands on this
    // test's key count.
    const calls = sent.filter((args) => /^eval/i.test(args[0] ?? '') && args.includes(d.key));
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it('removes nothing for an empty list', async () => {
    const d = new Deadlines(r, redis.prefix);
    expect(await d.removeIfUnchanged([])).toBe(0);
  });
});
