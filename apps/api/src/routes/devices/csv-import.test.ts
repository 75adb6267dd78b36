import { credentialsKey, verifySecret } from '@spms/credentials';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const ADMIN_KEY = TEST_ADMIN_KEY;

let t: TestApi;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('csvimport');
  app = t.app;
});

afterAll(async () => {
  await t?.close();
});

const importCsv = (csv: string, query = '') =>
  app.inject({
    method: 'POST',
    url: `/api/devices/import${query}`,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'text/csv' },
    payload: csv,
  });
const count = async (table: string) => Number((await app.pg.query(`SELECT count(*) FROM ${table}`)).rows[0].count);

const HEADER = 'name,label,region,latitude,longitude,profile,credentials_type,token,client_id,username,password,line_3';

describe('CSV import', () => {
  it('rejects the whole file when one row is bad, naming row and column, and writes nothing', async () => {
    const csv = [
      HEADER,
      '0000_MSAN,Kollupitiya,Colombo,6.91,79.85,SPMS,MQTT_BASIC,,c0,u0,pw-000000,',
      '0001_MSAN,Dehiwala,Colombo,95,79.86,,,,,,,',
      '0002_MSAN,,Colombo,,,Nope,ACCESS_TOKEN,abc,,,,',
    ].join('\n');
    const res = await importCsv(csv);
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.message).toContain('row 3, latitude: must be a number between -90 and 90');
    expect(body.details.errors).toEqual(
      expect.arrayContaining([
        { row: 4, column: 'profile', message: 'unknown profile "Nope"' },
        { row: 4, column: 'token', message: expect.stringMatching(/too short/) },
      ]),
    );
    expect(await count('devices')).toBe(0);
    expect(await count('device_credentials')).toBe(0);
  });

  it('validates without writing on dryRun, then imports everything in one go', async () => {
    const csv = [
      HEADER,
      '0000_MSAN,Kollupitiya,Colombo,6.91,79.85,SPMS,MQTT_BASIC,,c0,u0,pw-000000,Pump',
      '0001_MSAN,Dehiwala,Colombo,6.85,79.86,SPMS-HTTP,ACCESS_TOKEN,,,,,',
      '"0002_MSAN","Mount, Lavinia",Colombo,,,,,,,,,',
    ].join('\r\n');
    const dry = await importCsv(csv, '?dryRun=true');
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({ dryRun: true, count: 3 });
    expect(JSON.stringify(dry.json())).not.toContain('issuedCredentials');
    expect(await count('devices')).toBe(0);

    const res = await importCsv(csv);
    expect(res.statusCode).toBe(201);
    const { devices } = res.json();
    expect(devices.map((d: { name: string; row: number }) => [d.row, d.name])).toEqual([
      [2, '0000_MSAN'],
      [3, '0001_MSAN'],
      [4, '0002_MSAN'],
    ]);
    expect(devices[0].issuedCredentials).toBeUndefined();
    const token = devices[1].issuedCredentials.token;
    const stored = await app.pg.query(
      'SELECT d.name, d.label, c.credentials_id, c.password_hash FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id ORDER BY d.name',
    );
    expect(stored.rows[0].credentials_id).toBe(credentialsKey({ type: 'MQTT_BASIC', clientId: 'c0', username: 'u0' }));
    expect(await verifySecret('pw-000000', stored.rows[0].password_hash)).toBe(true);
    expect(stored.rows[1].credentials_id).toBe(credentialsKey({ type: 'ACCESS_TOKEN', token }));
    expect(stored.rows[2]).toMatchObject({ label: 'Mount, Lavinia', credentials_id: null });
    expect(await count('device_lines')).toBe(24);
    const lines = await app.pg.query(
      "SELECT l.label FROM device_lines l JOIN devices d ON d.id = l.device_id WHERE d.name = '0000_MSAN' ORDER BY number",
    );
    expect(lines.rows.map((r) => r.label)).toEqual(['CEB', 'TP 2', 'Pump', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN']);

    const again = await importCsv(csv);
    expect(again.statusCode).toBe(400);
    expect(again.json().message).toMatch(/row 2, name: a device named "0000_MSAN" already exists/);
  });

  it('reports unknown columns and duplicate rows within the file', async () => {
    const unknown = await importCsv('name,lat\nX1,6.9\n');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toMatch(/row 1, lat: unknown column/);
    const dup = await importCsv('name,client_id\nY1,same\nY2,same\nY1,\n');
    expect(dup.statusCode).toBe(400);
    expect(dup.json().message).toMatch(/row 3, credentials_type: same credentials as row 2/);
    expect(dup.json().message).toMatch(/row 4, name: "Y1" is also on row 2/);
  });
});
