/**
 * The verified-credential cache shared through Redis, with two authenticators standing for
 * two processes (same database, Redis prefix and secret): a success verified in one is a
 * hash-free, query-free success in the other; wrong passwords are never stored; a rotated
 * credential stops authenticating from the cache in every process, even when the rotation
 * happens while a verification against the old row is in flight; Redis away means checking
 * the slow way, and changes made meanwhile are applied when it comes back.
 */
import { createHash, randomUUID } from 'node:crypto';
import { credentialsKey, hashSecret } from '@spms/credentials';
import {
  createTcpProxy,
  createTestDatabase,
  createTestRedis,
  freePort,
  type TestDatabase,
  type TestRedis,
} from '@spms/testing';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeviceAuthenticator, type DeviceAuthenticator } from './authenticator.js';
import { bumpCredentials, SharedCredentialCache, sharedKeys } from './shared-cache.js';

const PROFILE = '00000000-0000-4000-8000-0000000000c5';
const SECRET = 'test-shared-cache-secret-0123456789';
let db: TestDatabase;
let redis: TestRedis;
let sql: pg.Client;
let r: Redis;
const opened: DeviceAuthenticator[] = [];

beforeAll(async () => {
  db = await createTestDatabase('device_auth_shared');
  redis = createTestRedis('device-auth-shared');
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await sql.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'shared', now())`, [PROFILE]);
  r = new Redis(redis.url);
});
afterAll(async () => {
  for (const a of opened) await a.close();
  r?.disconnect();
  await sql?.end();
  await redis?.cleanup();
  await db?.drop();
});

async function open(
  extra: { redisUrl?: string; afterQuery?: () => Promise<void>; prefix?: string; revocationPollMs?: number } = {},
) {
  const a = await createDeviceAuthenticator({
    databaseUrl: db.url,
    redisUrl: extra.redisUrl ?? redis.url,
    prefix: extra.prefix ?? redis.prefix,
    ...(extra.revocationPollMs ? { revocationPollMs: extra.revocationPollMs } : {}),
    shared: { secret: SECRET, ttlMs: 86_400_000 },
    ...(extra.afterQuery ? { afterQuery: extra.afterQuery } : {}),
  });
  opened.push(a);
  return a;
}

/** A device `<n>_MSAN` without credentials; its id. */
async function addDeviceRow(n: string): Promise<string> {
  const id = randomUUID();
  await sql.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
    id,
    `${n}_MSAN`,
    PROFILE,
  ]);
  return id;
}

/** An imported firmware credential: client id, username and a supplied (scrypt) password. */
async function addBasicDevice(n: string, password: string): Promise<string> {
  const id = await addDeviceRow(n);
  await setPassword(id, n, password);
  return id;
}

/** Sets the password the way the registry does, without announcing anything. */
async function setPassword(deviceId: string, n: string, password: string): Promise<void> {
  const creds = { type: 'MQTT_BASIC' as const, clientId: `esp-${n}`, username: `user-${n}` };
  await sql.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
     VALUES ($1, 'MQTT_BASIC', $2, $3, $4, $5, now())
     ON CONFLICT (device_id) DO UPDATE SET password_hash = EXCLUDED.password_hash`,
    [deviceId, credentialsKey(creds), creds.clientId, creds.username, await hashSecret(password, 'supplied')],
  );
}

const entryKey = (n: string, password: string) =>
  new SharedCredentialCache(r, redis.prefix, SECRET, 1000).entryKey('mqtt', [`esp-${n}`, `user-${n}`, password]);
