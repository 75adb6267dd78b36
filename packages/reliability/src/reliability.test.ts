import { describe, expect, it } from 'vitest';
import { asaiPercent, computeReliability, type ReliabilityInput, type ReliabilityOutage } from './index.js';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const P0 = Date.UTC(2026, 10, 1); // 2026-11-01T00:00Z
const period = { from: P0, to: P0 + 10 * D }; // 240 h

/*
 * Known history, hand-computed.
 * Lines (N_T = 4): A/1 (North, X), A/2 (North, Y), B/1 (South, X), B/2 (South, Y).
 * Device B offline 12 h: [P0+2d, P0+2d+12h).
 *  #1 A/1 sustained  P0+1d → +2h                       known 120 min, begins in period
 *  #2 B/1 sustained  P0+2d−1h → P0+2d+13h, unknown 12h known 14h−12h = 120 min
 *  #3 A/2 sustained  P0−3h → P0+1h (crosses start)     in period 60 min, NOT counted in SAIFI
 *  #4 B/2 sustained  P0+10d−30min, open at period end  counted in SAIFI, 0 duration
 *  #5 A/1 momentary  P0+3d, 2 min;  #6 B/2 momentary P0+4d, 30 s
 *  #7 A/2 planned sustained P0+5d → +4h                 240 min, planned only
 *  #8 C/1 sustained (no such service point)            ignored
 * Fleet: Σ N_i = 3 (#1 #2 #4) → SAIFI = 3/4 = 0.75
 *        Σ r_i N_i = 120 + 120 + 60 = 300 min → SAIDI = 75 min; CAIDI = 75 / 0.75 = 100 min
 *        MAIFI = 2/4 = 0.5
 *        known line-hours = 4 × 240 − 2 lines × 12 h = 936 h; ASAI = 1 − 5 h / 936 h = 931/936
 *        sustained: count 3, open 1, carried in 1, with duration 3 (#1 #2 #3), mean 100 min, longest 120
 *        momentary: total 150 s, mean 75 s, longest 120 s
 *        planned: SAIFI 1/4, SAIDI 240/4 = 60 min, CAIDI 240, MAIFI 0
 * North (A/1, A/2): SAIFI 1/2; CM 120 + 60 = 180 → SAIDI 90; CAIDI 180; MAIFI 1/2;
 *        known 480 h; ASAI = 1 − 3/480 = 0.99375
 * South (B/1, B/2): SAIFI 2/2 = 1; CM 120 → SAIDI 60; CAIDI 60; MAIFI 1/2;
 *        known 480 − 24 = 456 h; ASAI = 1 − 2/456 = 454/456
 * Customer X (A/1, B/1): SAIFI 2/2; CM 240 → SAIDI 120; CAIDI 120; MAIFI 1/2; known 468 h; ASAI 1 − 4/468
 * Customer Y (A/2, B/2): SAIFI 1/2; CM 60 → SAIDI 30; CAIDI 60; MAIFI 1/2; ASAI 1 − 1/468;
 *        planned SAIFI 1/2, SAIDI 120
 */
function out(
  deviceId: string,
  line: number,
  startedAt: number,
  endedAt: number | null,
  cls: ReliabilityOutage['class'],
  extra: Partial<ReliabilityOutage> = {},
): ReliabilityOutage {
  return { deviceId, line, startedAt, endedAt, unknownMs: 0, class: cls, ...extra };
}

const history: ReliabilityInput = {
  servicePoints: [
    { deviceId: 'A', line: 1, region: 'North', customer: 'X' },
    { deviceId: 'A', line: 2, region: 'North', customer: 'Y' },
    { deviceId: 'B', line: 1, region: 'South', customer: 'X' },
    { deviceId: 'B', line: 2, region: 'South', customer: 'Y' },
  ],
  unknown: [{ deviceId: 'B', from: P0 + 2 * D, to: P0 + 2 * D + 12 * H }],
  outages: [
    out('A', 1, P0 + D, P0 + D + 2 * H, 'sustained'),
    out('B', 1, P0 + 2 * D - H, P0 + 2 * D + 13 * H, 'sustained', { unknownMs: 12 * H }),
    out('A', 2, P0 - 3 * H, P0 + H, 'sustained'),
    out('B', 2, P0 + 10 * D - 30 * M, null, 'sustained'),
    out('A', 1, P0 + 3 * D, P0 + 3 * D + 2 * M, 'momentary'),
    out('B', 2, P0 + 4 * D, P0 + 4 * D + 30_000, 'momentary'),
    out('A', 2, P0 + 5 * D, P0 + 5 * D + 4 * H, 'sustained', { planned: true }),
    out('C', 1, P0 + D, P0 + D + H, 'sustained'),
  ],
};

