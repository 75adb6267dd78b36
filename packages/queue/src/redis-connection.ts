/**
 * The one way SPMS opens a Redis connection: REDIS_URL decides between one server, a
 * Sentinel-managed primary (follows a failover) and Redis Cluster (redis-url.ts documents
 * the forms). Every app and package calls this instead of
 * `new Redis(url)`, so a larger install changes one variable, not code.
 *
 * A Cluster client is returned typed as `Redis`: ioredis gives both the same command
 * interface, and BullMQ accepts either. What differs is documented in docs/scaling.md
 * (pub/sub is cluster-wide, INFO answers from one node).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { parseRedisUrl } from './redis-url.js';

export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const target = parseRedisUrl(url);
  if (target.kind === 'single') return new Redis(url, options);
  const auth = {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
  };
  const tls = target.tls ? { tls: {} } : {};
  if (target.kind === 'sentinel') {
    return new Redis({
      ...options,
      ...auth,
      ...tls,
      sentinels: target.sentinels,
      name: target.name,
      db: target.db,
      ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
      ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
    });
  }
  const { lazyConnect, ...redisOptions } = options;
  const cluster = new Cluster(target.nodes, {
    redisOptions: { ...redisOptions, ...auth, ...tls },
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    // BullMQ's blocking commands and our scripts must not be retried on another node blindly.
    ...(options.maxRetriesPerRequest === null ? { maxRedirections: 16 } : {}),
  });
  return cluster as unknown as Redis;
}
