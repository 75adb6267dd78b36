import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { demoFleetCsvUrl, demoFleetUrl, exampleScenarioUrl, readFleetFile, readScenarioFile } from './files.js';
import { fleetToCsv, generateFleet } from './fleet.js';
import { expandScenario } from './timeline.js';

describe('shipped examples', () => {
  it('demo fleet: 0000_MSAN…0004_MSAN around Colombo, firmware line labels, CSV in sync', async () => {
    const fleet = await readFleetFile(demoFleetUrl);
    expect(fleet.devices.map((d) => d.name)).toEqual(['0000_MSAN', '0001_MSAN', '0002_MSAN', '0003_MSAN', '0004_MSAN']);
    for (const d of fleet.devices) {
      expect(d.latitude).toBeGreaterThanOrEqual(6.8);
      expect(d.latitude).toBeLessThanOrEqual(7.0);
      expect(d.longitude).toBeGreaterThanOrEqual(79.85);
      expect(d.longitude).toBeLessThanOrEqual(79.95);
      expect(d.lines).toEqual(['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN']);
    }
    expect(readFileSync(demoFleetCsvUrl, 'utf8')).toBe(fleetToCsv(fleet));
  });

  it('every scenario validates against the fleet it is written for and changes something', async () => {
    const demo = await readFleetFile(demoFleetUrl);
    const generated = generateFleet({ count: 20, regions: 9, seed: 1 });
    const names = readdirSync(new URL('.', exampleScenarioUrl('x'))).map((f) => f.replace(/\.json$/, ''));
    expect(names).toEqual(
      expect.arrayContaining([
        'demo-day',
        'regional-blackout',
        'line-lost-restored',
        'flapping-line',
        'device-power-loss',
        'link-down',
        'load-shedding',
        'voltage-sag',
      ]),
    );
    for (const name of names) {
      const fleet = name === 'demo-day' ? demo : generated;
      const scenario = await readScenarioFile(exampleScenarioUrl(name), fleet);
      expect(expandScenario(scenario, fleet).length, name).toBeGreaterThan(0);
    }
  });
});
