import { createTestDatabase, createTestRedis, freePort, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { adminAuth, bearer, createKey, createUser, signIn, testEnv } from '../users/access-fixtures.js';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
const extraApps: FastifyInstance[] = [];

// app.inject comes from 127.0.0.1: trusting loopback lets the tests pick client addresses.
const limits = {
  TRUST_PROXY: 'loopback',
  SIGNIN_MAX_FAILURES_PER_USER: '3',
  SIGNIN_MAX_FAILURES_PER_IP: '6',
  SIGNIN_RATE_LIMIT_PER_MIN: '1000',
};

beforeAll(async () => {
  db = await createTestDatabase('auth');
  redis = createTestRedis('auth');
  app = await buildApp(loadApiConfig(testEnv(db, redis, limits)));
});

afterAll(async () => {
  for (const a of extraApps) await a.close();
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

const login = (body: object, ip = '10.0.0.1') =>
  app.inject({ method: 'POST', url: '/api/auth/login', payload: body, headers: { 'x-forwarded-for': ip } });

describe('first admin, sign-in and sessions', () => {
  it('creates the first admin with SPMS_ADMIN_API_KEY, signs in by username or e-mail, signs out', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/users',
      headers: adminAuth,
      payload: { username: 'alice', email: 'Alice@example.lk', password: 'correct-horse-battery', role: 'admin' },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).not.toHaveProperty('password');
    const stored = await app.pg.query('SELECT password_hash FROM users WHERE username = $1', ['alice']);
    expect(stored.rows[0].password_hash).toMatch(/^scrypt\$10\$8\$1\$/);
    expect(stored.rows[0].password_hash).not.toContain('correct-horse');

    const byEmail = await login({ email: 'alice@EXAMPLE.lk', password: 'correct-horse-battery' });
    expect(byEmail.statusCode).toBe(200);
    const { token, expiresAt, user } = byEmail.json();
    expect(token).toMatch(/^spms_s_/);
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
    expect(user).toMatchObject({ username: 'alice', role: 'admin', hasPassword: true });
    // Only the hash of the token is stored.
    const sessions = await app.pg.query('SELECT token_hash FROM sessions');
    expect(JSON.stringify(sessions.rows)).not.toContain(token);

    const me = await app.inject({ url: '/api/auth/me', headers: bearer(token) });
    expect(me.json()).toMatchObject({ kind: 'session', role: 'admin', regions: null, user: { username: 'alice' } });
    expect((await app.inject({ url: '/api/users', headers: bearer(token) })).statusCode).toBe(200);

    // The last enabled admin can be neither demoted, disabled nor deleted.
    for (const req of [
      { method: 'PATCH', url: '/api/users/alice', payload: { role: 'viewer' } },
      { method: 'PATCH', url: '/api/users/alice', payload: { disabled: true } },
      { method: 'DELETE', url: '/api/users/alice' },
    ] as const) {
      const res = await app.inject({ ...req, headers: adminAuth });
      expect(res.statusCode).toBe(409);
      expect(res.json().message).toMatch(/last enabled admin/);
    }

    expect((await app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(token) })).statusCode).toBe(
      200,
    );
    const after = await app.inject({ url: '/api/auth/me', headers: bearer(token) });
    expect(after.statusCode).toBe(401);
    expect(after.json().message).toMatch(/sign in again/);
  });

  it('answers a wrong password, an unknown user and a disabled user alike', async () => {
    await createUser(app, { username: 'bob', role: 'viewer', password: 'a-long-secret-phrase' });
    const wrong = await login({ username: 'bob', password: 'not-his-password' }, '10.0.1.1');
    const unknown = await login({ username: 'nobody', password: 'whatever-password' }, '10.0.1.2');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toEqual(wrong.json());
    await app.inject({ method: 'PATCH', url: '/api/users/bob', headers: adminAuth, payload: { disabled: true } });
    const disabled = await login({ username: 'bob', password: 'a-long-secret-phrase' }, '10.0.1.3');
    expect(disabled.statusCode).toBe(401);
    expect(disabled.json()).toEqual(wrong.json());
  });

  it('ends sessions when a user is disabled or their password is reset', async () => {
    const carol = await createUser(app, { username: 'carol', role: 'operator' });
    const t1 = await signIn(app, 'carol', carol.password);
    const reset = await app.inject({
      method: 'POST',
      url: '/api/users/carol/password',
      headers: adminAuth,
      payload: { password: 'a-brand-new-password' },
    });
    expect(reset.statusCode).toBe(200);
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(t1) })).statusCode).toBe(401);
    expect((await login({ username: 'carol', password: carol.password }, '10.0.2.1')).statusCode).toBe(401);
    const t2 = await signIn(app, 'carol', 'a-brand-new-password');
    await app.inject({ method: 'PATCH', url: '/api/users/carol', headers: adminAuth, payload: { disabled: true } });
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(t2) })).statusCode).toBe(401);
  });

  it('lets a signed-in user change their own password, ending their other sessions', async () => {
    const lena = await createUser(app, { username: 'lena', role: 'viewer' });
    const here = await signIn(app, 'lena', lena.password);
    const elsewhere = await signIn(app, 'lena', lena.password);
    const change = (currentPassword: string) =>
      app.inject({
        method: 'POST',
        url: '/api/auth/password',
        headers: bearer(here),
        payload: { currentPassword, newPassword: 'my-own-new-password' },
      });
    expect((await change('not-my-password')).statusCode).toBe(403);
    expect((await change(lena.password)).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(here) })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(elsewhere) })).statusCode).toBe(401);
    expect((await login({ username: 'lena', password: 'my-own-new-password' }, '10.0.3.1')).statusCode).toBe(200);
  });

  it('renews a session on use (sliding) but never past its maximum lifetime; expired is 401', async () => {
    const dave = await createUser(app, { username: 'dave', role: 'viewer' });
    const token = await signIn(app, 'dave', dave.password);
    // Pretend the session was last used 2 min ago and is about to expire.
    await app.pg.query(
      `UPDATE sessions s SET last_seen_at = now() - interval '2 minutes', expires_at = now() + interval '5 seconds'
        FROM users u WHERE u.id = s.user_id AND u.username = 'dave'`,
    );
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(token) })).statusCode).toBe(200);
    const renewed = await app.pg.query(
      `SELECT s.expires_at, s.created_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'dave'`,
    );
    const { expires_at, created_at } = renewed.rows[0];
    expect(expires_at.getTime()).toBeGreaterThan(Date.now() + 3600_000); // idle TTL 8 h by default
    expect(expires_at.getTime()).toBeLessThanOrEqual(created_at.getTime() + 7 * 24 * 3600_000);
    await app.pg.query(
      `UPDATE sessions s SET expires_at = now() - interval '1 second' FROM users u WHERE u.id = s.user_id AND u.username = 'dave'`,
    );
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(token) })).statusCode).toBe(401);
  });

  it('says what is wrong with a sign-in request', async () => {
    const both = await login({ username: 'a', email: 'a@b.lk', password: 'x' });
    expect(both.statusCode).toBe(400);
    expect(both.json().message).toMatch(/exactly one of "username" or "email"/);
    const extra = await login({ username: 'a', password: 'x', otp: 1 });
    expect(extra.json().message).toMatch(/unknown field "otp"/);
    const short = await app.inject({
      method: 'POST',
      url: '/api/users',
      headers: adminAuth,
      payload: { username: 'eve', password: 'short', role: 'viewer' },
    });
    expect(short.statusCode).toBe(400);
    expect(short.json().message).toMatch(/password/);
    const scopedAdmin = await app.inject({
      method: 'POST',
      url: '/api/users',
      headers: adminAuth,
      payload: { username: 'eve', password: 'long-enough-pw', role: 'admin', regions: ['North'] },
    });
    expect(scopedAdmin.statusCode).toBe(400);
  });
});

