import { describe, expect, it } from 'vitest';
import { CSV_COLUMNS, FleetError, fleetToCsv, generateFleet, validateFleet } from './fleet.js';

describe('generateFleet', () => {
  it('gives every MQTT device unique credentials and valid fleet entries', () => {
    const fleet = generateFleet({ count: 3000, regions: 9, seed: 7, httpShare: 0.1 });
    expect(validateFleet(JSON.parse(JSON.stringify(fleet))).devices).toHaveLength(3000);
    const mqtt = fleet.devices.flatMap((d) => (d.credentials.type === 'MQTT_BASIC' ? [d.credentials] : []));
    expect(new Set(mqtt.map((c) => c.clientId)).size).toBe(mqtt.length);
    expect(new Set(mqtt.map((c) => c.username)).size).toBe(mqtt.length);
    expect(new Set(fleet.devices.map((d) => d.region)).size).toBe(9);
    expect(fleet.devices[0]?.name).toBe('0000_MSAN');
    expect(fleet.devices.some((d) => d.transport === 'http' && d.credentials.type === 'ACCESS_TOKEN')).toBe(true);
  });
  it('is reproducible from a seed', () => {
    expect(generateFleet({ count: 5, seed: 1 })).toEqual(generateFleet({ count: 5, seed: 1 }));
    expect(generateFleet({ count: 5, seed: 1 })).not.toEqual(generateFleet({ count: 5, seed: 2 }));
  });
});

describe('fleetToCsv', () => {
  it('writes the registry import header and quotes cells that need it', () => {
    const fleet = generateFleet({ count: 2, seed: 3, httpShare: 0 });
    fleet.devices[0]!.label = 'Kollupitiya, "A"';
    const csv = fleetToCsv(fleet).trimEnd().split('\n');
    expect(csv[0]).toBe(
      'name,label,region,customer,latitude,longitude,profile,credentials_type,token,client_id,username,password,line_1,line_2,line_3,line_4,line_5,line_6,line_7,line_8',
    );
    expect(CSV_COLUMNS).toHaveLength(20);
    expect(csv[1]).toMatch(/^0000_MSAN,"Kollupitiya, ""A""",Western,SLT CPN,[\d.]+,[\d.]+,SPMS,MQTT_BASIC,,0000_MSAN-/);
    expect(csv[1]).toMatch(/,CEB,TP 2,TP 3,TP 4,TP 5,TP 6,TP 7,MSAN$/);
  });
});

describe('validateFleet', () => {
  it('lists every problem with its path', () => {
    const bad = {
      devices: [
        {
          name: 'a',
          region: 'R',
          latitude: 1,
          longitude: 2,
          transport: 'http',
          lines: [],
          credentials: { type: 'MQTT_BASIC' },
        },
        {
          name: 'a',
          region: 'R',
          latitude: 1,
          longitude: 2,
          transport: 'mqtt',
          lines: Array(8).fill('x'),
          credentials: {},
        },
      ],
    };
    expect(() => validateFleet(bad)).toThrow(FleetError);
    try {
      validateFleet(bad);
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toContain('devices[0].lines: 8 line labels');
      expect(msg).toContain('devices[0].credentials: HTTP devices need ACCESS_TOKEN credentials');
      expect(msg).toContain('devices[0].credentials.clientId: required string');
      expect(msg).toContain('devices[1].name: duplicate "a"');
      expect(msg).toContain('devices[1].credentials.type');
    }
  });
});