const connect = (a: DeviceAuthenticator, n: string, password: string) =>
  a.authenticateMqtt(`esp-${n}`, `user-${n}`, Buffer.from(password));

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe('shared verified-credential cache', () => {
  it('a password verified in one process authenticates in another with no query and no hash', async () => {
    const id = await addBasicDevice('0101', 'fw-pass-0101');
    const a = await open();
    const b = await open();
    expect(await connect(a, '0101', 'fw-pass-0101')).toMatchObject({ ok: true, device: { id } });
    expect(a.stats()).toMatchObject({ secretVerifications: 1, sharedMisses: 1 });
    await until(() => a.stats().sharedStored === 1);
    expect(await connect(b, '0101', 'fw-pass-0101')).toMatchObject({ ok: true, device: { id } });
    expect(b.stats()).toMatchObject({ secretVerifications: 0, dbQueries: 0, sharedHits: 1 });
  });

  it('stores no entry for a wrong password, and what it stores does not contain the password', async () => {
    await addBasicDevice('0102', 'fw-pass-0102');
    const a = await open();
    const b = await open();
    expect(await connect(a, '0102', 'wrong-pass-0102')).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(await connect(a, '0102', 'fw-pass-0102')).toMatchObject({ ok: true });
    await until(() => a.stats().sharedStored === 1);
    expect(await r.exists(entryKey('0102', 'wrong-pass-0102'))).toBe(0);
    expect(await r.exists(entryKey('0102', 'fw-pass-0102'))).toBe(1);
    // The right password cached does not let a wrong one in elsewhere: b hashes and refuses.
    expect(await connect(b, '0102', 'wrong-pass-0102')).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(b.stats().secretVerifications).toBe(1);
    const keys = await r.keys(`${redis.prefix}:auth:*`);
    const dump = JSON.stringify([keys, await Promise.all(keys.map((k) => r.get(k)))]);
    for (const secret of ['fw-pass-0102', createHash('sha256').update('fw-pass-0102').digest('hex')])
      expect(dump).not.toContain(secret);
  });

  it('a rotated password stops authenticating from the cache in every process at the bump', async () => {
    const id = await addBasicDevice('0103', 'old-pass-0103');
    const a = await open();
    const b = await open();
    expect(await connect(a, '0103', 'old-pass-0103')).toMatchObject({ ok: true });
    await until(() => a.stats().sharedStored === 1);
    // The registry's path: commit, then bump (before any pub/sub message is delivered).
    await setPassword(id, '0103', 'new-pass-0103');
    await bumpCredentials(r, redis.prefix, [id]);
    expect(await connect(b, '0103', 'old-pass-0103')).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(b.stats().sharedHits).toBe(0);
    expect(await connect(b, '0103', 'new-pass-0103')).toMatchObject({ ok: true, device: { id } });
  });

  it('a rotation noticed only from PostgreSQL (no bump, no pub/sub) ends the cached entry too', async () => {
    const id = await addBasicDevice('0104', 'old-pass-0104');
    const a = await open();
    expect(await connect(a, '0104', 'old-pass-0104')).toMatchObject({ ok: true });
    await until(() => a.stats().sharedStored === 1);
    await setPassword(id, '0104', 'new-pass-0104');
    // Each process polls the change table every second and bumps what it finds.
    await until(async () => (await r.exists(`${sharedKeys(redis.prefix).genPrefix}${id}`)) === 0);
    const b = await open();
    expect(await connect(b, '0104', 'old-pass-0104')).toEqual({ ok: false, reason: 'bad_credentials' });
  });

  it('a verification against a row read before a rotation is not stored after it', async () => {
    const id = await addBasicDevice('0105', 'old-pass-0105');
    let hold: Promise<void> | null = null;
    let release!: () => void;
    const a = await open({ afterQuery: () => hold ?? Promise.resolve() });
    hold = new Promise<void>((res) => {
      release = res;
    });
    const a0 = a.stats().dbQueries;
    const pending = connect(a, '0105', 'old-pass-0105');
    await until(() => a.stats().dbQueries > a0);
    // The old row is in a's hands; the credential is rotated and bumped meanwhile.
    await setPassword(id, '0105', 'new-pass-0105');
    await bumpCredentials(r, redis.prefix, [id]);
    hold = null;
    release();
    await pending;
    await until(() => a.stats().sharedStale + a.stats().sharedStored > 0);
    expect(a.stats().sharedStored).toBe(0);
    expect(await r.exists(entryKey('0105', 'old-pass-0105'))).toBe(0);
    const b = await open();
    expect(await connect(b, '0105', 'old-pass-0105')).toEqual({ ok: false, reason: 'bad_credentials' });
  });

  it('a busy Redis (answers 1.5 s late) is waited for: a hit, no query and no hash', async () => {
    const id = await addBasicDevice('0107', 'fw-pass-0107');
    const a = await open();
    expect(await connect(a, '0107', 'fw-pass-0107')).toMatchObject({ ok: true });
    await until(() => a.stats().sharedStored === 1);
    const proxy = createTcpProxy(await freePort(), { port: Number(new URL(redis.url).port || 6379) });
    await proxy.open();
    try {
      const b = await open({ redisUrl: `redis://127.0.0.1:${proxy.port}` });
      proxy.delayReplies(1500);
      expect(await connect(b, '0107', 'fw-pass-0107')).toMatchObject({ ok: true, device: { id } });
      expect(b.stats()).toMatchObject({ sharedHits: 1, sharedErrors: 0, secretVerifications: 0, dbQueries: 0 });
    } finally {
      await proxy.cut();
    }
  });

  it('Redis away: checks the slow way (never accepts a wrong password); a change made meanwhile applies on return', async () => {
    const id = await addBasicDevice('0106', 'old-pass-0106');
    const proxy = createTcpProxy(await freePort(), { port: Number(new URL(redis.url).port || 6379) });
    await proxy.open();
    const c = await open({ redisUrl: `redis://127.0.0.1:${proxy.port}` });
    expect(await connect(c, '0106', 'old-pass-0106')).toMatchObject({ ok: true });
    await until(() => c.stats().sharedStored === 1);
    await proxy.cut();
    const fresh = await open({ redisUrl: `redis://127.0.0.1:${proxy.port}` });
    expect(await connect(fresh, '0106', 'wrong-pass-0106')).toEqual({ ok: false, reason: 'bad_credentials' });
    expect(await connect(fresh, '0106', 'old-pass-0106')).toMatchObject({ ok: true, device: { id } });
    expect(fresh.stats()).toMatchObject({ sharedHits: 0, secretVerifications: 2 });
    expect(fresh.stats().sharedErrors).toBeGreaterThan(0);
    // Rotated while every process is cut off from Redis: nobody can bump now.
    await setPassword(id, '0106', 'new-pass-0106');
    await until(() => c.stats().invalidations > 0);
    expect(await r.exists(entryKey('0106', 'old-pass-0106'))).toBe(1);
    await proxy.open();
    await until(async () => (await r.exists(`${sharedKeys(redis.prefix).genPrefix}${id}`)) === 0, 15_000);
    const b = await open();
    expect(await connect(b, '0106', 'old-pass-0106')).toEqual({ ok: false, reason: 'bad_credentials' });
    await proxy.cut();
  });
});