describe('sign-in lock-out', () => {
  it('locks a username from one address after N failures (429 + Retry-After), even for the right password', async () => {
    const frank = await createUser(app, { username: 'frank', role: 'viewer' });
    for (let i = 0; i < 3; i++)
      expect((await login({ username: 'frank', password: 'wrong-password' }, '10.1.0.9')).statusCode).toBe(401);
    const locked = await login({ username: 'frank', password: frank.password }, '10.1.0.9');
    expect(locked.statusCode).toBe(429);
    const retry = Number(locked.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(900);
    expect(locked.json().error).toBe('RATE_LIMITED');
    // Another user is not affected.
    const grace = await createUser(app, { username: 'grace', role: 'viewer' });
    expect((await login({ username: 'grace', password: grace.password }, '10.1.0.9')).statusCode).toBe(200);
  });

  it('locks an address after M failures across usernames; other addresses still sign in', async () => {
    const heidi = await createUser(app, { username: 'heidi', role: 'viewer' });
    for (let i = 0; i < 6; i++)
      expect((await login({ username: `guess${i}`, password: 'wrong-password' }, '10.2.0.1')).statusCode).toBe(401);
    const locked = await login({ username: 'heidi', password: heidi.password }, '10.2.0.1');
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login({ username: 'heidi', password: heidi.password }, '10.2.0.2')).statusCode).toBe(200);
  });
});

