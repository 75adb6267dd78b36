import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { createUser, testEnv } from '../users/access-fixtures.js';
import { SignInThrottle } from './sessions-throttle.js';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  db = await createTestDatabase('lockout');
  redis = createTestRedis('lockout');
  app = await buildApp(
    loadApiConfig(
      testEnv(db, redis, {
        // app.inject comes from 127.0.0.1: trusting loopback lets the test pick client addresses.
        TRUST_PROXY: 'loopback',
        SIGNIN_MAX_FAILURES_PER_USER: '3',
        SIGNIN_MAX_FAILURES_PER_IP: '50',
        SIGNIN_BACKOFF_BASE_SEC: '2',
        SIGNIN_USER_DELAY_MAX_MS: '1000',
        SIGNIN_RATE_LIMIT_PER_MIN: '1000',
      }),
    ),
  );
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

const login = (username: string, password: string, ip: string) =>
  app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { username, password },
    headers: { 'x-forwarded-for': ip },
  });

/** Waits (bounded) until a locked (username, address) pair may try again. */
async function waitUnlocked(username: string, ip: string): Promise<void> {
  const throttle = new SignInThrottle(app.redis, app.config.REDIS_PREFIX, {
    maxPerUser: app.config.SIGNIN_MAX_FAILURES_PER_USER,
    maxPerIp: app.config.SIGNIN_MAX_FAILURES_PER_IP,
    lockoutSec: app.config.SIGNIN_LOCKOUT_SEC,
    backoffBaseSec: app.config.SIGNIN_BACKOFF_BASE_SEC,
    userDelayMaxMs: app.config.SIGNIN_USER_DELAY_MAX_MS,
  });
  const deadline = Date.now() + 30_000;
  while ((await throttle.lockedFor(username, ip)) > 0) {
    if (Date.now() > deadline) throw new Error('still locked after 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('sign-in lock-out by (username, address)', () => {
  it('locks the attacking address for that user; the owner signs in from another address', async () => {
    const owner = await createUser(app, { username: 'olga', role: 'admin' });
    for (let i = 0; i < 3; i++) expect((await login('olga', 'wrong-password', '10.5.0.1')).statusCode).toBe(401);
    const attacker = await login('olga', owner.password, '10.5.0.1');
    expect(attacker.statusCode).toBe(429);
    expect(Number(attacker.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login('olga', owner.password, '10.5.0.2')).statusCode).toBe(200);
  });

  it('doubles the lock with each failure after it expires (exponential back-off)', async () => {
    await createUser(app, { username: 'petr', role: 'viewer' });
    const ip = '10.6.0.1';
    for (let i = 0; i < 2; i++) expect((await login('petr', 'wrong-password', ip)).statusCode).toBe(401);
    const waits: number[] = [];
    for (let round = 0; round < 3; round++) {
      expect((await login('petr', 'wrong-password', ip)).statusCode).toBe(401);
      const locked = await login('petr', 'wrong-password', ip);
      expect(locked.statusCode).toBe(429);
      waits.push(Number(locked.headers['retry-after']));
      if (round < 2) await waitUnlocked('petr', ip);
    }
    // 2 s, 4 s, 8 s (Retry-After rounds up what is left, a moment after the lock began).
    expect(waits[0]).toBeGreaterThanOrEqual(1);
    expect(waits[0]).toBeLessThanOrEqual(2);
    expect(waits[1]).toBeGreaterThanOrEqual(3);
    expect(waits[1]).toBeLessThanOrEqual(4);
    expect(waits[2]).toBeGreaterThanOrEqual(7);
    expect(waits[2]).toBeLessThanOrEqual(8);
  });

  it('slows down guesses at one username from many addresses, never refusing the right password', async () => {
    const quinn = await createUser(app, { username: 'quinn', role: 'viewer' });
    const throttle = new SignInThrottle(app.redis, app.config.REDIS_PREFIX, {
      maxPerUser: 3,
      maxPerIp: 50,
      lockoutSec: 900,
      backoffBaseSec: 2,
      userDelayMaxMs: 1000,
    });
    const delays: number[] = [];
    // Two failures per address: no (username, address) pair is ever locked.
    for (let i = 0; i < 8; i++) {
      expect((await login('quinn', 'wrong-password', `10.7.${i >> 1}.1`)).statusCode).toBe(401);
      delays.push(await throttle.slowDownMs('quinn'));
    }
    expect(delays).toEqual([0, 0, 250, 500, 1000, 1000, 1000, 1000]);
    const started = Date.now();
    const ok = await login('quinn', quinn.password, '10.7.9.9');
    expect(ok.statusCode).toBe(200);
    // The answer waited for the slow-down (timers never fire early by more than a tick).
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });
});
