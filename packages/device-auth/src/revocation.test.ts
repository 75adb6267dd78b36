/**
 * Revocation without Redis: the credentials cache trusts rows for minutes, so a rotated or
 * revoked credential must be noticed from PostgreSQL when the pub/sub message is lost —
 * and an authentication whose look-up was in flight during the change must not succeed.
 * Also: one credentials look-up is in flight per process (authenticator.ts), so an answer
 * lost on its way from PostgreSQL (a connection the server never reset) must fail that
 * look-up after the pool's query timeout instead of holding every later authentication.
 */
import { randomUUID } from 'node:crypto';
import { type CredentialsInput, credentialsKey } from '@spms/credentials';
import {
  createTcpProxy,
  createTestDatabase,
  createTestRedis,
  freePort,
  type TestDatabase,
  type TestRedis,
} from '@spms/testing';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDeviceAuthenticator, type DeviceAuthenticator } from './authenticator.js';

const PROFILE = '00000000-0000-4000-8000-0000000000a7';
let db: TestDatabase;
let redis: TestRedis;
let sql: pg.Client;
const opened: DeviceAuthenticator[] = [];

beforeAll(async () => {
  db = await createTestDatabase('device_auth_revocation');
  redis = createTestRedis('device-auth-revocation');
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await sql.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'revocation', now())`, [PROFILE]);
});
afterAll(async () => {
  for (const a of opened) await a.close();
  await sql?.end();
  await redis?.cleanup();
  await db?.drop();
});

async function addTokenDevice(token: string): Promise<string> {
  const id = randomUUID();
  await sql.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
    id,
    `dev-${token}`,
    PROFILE,
  ]);
  await setToken(id, token);
  return id;
}

/** Rotates (or sets) the token the way the registry does — and announces nothing. */
async function setToken(deviceId: string, token: string): Promise<void> {
  const creds: CredentialsInput = { type: 'ACCESS_TOKEN', token };
  await sql.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at)
     VALUES ($1, 'ACCESS_TOKEN', $2, now())
     ON CONFLICT (device_id) DO UPDATE SET credentials_id = EXCLUDED.credentials_id, updated_at = now()`,
    [deviceId, credentialsKey(creds)],
  );
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('a token rotated while pub/sub is down stops working and is reported within 5 s', async () => {
  // Redis unreachable: the invalidation channel cannot deliver anything.
  const deadRedis = `redis://127.0.0.1:${await freePort()}`;
  const auth = await createDeviceAuthenticator({
    databaseUrl: db.url,
    redisUrl: deadRedis,
    prefix: redis.prefix,
    cacheTtlMs: 300_000,
  });
  opened.push(auth);
  const invalidated: string[] = [];
  auth.onInvalidate((id) => invalidated.push(id));
  const deviceId = await addTokenDevice('REVOKE-ME-0001');
  expect(await auth.authenticateToken('REVOKE-ME-0001')).toMatchObject({ ok: true, device: { id: deviceId } });

  await setToken(deviceId, 'ROTATED-0001');
  // The requirement: within 5 s (the poll runs every second).
  await until(async () => !(await auth.authenticateToken('REVOKE-ME-0001')).ok, 5000);
  expect(await auth.authenticateToken('REVOKE-ME-0001')).toEqual({ ok: false, reason: 'bad_credentials' });
  expect(await auth.authenticateToken('ROTATED-0001')).toMatchObject({ ok: true, device: { id: deviceId } });
  await until(() => invalidated.includes(deviceId));
});

it('an authentication in flight while its credentials are revoked does not succeed', async () => {
  let armed = false;
  let auth: DeviceAuthenticator | undefined;
  const deviceId = await addTokenDevice('IN-FLIGHT-0002');
  auth = await createDeviceAuthenticator({
    databaseUrl: db.url,
    redisUrl: redis.url,
    prefix: redis.prefix,
    // The look-up has read the old row; the revocation commits and is noticed before the
    // look-up's result is used.
    afterQuery: async () => {
      if (!armed || !auth) return;
      armed = false;
      const before = auth.stats().invalidations;
      await setToken(deviceId, 'ROTATED-0002');
      await until(() => (auth?.stats().invalidations ?? 0) > before);
    },
  });
  opened.push(auth);
  armed = true;
  expect(await auth.authenticateToken('IN-FLIGHT-0002')).toEqual({ ok: false, reason: 'bad_credentials' });
  expect(armed).toBe(false);
  expect(await auth.authenticateToken('ROTATED-0002')).toMatchObject({ ok: true, device: { id: deviceId } });
});

it('a look-up whose answer never arrives fails after the query timeout, and the next one succeeds', async () => {
  const first = await addTokenDevice('lost-answer-token-0001');
  const second = await addTokenDevice('lost-answer-token-0002');
  const third = await addTokenDevice('lost-answer-token-0003');
  const proxy = createTcpProxy(await freePort(), { port: Number(new URL(db.url).port || 5432) });
  await proxy.open();
  const url = new URL(db.url);
  url.host = `127.0.0.1:${proxy.port}`;
  const auth = await createDeviceAuthenticator({
    databaseUrl: url.toString(),
    redisUrl: redis.url,
    prefix: redis.prefix,
    revocationPollMs: 600_000,
  });
  opened.push(auth);
  expect(await auth.authenticateMqtt('c1', 'lost-answer-token-0001', undefined)).toMatchObject({
    ok: true,
    device: { id: first },
  });
  // From now on nothing PostgreSQL sends reaches the authenticator (held for a minute).
  proxy.delayReplies(60_000);
  const lost = auth.authenticateMqtt('c2', 'lost-answer-token-0002', undefined);
  // Asked while the lost one is in flight: it waits for it, then goes out itself.
  const behind = auth.authenticateMqtt('c3', 'lost-answer-token-0003', undefined);
  await new Promise((r) => setTimeout(r, 500));
  proxy.delayReplies(0);
  expect(await lost).toMatchObject({ ok: false, reason: 'unavailable' });
  expect(await behind).toMatchObject({ ok: true, device: { id: third } });
  expect(await auth.authenticateMqtt('c2', 'lost-answer-token-0002', undefined)).toMatchObject({
    ok: true,
    device: { id: second },
  });
  await proxy.cut();
}, 30_000);
