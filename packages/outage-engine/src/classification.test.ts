import { describe, expect, it } from 'vitest';
import { classifyOutage, isOutageUncertain, lineUnknownSince, outageDurationMs } from './classification.js';
import { computeLineOutages } from './line-outages.js';
import type { LineReport, OutageInterval } from './types.js';

const MIN = 60_000;
const r = (ts: number, powered: boolean): LineReport => ({ line: 1, ts, msgId: `m${ts}`, powered });
const outage = (downFor: number, up = true, opts = {}): OutageInterval => {
  const reports = [r(0, true), r(MIN, false), ...(up ? [r(MIN + downFor, true)] : [])];
  const [o] = computeLineOutages(1, reports, [], opts);
  if (!o) throw new Error('expected an outage');
  return o;
};

describe('classification', () => {
  it('momentary below the threshold (default 5 min), sustained from it on', () => {
    expect(outage(5 * MIN - 1).classification).toBe('momentary');
    expect(outage(5 * MIN).classification).toBe('sustained');
    expect(classifyOutage(outage(5 * MIN - 1), { now: 0 })).toBe('momentary');
  });

  it('uses the profile threshold', () => {
    expect(outage(2 * MIN, true, { momentaryThresholdMs: MIN }).classification).toBe('sustained');
    expect(classifyOutage(outage(30_000), { momentaryThresholdMs: MIN, now: 0 })).toBe('momentary');
  });

  it('an open outage is pending until it has lasted the threshold, then sustained', () => {
    const open = outage(0, false);
    expect(open.classification).toBeNull();
    expect(classifyOutage(open, { now: MIN + 5 * MIN - 1 })).toBe('pending');
    expect(classifyOutage(open, { now: MIN + 5 * MIN })).toBe('sustained');
  });

  it('an open outage stops counting while the line is unknown', () => {
    const open = outage(0, false);
    const state = { line: 1, ts: MIN, msgId: `m${MIN}`, powered: false, open };
    const since = lineUnknownSince(state, [{ from: 2 * MIN, to: null }], 100 * MIN);
    expect(since).toBe(2 * MIN);
    expect(outageDurationMs(open, 100 * MIN, since)).toBe(MIN);
    expect(classifyOutage(open, { now: 100 * MIN, unknownSince: since })).toBe('pending');
    expect(outageDurationMs(open)).toBeNull();
  });

  it('flags outages touched by unknown windows as uncertain', () => {
    expect(isOutageUncertain(outage(MIN))).toBe(false);
    const [o] = computeLineOutages(1, [r(0, true), r(500, false), r(800, true)], [{ from: 100, to: 450 }]);
    expect(o && isOutageUncertain(o)).toBe(true);
  });
});
