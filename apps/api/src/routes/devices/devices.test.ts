import { credentialsKey, verifySecret } from '@spms/credentials';
import { credentialsChangedChannel } from '@spms/queue';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const ADMIN_KEY = TEST_ADMIN_KEY;
const auth = { authorization: `Bearer ${ADMIN_KEY}` };

let t: TestApi;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('devices');
  app = t.app;
});

afterAll(async () => {
  await t?.close();
});

const post = (url: string, payload: unknown) =>
  app.inject({ method: 'POST', url, headers: auth, payload: payload as object });
const get = (url: string) => app.inject({ method: 'GET', url, headers: auth });
const countDevices = async () => Number((await app.pg.query('SELECT count(*) FROM devices')).rows[0].count);

describe('operator authentication', () => {
  it('answers 401 without a key or with an unknown key', async () => {
    const none = await app.inject({ method: 'GET', url: '/api/devices' });
    expect(none.statusCode).toBe(401);
    expect(none.json().message).toMatch(/Bearer/);
    const bad = await app.inject({ method: 'POST', url: '/api/devices', headers: { authorization: 'Bearer nope' } });
    expect(bad.statusCode).toBe(401);
  });
});

describe('devices', () => {
  it('stores supplied MQTT Basic credentials hashed under the ThingsBoard look-up key', async () => {
    const creds = { type: 'MQTT_BASIC', clientId: 'esp32-0003', username: 'msan0003', password: 'firmware-pw-0003' };
    const res = await post('/api/devices', {
      name: '0003_MSAN',
      region: 'Colombo',
      latitude: 6.9271,
      longitude: 79.8612,
      lineLabels: { '3': 'Pump' },
      credentials: creds,
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.issuedCredentials).toBeUndefined();
    expect(body.credentials).toEqual({
      type: 'MQTT_BASIC',
      clientId: 'esp32-0003',
      username: 'msan0003',
      hasPassword: true,
    });
    expect(body.profile.name).toBe('SPMS');
    expect(body.lines.map((l: { label: string }) => l.label)).toEqual([
      'CEB',
      'TP 2',
      'Pump',
      'TP 4',
      'TP 5',
      'TP 6',
      'TP 7',
      'MSAN',
    ]);
    const { rows } = await app.pg.query(
      'SELECT row_to_json(c)::text AS json, * FROM device_credentials c WHERE device_id = $1',
      [body.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].credentials_id).toBe(credentialsKey(creds as Parameters<typeof credentialsKey>[0]));
    expect(rows[0].json).not.toContain('firmware-pw-0003');
    expect(await verifySecret('firmware-pw-0003', rows[0].password_hash)).toBe(true);
    expect(JSON.stringify(body)).not.toContain('firmware-pw-0003');
  });

  it('returns generated secrets once, and they verify against what is stored', async () => {
    const token = await post('/api/devices', { name: '0004_MSAN', credentials: { type: 'ACCESS_TOKEN' } });
    expect(token.statusCode).toBe(201);
    const issued = token.json().issuedCredentials;
    expect(issued.token).toMatch(/^[\w-]{20,}$/);
    const stored = await app.pg.query('SELECT credentials_id FROM device_credentials WHERE device_id = $1', [
      token.json().id,
    ]);
    expect(stored.rows[0].credentials_id).toBe(credentialsKey({ type: 'ACCESS_TOKEN', token: issued.token }));
    const again = await get('/api/devices/0004_MSAN');
    expect(again.payload).not.toContain(issued.token);
    expect(again.json().credentials).toEqual({
      type: 'ACCESS_TOKEN',
      clientId: null,
      username: null,
      hasPassword: false,
    });

    const basic = await post('/api/devices', {
      name: '0005_MSAN',
      credentials: { type: 'MQTT_BASIC', clientId: 'c-0005' },
    });
    const pw = basic.json().issuedCredentials;
    expect(pw).toMatchObject({ type: 'MQTT_BASIC', clientId: 'c-0005', username: null });
    const row = await app.pg.query('SELECT password_hash FROM device_credentials WHERE device_id = $1', [
      basic.json().id,
    ]);
    expect(await verifySecret(pw.password, row.rows[0].password_hash)).toBe(true);
    expect(row.rows[0].password_hash).not.toContain(pw.password);
  });

  it('gets a device by id and by name, and 404s an unknown one', async () => {
    const byName = await get('/api/devices/0003_MSAN');
    expect(byName.statusCode).toBe(200);
    const byId = await get(`/api/devices/${byName.json().id}`);
    expect(byId.json()).toEqual(byName.json());
    const missing = await get('/api/devices/9999_MSAN');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toContain('9999_MSAN');
  });

  it('rejects duplicates with 409 and writes nothing', async () => {
    const before = await countDevices();
    const dupName = await post('/api/devices', { name: '0003_MSAN', credentials: { type: 'ACCESS_TOKEN' } });
    expect(dupName.statusCode).toBe(409);
    expect(dupName.json().message).toMatch(/already exists/);
    const dupCreds = await post('/api/devices', {
      name: '0006_MSAN',
      credentials: { type: 'MQTT_BASIC', clientId: 'esp32-0003', username: 'msan0003', password: 'other-password' },
    });
    expect(dupCreds.statusCode).toBe(409);
    expect(dupCreds.json().message).toContain('0003_MSAN');
    expect(await countDevices()).toBe(before);
    expect((await get('/api/devices/0006_MSAN')).statusCode).toBe(404);
  });

  it('rejects bad coordinates, profiles, names and credentials with 400 and a useful message', async () => {
    const before = await countDevices();
    const cases: [object, RegExp][] = [
      [{ name: 'x1', latitude: 95, longitude: 79 }, /latitude/],
      [{ name: 'x2', latitude: 6.9 }, /both latitude and longitude/],
      [{ name: 'x3', profile: 'NoSuchProfile' }, /unknown profile "NoSuchProfile"/],
      [{ name: 'bad name!' }, /name/],
      [{ name: 'x4', credentials: { type: 'ACCESS_TOKEN', token: 'abc' } }, /credentials: access token is too short/],
      [{ name: 'x5', credentials: { type: 'MQTT_BASIC', password: 'secret123' } }, /client id or a username/],
      [{ name: 'x6', voltageMin: 250 }, /voltageMin \(250\) must be below voltageMax/],
      [{ name: 'x7', lat: 6.9 }, /unknown field "lat"/],
      [{ name: 'x8', hardwareStatus: 'BROKEN' }, /hardwareStatus: must be one of OK, DEGRADED, FAULTY, RETIRED/],
    ];
    for (const [payload, message] of cases) {
      const res = await post('/api/devices', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().message).toMatch(message);
    }
    expect(await countDevices()).toBe(before);
  });

  it('answers 409 to the loser of two concurrent creates with the same name', async () => {
    const results = await Promise.all(
      [1, 2, 3].map(() => post('/api/devices', { name: '0099_MSAN', credentials: { type: 'ACCESS_TOKEN' } })),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409, 409]);
    const rows = await app.pg.query("SELECT count(*) FROM devices WHERE name = '0099_MSAN'");
    expect(rows.rows[0].count).toBe('1');
    const lines = await app.pg.query(
      "SELECT count(*) FROM device_lines l JOIN devices d ON d.id = l.device_id WHERE d.name = '0099_MSAN'",
    );
    expect(lines.rows[0].count).toBe('8');
  });

  it('shows per-device overrides next to effective values, and updates them', async () => {
    const res = await post('/api/devices', { name: '0007_MSAN', profile: 'SPMS-HTTP', alertDebounceSec: 30 });
    expect(res.json().overrides).toMatchObject({ alertDebounceSec: 30, inactivityTimeoutSec: null });
    expect(res.json().effective).toMatchObject({ alertDebounceSec: 30, inactivityTimeoutSec: 1200 });
    const upd = await app.inject({
      method: 'PATCH',
      url: '/api/devices/0007_MSAN',
      headers: auth,
      payload: { alertDebounceSec: null, inactivityTimeoutSec: 900, lineLabels: ['Grid'], notes: 'no antenna' },
    });
    expect(upd.statusCode).toBe(200);
    expect(upd.json().effective).toMatchObject({ alertDebounceSec: 60, inactivityTimeoutSec: 900 });
    expect(upd.json().lines[0].label).toBe('Grid');
    expect(upd.json().lines[7].label).toBe('MSAN');
    expect(upd.json().notes).toBe('no antenna');
    const list = await get('/api/devices?profile=SPMS-HTTP');
    expect(list.json().items.map((d: { name: string }) => d.name)).toEqual(['0007_MSAN']);
  });

  it('publishes the device id when credentials are rotated, revoked or the device deleted', async () => {
    const sub = new Redis(t.redis.url);
    const messages: string[] = [];
    sub.on('message', (_channel, message) => messages.push(message));
    await sub.subscribe(credentialsChangedChannel(t.redis.prefix));
    try {
      const device = (await get('/api/devices/0004_MSAN')).json();
      const rotated = await post('/api/devices/0004_MSAN/credentials', {
        type: 'MQTT_BASIC',
        clientId: 'new-client',
        username: 'new-user',
        password: 'new-password-1',
      });
      expect(rotated.statusCode).toBe(200);
      expect(rotated.json().credentials).toMatchObject({ type: 'MQTT_BASIC', clientId: 'new-client' });
      await expect.poll(() => messages).toEqual([device.id]);
      const keys = await app.pg.query('SELECT credentials_id FROM device_credentials WHERE device_id = $1', [
        device.id,
      ]);
      expect(keys.rows).toEqual([
        { credentials_id: credentialsKey({ type: 'MQTT_BASIC', clientId: 'new-client', username: 'new-user' }) },
      ]);

      const revoked = await app.inject({ method: 'DELETE', url: '/api/devices/0004_MSAN/credentials', headers: auth });
      expect(revoked.json().credentials).toBeNull();
      await expect.poll(() => messages).toEqual([device.id, device.id]);

      const deleted = await app.inject({ method: 'DELETE', url: `/api/devices/${device.id}`, headers: auth });
      expect(deleted.statusCode).toBe(200);
      await expect.poll(() => messages).toHaveLength(3);
      expect((await get('/api/devices/0004_MSAN')).statusCode).toBe(404);
      const lines = await app.pg.query('SELECT count(*) FROM device_lines WHERE device_id = $1', [device.id]);
      expect(lines.rows[0].count).toBe('0');
    } finally {
      sub.disconnect();
    }
  });
});
