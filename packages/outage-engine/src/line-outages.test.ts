import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { anchorFromOutage, applyReport, computeLineOutages, recomputeLine } from './line-outages.js';
import type { LineReport, LineState } from './types.js';

// The firmware's byte-exact test vectors (repository fixtures/).
const fixture = JSON.parse(readFileSync(new URL('../../../fixtures/mqtt-firmware.json', import.meta.url), 'utf8')) as {
  scenario: {
    events: { t: number; payload: string }[];
    expect_outages: { line: number; start_t: number; end_t: number }[];
  };
};

/** The firmware's single-quoted line payload, e.g. {'3':'false'} (parsing proper is @spms/telemetry's job). */
function lineOf(payload: string): { line: number; powered: boolean } | null {
  const m = /^\{'([1-8])':'(true|false)'\}$/.exec(payload);
  return m ? { line: Number(m[1]), powered: m[2] === 'true' } : null;
}

const r = (ts: number, powered: boolean, msgId = `m${ts}`, line = 1): LineReport => ({ line, ts, msgId, powered });

describe('the MQTT firmware fixture scenario (receive time = event time)', () => {
  const t0 = 1_764_000_000_000;
  const reports: LineReport[] = [];
  fixture.scenario.events.forEach((e, i) => {
    const parsed = lineOf(e.payload);
    if (parsed) reports.push({ ...parsed, ts: t0 + Math.round(e.t * 1000), msgId: `msg-${i}` });
  });

  it('has exactly one outage, on line 3, from t=95 s to t=400 s (305 s)', () => {
    const all = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((line) => computeLineOutages(line, reports, []));
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ line: 3, startedAt: t0 + 95_000, endedAt: t0 + 400_000, durationMs: 305_000 });
    expect(all[0]?.classification).toBe('sustained');
    const expected = fixture.scenario.expect_outages[0];
    expect(expected && [expected.line, expected.start_t, expected.end_t]).toEqual([3, 95, 400]);
  });

  it('gives the same result delivered in reverse with every message twice', () => {
    const replayed = [...reports, ...reports].reverse();
    expect(computeLineOutages(3, replayed, [])).toEqual(computeLineOutages(3, reports, []));
  });
});

describe('line state machine', () => {
  it('opens on powered → unpowered, closes on unpowered → powered; repeats change nothing', () => {
    const out = computeLineOutages(
      1,
      [r(0, true), r(10, true), r(20, false), r(30, false), r(40, true), r(50, true)],
      [],
    );
    expect(out).toEqual([
      expect.objectContaining({ startedAt: 20, startMsgId: 'm20', endedAt: 40, endMsgId: 'm40', durationMs: 20 }),
    ]);
  });

  it('a first report that is unpowered establishes state without inventing an outage', () => {
    expect(computeLineOutages(1, [r(0, false), r(10, false), r(20, true)], [])).toEqual([]);
    expect(computeLineOutages(1, [r(0, false), r(20, true), r(30, false)], [])).toHaveLength(1);
  });

  it('orders equal timestamps by msgId, not by arrival', () => {
    const a = r(100, false, 'b');
    const b = r(100, true, 'a'); // sorts first: powered, then unpowered at the same ms
    expect(computeLineOutages(1, [r(0, true), a, b], [])).toEqual([
      expect.objectContaining({ startedAt: 100, startMsgId: 'b', endedAt: null }),
    ]);
  });

  it('an outage that began while the device was offline records that window and counts from first seen down', () => {
    const [o] = computeLineOutages(1, [r(0, true), r(500, false), r(800, true)], [{ from: 100, to: 450 }]);
    expect(o).toMatchObject({ startedAt: 500, startWindow: { from: 100, to: 500 }, endedAt: 800, durationMs: 300 });
  });

  it('a restoration inside a window ends the outage at last seen unpowered; offline time is not counted', () => {
    const [o] = computeLineOutages(1, [r(0, true), r(100, false), r(900, true)], [{ from: 300, to: 800 }]);
    expect(o).toMatchObject({ startedAt: 100, endedAt: 300, endWindow: { from: 300, to: 900 }, durationMs: 200 });
  });

  it('an outage spanning a window continues, with the unknown stretch excluded', () => {
    const [o] = computeLineOutages(
      1,
      [r(0, true), r(100, false), r(900, false), r(1000, true)],
      [{ from: 300, to: 800 }],
    );
    expect(o).toMatchObject({ startedAt: 100, endedAt: 1000, unknownMs: 600, durationMs: 300 });
  });

  it('a report inside a window is a point observation: unknown again right after it', () => {
    const [o] = computeLineOutages(1, [r(0, true), r(400, false), r(1000, true)], [{ from: 300, to: 800 }]);
    expect(o).toMatchObject({ startedAt: 400, startWindow: { from: 300, to: 400 }, endedAt: 400, durationMs: 0 });
  });
});

describe('incremental step', () => {
  it('reports duplicate and late instead of applying them', () => {
    const s = applyReport(null, r(10, true), []);
    if (s.status !== 'applied') throw new Error('expected applied');
    expect(applyReport(s.state, r(10, true), []).status).toBe('duplicate');
    expect(applyReport(s.state, r(5, false), []).status).toBe('late');
    expect(() => applyReport(s.state, r(20, true, 'x', 2), [])).toThrow(/line 2/);
  });

  it('emits opened then closed with the stored version as previous', () => {
    let state: LineState | null = null;
    const events = [r(0, true), r(10, false), r(20, true)].flatMap((x) => {
      const s = applyReport(state, x, []);
      if (s.status !== 'applied') throw new Error('expected applied');
      state = s.state;
      return s.events;
    });
    expect(events.map((e) => e.type)).toEqual(['outage.opened', 'outage.closed']);
    expect(events[1]).toMatchObject({ previous: { endedAt: null }, outage: { endedAt: 20 } });
  });

  it('recomputes from a stored outage as anchor like from the full history', () => {
    const reports = [r(0, true), r(10, false), r(20, false), r(30, true), r(40, false)];
    const windows = [{ from: 12, to: 18 }];
    const [first] = computeLineOutages(1, reports, windows);
    if (!first) throw new Error('expected an outage');
    const { outages, state } = recomputeLine(anchorFromOutage(first), 1, reports, windows);
    expect(outages).toEqual(computeLineOutages(1, reports, windows));
    expect(state).toMatchObject({ ts: 40, powered: false, open: { startedAt: 40 } });
  });
});