describe('API keys owned by users', () => {
  it('act with at most the owner role, inside both scopes, and stop when the owner is disabled', async () => {
    const owner = await createUser(app, { username: 'ivan', role: 'operator', regions: ['North', 'East'] });
    const { key } = await createKey(app, { name: 'ivan admin?', role: 'admin', userId: owner.id });
    const me = (await app.inject({ url: '/api/auth/me', headers: bearer(key) })).json();
    expect(me).toMatchObject({
      kind: 'api-key',
      role: 'operator',
      regions: ['North', 'East'],
      user: { username: 'ivan' },
    });
    expect((await app.inject({ url: '/api/users', headers: bearer(key) })).statusCode).toBe(403);
    const narrow = await createKey(app, { name: 'ivan', role: 'viewer', userId: owner.id, regions: ['North', 'West'] });
    const narrowMe = (await app.inject({ url: '/api/auth/me', headers: bearer(narrow.key) })).json();
    expect(narrowMe).toMatchObject({ role: 'viewer', regions: ['North'] });
    const listed = (await app.inject({ url: `/api/api-keys?userId=${owner.id}`, headers: adminAuth })).json();
    expect(listed).toHaveLength(2);
    expect(listed[0]).not.toHaveProperty('key');
    await app.inject({ method: 'PATCH', url: '/api/users/ivan', headers: adminAuth, payload: { disabled: true } });
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(key) })).statusCode).toBe(401);
  });
});

describe('rate limits (Redis, shared by instances)', () => {
  it('limits sign-in per address with 429 and Retry-After', async () => {
    const strict = await buildApp(
      loadApiConfig(testEnv(db, redis, { SIGNIN_RATE_LIMIT_PER_MIN: '2', REDIS_PREFIX: `${redis.prefix}:strict` })),
    );
    extraApps.push(strict);
    const attempt = () =>
      strict.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'x', password: 'y' } });
    expect((await attempt()).statusCode).toBe(401);
    expect((await attempt()).statusCode).toBe(401);
    const limited = await attempt();
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toMatchObject({ error: 'RATE_LIMITED' });
  });

  it('limits the operator API per principal across two instances, never the device API', async () => {
    const env = testEnv(db, redis, { API_RATE_LIMIT_MAX: '3', REDIS_PREFIX: `${redis.prefix}:api` });
    const a = await buildApp(loadApiConfig(env));
    const b = await buildApp(loadApiConfig(env));
    extraApps.push(a, b);
    const get = (x: FastifyInstance, headers = adminAuth) => x.inject({ url: '/api/profiles', headers });
    expect((await get(a)).statusCode).toBe(200);
    expect((await get(b)).statusCode).toBe(200);
    expect((await get(a)).statusCode).toBe(200);
    const limited = await get(b);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another principal has its own budget.
    const judy = await createUser(app, { username: 'judy', role: 'viewer' });
    expect((await get(a, bearer(await signIn(a, 'judy', judy.password)))).statusCode).toBe(200);
    // Devices are never refused by operator limits (401 here: the token is unknown).
    for (let i = 0; i < 6; i++) {
      const res = await a.inject({ method: 'POST', url: '/api/v1/unknown-token/telemetry', payload: { a: 1 } });
      expect(res.statusCode).not.toBe(429);
    }
  });
});

describe('per-address limit', () => {
  it('also counts requests with invalid tokens, and spares devices', async () => {
    const env = testEnv(db, redis, {
      API_RATE_LIMIT_PER_IP_MAX: '4',
      TRUST_PROXY: 'loopback',
      REDIS_PREFIX: `${redis.prefix}:ip`,
    });
    const c = await buildApp(loadApiConfig(env));
    extraApps.push(c);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await c.inject({ url: '/api/devices', headers: bearer(`spms_guess_${i}`) })).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    const device = await c.inject({ method: 'POST', url: '/api/v1/unknown-token/telemetry', payload: { a: 1 } });
    expect(device.statusCode).not.toBe(429);
    const other = await c.inject({ url: '/api/devices', headers: { ...adminAuth, 'x-forwarded-for': '10.9.9.9' } });
    expect(other.statusCode).toBe(200);
  });
});

describe('over real HTTP', () => {
  it('signs in, uses the token and reads the OpenAPI document', async () => {
    const port = await freePort();
    await app.listen({ port, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${port}`;
    const kim = await createUser(app, { username: 'kim', role: 'operator', regions: ['North'] });
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'kim', password: kim.password }),
    });
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const me = await fetch(`${base}/api/auth/me`, { headers: bearer(token) });
    expect(((await me.json()) as { regions: string[] }).regions).toEqual(['North']);
    const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, { scheme: string }> };
    };
    expect(doc.components.securitySchemes.bearerAuth?.scheme).toBe('bearer');
    for (const path of ['/api/devices/', '/api/devices/{idOrName}', '/api/users/', '/api/auth/login', '/api/planned/'])
      expect(Object.keys(doc.paths), path).toContain(path);
    expect(doc.paths['/api/auth/login']?.post?.security).toEqual([]);
    const ui = await fetch(`${base}/docs`, { redirect: 'follow' });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });
});
