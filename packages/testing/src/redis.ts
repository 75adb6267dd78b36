/**
 * Per-test Redis isolation: a unique key prefix (BullMQ `prefix`, cache keys, channels),
 * and a cleanup that deletes every key under it. TEST_REDIS_URL points at the server
 * (default redis://127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  prefix: string;
  cleanup(): Promise<void>;
}

export function createTestRedis(label = 't'): TestRedis {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `spmstest:${label}:${randomBytes(5).toString('hex')}`;
  return {
    url,
    prefix,
    cleanup: () => deleteKeys(url, prefix),
  };
}

/** Deletes every key under `prefix` on the Redis at `url` (SCAN + UNLINK, 1,000 at a time). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
