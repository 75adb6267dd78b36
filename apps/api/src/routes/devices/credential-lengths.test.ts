import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
let t: TestApi;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('cred_lengths');
  app = t.app;
});

afterAll(async () => {
  await t?.close();
});

const create = (name: string, credentials: object) =>
  app.inject({ method: 'POST', url: '/api/devices', headers: auth, payload: { name, credentials } });

describe('minimum secret lengths', () => {
  it('refuses access tokens under 20 and MQTT Basic passwords under 10 characters through the API', async () => {
    const token = await create('len_1', { type: 'ACCESS_TOKEN', token: 'a-19-char-token-123' });
    expect(token.statusCode).toBe(400);
    expect(token.json().message).toMatch(/access token is too short: use at least 20/);
    const password = await create('len_2', { type: 'MQTT_BASIC', clientId: 'len-2', password: 'nine-char' });
    expect(password.statusCode).toBe(400);
    expect(password.json().message).toMatch(/password is too short: use at least 10/);
    expect(Number((await app.pg.query('SELECT count(*) FROM devices')).rows[0].count)).toBe(0);
  });

  it('refuses them when rotating too, and accepts secrets of the minimum length', async () => {
    const ok = await create('len_3', { type: 'ACCESS_TOKEN', token: 'a-20-char-token-1234' });
    expect(ok.statusCode).toBe(201);
    const rotate = (credentials: object) =>
      app.inject({ method: 'POST', url: '/api/devices/len_3/credentials', headers: auth, payload: credentials });
    expect((await rotate({ type: 'MQTT_BASIC', username: 'len-3', password: 'short-pw' })).statusCode).toBe(400);
    expect((await rotate({ type: 'ACCESS_TOKEN', token: 'short-token' })).statusCode).toBe(400);
    expect((await rotate({ type: 'MQTT_BASIC', username: 'len-3', password: 'ten-chars!' })).statusCode).toBe(200);
  });

  it('lets the CSV import bring shorter firmware credentials, with a warning per credential', async () => {
    const csv = [
      'name,credentials_type,token,client_id,username,password',
      'len_4,ACCESS_TOKEN,tok-0004-short,,,',
      'len_5,MQTT_BASIC,,c-len-5,u-len-5,pw-00005',
      'len_6,MQTT_BASIC,,c-len-6,u-len-6,long-enough-password',
    ].join('\n');
    const res = await app.inject({
      method: 'POST',
      url: '/api/devices/import',
      headers: { ...auth, 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(res.statusCode).toBe(201);
    const devices = res.json().devices as { name: string; warnings?: string[] }[];
    expect(devices.map((d) => d.warnings ?? [])).toEqual([
      [expect.stringMatching(/access token is too short/)],
      [expect.stringMatching(/password is too short/)],
      [],
    ]);
  });
});
