/**
 * Inactivity deadlines in a Redis sorted set (member = device id, score = last activity +
 * timeout, epoch ms). The ingest handler raises a device's deadline (ZADD GT) BEFORE it
 * touches PostgreSQL, so a database outage or a backlog never makes a talking device look
 * silent; the sweeper takes expired members.
 */
import { runScript, script } from '@spms/queue';
import type { Redis } from 'ioredis';

export const deadlinesKey = (prefix: string) => `${prefix}:worker:deadlines`;

// Removes each member only if its deadline is still the one the sweeper handled (a newer
// ZADD wins). ARGV: device id, deadline, device id, deadline, … One call per sweep (up to
// 500 devices after a blackout), sent by its SHA: one round trip per device, with the
// script's text each time, was 9 % of a worker's CPU in a grid-restore storm.
const REMOVE_IF_UNCHANGED = script(`
local n = 0
for i = 1, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) <= tonumber(ARGV[i + 1]) then n = n + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return n`);

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

  /** Removes the devices whose deadline is still the one given; how many were removed. */
  async removeIfUnchanged(entries: [deviceId: string, deadline: number][]): Promise<number> {
    if (entries.length === 0) return 0;
    const args: (string | number)[] = [];
    for (const [id, at] of entries) args.push(id, at);
    return Number(await runScript(this.redis, REMOVE_IF_UNCHANGED, [this.key], args));
  }
}
