import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decide,
  IN_FLIGHT,
  planWaves,
  ROLLOUT_DEVICE_STATES,
  type RolloutDeviceState,
  type RolloutDeviceView,
  type RolloutView,
  wavesProblem,
} from './rollout.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `dev-${i}`);

/** Strictly increasing whole percentages ending at 100. */
const wavesArb = fc
  .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 6 })
  .map((xs) => [...xs.sort((a, b) => a - b), 100]);

describe('planWaves', () => {
  it('refuses bad percentages with what to fix', () => {
    expect(wavesProblem([1, 10, 100])).toBeNull();
    expect(wavesProblem([])).toMatch(/at least one/);
    expect(wavesProblem([10, 5, 100])).toMatch(/must increase \(10 then 5\)/);
    expect(wavesProblem([1, 10, 50])).toMatch(/last wave must be 100/);
    expect(wavesProblem([0, 100])).toMatch(/waves\[0\]/);
    expect(wavesProblem([1.5, 100])).toMatch(/whole percentage/);
    expect(wavesProblem([50, 101])).toMatch(/waves\[1\]/);
    expect(() => planWaves(ids(3), [50], 'r')).toThrow(/100/);
  });

  it('splits 20 devices 1/10/100 into 1, 1 and 18', () => {
    expect(planWaves(ids(20), [1, 10, 100], 'r').map((w) => w.length)).toEqual([1, 1, 18]);
    expect(planWaves(ids(5), [99, 100], 'r').map((w) => w.length)).toEqual([4, 1]);
    expect(planWaves(ids(200), [1, 10, 100], 'r').map((w) => w.length)).toEqual([2, 18, 180]);
  });

  it('has fewer waves when there are fewer devices than waves', () => {
    expect(planWaves(ids(2), [1, 10, 100], 'r').map((w) => w.length)).toEqual([1, 1]);
    expect(planWaves(ids(1), [1, 10, 100], 'r').map((w) => w.length)).toEqual([1]);
    expect(planWaves([], [1, 10, 100], 'r')).toEqual([]);
  });

  it('puts every device in exactly one non-empty wave, at least the share asked for, deterministically', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), wavesArb, fc.string(), (n, waves, seed) => {
        const devices = ids(n);
        const plan = planWaves(devices, waves, seed);
        expect(plan.flat().sort()).toEqual([...devices].sort());
        expect(plan.every((w) => w.length > 0)).toBe(true);
        const k = waves.length;
        expect(plan.length).toBe(Math.min(n, k));
        let cumulative = 0;
        for (const [i, w] of plan.entries()) {
          cumulative += w.length;
          // The share asked for, unless later waves need their one device each.
          const asked = Math.ceil(((waves[i] as number) * n) / 100);
          if (n >= k) expect(cumulative).toBeGreaterThanOrEqual(Math.min(asked, n - (k - 1 - i)));
        }
        // The same plan whatever order the scope's devices come in.
        expect(planWaves([...devices].reverse(), waves, seed)).toEqual(plan);
      }),
    );
  });

  it('draws different first waves for different rollouts', () => {
    const firsts = new Set(['a', 'b', 'c', 'd', 'e'].map((seed) => planWaves(ids(100), [1, 100], seed)[0]?.join()));
    expect(firsts.size).toBeGreaterThan(1);
  });
});

const T0 = Date.parse('2026-12-03T10:00:00Z');
const rollout = (over: Partial<RolloutView> = {}): RolloutView => ({
  status: 'running',
  currentWave: 0,
  waveCount: 2,
  maxConcurrent: 2,
  failureThreshold: 0.2,
  successTimeoutSec: null,
  firmware: { title: 'spms-esp32', version: '2.0.0' },
  ...over,
});
const device = (deviceId: string, over: Partial<RolloutDeviceView> = {}): RolloutDeviceView => ({
  deviceId,
  wave: 0,
  state: 'pending',
  assignedAt: null,
  reported: null,
  active: true,
  lastActivityAt: T0 - 1000,
  inactivityTimeoutSec: 120,
  ...over,
});
const reported = (
  state: RolloutDeviceView['reported'] extends infer R ? NonNullable<R>['state'] : never,
  at: number,
) => ({
  title: 'spms-esp32',
  version: state === 'UPDATED' ? '2.0.0' : '1.0.0',
  state,
  stateAt: at,
  error: state === 'FAILED' ? 'checksum mismatch' : null,
});

