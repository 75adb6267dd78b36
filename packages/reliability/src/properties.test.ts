import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeReliability,
  dailySaidi,
  localDayStart,
  mergeWindows,
  overlapMs,
  type ReliabilityInput,
  type ReliabilityOutage,
  type UnknownWindow,
} from './index.js';

const M = 60_000;
const START = localDayStart('2026-11-01'); // local midnight, so whole local days tile the period
const DAYS = 6;
const END = START + DAYS * 24 * 60 * M;

const windowArb = (deviceId: string) =>
  fc
    .record({ from: fc.integer({ min: -600, max: DAYS * 1440 }), len: fc.integer({ min: 1, max: 1440 }) })
    .map(({ from, len }): UnknownWindow => ({ deviceId, from: START + from * M, to: START + (from + len) * M }));

/** Non-overlapping outages of one line (gaps and lengths in minutes), the last possibly open. */
const lineOutagesArb = (deviceId: string, line: number) =>
  fc
    .record({
      first: fc.integer({ min: -600, max: 600 }),
      steps: fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 2000 }),
          len: fc.integer({ min: 1, max: 900 }),
          planned: fc.boolean(),
        }),
        { maxLength: 6 },
      ),
      lastOpen: fc.boolean(),
    })
    .map(({ first, steps, lastOpen }) => {
      let t = START + first * M;
      return steps.map((s, i) => {
        const startedAt = t + s.gap * M;
        t = startedAt + s.len * M;
        const open = lastOpen && i === steps.length - 1;
        return { deviceId, line, startedAt, endedAt: open ? null : t, planned: s.planned, len: s.len };
      });
    });

const historyArb = fc
  .record({
    lines: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 })), {
      minLength: 1,
      maxLength: 5,
    }),
    seed: fc.integer(),
  })
  .chain(({ lines }) => {
    const uniq = [...new Map(lines.map(([d, l]) => [`${d}/${l}`, { deviceId: `D${d}`, line: l }])).values()];
    const devices = [...new Set(uniq.map((u) => u.deviceId))];
    return fc.record({
      servicePoints: fc.constant(uniq.map((u) => ({ ...u, region: u.deviceId === 'D0' ? 'R0' : 'R1' }))),
      outages: fc.tuple(...uniq.map((u) => lineOutagesArb(u.deviceId, u.line))),
      unknown: fc.tuple(...devices.map((d) => fc.array(windowArb(d), { maxLength: 3 }))),
      extra: windowArb(devices[0]!),
    });
  })
  .map(({ servicePoints, outages, unknown, extra }) => {
    const windows = unknown.flat();
    const byDevice = (id: string, ws: UnknownWindow[]) => mergeWindows(ws.filter((w) => w.deviceId === id));
    // unknownMs consistent with the windows, as the engine would compute it; class from known time.
    const rows: ReliabilityOutage[] = outages.flat().map((o) => {
      const unknownMs = o.endedAt === null ? 0 : overlapMs(byDevice(o.deviceId, windows), o.startedAt, o.endedAt);
      const known = o.endedAt === null ? null : o.endedAt - o.startedAt - unknownMs;
      const cls = known === null ? (o.len >= 5 ? 'sustained' : 'pending') : known < 5 * M ? 'momentary' : 'sustained';
      return {
        deviceId: o.deviceId,
        line: o.line,
        startedAt: o.startedAt,
        endedAt: o.endedAt,
        unknownMs,
        class: cls,
        planned: o.planned,
      };
    });
    const input: ReliabilityInput = { servicePoints, outages: rows, unknown: windows };
    return { input, extra };
  });

const period = { from: START, to: END };

describe('reliability properties', () => {
  it('ASAI in [0, 1], SAIDI ≥ 0, CAIDI = SAIDI / SAIFI, groups add up to the fleet', () => {
    fc.assert(
      fc.property(historyArb, ({ input }) => {
        const r = computeReliability(input, { period });
        for (const g of [r.fleet, ...r.regions, ...r.devices]) {
          for (const set of [g.main, g.planned]) {
            const i = set.indices;
            expect(i.saidiMinutes).toBeGreaterThanOrEqual(0);
            expect(i.saifi).toBeGreaterThanOrEqual(0);
            if (i.asai !== null) {
              expect(i.asai).toBeGreaterThanOrEqual(0);
              expect(i.asai).toBeLessThanOrEqual(1);
            }
            if (i.saifi > 0) expect(i.caidiMinutes).toBeCloseTo(i.saidiMinutes / i.saifi, 9);
            else expect(i.caidiMinutes).toBeNull();
          }
          // Unclamped: outage time never exceeds known line time (offline time is in neither).
          const outageMinutes = g.main.indices.customerMinutes + g.planned.indices.customerMinutes;
          expect(outageMinutes).toBeLessThanOrEqual(g.knownLineHours * 60 + 1e-6);
        }
        const sum = (k: 'customerMinutes' | 'customerInterruptions') =>
          r.devices.reduce((s, d) => s + d.main.indices[k], 0);
        expect(sum('customerMinutes')).toBeCloseTo(r.fleet.main.indices.customerMinutes, 6);
        expect(sum('customerInterruptions')).toBe(r.fleet.main.indices.customerInterruptions);
      }),
      { numRuns: 300 },
    );
  });

  it('adding an offline window never increases Σ r_i·N_i and never decreases unknown time', () => {
    fc.assert(
      fc.property(historyArb, ({ input, extra }) => {
        const before = computeReliability(input, { period }).fleet;
        const after = computeReliability({ ...input, unknown: [...(input.unknown ?? []), extra] }, { period }).fleet;
        expect(after.main.indices.customerMinutes).toBeLessThanOrEqual(before.main.indices.customerMinutes + 1e-9);
        expect(after.planned.indices.customerMinutes).toBeLessThanOrEqual(
          before.planned.indices.customerMinutes + 1e-9,
        );
        expect(after.unknownLineHours).toBeGreaterThanOrEqual(before.unknownLineHours);
        // Frequencies do not depend on what we know about the lines' state.
        expect(after.main.indices.saifi).toBe(before.main.indices.saifi);
      }),
      { numRuns: 300 },
    );
  });

  it('is additive over a split period, and clip-attributed daily SAIDI sums to the period', () => {
    fc.assert(
      fc.property(historyArb, fc.integer({ min: 1, max: DAYS * 1440 - 1 }), ({ input }, cut) => {
        const mid = START + cut * M;
        const whole = computeReliability(input, { period }).fleet.main;
        const a = computeReliability(input, { period: { from: START, to: mid } }).fleet.main;
        const b = computeReliability(input, { period: { from: mid, to: END } }).fleet.main;
        expect(a.indices.customerMinutes + b.indices.customerMinutes).toBeCloseTo(whole.indices.customerMinutes, 6);
        expect(a.indices.customerInterruptions + b.indices.customerInterruptions).toBe(
          whole.indices.customerInterruptions,
        );
        expect(a.momentary.count + b.momentary.count).toBe(whole.momentary.count);
        const days = dailySaidi(input, { fromDay: '2026-11-01', toDay: '2026-11-07', attribution: 'clip' });
        const daySum = days.reduce((s, d) => s + d.customerMinutes, 0);
        expect(daySum).toBeCloseTo(whole.indices.customerMinutes, 6);
      }),
      { numRuns: 200 },
    );
  });
});
