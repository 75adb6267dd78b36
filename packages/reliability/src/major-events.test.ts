import { describe, expect, it } from 'vitest';
import {
  findMajorEventDays,
  localDayStart,
  majorEventDays,
  majorEventThreshold,
  medHistory,
  type ReliabilityOutage,
} from './index.js';

describe('majorEventThreshold (2.5β)', () => {
  /*
   * Daily SAIDI (min): 1, e, e², e³ and a zero day (dropped, ln 0 is undefined).
   * ln: 0, 1, 2, 3 → α = 1.5; deviations² = 2.25 + 0.25 + 0.25 + 2.25 = 5;
   * sample β = √(5/3) = 1.2909944487358056 (population would be √1.25 = 1.118…)
   * T_MED = exp(1.5 + 2.5 × 1.2909944487) = exp(4.7274861218) = 113.0111088 min.
   */
  const values = [1, Math.E, Math.E ** 2, Math.E ** 3, 0];

  it('computes α, sample β and T_MED by hand', () => {
    const t = majorEventThreshold(values);
    expect(t).not.toBeNull();
    expect(t!.sampleSize).toBe(4);
    expect(t!.alpha).toBeCloseTo(1.5, 12);
    expect(t!.beta).toBeCloseTo(1.2909944487358056, 12);
    expect(t!.thresholdMinutes).toBeCloseTo(113.0111088, 6);
  });

  it('flags only days strictly above T_MED', () => {
    const t = majorEventThreshold(values)!;
    const daily = [
      { day: '2026-01-01', saidiMinutes: 113 },
      { day: '2026-01-02', saidiMinutes: 113.02 },
      { day: '2026-01-03', saidiMinutes: 0 },
      { day: '2026-01-04', saidiMinutes: 500 },
    ];
    expect(majorEventDays(daily, t)).toEqual(['2026-01-02', '2026-01-04']);
    expect(majorEventDays(daily, t.thresholdMinutes)).toEqual(['2026-01-02', '2026-01-04']);
    expect(majorEventDays(daily, null)).toEqual([]);
  });

  it('needs two non-zero days (sample stdev)', () => {
    expect(majorEventThreshold([])).toBeNull();
    expect(majorEventThreshold([0, 0, 5])).toBeNull();
    expect(majorEventThreshold([5, 5])).toEqual({ alpha: Math.log(5), beta: 0, thresholdMinutes: 5, sampleSize: 2 });
  });

  it('keeps five years of history before the reporting year', () => {
    const daily = ['2020-12-31', '2021-01-01', '2023-06-01', '2025-12-31', '2026-01-01'].map((day) => ({
      day,
      saidiMinutes: 1,
    }));
    expect(medHistory(daily, '2026-01-01').map((d) => d.day)).toEqual(['2021-01-01', '2023-06-01', '2025-12-31']);
    expect(medHistory(daily, '2026-01-01', 1).map((d) => d.day)).toEqual(['2025-12-31']);
  });
});

describe('findMajorEventDays', () => {
  /*
   * One line. History (the year before the period): on 1…10 Nov 2025 (local) one outage of
   * k minutes on day k. ln k: α = ln(10!)/10 = 1.5104413, sample β = 0.7330239,
   * T_MED = exp(1.5104413 + 2.5 × 0.7330239) = 28.30394 min.
   * Period 1–3 Nov 2026: 100 min on 2 Nov (a MED), 28 min on 3 Nov (below T_MED).
   */
  const M = 60_000;
  const outage = (day: string, minutes: number): ReliabilityOutage => {
    const startedAt = localDayStart(day) + 3_600_000; // 01:00 local
    return { deviceId: 'A', line: 1, startedAt, endedAt: startedAt + minutes * M, unknownMs: 0, class: 'sustained' };
  };
  const outages = Array.from({ length: 10 }, (_, i) => outage(`2025-11-${String(i + 1).padStart(2, '0')}`, i + 1));
  outages.push(outage('2026-11-02', 100), outage('2026-11-03', 28));
  const input = { servicePoints: [{ deviceId: 'A', line: 1 }], outages };

  it('takes T_MED from the years before the period and applies it to the period', () => {
    const period = { from: localDayStart('2026-11-01'), to: localDayStart('2026-11-04') };
    const r = findMajorEventDays(input, { period, years: 1 });
    expect(r.historyDays).toEqual({ fromDay: '2025-11-01', toDay: '2026-11-01' });
    expect(r.periodDays).toEqual({ fromDay: '2026-11-01', toDay: '2026-11-04' });
    expect(r.threshold?.sampleSize).toBe(10);
    expect(r.threshold?.thresholdMinutes).toBeCloseTo(28.30394, 4);
    expect(r.days).toEqual(['2026-11-02']);
  });
});
