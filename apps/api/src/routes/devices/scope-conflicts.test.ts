/**
 * 409s are no existence oracle: a scoped operator whose new name or credentials clash with
 * a device outside their scope gets one message for both, naming nothing of that device.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, type TestApi } from '../../test-support/test-api.js';
import { adminAuth, bearer, createKey } from '../users/access-fixtures.js';
import { HIDDEN_CONFLICT } from './device-conflicts.js';

let t: TestApi;
let app: FastifyInstance;
let north: { authorization: string };
let southId: string;
const SOUTH_CREDS = { type: 'MQTT_BASIC', clientId: 'c-south-9', username: 'u-south-9', password: 'pw-south-9' };
const NORTH_CREDS = { type: 'MQTT_BASIC', clientId: 'c-north-9', username: 'u-north-9', password: 'pw-north-9' };

const call = (method: 'POST' | 'PATCH', url: string, payload: unknown, headers = north) =>
  app.inject({ method, url, headers, payload: payload as Record<string, unknown> });

beforeAll(async () => {
  t = await createTestApi('scope-conflicts');
  app = t.app;
  north = bearer((await createKey(app, { name: 'north ops', role: 'operator', regions: ['North'] })).key);
  const s = await call(
    'POST',
    '/api/devices',
    { name: 'SOUTH_0042', region: 'South', credentials: SOUTH_CREDS },
    adminAuth,
  );
  expect(s.statusCode, s.body).toBe(201);
  southId = s.json().id;
  for (const [name, credentials] of [
    ['NORTH_0001', NORTH_CREDS],
    ['NORTH_0002', undefined],
  ] as const) {
    const n = await call('POST', '/api/devices', { name, region: 'North', credentials }, adminAuth);
    expect(n.statusCode, n.body).toBe(201);
  }
});

afterAll(async () => {
  await t?.close();
});

function expectHidden(res: { statusCode: number; body: string; json(): { message: string } }) {
  expect(res.statusCode, res.body).toBe(409);
  expect(res.json().message).toBe(HIDDEN_CONFLICT);
  expect(res.body).not.toMatch(/SOUTH_0042|South|c-south/);
  expect(res.body).not.toContain(southId);
}

describe('409s for a scoped operator', () => {
  it('create, rename and rotate answer a clash outside scope alike, naming nothing', async () => {
    expectHidden(await call('POST', '/api/devices', { name: 'SOUTH_0042', region: 'North' }));
    expectHidden(await call('POST', '/api/devices', { name: 'NEW_1', region: 'North', credentials: SOUTH_CREDS }));
    expectHidden(await call('PATCH', '/api/devices/NORTH_0002', { name: 'SOUTH_0042' }));
    expectHidden(await call('POST', '/api/devices/NORTH_0002/credentials', SOUTH_CREDS));
  });

  it('names a clash with a device inside the scope', async () => {
    const name = await call('POST', '/api/devices', { name: 'NORTH_0001', region: 'North' });
    expect(name.statusCode).toBe(409);
    expect(name.json().message).toMatch(/a device named "NORTH_0001" already exists/);
    const creds = await call('POST', '/api/devices/NORTH_0002/credentials', NORTH_CREDS);
    expect(creds.statusCode).toBe(409);
    expect(creds.json().message).toMatch(/already used by device NORTH_0001/);
  });

  it('still names the other device for an unscoped admin', async () => {
    const res = await call(
      'POST',
      '/api/devices',
      { name: 'NEW_2', region: 'North', credentials: SOUTH_CREDS },
      adminAuth,
    );
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toMatch(/already used by device SOUTH_0042/);
  });
});
