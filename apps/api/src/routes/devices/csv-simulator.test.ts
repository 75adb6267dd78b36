import { DEVICE_CSV_COLUMNS } from '@spms/contracts';
import { CSV_COLUMNS as FLEET_COLUMNS, fleetToCsv, generateFleet } from '@spms/simulator';
import { describe, expect, it } from 'vitest';
import { parseDeviceCsv } from './csv-rows.js';

// The simulator's fleet export is the registry import's file: both take their columns from
// @spms/contracts, and an exported fleet must import without a single row error.
describe('device CSV shared with the simulator', () => {
  it('imports a simulator fleet export cleanly', () => {
    const fleet = generateFleet({ count: 50, regions: 9, seed: 11, httpShare: 0.2 });
    const { rows, errors } = parseDeviceCsv(fleetToCsv(fleet));
    expect(errors).toEqual([]);
    expect(rows).toHaveLength(50);
    const byName = new Map(rows.map((r) => [r.input.name, r.input]));
    for (const d of fleet.devices) {
      const input = byName.get(d.name);
      expect(input?.region).toBe(d.region);
      expect(input?.latitude).toBe(d.latitude);
      expect(input?.credentials?.type).toBe(d.credentials.type);
    }
  });

  it('exports only columns the import knows', () => {
    for (const c of FLEET_COLUMNS) expect(DEVICE_CSV_COLUMNS).toContain(c);
  });
});
