/**
 * Counters and a log-bucketed latency histogram (5 % resolution, fixed memory), shared by
 * every simulated device so a 50,000-connection run costs no per-message allocation.
 */
const GROWTH = 1.05;
const BUCKETS = 400; // 0.01 ms · 1.05^400 ≈ 3 h: nothing real falls off the end
const BASE_MS = 0.01;

export interface RawHistogram {
  counts: number[];
  count: number;
  max: number;
  sum: number;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    const i = ms <= BASE_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / BASE_MS) / Math.log(GROWTH)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** Upper bound of the bucket holding quantile `q` (0..1), in ms. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.max, BASE_MS * GROWTH ** i);
    }
    return this.max;
  }

  /** Raw state, to merge histograms from several processes. */
  toRaw(): RawHistogram {
    return { counts: Array.from(this.counts), count: this.count, max: this.max, sum: this.sum };
  }

  merge(raw: RawHistogram): void {
    raw.counts.forEach((c, i) => {
      this.counts[i] = (this.counts[i] ?? 0) + c;
    });
    this.count += raw.count;
    this.sum += raw.sum;
    if (raw.max > this.max) this.max = raw.max;
  }

  summary(): { count: number; p50: number; p90: number; p99: number; max: number; mean: number } {
    const r = (x: number) => Math.round(x * 100) / 100;
    return {
      count: this.count,
      p50: r(this.quantile(0.5)),
      p90: r(this.quantile(0.9)),
      p99: r(this.quantile(0.99)),
      max: r(this.max),
      mean: r(this.count ? this.sum / this.count : 0),
    };
  }
}

export class SimStats {
  connectAttempts = 0;
  connects = 0;
  /** Sessions open right now. */
  connected = 0;
  refused = 0;
  errors = 0;
  drops = 0;
  reboots = 0;
  published = 0;
  acked = 0;
  httpOk = 0;
  httpFailed = 0;
  /** Error messages by kind (`ECONNRESET`, `CONNACK timeout`, …), to tell a slow server from a broken one. */
  errorKinds: Record<string, number> = {};
  readonly pubackLatency = new LatencyHistogram();
  readonly connackLatency = new LatencyHistogram();
  readonly httpLatency = new LatencyHistogram();

  /** Counters plus raw histograms: what a load worker process sends to its parent. */
  toRaw(): RawStats {
    const { pubackLatencyMs: _a, connackLatencyMs: _b, httpLatencyMs: _c, errorKinds, ...counters } = this.toJSON();
    return {
      counters,
      errorKinds: { ...errorKinds },
      puback: this.pubackLatency.toRaw(),
      connack: this.connackLatency.toRaw(),
      http: this.httpLatency.toRaw(),
    };
  }

  merge(raw: RawStats): void {
    const self = this as unknown as Record<string, number>;
    for (const [k, v] of Object.entries(raw.counters)) self[k] = (self[k] ?? 0) + v;
    for (const [k, v] of Object.entries(raw.errorKinds)) this.errorKinds[k] = (this.errorKinds[k] ?? 0) + v;
    this.pubackLatency.merge(raw.puback);
    this.connackLatency.merge(raw.connack);
    this.httpLatency.merge(raw.http);
  }

  error(err: unknown): void {
    this.errors++;
    const e = err as { code?: string; message?: string } | undefined;
    const kind = e?.code ?? e?.message ?? String(err);
    this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
  }

  toJSON() {
    return {
      connectAttempts: this.connectAttempts,
      connects: this.connects,
      connected: this.connected,
      refused: this.refused,
      errors: this.errors,
      drops: this.drops,
      reboots: this.reboots,
      published: this.published,
      acked: this.acked,
      httpOk: this.httpOk,
      httpFailed: this.httpFailed,
      errorKinds: this.errorKinds,
      pubackLatencyMs: this.pubackLatency.summary(),
      connackLatencyMs: this.connackLatency.summary(),
      httpLatencyMs: this.httpLatency.summary(),
    };
  }
}

export interface RawStats {
  counters: Record<string, number>;
  errorKinds: Record<string, number>;
  puback: RawHistogram;
  connack: RawHistogram;
  http: RawHistogram;
}
