/**
 * Abuse limits, in memory per broker process: token buckets keyed by source IP (connect
 * rate, failed authentications) and one bucket per device session (message rate).
 * A bucket costs a few numbers; idle IP buckets are swept so a scan does not grow the map.
 */

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
