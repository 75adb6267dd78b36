/**
 * Abuse limits: token buckets keyed by source IP (connect rate, failed authentications),
 * shared by all broker processes through Redis (SharedKeyedLimiter, with this process's own
 * buckets while Redis is away), and one bucket per device session (message rate, in memory:
 * a device has one session). A bucket costs a few numbers; idle IP buckets are swept so a
 * scan does not grow the map.
 */
import { PROVISION_ADDRESS_BUCKET, PROVISION_CREATE_BUCKET } from '@spms/device-auth';
import { defineTokenBucket, takeToken } from '@spms/queue';
import type { Redis } from 'ioredis';
import type { BrokerConfig } from './config.js';

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
 * KeyedLimiter whose buckets live in Redis, so every broker process spends the same budget
 * for an address (a storm spread over processes by the load balancer counts once). While
 * Redis cannot answer, this process's own buckets decide — never weaker than one process.
 */
export class SharedKeyedLimiter {
  private readonly local: KeyedLimiter;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly perMinute: number,
  ) {
    this.local = new KeyedLimiter(perMinute);
    // Now, before any device traffic: the broker's connection auto-pipelines (see defineTokenBucket).
    defineTokenBucket(redis);
  }

  private async bucket(key: string, cost: number): Promise<boolean> {
    try {
      return (await takeToken(this.redis, `${this.keyPrefix}${key}`, this.perMinute / 60, this.perMinute, cost))
        .allowed;
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

export interface BrokerLimiters {
  connectLimiter: SharedKeyedLimiter;
  authFailureLimiter: SharedKeyedLimiter;
  provisionAddressLimiter: SharedKeyedLimiter;
  provisionCreateLimiter: SharedKeyedLimiter;
}

/** The broker's shared limiters (their keys as the API's, for provisioning) and their close. */
export function createBrokerLimiters(
  redis: Redis,
  config: Pick<
    BrokerConfig,
    | 'REDIS_PREFIX'
    | 'CONNECT_RATE_PER_IP'
    | 'AUTH_FAILURES_PER_IP'
    | 'PROVISION_REQUESTS_PER_IP_PER_MIN'
    | 'PROVISION_CREATES_PER_PROFILE_PER_MIN'
  >,
): { limiters: BrokerLimiters; close(): void } {
  const limiters: BrokerLimiters = {
    connectLimiter: new SharedKeyedLimiter(
      redis,
      `${config.REDIS_PREFIX}:broker:connects:`,
      config.CONNECT_RATE_PER_IP,
    ),
    authFailureLimiter: new SharedKeyedLimiter(
      redis,
      `${config.REDIS_PREFIX}:broker:authfail:`,
      config.AUTH_FAILURES_PER_IP,
    ),
    provisionAddressLimiter: new SharedKeyedLimiter(
      redis,
      `${config.REDIS_PREFIX}:throttle:${PROVISION_ADDRESS_BUCKET}`,
      config.PROVISION_REQUESTS_PER_IP_PER_MIN,
    ),
    provisionCreateLimiter: new SharedKeyedLimiter(
      redis,
      `${config.REDIS_PREFIX}:throttle:${PROVISION_CREATE_BUCKET}`,
      config.PROVISION_CREATES_PER_PROFILE_PER_MIN,
    ),
  };
  return {
    limiters,
    close() {
      for (const l of Object.values(limiters)) l.close();
    },
  };
}
