import { describe, expect, it } from 'vitest';
import { LatencyHistogram, SimStats } from './stats.js';

describe('LatencyHistogram', () => {
  it('reports quantiles within its 5 % bucket resolution', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 … 100 ms
    const s = h.summary();
    expect(s.count).toBe(1000);
    expect(s.p50).toBeGreaterThanOrEqual(50);
    expect(s.p50).toBeLessThanOrEqual(50 * 1.05);
    expect(s.p99).toBeGreaterThanOrEqual(99);
    expect(s.p99).toBeLessThanOrEqual(100);
    expect(s.max).toBe(100);
  });
  it('merges raw stats from several processes', () => {
    const a = new SimStats();
    const b = new SimStats();
    a.published = 3;
    b.published = 4;
    a.pubackLatency.record(1);
    b.pubackLatency.record(100);
    b.pubackLatency.record(100);
    const m = new SimStats();
    m.merge(a.toRaw());
    m.merge(b.toRaw());
    expect(m.published).toBe(7);
    expect(m.pubackLatency.summary()).toMatchObject({ count: 3, max: 100 });
    expect(m.pubackLatency.quantile(0.3)).toBeLessThan(1.1);
  });
});
