/**
 * The shared credential cache's scripts on the broker's auto-pipelined Redis connection
 * (gateway.ts defines them when it makes the connection). Defined at their first use instead,
 * a first `bumpCredentials` (a provisioning that replaces a device's credentials) queued onto
 * a pipeline opened by another command of the same tick left a reply callback without a
 * command, and ioredis threw "results[i] is not iterable" outside any caller: the process ended.
 */
import { bumpCredentials, defineSharedAuthCommands } from '@spms/device-auth';
import { createRedis } from '@spms/queue';
import { createTestRedis } from '@spms/testing';
import { afterAll, expect, it } from 'vitest';

const t = createTestRedis('auth_scripts');
afterAll(() => t.cleanup());

it('bumps credentials in the same tick as other commands once the scripts are defined with the connection', async () => {
  const redis = createRedis(t.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  defineSharedAuthCommands(redis); // as gateway.ts does, before any command
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  process.on('uncaughtException', onCrash);
  try {
    await redis.ping();
    const other = redis.get(`${t.prefix}:other`);
    await bumpCredentials(redis, t.prefix, ['00000000-0000-4000-8000-000000000001']);
    await other;
    await new Promise((r) => setTimeout(r, 50)); // any late throw from the pipeline's callbacks
    expect(crashes).toEqual([]);
    expect(await redis.exists(`${t.prefix}:auth:changed:00000000-0000-4000-8000-000000000001`)).toBe(1);
  } finally {
    process.off('uncaughtException', onCrash);
    redis.disconnect();
  }
});
