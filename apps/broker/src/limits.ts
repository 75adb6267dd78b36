/**
 * Abuse limits: token buckets keyed by source IP (connect rate, failed authentications),
 * shared by all broker processes through Redis (SharedKeyedLimiter, with this process's own
 * buckets while Redis is away), and one bucket per device session (message rate, in memory:
 * a device has one session). A bucket costs a few numbers; idle IP buckets are swept so a
 * scan does not grow the map.
 */
import type { Redis } from 'ioredis';

export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty. A rate of 0 means unlimited. */
  take(now = Date.now()): boolean {
    if (this.ratePerSec <= 0) return true;
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True when no token is left, without taking one. */
  empty(now = Date.now()): boolean {
    if (this.ratePerSec <= 0) return false;
    this.refill(now);
    return this.tokens < 1;
  }

  full(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
  }
}

/** Per-key buckets (e.g. per IP) allowing `perMinute` events per minute, bursting to that many. */
export class KeyedLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly perMinute: number) {
    this.sweepTimer = setInterval(() => this.sweep(), 60_000);
    this.sweepTimer.unref();
  }

  private bucket(key: string): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = new TokenBucket(this.perMinute / 60, this.perMinute);
      this.buckets.set(key, b);
    }
    return b;
  }

  /** Counts one event; false when the key is over its limit. */
  take(key: string): boolean {
    if (this.perMinute <= 0) return true;
    return this.bucket(key).take();
  }

  /** True when the key has no allowance left (checked before spending one). */
  exhausted(key: string): boolean {
    if (this.perMinute <= 0) return false;
    return this.buckets.get(key)?.empty() ?? false;
  }

  private sweep(): void {
    for (const [key, b] of this.buckets) if (b.full()) this.buckets.delete(key);
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }
}

/**
 * Token bucket in Redis (one Lua call, Redis's clock): KEYS[1]; ARGV rate (tokens/s), burst,
 * cost (0 = only check that one is left). Returns 1 when allowed.
 */
const BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
if tokens < 1 then return 0 end
if cost > 0 then
  tokens = tokens - cost
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
end
return 1
`;

type BucketRedis = Redis & {
  spmsBrokerBucket(key: string, rate: number, burst: number, cost: number): Promise<number>;
};

/**
 * KeyedLimiter whose buckets live in Redis, so every broker process spends the same budget
 * for an address (a storm spread over processes by the load balancer counts once). While
 * Redis cannot answer, this process's own buckets decide — never weaker than one process.
 */
export class SharedKeyedLimiter {
  private readonly redis: BucketRedis;
  private readonly local: KeyedLimiter;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
    private readonly perMinute: number,
  ) {
    if (!('spmsBrokerBucket' in redis)) redis.defineCommand('spmsBrokerBucket', { numberOfKeys: 1, lua: BUCKET_LUA });
    this.redis = redis as BucketRedis;
    this.local = new KeyedLimiter(perMinute);
  }

  private async bucket(key: string, cost: number): Promise<boolean> {
    try {
      const ok = await this.redis.spmsBrokerBucket(
        `${this.keyPrefix}${key}`,
        this.perMinute / 60,
        this.perMinute,
        cost,
      );
      return ok === 1;
    } catch {
      return cost > 0 ? this.local.take(key) : !this.local.exhausted(key);
    }
  }

  /** Counts one event; false when the key is over its limit. */
  async take(key: string): Promise<boolean> {
    if (this.perMinute <= 0) return true;
    return this.bucket(key, 1);
  }

  /** True when the key has no allowance left (checked before spending one). */
  async exhausted(key: string): Promise<boolean> {
    if (this.perMinute <= 0) return false;
    return !(await this.bucket(key, 0));
  }

  close(): void {
    this.local.close();
  }
}