describe('computeReliability on a hand-computed history', () => {
  const report = computeReliability(history, { period });

  it('computes every fleet index exactly', () => {
    const f = report.fleet;
    expect(report.periodHours).toBe(240);
    expect(report.ignoredOutages).toBe(1);
    expect(f.lines).toBe(4);
    expect(f.lineHours).toBe(960);
    expect(f.unknownLineHours).toBe(24);
    expect(f.knownLineHours).toBe(936);
    expect(f.main.indices).toEqual({
      customerInterruptions: 3,
      customerMinutes: 300,
      saifi: 0.75,
      saidiMinutes: 75,
      caidiMinutes: 100,
      maifi: 0.5,
      asai: 1 - 5 / 936,
    });
    expect(asaiPercent(f.main.indices.asai)).toBeCloseTo(99.46581196581197, 12);
    expect(f.main.sustained).toEqual({
      count: 3,
      openCount: 1,
      carriedIn: 1,
      withDuration: 3,
      totalDurationMs: 300 * M,
      meanDurationMs: 100 * M,
      longestMs: 120 * M,
    });
    expect(f.main.momentary).toEqual({
      count: 2,
      openCount: 0,
      carriedIn: 0,
      withDuration: 2,
      totalDurationMs: 150_000,
      meanDurationMs: 75_000,
      longestMs: 120_000,
    });
    expect(f.majorEvents).toBeNull();
  });

  it('reports planned outages separately', () => {
    const p = report.fleet.planned;
    expect(p.indices.saifi).toBe(0.25);
    expect(p.indices.saidiMinutes).toBe(60);
    expect(p.indices.caidiMinutes).toBe(240);
    expect(p.indices.maifi).toBe(0);
    expect(p.sustained.count).toBe(1);
    expect(p.sustained.totalDurationMs).toBe(4 * H);
  });

  it('computes regions, customers and devices', () => {
    const [north, south] = report.regions;
    expect(north?.key).toBe('North');
    expect(north?.main.indices).toEqual({
      customerInterruptions: 1,
      customerMinutes: 180,
      saifi: 0.5,
      saidiMinutes: 90,
      caidiMinutes: 180,
      maifi: 0.5,
      asai: 0.99375,
    });
    expect(south?.key).toBe('South');
    expect(south?.knownLineHours).toBe(456);
    expect(south?.main.indices).toEqual({
      customerInterruptions: 2,
      customerMinutes: 120,
      saifi: 1,
      saidiMinutes: 60,
      caidiMinutes: 60,
      maifi: 0.5,
      asai: 1 - 2 / 456,
    });
    const [x, y] = report.customers;
    expect([x?.key, y?.key]).toEqual(['X', 'Y']);
    expect(x?.main.indices.saifi).toBe(1);
    expect(x?.main.indices.saidiMinutes).toBe(120);
    expect(x?.main.indices.caidiMinutes).toBe(120);
    expect(x?.main.indices.asai).toBe(1 - 4 / 468);
    expect(y?.main.indices.saifi).toBe(0.5);
    expect(y?.main.indices.saidiMinutes).toBe(30);
    expect(y?.main.indices.caidiMinutes).toBe(60);
    expect(y?.main.indices.asai).toBe(1 - 1 / 468);
    expect(y?.planned.indices.saidiMinutes).toBe(120);
    expect(report.devices.map((d) => [d.key, d.main.indices.saidiMinutes])).toEqual([
      ['A', 90],
      ['B', 60],
    ]);
  });

  it('moves outages that began on a major event day out of the main indices', () => {
    // #1 began 2026-11-02T00:00Z = 05:30 on 2026-11-02 in Colombo.
    const r = computeReliability(history, { period, majorEventDays: ['2026-11-02'] });
    expect(r.fleet.main.indices.saifi).toBe(0.5); // #2 #4
    expect(r.fleet.main.indices.saidiMinutes).toBe(45); // (120 + 60) / 4
    expect(r.fleet.majorEvents?.indices.saifi).toBe(0.25);
    expect(r.fleet.majorEvents?.indices.saidiMinutes).toBe(30);
    expect(r.fleet.planned.indices.saidiMinutes).toBe(60); // planned stays planned
  });

  it('clips an outage at the period end and waits for open outages to close', () => {
    const closed = computeReliability(
      {
        ...history,
        outages: [out('B', 2, P0 + 10 * D - 30 * M, P0 + 10 * D + 90 * M, 'sustained')],
      },
      { period },
    );
    expect(closed.fleet.main.indices.customerMinutes).toBe(30);
    expect(closed.fleet.main.sustained.openCount).toBe(0);
    // Crossing the period start while the device is offline over [P0−1h, P0+1h): of the
    // in-period hour P0 → P0+2h only the second hour is known → 60 min.
    const offline = computeReliability(
      {
        ...history,
        unknown: [{ deviceId: 'A', from: P0 - H, to: P0 + H }],
        outages: [out('A', 1, P0 - 2 * H, P0 + 2 * H, 'sustained', { unknownMs: 2 * H })],
      },
      { period },
    );
    expect(offline.fleet.main.indices.customerMinutes).toBe(60);
    expect(offline.fleet.unknownLineHours).toBe(2); // A/1 and A/2, one hour each inside the period
    const pending = computeReliability(
      { ...history, outages: [out('B', 2, P0 + 10 * D - M, null, 'pending')] },
      { period },
    );
    expect(pending.fleet.main.pending).toBe(1);
    expect(pending.fleet.main.indices.saifi).toBe(0);
    expect(pending.fleet.main.indices.maifi).toBe(0);
  });

  it('honours in-service time: N_T and the ASAI denominator follow it', () => {
    const r = computeReliability(
      {
        servicePoints: [
          { deviceId: 'A', line: 1 },
          { deviceId: 'A', line: 2, inServiceFrom: P0 + 5 * D },
          { deviceId: 'A', line: 3, inServiceTo: P0 },
        ],
        outages: [out('A', 2, P0 + D, P0 + D + H, 'sustained'), out('A', 1, P0 + D, P0 + D + 12 * H, 'sustained')],
      },
      { period },
    );
    // A/3 left service before the period: N_T = 2; A/2's outage predates its service: ignored.
    expect(r.fleet.lines).toBe(2);
    expect(r.fleet.knownLineHours).toBe(240 + 120);
    expect(r.fleet.main.indices.saifi).toBe(0.5);
    expect(r.fleet.main.indices.asai).toBe(1 - 12 / 360);
  });

  it('rejects an empty period and an unknown time zone', () => {
    expect(() => computeReliability(history, { period: { from: P0, to: P0 } })).toThrow(RangeError);
    expect(() => computeReliability(history, { period, timeZone: 'Mars/Olympus' })).toThrow(RangeError);
  });
});
