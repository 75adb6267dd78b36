import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDeviceActivity, type ConnectivityKind, EMPTY_DEVICE_FACTS } from './device-state.js';
import { diffVoltageEpisodes } from './events-diff.js';
import { sortUnique } from './order.js';
import type { TimeWindow } from './types.js';
import {
  applyVoltageSample,
  computeVoltageEpisodes,
  DEFAULT_VOLTAGE_LIMITS as L,
  type VoltageEpisode,
  type VoltageSample,
  type VoltageState,
} from './voltage.js';

const sample = fc.record({
  ts: fc.integer({ min: 0, max: 300 }),
  msgId: fc.constantFrom('a', 'b', 'c'),
  // The limits, the hysteresis band edges and the interruption threshold, and a bit either side.
  volts: fc.constantFrom(0, 22.9, 23, 200, 216.1, 216.2, 217, 218.2, 230, 241.8, 242, 243.8, 243.9, 260),
});
const samples = fc.uniqueArray(sample, { minLength: 1, maxLength: 30, selector: (s) => `${s.ts}|${s.msgId}` });
const windows = fc.array(
  fc
    .record({ from: fc.integer({ min: 0, max: 300 }), len: fc.option(fc.integer({ min: 1, max: 100 })) })
    .map(({ from, len }): TimeWindow => ({ from, to: len === null ? null : from + len })),
  { maxLength: 3 },
);

function stepped(ordered: VoltageSample[], w: TimeWindow[]): VoltageEpisode[] {
  let state: VoltageState | null = null;
  const out: VoltageEpisode[] = [];
  for (const s of ordered) {
    const step = applyVoltageSample(state, s, L, w);
    if (step.status !== 'applied') throw new Error('in-order sample not applied');
    state = step.state;
    for (const e of step.events) {
      if (e.type === 'voltage.opened') out.push(e.episode);
      else if (e.type !== 'voltage.removed') out[out.length - 1] = e.episode;
    }
  }
  return out;
}

describe('voltage episodes under shuffled and duplicated delivery', () => {
  it('batch over any order equals incremental in order; episodes never overlap and respect the limits', () => {
    fc.assert(
      fc.property(samples, windows, fc.array(fc.nat()), (ss, w, noise) => {
        const ordered = sortUnique(ss);
        const shuffled = [...ss, ...ss.slice(0, noise.length % (ss.length + 1))].sort(
          (x, y) => ((x.ts * 7 + (noise[0] ?? 0)) % 13) - ((y.ts * 7 + (noise[0] ?? 0)) % 13),
        );
        const eps = computeVoltageEpisodes(shuffled, L, w);
        expect(eps).toEqual(stepped(ordered, w));
        for (const e of eps) {
          const first = ordered.find((s) => s.ts === e.startedAt && s.msgId === e.startMsgId) as VoltageSample;
          expect(e.kind === 'under' ? first.volts < L.min : first.volts > L.max).toBe(true);
          expect(first.volts).toBeGreaterThanOrEqual(L.interruptionBelow);
          if (e.durationMs !== null) expect(e.durationMs).toBeGreaterThanOrEqual(0);
        }
        for (let i = 1; i < eps.length; i++) {
          expect((eps[i] as VoltageEpisode).startedAt).toBeGreaterThanOrEqual(
            (eps[i - 1] as VoltageEpisode).endedAt ?? Infinity,
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the diff from a prefix to the whole, applied to the prefix, gives the whole', () => {
    fc.assert(
      fc.property(samples, samples, windows, (a, b, w) => {
        const before = computeVoltageEpisodes(a, L, w);
        const after = computeVoltageEpisodes([...a, ...b], L, w);
        const rows = new Map(before.map((e) => [`${e.startedAt}|${e.startMsgId}|${e.kind}`, e]));
        const id = (e: VoltageEpisode) => `${e.startedAt}|${e.startMsgId}|${e.kind}`;
        for (const ev of diffVoltageEpisodes(before, after)) {
          if (ev.type === 'voltage.opened') rows.set(id(ev.episode), ev.episode);
          else if (ev.type === 'voltage.removed') rows.delete(id(ev.previous));
          else {
            rows.delete(id(ev.previous ?? ev.episode));
            rows.set(id(ev.episode), ev.episode);
          }
        }
        expect(
          [...rows.values()].sort((x, y) => x.startedAt - y.startedAt || (x.startMsgId < y.startMsgId ? -1 : 1)),
        ).toEqual(after);
        expect(diffVoltageEpisodes(after, after)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('device facts', () => {
  it('do not depend on delivery order or duplicates', () => {
    const kinds: (ConnectivityKind | 'telemetry')[] = [
      'connect',
      'disconnect',
      'connection_lost',
      'keepalive_timeout',
      'session_replaced',
      'activity',
      'telemetry',
    ];
    const event = fc.tuple(fc.integer({ min: 0, max: 50 }), fc.constantFrom(...kinds));
    fc.assert(
      fc.property(fc.array(event, { maxLength: 20 }), fc.array(fc.nat()), (events, order) => {
        const fold = (list: typeof events) =>
          list.reduce((f, [ts, k]) => applyDeviceActivity(f, ts, k), EMPTY_DEVICE_FACTS);
        const permuted = events
          .map((e, i) => ({ e, k: order[i] ?? i }))
          .sort((x, y) => x.k - y.k)
          .map((x) => x.e);
        expect(fold([...permuted, ...events.slice(0, 3)])).toEqual(fold(events));
      }),
      { numRuns: 300 },
    );
  });
});
