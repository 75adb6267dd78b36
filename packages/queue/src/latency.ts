/**
 * A fixed-bucket latency histogram (Prometheus-style cumulative output), cheap enough to
 * observe every enqueue.
 */

/** Upper bounds in milliseconds. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

export interface LatencySnapshot {
  /** Upper bounds (ms) of the buckets, without +Inf. */
  bucketsMs: readonly number[];
  /** Cumulative counts per bucket (`le`), then +Inf (= count). */
  cumulative: number[];
  count: number;
  sumMs: number;
}

export class LatencyHistogram {
  private readonly counts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  private count = 0;
  private sumMs = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > (LATENCY_BUCKETS_MS[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    this.sumMs += ms;
  }

  snapshot(): LatencySnapshot {
    let running = 0;
    const cumulative = this.counts.map((c) => {
      running += c;
      return running;
    });
    return { bucketsMs: LATENCY_BUCKETS_MS, cumulative, count: this.count, sumMs: this.sumMs };
  }
}
