import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';
import { generateApiKey, hashApiKey } from '../api-keys/api-key-service.js';
import { HIDDEN_CONFLICT } from './device-conflicts.js';

const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const TOKEN = 'tok-0010-abcdefghijkl';
let t: TestApi;
let app: FastifyInstance;
let viewer: Record<string, string>;
let operator: Record<string, string>;
let northOperator: Record<string, string>;

async function key(role: string, regions: string[] | null = null) {
  const k = generateApiKey();
  await app.pg.query(
    `INSERT INTO api_keys (id, name, key_hash, role, regions) VALUES (gen_random_uuid(), $1, $2, $3, $4)`,
    [`${role}-${regions ?? 'all'}`, hashApiKey(k), role, regions],
  );
  return { authorization: `Bearer ${k}` };
}

const create = (headers: Record<string, string>, body: object) =>
  app.inject({ method: 'POST', url: '/api/devices', headers, payload: body });

beforeAll(async () => {
  t = await createTestApi('cred_exposure');
  app = t.app;
  viewer = await key('viewer');
  operator = await key('operator');
  northOperator = await key('operator', ['North']);
  const made = await Promise.all([
    create(admin, {
      name: 'ce_pw',
      region: 'South',
      credentials: { type: 'MQTT_BASIC', clientId: 'ce-pw', username: 'ce-user', password: 'long-enough-pw' },
    }),
    create(admin, {
      name: 'ce_nopw',
      region: 'South',
      credentials: { type: 'MQTT_BASIC', clientId: 'ce-nopw', username: 'ce-secret-user', password: null },
    }),
    create(admin, { name: 'ce_token', region: 'South', credentials: { type: 'ACCESS_TOKEN', token: TOKEN } }),
  ]);
  for (const r of made) expect(r.statusCode).toBe(201);
});

afterAll(async () => {
  await t?.close();
});

const creds = async (headers: Record<string, string>, name: string) =>
  (await app.inject({ url: `/api/devices/${name}`, headers })).json().credentials;

describe('credential identifiers in views', () => {
  it('shows viewers the type and whether one exists, never client id or username', async () => {
    expect(await creds(viewer, 'ce_pw')).toEqual({
      type: 'MQTT_BASIC',
      clientId: null,
      username: null,
      hasPassword: true,
      identifiersHidden: true,
    });
    const list = (await app.inject({ url: '/api/devices', headers: viewer })).json();
    expect(JSON.stringify(list)).not.toMatch(/ce-pw|ce-user|ce-nopw|ce-secret-user/);
    expect(list.items.find((d: { name: string }) => d.name === 'ce_token').credentials).toEqual({
      type: 'ACCESS_TOKEN',
      clientId: null,
      username: null,
      hasPassword: false,
    });
  });

  it('shows operators the identifiers of a device with a password', async () => {
    expect(await creds(operator, 'ce_pw')).toEqual({
      type: 'MQTT_BASIC',
      clientId: 'ce-pw',
      username: 'ce-user',
      hasPassword: true,
    });
  });

  it('never shows the client id / username of MQTT Basic without a password (it is the secret)', async () => {
    for (const who of [operator, admin]) {
      expect(await creds(who, 'ce_nopw')).toMatchObject({ clientId: null, username: null, identifiersHidden: true });
      const list = await app.inject({ url: '/api/devices', headers: who });
      expect(list.body).not.toMatch(/ce-nopw|ce-secret-user/);
    }
  });

  it('keeps them out of the audit log, also from entries written before', async () => {
    const rotate = await app.inject({
      method: 'POST',
      url: '/api/devices/ce_nopw/credentials',
      headers: admin,
      payload: { type: 'MQTT_BASIC', clientId: 'ce-nopw-2', username: 'ce-secret-user-2', password: null },
    });
    expect(rotate.statusCode).toBe(200);
    // An entry as older versions wrote it: the password-less pair in clear.
    await app.pg.query(
      `INSERT INTO audit_log (principal_kind, principal_id, action, entity_type, before, after)
       VALUES ('admin-key', 'x', 'device.credentials.rotate', 'device', $1::jsonb, NULL)`,
      [
        JSON.stringify({
          credentials: { type: 'MQTT_BASIC', clientId: 'old-nopw', username: 'old-secret', hasPassword: false },
        }),
      ],
    );
    const audit = await app.inject({ url: '/api/audit?entityType=device', headers: admin });
    expect(audit.statusCode).toBe(200);
    expect(audit.body).not.toMatch(/ce-nopw|ce-secret-user|old-nopw|old-secret/);
    expect(audit.body).toContain('identifiersHidden');
  });
});

describe('password-less pairs that would shadow another device', () => {
  it("refuses a password-less pair whose username is another device's access token", async () => {
    const res = await create(admin, {
      name: 'ce_shadow',
      region: 'South',
      credentials: { type: 'MQTT_BASIC', clientId: 'any-client', username: TOKEN, password: null },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toMatch(/ce_token/);
    // With a password the pair can only be refused, never take the token device's connections.
    const withPassword = await create(admin, {
      name: 'ce_shadow_pw',
      region: 'South',
      credentials: { type: 'MQTT_BASIC', clientId: 'any-client', username: TOKEN, password: 'long-enough-pw' },
    });
    expect(withPassword.statusCode).toBe(201);
  });

  it('does not name a device outside the caller scope, on create and on rotation', async () => {
    const res = await create(northOperator, {
      name: 'ce_north',
      region: 'North',
      credentials: { type: 'MQTT_BASIC', clientId: 'n-client', username: TOKEN, password: null },
    });
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toBe(HIDDEN_CONFLICT);
    expect((await create(northOperator, { name: 'ce_north', region: 'North' })).statusCode).toBe(201);
    const rotate = await app.inject({
      method: 'POST',
      url: '/api/devices/ce_north/credentials',
      headers: northOperator,
      payload: { type: 'MQTT_BASIC', clientId: 'n-client', username: TOKEN, password: null },
    });
    expect(rotate.statusCode).toBe(409);
    expect(rotate.body).not.toMatch(/ce_token|South/);
  });

  it("refuses an access token equal to the username of another device's password-less pair", async () => {
    const res = await create(admin, {
      name: 'ce_token2',
      region: 'South',
      credentials: { type: 'ACCESS_TOKEN', token: 'ce-secret-user-2-abcdef' },
    });
    expect(res.statusCode).toBe(201); // no password-less pair uses this username
    const pair = await create(admin, {
      name: 'ce_pair3',
      region: 'South',
      credentials: { type: 'MQTT_BASIC', clientId: 'c3', username: 'pair-user-3-abcdefghij', password: null },
    });
    expect(pair.statusCode).toBe(201);
    const shadow = await create(admin, {
      name: 'ce_token3',
      region: 'South',
      credentials: { type: 'ACCESS_TOKEN', token: 'pair-user-3-abcdefghij' },
    });
    expect(shadow.statusCode).toBe(409);
    expect(shadow.json().message).toMatch(/ce_pair3/);
  });
});
