import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { generateFleet } from './fleet.js';
import { ScenarioError, validateScenario } from './scenario.js';
import { expandScenario } from './timeline.js';

describe('parseDuration', () => {
  it('reads seconds as numbers and unit strings', () => {
    expect(parseDuration(90)).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    for (const bad of ['', '10', '5 min', '-1s', 'h', null, -2]) expect(parseDuration(bad)).toBeUndefined();
  });
});

describe('validateScenario', () => {
  it('reports every problem with its path', () => {
    const known = { devices: new Set(['0000_MSAN']), regions: new Set(['Western']) };
    let msg = '';
    try {
      validateScenario(
        {
          name: 'x',
          duration: '1h',
          events: [
            { at: '2h', action: 'lines-off', lines: [9] },
            { at: '1m', action: 'explode' },
            { at: 'soon', action: 'flap', line: 3, off: '10s', on: '5 s', count: 0 },
            { at: '1m', action: 'power-off', target: { devices: ['9999_MSAN'], regions: ['Mars'], share: 2 } },
          ],
        },
        known,
      );
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      msg = (e as Error).message;
    }
    for (const want of [
      'events[0].at: after the end of the scenario',
      'events[0].lines: line numbers must be 1..8',
      'events[1].action: one of',
      'events[2].at: invalid duration "soon"',
      'events[2].on: invalid duration "5 s"',
      'events[2].count: positive integer',
      'events[3].target.share: number in (0, 1]',
      'events[3].target: unknown device "9999_MSAN"',
      'events[3].target: unknown region "Mars"',
    ]) {
      expect(msg).toContain(want);
    }
  });
});

const fleet = generateFleet({ count: 4, regions: 2, seed: 1 });
const scenario = (events: unknown[], duration = '2h') => validateScenario({ name: 't', duration, events });
const lineChanges = (device: string, line: number, events: unknown[]) =>
  expandScenario(scenario(events), fleet)
    .filter((e) => e.device === device && e.change.kind === 'line' && e.change.line === line)
    .map((e) => [e.t / 1000, (e.change as { powered: boolean }).powered]);

describe('expandScenario', () => {
  it('reference-counts overlapping causes: a shed line stays off until the blackout ends too', () => {
    const got = lineChanges('0000_MSAN', 1, [
      { at: '10m', action: 'lines-off', target: { regions: ['Western'] }, lines: [1], for: '30m' },
      { at: '20m', action: 'lines-off', target: { devices: ['0000_MSAN'] }, lines: [1], for: '60m' },
    ]);
    expect(got).toEqual([
      [600, false],
      [4800, true],
    ]);
  });
  it('expands a flap into count off/on pairs', () => {
    const got = lineChanges('0001_MSAN', 3, [
      { at: 60, action: 'flap', target: 'all', line: 3, off: 5, on: 10, count: 3 },
    ]);
    expect(got).toEqual([
      [60, false],
      [65, true],
      [75, false],
      [80, true],
      [90, false],
      [95, true],
    ]);
  });
  it('rotates load shedding over the groups, one slot each', () => {
    const events = [
      {
        at: '1h',
        action: 'load-shedding',
        groups: [{ regions: ['Western'] }, { regions: ['Central'] }],
        lines: [1],
        slot: '20m',
        gap: '5m',
      },
    ];
    expect(lineChanges('0000_MSAN', 1, events)).toEqual([
      [3600, false],
      [4800, true],
    ]);
    expect(lineChanges('0001_MSAN', 1, events)).toEqual([
      [5100, false],
      [6300, true],
    ]);
  });
  it('drops what happens after the end, leaving the outage open', () => {
    expect(lineChanges('0000_MSAN', 2, [{ at: '1h50m', action: 'lines-off', lines: [2], for: '1h' }])).toEqual([
      [6600, false],
    ]);
  });
  it('staggers starts within the window, reproducibly', () => {
    const s = scenario([{ at: 100, action: 'power-off', stagger: '10s', for: 60 }]);
    const a = expandScenario(s, fleet);
    expect(a).toEqual(expandScenario(s, fleet));
    const starts = a.filter((e) => e.change.kind === 'power' && !e.change.on).map((e) => e.t);
    expect(starts).toHaveLength(4);
    for (const t of starts) expect(t >= 100_000 && t < 110_000).toBe(true);
  });
});
