/**
 * CSV import hardening: bounded rows and scrypt work per request, and dry-run answers that
 * reveal nothing about devices outside the importer's scope.
 */
import { verifySecret } from '@spms/credentials';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, type TestApi } from '../../test-support/test-api.js';
import { adminAuth, bearer, createKey } from '../users/access-fixtures.js';
import { createLimiter } from './import-hashing.js';

let t: TestApi;
let app: FastifyInstance;
let north: { authorization: string };

beforeAll(async () => {
  t = await createTestApi('csvimport-limits', { IMPORT_MAX_ROWS: '3', IMPORT_MAX_SUPPLIED_PASSWORDS: '2' });
  app = t.app;
  north = bearer((await createKey(app, { name: 'north ops', role: 'operator', regions: ['North'] })).key);
  for (const [name, region, c] of [
    ['S_TAKEN', 'South', 'c-south'],
    ['N_TAKEN', 'North', 'c-north'],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: adminAuth,
      payload: {
        name,
        region,
        credentials: { type: 'MQTT_BASIC', clientId: c, username: `u-${c}`, password: 'pw-1234567' },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
});

afterAll(async () => {
  await t?.close();
});

const importCsv = (csv: string, query = '', headers: Record<string, string> = adminAuth) =>
  app.inject({
    method: 'POST',
    url: `/api/devices/import${query}`,
    headers: { ...headers, 'content-type': 'text/csv' },
    payload: csv,
  });
const count = async () => Number((await app.pg.query('SELECT count(*) FROM devices')).rows[0].count);

describe('CSV import limits', () => {
  it('refuses more rows than IMPORT_MAX_ROWS with a 413 that says how to fix it', async () => {
    const res = await importCsv('name\nR1\nR2\nR3\nR4\n', '?dryRun=true');
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/4 device rows, at most 3 per import; split the file/);
    expect((await importCsv('name\nR1\nR2\nR3\n', '?dryRun=true')).statusCode).toBe(200);
  });

  it('refuses more supplied passwords than IMPORT_MAX_SUPPLIED_PASSWORDS, hashes the allowed ones', async () => {
    const before = await count();
    const rows = (n: number) =>
      [
        'name,client_id,username,password',
        ...Array.from({ length: n }, (_, i) => `P${n}_${i},pc${n}${i},pu${i},pw-secret-${i}`),
      ].join('\n');
    const over = await importCsv(rows(3));
    expect(over.statusCode).toBe(413);
    expect(over.json().message).toMatch(/3 rows supply a password, at most 2 per import/);
    expect(await count()).toBe(before);

    const ok = await importCsv(rows(2));
    expect(ok.statusCode, ok.body).toBe(201);
    const stored = await app.pg.query(
      `SELECT c.password_hash FROM device_credentials c JOIN devices d ON d.id = c.device_id WHERE d.name = 'P2_1'`,
    );
    expect(stored.rows[0].password_hash).toMatch(/^scrypt\$/);
    expect(await verifySecret('pw-secret-1', stored.rows[0].password_hash)).toBe(true);
  });

  it('shares a fixed number of hashing slots across callers', async () => {
    const run = createLimiter(2);
    let running = 0;
    let peak = 0;
    const task = (v: number) =>
      run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return v;
      });
    const results = await Promise.all([
      Promise.all([1, 2, 3, 4, 5].map(task)),
      Promise.all([6, 7, 8, 9, 10].map(task)),
    ]);
    expect(results).toEqual([
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10],
    ]);
    expect(peak).toBe(2);
  });
});

describe('CSV import conflicts outside the importer scope', () => {
  const HEADER = 'name,region,client_id,username';

  it('answers a name and a credentials clash outside scope the same way, naming nothing', async () => {
    const res = await importCsv(
      [HEADER, 'S_TAKEN,North,,', 'FRESH_1,North,c-south,u-c-south', 'N_TAKEN,North,,'].join('\n'),
      '?dryRun=true',
      north,
    );
    expect(res.statusCode).toBe(400);
    const errors = res.json().details.errors as { row: number; column: string; message: string }[];
    const row2 = errors.filter((e) => e.row === 2);
    const row3 = errors.filter((e) => e.row === 3);
    expect(row2).toHaveLength(1);
    expect(row3).toEqual([{ ...row2[0], row: 3 }]);
    expect(row2[0]?.message).toMatch(/^conflicts with an existing device/);
    // A clash inside the caller's scope may be named: they can see that device anyway.
    expect(errors.filter((e) => e.row === 4)).toEqual([
      { row: 4, column: 'name', message: 'a device named "N_TAKEN" already exists' },
    ]);
    expect(res.body).not.toMatch(/South|c-south/);
    expect(res.body.match(/S_TAKEN/g)).toBeNull();
  });

  it('still names the clash for an unscoped admin', async () => {
    const res = await importCsv(
      [HEADER, 'S_TAKEN,North,,', 'FRESH_2,North,c-south,u-c-south'].join('\n'),
      '?dryRun=true',
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain('row 2, name: a device named "S_TAKEN" already exists');
    expect(res.json().message).toContain(
      'row 3, credentials_type: these credentials are already used by device S_TAKEN',
    );
  });
});
