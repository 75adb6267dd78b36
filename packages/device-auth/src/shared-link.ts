/**
 * One process's connection to the shared verified-credential cache (shared-cache.ts): its
 * own Redis client that fails fast while Redis is away (no offline queue — a connect must
 * not wait for Redis to come back, it falls back to the real check), and the bumps this
 * process owes. A bump that fails is retried every second until it succeeds, and whenever
 * the connection is (re)established every device changed within the retention window is
 * bumped again (revocations.ts), so a change made while Redis was away or lost by a Redis
 * restore cannot leave an old entry valid.
 */
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';
import { createRedis } from '@spms/queue';
import { recentlyChangedDevices } from './revocations.js';
import { SharedCredentialCache } from './shared-cache.js';

/** How long a shared-cache command may take before the check goes the slow way. */
export const SHARED_COMMAND_TIMEOUT_MS = 5000;

export interface SharedLink {
  cache: SharedCredentialCache;
  /** Invalidates the device's shared entries (retried until Redis takes it). */
  bump(deviceId: string): void;
  /** Resolves when every bump owed so far has reached Redis (tests). */
  settled(): Promise<void>;
  close(): void;
}

export async function openSharedLink(opts: {
  redisUrl: string;
  prefix: string;
  secret: string;
  ttlMs: number;
  /** How far back changes are bumped again after a reconnect (the change rows' retention). */
  retainSec: number;
  pool: Pool;
  log?: Logger;
}): Promise<SharedLink> {
  const { log } = opts;
  const redis = createRedis(opts.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Only for a Redis that accepts commands and never answers. A busy one must be waited
    // for: the fallback is a PostgreSQL query and a password hash, far dearer than the wait.
    // With 1 s, a warm 10,000-device storm on two cores timed out hundreds of checks, hashed
    // them, and refused devices whose password queue filled up (verify_busy).
    commandTimeout: SHARED_COMMAND_TIMEOUT_MS,
    enableAutoPipelining: true,
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down)
      log?.warn({ err: err.message }, 'device-auth: shared credential cache unavailable (checking the slow way)');
    down = true;
  });
  const cache = new SharedCredentialCache(redis, opts.prefix, opts.secret, opts.ttlMs);
  const pending = new Set<string>();
  let flushing: Promise<void> | null = null;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  function flush(): Promise<void> {
    if (flushing || pending.size === 0 || closed) return flushing ?? Promise.resolve();
    const batch = [...pending];
    flushing = cache
      .bump(batch)
      .then(
        () => {
          for (const id of batch) pending.delete(id);
        },
        (err: Error) => {
          log?.warn({ err: err.message, devices: batch.length }, 'device-auth: shared cache bump failed, retrying');
          retry ??= setTimeout(() => {
            retry = undefined;
            void flush();
          }, 1000);
          retry.unref();
        },
      )
      .finally(() => {
        flushing = null;
        if (pending.size > 0 && !retry) void flush();
      });
    return flushing;
  }

  function rebump(): Promise<void> {
    return recentlyChangedDevices(opts.pool, opts.retainSec).then(
      (ids) => {
        for (const id of ids) pending.add(id);
        return flush();
      },
      (err: Error) => log?.warn({ err: err.message }, 'device-auth: cannot read recent credential changes'),
    );
  }
  let started = false;
  redis.on('ready', () => {
    if (down) log?.info('device-auth: shared credential cache reachable again');
    down = false;
    if (started) void rebump();
  });
  await redis.connect().then(
    // Done before the authenticator is handed out, so its first writes are not refused by it.
    () => rebump(),
    (err: Error) => log?.warn({ err: err.message }, 'device-auth: shared credential cache not reachable yet'),
  );
  started = true;

  return {
    cache,
    bump(deviceId) {
      pending.add(deviceId);
      void flush();
    },
    async settled() {
      while (pending.size > 0 || flushing) await (flushing ?? new Promise((r) => setTimeout(r, 20)));
    },
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      redis.disconnect();
    },
  };
}
