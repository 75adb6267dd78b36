/**
 * Inactivity deadlines in a Redis sorted set (member = device id, score = last activity +
 * timeout, epoch ms). The ingest handler raises a device's deadline (ZADD GT) BEFORE it
 * touches PostgreSQL, so a database outage or a backlog never makes a talking device look
 * silent; the sweeper takes expired members.
 */
import type { Redis } from 'ioredis';

export const deadlinesKey = (prefix: string) => `${prefix}:worker:deadlines`;

// Removes a member only if its deadline is still the one the sweeper handled (a newer ZADD wins).
const REMOVE_IF_UNCHANGED = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0`;

export class Deadlines {
  readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = deadlinesKey(prefix);
  }

  async raise(entries: [deviceId: string, deadline: number][]): Promise<void> {
    if (entries.length === 0) return;
    const args: (string | number)[] = [];
    for (const [id, at] of entries) args.push(at, id);
    await this.redis.zadd(this.key, 'GT', ...args);
  }

  /** Seeds deadlines that are missing (Redis restarted without persistence). */
  async seed(entries: [string, number][]): Promise<void> {
    if (entries.length === 0) return;
    const args: (string | number)[] = [];
    for (const [id, at] of entries) args.push(at, id);
    await this.redis.zadd(this.key, 'NX', ...args);
  }

  async expired(now: number, limit: number): Promise<[string, number][]> {
    const flat = await this.redis.zrangebyscore(this.key, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit);
    const out: [string, number][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
    return out;
  }

  async removeIfUnchanged(deviceId: string, deadline: number): Promise<void> {
    await this.redis.eval(REMOVE_IF_UNCHANGED, 1, this.key, deviceId, deadline);
  }
}
