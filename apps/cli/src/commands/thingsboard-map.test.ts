import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { deviceCsv, mapCredentials, mapFields, mergeSeries } from './thingsboard-map.js';

const device = { id: { id: 'x' }, name: 'D1', label: 'Pole 7', customerTitle: 'Acme' };

describe('ThingsBoard → SPMS mapping', () => {
  it('keeps credentials as the firmware has them, and says why when it cannot', () => {
    expect(
      mapCredentials({ credentialsType: 'ACCESS_TOKEN', credentialsId: 'abc123', credentialsValue: null }),
    ).toEqual({
      credentials: { type: 'ACCESS_TOKEN', token: 'abc123' },
    });
    const basic = JSON.stringify({ clientId: 'c', userName: 'u', password: null });
    expect(mapCredentials({ credentialsType: 'MQTT_BASIC', credentialsId: null, credentialsValue: basic })).toEqual({
      credentials: { type: 'MQTT_BASIC', clientId: 'c', username: 'u', password: null },
    });
    expect(mapCredentials(null).warning).toMatch(/did not reveal/);
    expect(
      mapCredentials({ credentialsType: 'X509_CERTIFICATE', credentialsId: 'h', credentialsValue: 'pem' }).warning,
    ).toMatch(/X509_CERTIFICATE credentials are not supported/);
    expect(
      mapCredentials({ credentialsType: 'MQTT_BASIC', credentialsId: null, credentialsValue: '{' }).warning,
    ).toMatch(/unreadable/);
  });

  it('maps location (string or number), line labels and the inactivity timeout from attributes', () => {
    const fields = mapFields(device, [
      { key: 'latitude', value: '6.5' },
      { key: 'longitude', value: 80.25 },
      { key: 'line_3', value: 'Pump' },
      { key: 'line7Label', value: ' Gate ' },
      { key: 'inactivityTimeout', value: 900_000 },
      { key: 'latitude_bad', value: 'x' },
      { key: 'longitude', value: 'east' },
    ]);
    expect(fields).toEqual({
      label: 'Pole 7',
      customer: 'Acme',
      latitude: 6.5,
      longitude: 80.25,
      lineLabels: { '3': 'Pump', '7': 'Gate' },
      inactivityTimeoutSec: 900,
    });
  });

  it('merges per-key series by timestamp, oldest first, values kept as ThingsBoard sent them', () => {
    expect(
      mergeSeries({
        V: [
          { ts: 2, value: '230.1' },
          { ts: 1, value: '229.9' },
        ],
        '1': [{ ts: 2, value: 'false' }],
      }),
    ).toEqual([
      { ts: 1, values: { V: '229.9' } },
      { ts: 2, values: { V: '230.1', '1': 'false' } },
    ]);
  });

  it('writes one CSV row the import reads back exactly, quotes and commas included', () => {
    const csv = deviceCsv(
      'D,1',
      'SPMS',
      { label: 'say "hi"', latitude: 6.5, lineLabels: { '2': 'A, B' } },
      { type: 'MQTT_BASIC', clientId: 'c"1', username: null, password: 'p,w' },
    );
    expect(parse(csv, { columns: true })).toEqual([
      {
        name: 'D,1',
        label: 'say "hi"',
        latitude: '6.5',
        profile: 'SPMS',
        credentials_type: 'MQTT_BASIC',
        client_id: 'c"1',
        password: 'p,w',
        line_2: 'A, B',
      },
    ]);
  });
});
