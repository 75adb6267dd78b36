import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffOutages } from './events-diff.js';
import { applyReport, computeLineOutages } from './line-outages.js';
import { inOrder, oracleOutages, timelineOutageMs } from './test-support/oracle.js';
import { SimWorker } from './test-support/worker-sim.js';
import type { LineReport, LineState, OutageInterval, TimeWindow } from './types.js';

const LINE = 3;
const THRESHOLD = 40; // small, so both classes occur with ts in 0..300
const opts = { momentaryThresholdMs: THRESHOLD };
const RUNS = 400;

/** Few distinct ts and msgIds, so equal timestamps with different msgIds are common. */
const report = fc.record({
  line: fc.constant(LINE),
  // A few hot timestamps make equal ts with different msgIds (HTTP snapshots, retries) common.
  ts: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 300 }), weight: 3 }, fc.constantFrom(60, 120, 180)),
  msgId: fc.constantFrom('a', 'b', 'c', 'B', 'm-1', 'm-10'),
  powered: fc.boolean(),
});
const history = fc.uniqueArray(report, { minLength: 1, maxLength: 30, selector: (r) => `${r.ts}|${r.msgId}` });
const window = fc
  .record({ from: fc.integer({ min: 0, max: 300 }), len: fc.option(fc.integer({ min: 1, max: 120 }), { freq: 5 }) })
  .map(({ from, len }): TimeWindow => ({ from, to: len === null ? null : from + len }));
const windows = fc.array(window, { maxLength: 4 });

/** Delivery order: every report at least once, some duplicated, some late (or fully shuffled). */
function deliveries(h: LineReport[]) {
  return fc
    .record({
      dupes: fc.array(fc.integer({ min: 0, max: h.length - 1 }), { maxLength: 10 }),
      delays: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 })), {
        minLength: h.length + 10,
        maxLength: h.length + 10,
      }),
    })
    .map(({ dupes, delays }) => {
      const sent = [...inOrder(h, LINE), ...dupes.map((i) => h[i] as LineReport)];
      // Arrival = event time + delay: edge buffering and retries make some reports late.
      return sent
        .map((r, i) => ({ r, at: r.ts + (delays[i] ?? 0), i }))
        .sort((x, y) => x.at - y.at || x.i - y.i)
        .map((x) => x.r);
    });
}

const scenario = fc
  .tuple(history, windows)
  .chain(([h, w]) => fc.tuple(fc.constant(h), fc.constant(w), deliveries(h), fc.boolean(), fc.boolean()));

