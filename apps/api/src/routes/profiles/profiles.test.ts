import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const ADMIN_KEY = TEST_ADMIN_KEY;
const auth = { authorization: `Bearer ${ADMIN_KEY}` };

let t: TestApi;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('profiles');
  app = t.app;
});

afterAll(async () => {
  await t?.close();
});

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, headers = auth) =>
  app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

describe('profiles', () => {
  it('creates, updates and lists profiles; a new default replaces the old one', async () => {
    const created = await call('POST', '/api/profiles', { name: 'Rural', inactivityTimeoutSec: 600, isDefault: true });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name: 'Rural', inactivityTimeoutSec: 600, isDefault: true, deviceCount: 0 });
    const list = (await call('GET', '/api/profiles')).json();
    expect(list.filter((p: { isDefault: boolean }) => p.isDefault).map((p: { name: string }) => p.name)).toEqual([
      'Rural',
    ]);
    const device = await call('POST', '/api/devices', { name: 'R1' });
    expect(device.json().profile.name).toBe('Rural');
    const upd = await call('PATCH', '/api/profiles/Rural', { description: null, voltageMax: 250 });
    expect(upd.json()).toMatchObject({ voltageMax: 250, description: null, deviceCount: 1 });
    expect((await call('GET', '/api/devices/R1')).json().effective.voltageMax).toBe(250);
    const dup = await call('POST', '/api/profiles', { name: 'SPMS' });
    expect(dup.statusCode).toBe(409);
  });

  it('refuses to delete a profile in use (409, saying why) and deletes an unused one', async () => {
    const inUse = await call('DELETE', '/api/profiles/Rural');
    expect(inUse.statusCode).toBe(409);
    expect(inUse.json().message).toMatch(/used by 1 device/);
    await call('PATCH', '/api/profiles/SPMS', { isDefault: true });
    await call('PATCH', '/api/devices/R1', { profile: 'SPMS' });
    const ok = await call('DELETE', '/api/profiles/Rural');
    expect(ok.statusCode).toBe(200);
    expect((await call('GET', '/api/profiles/Rural')).statusCode).toBe(404);
  });

  it('rejects an inverted voltage window', async () => {
    const res = await call('POST', '/api/profiles', { name: 'Bad', voltageMin: 240, voltageMax: 200 });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/voltageMin/);
  });
});

describe('api keys', () => {
  it('shows a key once, accepts it, enforces its role and refuses it once revoked', async () => {
    const created = await call('POST', '/api/api-keys', { name: 'ops laptop', role: 'viewer' });
    expect(created.statusCode).toBe(201);
    const { key, id } = created.json();
    expect(key).toMatch(/^spms_k_/);
    const stored = await app.pg.query('SELECT key_hash FROM api_keys WHERE id = $1', [id]);
    expect(stored.rows[0].key_hash).not.toContain(key);
    const listed = (await call('GET', '/api/api-keys')).json();
    expect(JSON.stringify(listed)).not.toContain(key);
    const viewer = { authorization: `Bearer ${key}` };
    expect((await call('GET', '/api/devices', undefined, viewer)).statusCode).toBe(200);
    const write = await call('POST', '/api/devices', { name: 'V1' }, viewer);
    expect(write.statusCode).toBe(403);
    expect((await call('GET', '/api/api-keys', undefined, viewer)).statusCode).toBe(403);
    expect((await call('DELETE', `/api/api-keys/${id}`)).json().revokedAt).not.toBeNull();
    expect((await call('GET', '/api/devices', undefined, viewer)).statusCode).toBe(401);
  });
});