describe('a match further down the look-up order (an access token sent with a client id)', () => {
  const k = sharedKeys('');
  /** An access-token device; its firmware sends `esp-<n>` as client id and the token as username. */
  async function addTokenDevice(n: string): Promise<{ id: string; token: string }> {
    const id = await addDeviceRow(n);
    const token = `tok-${n}-${randomUUID()}`;
    await sql.query(
      `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at) VALUES ($1, 'ACCESS_TOKEN', $2, now())`,
      [id, credentialsKey({ type: 'ACCESS_TOKEN', token })],
    );
    return { id, token };
  }
  const orderKey = () => `${redis.prefix}${k.order}`;
  const epoch = async () =>
    (await sql.query<{ epoch: string }>('SELECT epoch::text AS epoch FROM credentials_lookup_order')).rows[0]?.epoch;
  /** The look-up order epoch in Redis is PostgreSQL's (copied by every process's poll). */
  const orderCopied = async () => (await r.get(orderKey())) === (await epoch());
  /**
   * Device `n` with MQTT Basic credentials (password `basic-pass-<n>`) whose client id and
   * username are another device's client id and access token: by the look-up order they come
   * first. Plain SQL, nothing announced.
   */
  async function addShadowingBasic(n: string, clientId: string, token: string): Promise<string> {
    const id = await addDeviceRow(n);
    const basic = { type: 'MQTT_BASIC' as const, clientId, username: token };
    await sql.query(
      `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
       VALUES ($1, 'MQTT_BASIC', $2, $3, $4, $5, now())`,
      [id, credentialsKey(basic), basic.clientId, basic.username, await hashSecret(`basic-pass-${n}`, 'supplied')],
    );
    return id;
  }
  /** A token device that one process authenticated once the epoch was copied, and stored. */
  async function storedByOneProcess(n: string): Promise<{ id: string; token: string }> {
    const device = await addTokenDevice(n);
    const a = await open();
    await until(orderCopied);
    expect(await a.authenticateMqtt(`esp-${n}`, device.token, undefined)).toMatchObject({
      ok: true,
      device: { id: device.id },
    });
    await until(() => a.stats().sharedStored === 1);
    return device;
  }

  it('is answered from the shared cache with no query once stored under the current epoch', async () => {
    const { id, token } = await storedByOneProcess('0201');
    const b = await open();
    expect(await b.authenticateMqtt('esp-0201', token, undefined)).toMatchObject({ ok: true, device: { id } });
    expect(b.stats()).toMatchObject({ dbQueries: 0, sharedHits: 1 });
  });

  it('stops answering once MQTT Basic credentials are added, whoever adds them (plain SQL, nothing announced)', async () => {
    const { token } = await storedByOneProcess('0202');
    const before = await epoch();
    // Another device gets MQTT Basic credentials with this client id and the token as its
    // username: by the look-up order they come first, so the token device must not be answered.
    const other = await addShadowingBasic('0203', 'esp-0202', token);
    expect(BigInt((await epoch()) ?? 0)).toBeGreaterThan(BigInt(before ?? 0));
    await until(orderCopied);
    const b = await open();
    // No password: the MQTT Basic row matches first and refuses; the old entry is not used.
    expect(await b.authenticateMqtt('esp-0202', token, undefined)).toMatchObject({ ok: false });
    expect(b.stats().sharedHits).toBe(0);
    expect(await b.authenticateMqtt('esp-0202', token, Buffer.from('basic-pass-0203'))).toMatchObject({
      ok: true,
      device: { id: other },
    });
  });

  it('stops answering when MQTT Basic credentials are added to a database restored from an older backup', async () => {
    const { token } = await storedByOneProcess('0205');
    const stored = (await epoch()) ?? '0';
    // The restore: PostgreSQL goes back to an earlier epoch; Redis, and the entry, stay.
    await sql.query('UPDATE credentials_lookup_order SET epoch = $1::bigint - 1', [stored]);
    await until(orderCopied);
    // Then a change made after the restore: the epoch must not come back to the stored one.
    await addShadowingBasic('0206', 'esp-0205', token);
    expect(await epoch()).not.toBe(stored);
    await until(orderCopied);
    const b = await open();
    expect(await b.authenticateMqtt('esp-0205', token, undefined)).toMatchObject({ ok: false });
    expect(b.stats().sharedHits).toBe(0);
  });

  it('is neither answered nor stored while Redis has no epoch, until a poll copies it', async () => {
    const { id, token } = await addTokenDevice('0204');
    // A prefix of its own, as a Redis that was emptied; these processes never poll during the test.
    const prefix = `${redis.prefix}-emptied`;
    const silent = { prefix, revocationPollMs: 600_000 };
    const a = await open(silent);
    expect(await a.authenticateMqtt('esp-0204', token, undefined)).toMatchObject({ ok: true, device: { id } });
    const b = await open(silent);
    expect(await b.authenticateMqtt('esp-0204', token, undefined)).toMatchObject({ ok: true, device: { id } });
    expect(b.stats()).toMatchObject({ sharedHits: 0, dbQueries: 1 });
    expect(a.stats().sharedStored + b.stats().sharedStored).toBe(0);
    // A process that polls copies the epoch; from then on the match is stored and answered.
    await open({ prefix });
    await until(async () => (await r.get(`${prefix}${k.order}`)) === (await epoch()));
    const c = await open(silent);
    expect(await c.authenticateMqtt('esp-0204', token, undefined)).toMatchObject({ ok: true, device: { id } });
    await until(() => c.stats().sharedStored === 1);
    const d = await open(silent);
    expect(await d.authenticateMqtt('esp-0204', token, undefined)).toMatchObject({ ok: true, device: { id } });
    expect(d.stats()).toMatchObject({ sharedHits: 1, dbQueries: 0 });
  });
});
