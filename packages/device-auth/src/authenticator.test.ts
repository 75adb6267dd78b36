import { randomUUID } from 'node:crypto';
import { type CredentialsInput, credentialsKey, hashSecret } from '@spms/credentials';
import { credentialsChangedChannel } from '@spms/queue';
import { createTestDatabase, createTestRedis, freePort, type TestDatabase, type TestRedis } from '@spms/testing';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceAuthenticator, type DeviceAuthenticator } from './authenticator.js';

const MQTT_PROFILE = '00000000-0000-4000-8000-000000000001';
let db: TestDatabase;
let redis: TestRedis;
let client: pg.Client;
let auth: DeviceAuthenticator;
const invalidated: string[] = [];

async function addDevice(name: string, creds: CredentialsInput): Promise<string> {
  const id = randomUUID();
  await client.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
    id,
    name,
    MQTT_PROFILE,
  ]);
  await setCredentials(id, creds);
  return id;
}

async function setCredentials(deviceId: string, creds: CredentialsInput): Promise<void> {
  const basic = creds.type === 'MQTT_BASIC' ? creds : null;
  await client.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
     VALUES ($1, $2::"CredentialsType", $3, $4, $5, $6, now())
     ON CONFLICT (device_id) DO UPDATE SET type = EXCLUDED.type, credentials_id = EXCLUDED.credentials_id,
       client_id = EXCLUDED.client_id, username = EXCLUDED.username, password_hash = EXCLUDED.password_hash`,
    [
      deviceId,
      creds.type,
      credentialsKey(creds),
      basic?.clientId ?? null,
      basic?.username ?? null,
      basic?.password ? await hashSecret(basic.password, 'supplied') : null,
    ],
  );
}

async function publishChanged(deviceId: string): Promise<void> {
  const pub = new Redis(redis.url);
  await pub.publish(credentialsChangedChannel(redis.prefix), deviceId);
  pub.disconnect();
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10));
}

let tokenDevice: string;
let basicDevice: string;
beforeAll(async () => {
  db = await createTestDatabase('device_auth');
  redis = createTestRedis('device-auth');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  tokenDevice = await addDevice('0000_MSAN', { type: 'ACCESS_TOKEN', token: 'TOKEN_0000_abcdef' });
  basicDevice = await addDevice('0001_MSAN', {
    type: 'MQTT_BASIC',
    clientId: 'esp32-0001',
    username: 'user0001',
    password: 'pw-0001-x',
  });
  await addDevice('0002_MSAN', { type: 'MQTT_BASIC', clientId: 'esp32-0002' });
  await addDevice('0003_MSAN', { type: 'MQTT_BASIC', username: 'user0003', password: 'pw-0003-x' });
  auth = await createDeviceAuthenticator({ databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix });
  auth.onInvalidate((id) => invalidated.push(id));
});

afterAll(async () => {
  await auth?.close();
  await client?.end();
  await redis?.cleanup();
  await db?.drop();
});

const device = (name: string) => expect.objectContaining({ ok: true, device: expect.objectContaining({ name }) });
const bad = { ok: false, reason: 'bad_credentials' };

describe('MQTT CONNECT, ThingsBoard rules', () => {
  it('accepts an access token as the username with an empty password, whatever the client id', async () => {
    expect(await auth.authenticateMqtt('any-client', 'TOKEN_0000_abcdef', undefined)).toEqual(device('0000_MSAN'));
    expect(await auth.authenticateMqtt('', 'TOKEN_0000_abcdef', '')).toEqual(device('0000_MSAN'));
    const ok = await auth.authenticateMqtt('x', 'TOKEN_0000_abcdef', undefined);
    expect(ok.ok && ok.device).toEqual({
      id: tokenDevice,
      name: '0000_MSAN',
      profileId: MQTT_PROFILE,
      transport: 'MQTT',
    });
  });

  it('accepts MQTT Basic (client id, username, password) only with all three right', async () => {
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', Buffer.from('pw-0001-x'))).toEqual(
      device('0001_MSAN'),
    );
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', 'pw-0001-x')).toEqual(device('0001_MSAN'));
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', 'pw-0001-y')).toEqual(bad);
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', undefined)).toEqual(bad);
    expect(await auth.authenticateMqtt('esp32-9999', 'user0001', 'pw-0001-x')).toEqual(bad);
    expect(await auth.authenticateMqtt('esp32-0001', 'user9999', 'pw-0001-x')).toEqual(bad);
    expect(await auth.authenticateMqtt('esp32-0001', undefined, 'pw-0001-x')).toEqual(bad);
  });

  it('matches client-id-only credentials by the client id when the username is empty', async () => {
    expect(await auth.authenticateMqtt('esp32-0002', undefined, undefined)).toEqual(device('0002_MSAN'));
    expect(await auth.authenticateMqtt('esp32-0002', '', undefined)).toEqual(device('0002_MSAN'));
    expect(await auth.authenticateMqtt('esp32-0002x', undefined, undefined)).toEqual(bad);
  });

  it('falls back to the username alone (any client id), password still checked', async () => {
    expect(await auth.authenticateMqtt('whatever', 'user0003', 'pw-0003-x')).toEqual(device('0003_MSAN'));
    expect(await auth.authenticateMqtt('', 'user0003', 'pw-0003-x')).toEqual(device('0003_MSAN'));
    expect(await auth.authenticateMqtt('whatever', 'user0003', 'nope-nope')).toEqual(bad);
  });

  it('rejects the identifier when nothing identifies the device, and refuses unknowns', async () => {
    expect(await auth.authenticateMqtt('', undefined, undefined)).toEqual({ ok: false, reason: 'identifier_rejected' });
    expect(await auth.authenticateMqtt('', undefined, 'pw')).toEqual(bad);
    expect(await auth.authenticateMqtt('c', 'NO_SUCH_TOKEN', undefined)).toEqual(bad);
  });
});

describe('HTTP device token', () => {
  it('accepts access tokens only', async () => {
    expect(await auth.authenticateToken('TOKEN_0000_abcdef')).toEqual(device('0000_MSAN'));
    expect(await auth.authenticateToken('TOKEN_0000_abcdeF')).toEqual(bad);
    expect(await auth.authenticateToken('')).toEqual(bad);
    // A username-only MQTT Basic credential shares the key space but is not a token.
    expect(await auth.authenticateToken('user0003')).toEqual(bad);
  });
});

describe('cache and invalidation', () => {
  it('serves cached credentials until the registry announces a change on Redis', async () => {
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', 'pw-0001-x')).toEqual(device('0001_MSAN'));
    await setCredentials(basicDevice, {
      type: 'MQTT_BASIC',
      clientId: 'esp32-0001',
      username: 'user0001',
      password: 'rotated-pw',
    });
    // Still the cached row (and its verified password): PostgreSQL is not asked per connect.
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', 'pw-0001-x')).toEqual(device('0001_MSAN'));
    await publishChanged(basicDevice);
    await until(() => invalidated.includes(basicDevice));
    expect(invalidated).toContain(basicDevice);
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', 'pw-0001-x')).toEqual(bad);
    expect(await auth.authenticateMqtt('esp32-0001', 'user0001', 'rotated-pw')).toEqual(device('0001_MSAN'));
  });

  it('forgets cached misses on any change, so new credentials work at once', async () => {
    expect(await auth.authenticateToken('NEW_TOKEN_12345')).toEqual(bad);
    const id = await addDevice('0004_MSAN', { type: 'ACCESS_TOKEN', token: 'NEW_TOKEN_12345' });
    await publishChanged(id);
    await until(async () => (await auth.authenticateToken('NEW_TOKEN_12345')).ok);
    expect(await auth.authenticateToken('NEW_TOKEN_12345')).toEqual(device('0004_MSAN'));
  });

  it('shares one look-up and one password hash among a reconnect storm, then answers from the cache', async () => {
    await addDevice('0005_MSAN', {
      type: 'MQTT_BASIC',
      clientId: 'esp32-0005',
      username: 'user0005',
      password: 'pw-0005-x',
    });
    const before = auth.stats();
    const storm = () =>
      Promise.all(Array.from({ length: 50 }, () => auth.authenticateMqtt('esp32-0005', 'user0005', 'pw-0005-x')));
    expect((await storm()).every((r) => r.ok)).toBe(true);
    expect((await storm()).every((r) => r.ok)).toBe(true);
    const after = auth.stats();
    expect(after.dbQueries - before.dbQueries).toBe(1);
    expect(after.secretVerifications - before.secretVerifications).toBe(1);
    // A wrong password is hashed once too, and still refused from the cache.
    expect(await auth.authenticateMqtt('esp32-0005', 'user0005', 'wrong-pw')).toEqual(bad);
    expect(await auth.authenticateMqtt('esp32-0005', 'user0005', 'wrong-pw')).toEqual(bad);
    expect(auth.stats().secretVerifications - after.secretVerifications).toBe(1);
  });

  it('sends a storm of different devices to PostgreSQL one look-up at a time: the first alone, the rest together', async () => {
    const tokens = Array.from({ length: 30 }, (_, i) => `STORM_TOKEN_${String(i).padStart(4, '0')}`);
    for (const [i, token] of tokens.entries())
      await addDevice(`${String(100 + i).padStart(4, '0')}_MSAN`, { type: 'ACCESS_TOKEN', token });
    const before = auth.stats().dbQueries;
    const results = await Promise.all(tokens.map((t) => auth.authenticateToken(t)));
    expect(results.every((r) => r.ok)).toBe(true);
    // With three in flight this was three single-key queries, then one for the other 27.
    expect(auth.stats().dbQueries - before).toBe(2);
  });
});

describe('database down', () => {
  it('answers unavailable (CONNACK 0x03), not bad credentials', async () => {
    const port = await freePort();
    const down = await createDeviceAuthenticator({
      databaseUrl: `postgresql://postgres@127.0.0.1:${port}/nope`,
      redisUrl: redis.url,
      prefix: redis.prefix,
    });
    try {
      expect(await down.authenticateToken('TOKEN_0000_abcdef')).toEqual({ ok: false, reason: 'unavailable' });
      expect(await down.authenticateMqtt('c', 'u', 'p')).toEqual({ ok: false, reason: 'unavailable' });
      expect(await down.authenticateMqtt('', undefined, undefined)).toEqual({
        ok: false,
        reason: 'identifier_rejected',
      });
    } finally {
      await down.close();
    }
  });
});
