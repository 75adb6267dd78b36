import { describe, expect, it } from 'vitest';
import { diffVoltageEpisodes } from './events-diff.js';
import {
  applyVoltageSample,
  computeVoltageEpisodes,
  DEFAULT_VOLTAGE_LIMITS as L,
  type VoltageSample,
  type VoltageState,
  validateVoltage,
} from './voltage.js';

const series = (...volts: number[]): VoltageSample[] =>
  volts.map((v, i) => ({ ts: i * 30_000, msgId: `v${i}`, volts: v }));

describe('validateVoltage', () => {
  it('accepts the firmware readings, including 0.0 (mains absent)', () => {
    expect(validateVoltage(219.5)).toEqual({ ok: true, volts: 219.5 });
    expect(validateVoltage(0)).toEqual({ ok: true, volts: 0 });
    expect(validateVoltage('231.0')).toEqual({ ok: true, volts: 231 });
  });

  it('rejects what cannot be a mains voltage, with the reason', () => {
    expect(validateVoltage(-1)).toEqual({ ok: false, reason: 'below_range' });
    expect(validateVoltage(400.1)).toEqual({ ok: false, reason: 'above_range' });
    expect(validateVoltage(Number.NaN)).toEqual({ ok: false, reason: 'not_a_number' });
    expect(validateVoltage(Number.POSITIVE_INFINITY)).toEqual({ ok: false, reason: 'not_a_number' });
    expect(validateVoltage('abc')).toEqual({ ok: false, reason: 'not_a_number' });
    expect(validateVoltage('')).toEqual({ ok: false, reason: 'not_a_number' });
    expect(validateVoltage(null)).toEqual({ ok: false, reason: 'not_a_number' });
    expect(validateVoltage(500, { min: 0, max: 600 })).toEqual({ ok: true, volts: 500 });
  });
});

describe('voltage episodes', () => {
  it('default limits are 230 V ± 6 %', () => {
    expect([L.min, L.max]).toEqual([216.2, 243.8]);
  });

  it('under-voltage opens below min and closes only back inside min + hysteresis', () => {
    const eps = computeVoltageEpisodes(series(229, 216.1, 217, 218.1, 218.2, 229), L, []);
    expect(eps).toEqual([
      expect.objectContaining({ kind: 'under', startedAt: 30_000, endedAt: 120_000, durationMs: 90_000 }),
    ]);
  });

  it('over-voltage mirrors it; readings exactly at the limits are not out of range', () => {
    expect(computeVoltageEpisodes(series(230, 216.2, 243.8, 230), L, [])).toEqual([]);
    const eps = computeVoltageEpisodes(series(230, 244, 242, 241.8, 230), L, []);
    expect(eps).toEqual([expect.objectContaining({ kind: 'over', startedAt: 30_000, endedAt: 90_000 })]);
  });

  it('a reading that flaps around the limit does not open a new episode each time', () => {
    const eps = computeVoltageEpisodes(series(230, 216, 216.5, 216, 216.9, 215.9, 230), L, []);
    expect(eps).toHaveLength(1);
  });

  it('0.0 V is an interruption (the lines report it), not under-voltage, and ends an episode', () => {
    expect(computeVoltageEpisodes(series(230, 0, 0, 230), L, [])).toEqual([]);
    const eps = computeVoltageEpisodes(series(230, 210, 0, 210), L, []);
    expect(eps.map((e) => [e.kind, e.startedAt, e.endedAt])).toEqual([
      ['under', 30_000, 60_000],
      ['under', 90_000, null],
    ]);
  });

  it('direct under → over closes one and opens the other', () => {
    const eps = computeVoltageEpisodes(series(200, 250), L, []);
    expect(eps.map((e) => [e.kind, e.endedAt])).toEqual([
      ['under', 30_000],
      ['over', null],
    ]);
  });

  it('offline time inside an episode is not counted (unknown until the first sample after the window)', () => {
    const [e] = computeVoltageEpisodes(series(230, 210, 210, 210, 230), L, [{ from: 45_000, to: 85_000 }]);
    expect(e).toMatchObject({ startedAt: 30_000, endedAt: 120_000, unknownMs: 45_000, durationMs: 45_000 });
  });

  it('incremental samples, shuffled recompute and the event diff agree', () => {
    const samples = series(230, 210, 212, 219, 250, 250, 230, 0, 230);
    let state: VoltageState | null = null;
    let events = 0;
    for (const s of samples) {
      const step = applyVoltageSample(state, s, L, []);
      if (step.status !== 'applied') throw new Error('expected applied');
      state = step.state;
      events += step.events.length;
    }
    expect(applyVoltageSample(state, samples[3] as VoltageSample, L, []).status).toBe('late');
    const shuffled = [...samples, ...samples].reverse();
    const eps = computeVoltageEpisodes(shuffled, L, []);
    expect(eps.map((e) => e.kind)).toEqual(['under', 'over']);
    expect(events).toBe(4); // two opened, two closed
    expect(diffVoltageEpisodes(eps, computeVoltageEpisodes(samples, L, []))).toEqual([]);
    expect(diffVoltageEpisodes([], eps).map((e) => e.type)).toEqual([
      'voltage.opened',
      'voltage.closed',
      'voltage.opened',
      'voltage.closed',
    ]);
  });
});
