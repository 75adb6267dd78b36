import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateFleet } from './fleet.js';
import { validateScenario } from './scenario.js';
import { expandScenario } from './timeline.js';
import { computeGroundTruth, plannedGroundTruth } from './truth.js';

const fleet = generateFleet({ count: 2, regions: 1, seed: 2 });
const fixtures = new URL('../../../fixtures/', import.meta.url);

describe('ground truth', () => {
  it("matches the firmware fixture's expected outage (line 3, t=95 s to t=400 s)", () => {
    const session = JSON.parse(readFileSync(new URL('mqtt-firmware.json', fixtures), 'utf8')).scenario;
    const start = 1_764_230_400_000;
    const changes = session.events.flatMap((e: { t: number; payload: string }) => {
      const m = /^\{'(\d)':'(true|false)'\}$/.exec(e.payload);
      return m
        ? [
            {
              time: start + e.t * 1000,
              device: '0000_MSAN',
              change: { kind: 'line', line: Number(m[1]), powered: m[2] === 'true' },
            },
          ]
        : [];
    });
    const truth = computeGroundTruth({
      scenario: 'fixture',
      timebase: 'receive-time',
      speed: 1,
      start,
      end: start + 500_000,
      fleet,
      changes,
    });
    expect(
      truth.outages.map((o) => ({
        line: o.line,
        start_t: (o.start - start) / 1000,
        end_t: ((o.end ?? 0) - start) / 1000,
      })),
    ).toEqual(session.expect_outages);
  });

  it('maps scenario offsets to the time base and flags edges hidden by offline windows', () => {
    const scenario = validateScenario({
      name: 's',
      duration: '1h',
      events: [
        { at: '10m', action: 'link-down', target: { devices: ['0000_MSAN'] }, for: '10m' },
        { at: '15m', action: 'lines-off', lines: [1, 8], for: '20m' },
        { at: '50m', action: 'voltage', target: { devices: ['0001_MSAN'] }, volts: 190 },
      ],
    });
    const args = {
      scenario: 's',
      fleet,
      start: 1_000_000,
      timeline: expandScenario(scenario, fleet),
      duration: scenario.duration,
    };
    const ts = plannedGroundTruth({ ...args, timebase: 'device-ts', speed: 60 });
    expect(ts.end).toBe(1_000_000 + 3_600_000);
    expect(ts.offline).toEqual([{ device: '0000_MSAN', cause: 'link', start: 1_600_000, end: 2_200_000 }]);
    const o = ts.outages.find((x) => x.device === '0000_MSAN' && x.line === 8);
    expect(o).toMatchObject({
      label: 'MSAN',
      start: 1_900_000,
      end: 3_100_000,
      startObservable: false,
      endObservable: true,
    });
    expect(ts.outages.filter((x) => x.device === '0001_MSAN').every((x) => x.startObservable)).toBe(true);
    expect(ts.voltage).toEqual([{ device: '0001_MSAN', volts: 190, start: 4_000_000, end: null }]);
    const rt = plannedGroundTruth({ ...args, timebase: 'receive-time', speed: 60 });
    expect(rt.offline[0]).toMatchObject({ start: 1_010_000, end: 1_020_000 });
    expect(rt.end).toBe(1_060_000);
  });
});