describe('decide', () => {
  it('assigns the current wave up to maxConcurrent and skips devices already on the version', () => {
    const d = decide(
      rollout(),
      [
        device('a'),
        device('b', { reported: { ...reported('UPDATED', T0 - 5000) } }),
        device('c'),
        device('d'),
        device('e', { wave: 1 }),
      ],
      T0,
    );
    expect(d.skipped).toEqual(['b']);
    expect(d.assign).toEqual(['a', 'c']);
    expect(d).toMatchObject({ pause: null, advanceTo: null, complete: false });
  });

  it('marks updated only once the device was heard from at or after its UPDATED report', () => {
    const assigned = { state: 'assigned' as const, assignedAt: T0 - 60_000 };
    const gone = device('a', { ...assigned, reported: reported('UPDATED', T0 - 10), lastActivityAt: T0 - 60_011 });
    const inactive = device('b', { ...assigned, reported: reported('UPDATED', T0 - 10), active: false });
    // A device clock up to a minute ahead of the server's still counts.
    const back = device('c', { ...assigned, reported: reported('UPDATED', T0 - 10), lastActivityAt: T0 - 60_010 });
    const d = decide(rollout({ maxConcurrent: 10 }), [gone, inactive, back], T0);
    expect(d.updated).toEqual(['c']);
    // No title reported: the version decides; another title does not count.
    const untitled = { ...reported('UPDATED', T0 - 10), title: null };
    const other = { ...reported('UPDATED', T0 - 10), title: 'other-board' };
    const d2 = decide(
      rollout({ maxConcurrent: 10 }),
      [device('d', { ...assigned, reported: untitled }), device('e', { ...assigned, reported: other })],
      T0,
    );
    expect(d2.updated).toEqual(['d']);
    expect(d.downloading).toEqual(['a', 'b']);
  });

  it('fails a device that reports FAILED or stays silent past three inactivity timeouts', () => {
    const r = rollout({ maxConcurrent: 10, failureThreshold: 1 });
    const d = decide(
      r,
      [
        device('a', { state: 'downloading', assignedAt: T0 - 1000, reported: reported('FAILED', T0 - 500) }),
        // A FAILED from before this assignment is an earlier attempt's.
        device('b', { state: 'assigned', assignedAt: T0 - 1000, reported: reported('FAILED', T0 - 5000) }),
        device('c', { state: 'assigned', assignedAt: T0 - 360_001 }),
        device('d', { state: 'assigned', assignedAt: T0 - 360_000 }),
      ],
      T0,
    );
    expect(d.failed).toEqual([
      { deviceId: 'a', error: 'checksum mismatch' },
      { deviceId: 'c', error: 'not updated and back online within 360 s of the assignment' },
    ]);
    expect(
      decide({ ...r, successTimeoutSec: 30 }, [device('e', { state: 'assigned', assignedAt: T0 - 31_000 })], T0).failed,
    ).toHaveLength(1);
  });

  it('lets go of an in-flight device whose target was changed by hand, without counting a failure', () => {
    const d = decide(
      rollout({ failureThreshold: 0 }),
      [device('a', { state: 'assigned', assignedAt: T0 - 1000, retargeted: true }), device('b')],
      T0,
    );
    expect(d.cancelled).toEqual([{ deviceId: 'a', error: 'its target was changed outside the rollout' }]);
    expect(d).toMatchObject({ failed: [], pause: null, assign: ['b'] });
  });

  it('pauses when a new failure takes the wave over the threshold, and assigns nothing then', () => {
    const wave = [
      device('a', { state: 'updated' }),
      device('b', { state: 'updated' }),
      device('c', { state: 'updated' }),
      device('d', { state: 'updated' }),
      device('e', { state: 'assigned', assignedAt: T0 - 1000, reported: reported('FAILED', T0) }),
      device('f', { state: 'skipped' }),
      device('g'),
    ];
    // 1 of 5 finished or in flight (g not assigned yet, f skipped) = 20 %: not above 20 %.
    expect(decide(rollout(), wave, T0)).toMatchObject({ pause: null, assign: ['g'] });
    const d = decide(rollout({ failureThreshold: 0.1 }), wave, T0);
    expect(d.pause).toBe('wave 1: 1 of 5 devices failed (20 %), above the failure threshold of 10 %');
    expect(d.assign).toEqual([]);
    // Resumed with the failure known: goes on until the next one.
    const resumed = wave.map((x) => (x.deviceId === 'e' ? { ...x, state: 'failed' as const } : x));
    expect(decide(rollout({ failureThreshold: 0.1 }), resumed, T0)).toMatchObject({ pause: null, assign: ['g'] });
  });

  it('rates failures among the devices that finished or are in flight, not those still waiting', () => {
    // The first 5 of a wave of 100 assigned: 2 failed (one just now), 2 updated, 1 downloading.
    const wave = [
      device('a', { state: 'failed' }),
      device('b', { state: 'assigned', assignedAt: T0 - 1000, reported: reported('FAILED', T0) }),
      device('c', { state: 'updated' }),
      device('d', { state: 'updated' }),
      device('e', { state: 'downloading', assignedAt: T0 - 1000, reported: reported('DOWNLOADING', T0) }),
      ...Array.from({ length: 95 }, (_, i) => device(`p${i}`)),
    ];
    const d = decide(rollout({ maxConcurrent: 5, failureThreshold: 0.2 }), wave, T0);
    // Over the whole wave it would be 2 % and the rollout would go on assigning.
    expect(d.pause).toBe('wave 1: 2 of 5 devices failed (40 %), above the failure threshold of 20 %');
    expect(d.assign).toEqual([]);
  });

  it('advances when every device of the wave finished, completes after the last', () => {
    const done: RolloutDeviceState[] = ['updated', 'failed', 'skipped', 'cancelled'];
    const wave0 = done.map((state, i) => device(`w0-${i}`, { state }));
    const next = device('w1', { wave: 1 });
    expect(decide(rollout({ failureThreshold: 1 }), [...wave0, next], T0)).toMatchObject({
      advanceTo: 1,
      assign: [],
      complete: false,
    });
    const last = decide(rollout({ currentWave: 1, failureThreshold: 1 }), [{ ...next, state: 'updated' }], T0);
    expect(last).toMatchObject({ advanceTo: null, complete: true });
  });

  it('follows in-flight devices while paused but assigns, skips and advances nothing; cancelled does nothing', () => {
    const devices = [
      device('a', {
        state: 'assigned',
        assignedAt: T0 - 1000,
        reported: reported('UPDATED', T0 - 10),
        lastActivityAt: T0,
      }),
      device('b'),
    ];
    expect(decide(rollout({ status: 'paused' }), devices, T0)).toMatchObject({
      updated: ['a'],
      assign: [],
      skipped: [],
      advanceTo: null,
      complete: false,
    });
    expect(decide(rollout({ status: 'cancelled' }), devices, T0).updated).toEqual([]);
  });

  it('never has more than maxConcurrent in flight and assigns only pending devices of the current wave', () => {
    const stateArb = fc.constantFrom(...ROLLOUT_DEVICE_STATES);
    fc.assert(
      fc.property(
        fc.array(fc.record({ state: stateArb, wave: fc.integer({ min: 0, max: 2 }), age: fc.nat(1_000_000) }), {
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 2 }),
        (rows, maxConcurrent, currentWave) => {
          const devices = rows.map((row, i) =>
            device(`d${i}`, {
              state: row.state,
              wave: row.wave,
              assignedAt: IN_FLIGHT.includes(row.state) ? T0 - row.age : null,
            }),
          );
          const r = rollout({ maxConcurrent, currentWave, waveCount: 3 });
          const d = decide(r, devices, T0);
          const byId = new Map(devices.map((x) => [x.deviceId, x]));
          for (const id of d.assign) expect(byId.get(id)).toMatchObject({ state: 'pending', wave: currentWave });
          const stillInFlight = devices.filter(
            (x) => IN_FLIGHT.includes(x.state) && !d.failed.some((f) => f.deviceId === x.deviceId),
          ).length;
          if (d.assign.length > 0) expect(stillInFlight + d.assign.length).toBeLessThanOrEqual(maxConcurrent);
          if (d.pause) expect(d.assign).toEqual([]);
          if (d.advanceTo !== null || d.complete) expect(d.assign).toEqual([]);
          expect(d.advanceTo !== null && d.complete).toBe(false);
        },
      ),
    );
  });
});
