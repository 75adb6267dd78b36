import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDeviceActivity, deviceActivityState, EMPTY_DEVICE_FACTS } from './device-state.js';
import { diffDeviceActivity, diffOutages } from './events-diff.js';
import { computeLineOutages } from './line-outages.js';
import type { LineReport, OutageEvent, OutageInterval, TimeWindow } from './types.js';

const r = (ts: number, powered: boolean, line = 1): LineReport => ({ line, ts, msgId: `m${ts}`, powered });
const types = (events: { type: string }[]) => events.map((e) => e.type);

describe('diffOutages', () => {
  const base = [r(0, true), r(100, false), r(200, true)];
  const stored = computeLineOutages(1, base, []);

  it('nothing to emit when recomputation gives the same intervals (any key order)', () => {
    expect(diffOutages(stored, computeLineOutages(1, [...base].reverse(), []))).toEqual([]);
    const reordered = stored.map((o) => Object.fromEntries(Object.entries(o).reverse()) as typeof o);
    expect(diffOutages(reordered, stored)).toEqual([]);
  });

  it('an earlier start from a late report is a change of the same outage, not a new one', () => {
    const after = computeLineOutages(1, [...base, r(50, false)], []);
    const events = diffOutages(stored, after);
    expect(types(events)).toEqual(['outage.changed']);
    expect(events[0]).toMatchObject({ previous: { startedAt: 100 }, outage: { startedAt: 50, endedAt: 200 } });
  });

  it('a late restoration inside an outage splits it: the first part changes, the second is new', () => {
    const after = computeLineOutages(1, [...base, r(150, true), r(160, false)], []);
    expect(types(diffOutages(stored, after))).toEqual(['outage.changed', 'outage.opened', 'outage.closed']);
  });

  it('a stored open outage closed by recomputation emits closed with the stored version', () => {
    const open = computeLineOutages(1, [r(0, true), r(100, false)], []);
    const events = diffOutages(open, stored);
    expect(types(events)).toEqual(['outage.closed']);
    expect(events[0]).toMatchObject({ previous: { endedAt: null }, outage: { endedAt: 200 } });
  });

  it('a stored outage late data absorbs into another is removed', () => {
    // Stored: two outages; a late report shows the line was in fact unpowered the whole time.
    const two = computeLineOutages(1, [r(0, true), r(10, false), r(20, true), r(30, false), r(40, true)], []);
    const one = computeLineOutages(1, [r(0, true), r(10, false), r(20, false), r(30, false), r(40, true)], []);
    expect(two).toHaveLength(2);
    expect(types(diffOutages(two, one))).toEqual(['outage.removed', 'outage.changed']);
  });

  it('lines are matched separately', () => {
    const line2 = computeLineOutages(2, [r(0, true, 2), r(100, false, 2)], []);
    expect(types(diffOutages(stored, [...stored, ...line2]))).toEqual(['outage.opened']);
  });
});

describe('diffDeviceActivity', () => {
  const T = 120_000;
  const at = (facts: typeof EMPTY_DEVICE_FACTS, now: number) => deviceActivityState(facts, { timeoutMs: T, now });
  const connected = applyDeviceActivity(EMPTY_DEVICE_FACTS, 1000, 'connect');
  const lost = applyDeviceActivity(connected, 5000, 'connection_lost');

  it('online, connection lost, offline: each exactly once however often it is evaluated', () => {
    const s0 = at(EMPTY_DEVICE_FACTS, 0);
    const s1 = at(connected, 1000);
    const s2 = at(lost, 5000);
    const s3 = at(lost, 1000 + T);
    expect(diffDeviceActivity(s0, s1)).toEqual([{ type: 'device.online', at: 1000 }]);
    expect(diffDeviceActivity(s1, s2)).toEqual([{ type: 'device.connection_lost', at: 5000 }]);
    expect(diffDeviceActivity(s2, at(lost, 6000))).toEqual([]);
    expect(diffDeviceActivity(s2, s3)).toEqual([{ type: 'device.offline', at: 1000 + T }]);
    expect(diffDeviceActivity(s3, at(lost, 1000 + 2 * T))).toEqual([]);
  });

  it('reconnecting before the timeout is a restored connection, not online again', () => {
    const back = applyDeviceActivity(lost, 8000, 'connect');
    expect(diffDeviceActivity(at(lost, 5000), at(back, 8000))).toEqual([
      { type: 'device.connection_restored', at: 8000 },
    ]);
  });

  it('coming back after being offline is online', () => {
    const back = applyDeviceActivity(lost, 1000 + 3 * T, 'connect');
    expect(diffDeviceActivity(at(lost, 1000 + 2 * T), at(back, 1000 + 3 * T))).toEqual([
      { type: 'device.online', at: 1000 + 3 * T },
    ]);
  });
});

describe('diffOutages, any before/after', () => {
  const report = fc.record({
    line: fc.constantFrom(1, 2),
    ts: fc.integer({ min: 0, max: 200 }),
    msgId: fc.constantFrom('a', 'b'),
    powered: fc.boolean(),
  });
  const reports = fc.array(report, { maxLength: 25 });
  const windows = fc.array(
    fc.record({ from: fc.integer({ min: 0, max: 200 }), to: fc.option(fc.integer({ min: 201, max: 260 })) }),
    { maxLength: 2 },
  ) as fc.Arbitrary<TimeWindow[]>;
  const all = (rs: LineReport[], w: TimeWindow[]) => [1, 2].flatMap((line) => computeLineOutages(line, rs, w));
  const id = (o: OutageInterval) => `${o.line}|${o.startedAt}|${o.startMsgId}`;

  it('applying the events to the stored rows gives the recomputed rows, each row touched at most once', () => {
    fc.assert(
      fc.property(reports, reports, windows, windows, (a, b, w1, w2) => {
        const before = all(a, w1);
        const after = all([...a, ...b], w2);
        const rows = new Map(before.map((o) => [id(o), o]));
        const touched = new Set<string>();
        const touch = (key: string) => {
          expect(touched.has(key)).toBe(false);
          touched.add(key);
        };
        for (const e of diffOutages(before, after) as OutageEvent[]) {
          if (e.type === 'outage.opened') {
            expect(rows.has(id(e.outage))).toBe(false);
            rows.set(id(e.outage), e.outage);
            continue;
          }
          const prev = e.type === 'outage.closed' && e.previous === null ? e.outage : (e.previous as OutageInterval);
          expect(rows.has(id(prev))).toBe(true);
          if (e.type !== 'outage.closed' || e.previous !== null) touch(id(prev));
          rows.delete(id(prev));
          if (e.type !== 'outage.removed') rows.set(id(e.outage), e.outage);
        }
        const key = (o: OutageInterval) => `${o.line}|${String(o.startedAt).padStart(4, '0')}|${o.startMsgId}`;
        const sorted = (list: OutageInterval[]) => [...list].sort((x, y) => (key(x) < key(y) ? -1 : 1));
        expect(sorted([...rows.values()])).toEqual(sorted(after));
      }),
      { numRuns: 300 },
    );
  });
});
