import { describe, expect, it } from 'vitest';
import {
  computeReliability,
  dailySaidi,
  localDay,
  localDayStart,
  localDays,
  majorEventDays,
  majorEventThreshold,
  type ReliabilityInput,
  timeZoneOffsetMs,
} from './index.js';

const M = 60_000;
const H = 60 * M;
const at = (iso: string) => Date.parse(iso);

describe('local days (Asia/Colombo, UTC+05:30)', () => {
  it('puts 18:30Z on the next local day', () => {
    expect(timeZoneOffsetMs(at('2026-11-01T00:00:00Z'))).toBe(5.5 * H);
    expect(localDay(at('2026-11-01T18:29:59.999Z'))).toBe('2026-11-01');
    expect(localDay(at('2026-11-01T18:30:00Z'))).toBe('2026-11-02');
    expect(localDayStart('2026-11-02')).toBe(at('2026-11-01T18:30:00Z'));
    expect(localDay(at('2026-11-01T18:30:00Z'), 'UTC')).toBe('2026-11-01');
  });

  it('follows DST in other zones (a 23-hour day in London)', () => {
    const [day] = localDays('2026-03-29', '2026-03-30', 'Europe/London');
    expect(day).toEqual({ day: '2026-03-29', from: at('2026-03-29T00:00:00Z'), to: at('2026-03-29T23:00:00Z') });
  });
});

describe('dailySaidi', () => {
  // Two lines; line 1 out 18:00Z → 19:00Z on 1 Nov = 23:30 → 00:30 Colombo, across local midnight.
  const input: ReliabilityInput = {
    servicePoints: [
      { deviceId: 'A', line: 1 },
      { deviceId: 'A', line: 2, inServiceFrom: at('2026-11-02T12:00:00Z') }, // counts from local 2 Nov
    ],
    outages: [
      {
        deviceId: 'A',
        line: 1,
        startedAt: at('2026-11-01T18:00:00Z'),
        endedAt: at('2026-11-01T19:00:00Z'),
        unknownMs: 0,
        class: 'sustained',
      },
      // Local 3 Nov 00:00 → 01:00 with 20 min offline: 40 known minutes, all on 3 Nov.
      {
        deviceId: 'A',
        line: 2,
        startedAt: at('2026-11-02T18:30:00Z'),
        endedAt: at('2026-11-02T19:30:00Z'),
        unknownMs: 20 * M,
        class: 'sustained',
      },
      {
        deviceId: 'A',
        line: 1,
        startedAt: at('2026-11-02T01:00:00Z'),
        endedAt: at('2026-11-02T01:01:00Z'),
        unknownMs: 0,
        class: 'momentary',
      },
      {
        deviceId: 'A',
        line: 1,
        startedAt: at('2026-11-02T02:00:00Z'),
        endedAt: at('2026-11-02T05:00:00Z'),
        unknownMs: 0,
        class: 'sustained',
        planned: true,
      },
    ],
    unknown: [{ deviceId: 'A', from: at('2026-11-02T18:40:00Z'), to: at('2026-11-02T19:00:00Z') }],
  };

  it('accrues a midnight-spanning outage to the local day it began (IEEE 1366 default)', () => {
    const days = dailySaidi(input, { fromDay: '2026-11-01', toDay: '2026-11-04' });
    expect(days.map((d) => [d.day, d.lines, d.customerMinutes, d.saidiMinutes])).toEqual([
      ['2026-11-01', 1, 60, 60],
      ['2026-11-02', 2, 0, 0],
      ['2026-11-03', 2, 40, 20],
    ]);
  });

  it('splits it at local midnight with clip attribution', () => {
    const days = dailySaidi(input, { fromDay: '2026-11-01', toDay: '2026-11-04', attribution: 'clip' });
    expect(days.map((d) => d.customerMinutes)).toEqual([30, 30, 40]);
  });

  it('includes planned outages only when asked', () => {
    const days = dailySaidi(input, { fromDay: '2026-11-02', toDay: '2026-11-03', includePlanned: true });
    expect(days[0]?.customerMinutes).toBe(180);
  });

  it('feeds the 2.5β method end to end', () => {
    // Ten days of 1-minute outages on one line, then a 10-hour storm on 11 Nov (local).
    const base = at('2026-10-31T20:00:00Z'); // 01:30 local, 1 Nov
    const outages: ReliabilityInput['outages'] = [];
    for (let i = 0; i < 10; i++) {
      const s = base + i * 24 * H;
      outages.push({
        deviceId: 'A',
        line: 1,
        startedAt: s,
        endedAt: s + (i + 1) * M,
        unknownMs: 0,
        class: 'sustained',
      });
    }
    const storm = base + 10 * 24 * H;
    outages.push({
      deviceId: 'A',
      line: 1,
      startedAt: storm,
      endedAt: storm + 10 * H,
      unknownMs: 0,
      class: 'sustained',
    });
    const hist: ReliabilityInput = { servicePoints: [{ deviceId: 'A', line: 1 }], outages };
    const daily = dailySaidi(hist, { fromDay: '2026-11-01', toDay: '2026-11-12' });
    const threshold = majorEventThreshold(daily.map((d) => d.saidiMinutes));
    const med = majorEventDays(daily, threshold);
    expect(med).toEqual(['2026-11-11']);
    const period = { from: localDayStart('2026-11-01'), to: localDayStart('2026-11-12') };
    const r = computeReliability(hist, { period, majorEventDays: med });
    expect(r.fleet.main.indices.customerMinutes).toBe(55); // 1 + 2 + … + 10
    expect(r.fleet.majorEvents?.indices.customerMinutes).toBe(600);
  });
});