describe('line outages under shuffled, duplicated and late delivery', () => {
  it('the worker path (incremental step + anchored recompute + diff) equals the in-order oracle', () => {
    fc.assert(
      fc.property(scenario, ([h, w, delivered, anchorAtOutages, stopEarly]) => {
        const worker = new SimWorker(LINE, w, opts, anchorAtOutages, stopEarly);
        for (const r of delivered) worker.receive(r);
        expect(worker.sortedOutages()).toEqual(oracleOutages(h, LINE, w, THRESHOLD));
        const newest = inOrder(h, LINE).at(-1) as LineReport;
        expect(
          worker.state && { ts: worker.state.ts, msgId: worker.state.msgId, powered: worker.state.powered },
        ).toEqual({ ts: newest.ts, msgId: newest.msgId, powered: newest.powered });
      }),
      { numRuns: RUNS },
    );
  });

  it('incremental steps in order, computeLineOutages on any order, and the oracle agree', () => {
    fc.assert(
      fc.property(scenario, ([h, w, delivered]) => {
        let state: LineState | null = null;
        const stepped: OutageInterval[] = [];
        for (const r of inOrder(h, LINE)) {
          const step = applyReport(state, r, w, opts);
          if (step.status !== 'applied') throw new Error('in-order report not applied');
          state = step.state;
          for (const e of step.events) {
            if (e.type === 'outage.opened') stepped.push(e.outage);
            else if (e.type !== 'outage.removed') stepped[stepped.length - 1] = e.outage;
          }
        }
        const expected = oracleOutages(h, LINE, w, THRESHOLD);
        expect(stepped).toEqual(expected);
        const otherLine = delivered.map((r) => ({ ...r, line: 4, powered: !r.powered }));
        expect(computeLineOutages(LINE, [...delivered, ...otherLine], w, opts)).toEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('a windows change (late activity) recomputed and diffed equals the oracle for the new windows', () => {
    fc.assert(
      fc.property(scenario, windows, ([h, w, delivered], w2) => {
        const worker = new SimWorker(LINE, w, opts);
        for (const r of delivered) worker.receive(r);
        worker.rewindow(w2);
        expect(worker.sortedOutages()).toEqual(oracleOutages(h, LINE, w2, THRESHOLD));
      }),
      { numRuns: RUNS },
    );
  });

  it('redelivering everything again emits no event', () => {
    fc.assert(
      fc.property(scenario, ([, w, delivered]) => {
        const worker = new SimWorker(LINE, w, opts);
        for (const r of delivered) worker.receive(r);
        const count = worker.events.length;
        for (const r of delivered) worker.receive(r);
        expect(worker.events.length).toBe(count);
        expect(diffOutages(worker.sortedOutages(), worker.sortedOutages())).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the generators', () => {
  it('cover the cases the issue names (each in at least 3 % of scenarios)', () => {
    const samples = fc.sample(scenario, { numRuns: 1000, seed: 42 });
    const share = (test: (s: (typeof samples)[number]) => boolean) => samples.filter(test).length / samples.length;
    const run = ([h, w, delivered]: (typeof samples)[number]) => {
      const worker = new SimWorker(LINE, w, opts);
      for (const r of delivered) worker.receive(r);
      return { worker, outages: oracleOutages(h, LINE, w, THRESHOLD) };
    };
    const features: Record<string, (s: (typeof samples)[number]) => boolean> = {
      equalTsDifferentMsgIds: ([h]) => new Set(h.map((r) => r.ts)).size < h.length - 1,
      firstReportUnpowered: ([h]) => !(inOrder(h, LINE)[0] as LineReport).powered,
      reportInsideWindow: ([h, w]) => h.some((r) => w.some((x) => x.from < r.ts && (x.to === null || r.ts < x.to))),
      duplicates: ([h, , d]) => d.length > h.length,
      lateRecompute: (s) => run(s).worker.recomputes > 0,
      anchoredAtStoredOutage: (s) => run(s).worker.outageAnchors > 0,
      outageSpanningWindow: (s) => run(s).outages.some((o) => o.unknownMs > 0),
      outageBeganInWindow: (s) => run(s).outages.some((o) => o.startWindow !== null),
      restorationInWindow: (s) => run(s).outages.some((o) => o.endWindow !== null),
      momentaryAndSustained: (s) => {
        const classes = new Set(run(s).outages.map((o) => o.classification));
        return classes.has('momentary') && classes.has('sustained');
      },
      stillOpenAtEnd: (s) => run(s).outages.some((o) => o.endedAt === null),
    };
    for (const [name, test] of Object.entries(features)) expect(share(test), name).toBeGreaterThan(0.03);
  });
});

describe('the oracle itself', () => {
  it('its counted outage time equals a millisecond-by-millisecond measure of the timeline', () => {
    fc.assert(
      fc.property(history, windows, (h, w) => {
        const rs = inOrder(h, LINE);
        const last = (rs.at(-1) as LineReport).ts;
        const counted = oracleOutages(h, LINE, w, THRESHOLD).reduce(
          (sum, o) => sum + (o.durationMs ?? last - o.startedAt - o.unknownMs),
          0,
        );
        expect(counted).toBe(timelineOutageMs(h, LINE, w));
      }),
      { numRuns: 200 },
    );
  });
});
