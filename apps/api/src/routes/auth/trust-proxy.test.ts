import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { createUser, testEnv } from '../users/access-fixtures.js';

let db: TestDatabase;
let redis: TestRedis;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  db = await createTestDatabase('trust_proxy');
  redis = createTestRedis('trust-proxy');
});

afterAll(async () => {
  for (const a of apps) await a.close();
  await redis?.cleanup();
  await db?.drop();
});

async function start(extra: Record<string, string>, label: string): Promise<FastifyInstance> {
  const app = await buildApp(loadApiConfig(testEnv(db, redis, { REDIS_PREFIX: `${redis.prefix}:${label}`, ...extra })));
  apps.push(app);
  return app;
}

/** The address the API saw for a sign-in (sessions keep it). */
async function signInAddress(app: FastifyInstance, username: string, password: string, xff: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { username, password },
    headers: { 'x-forwarded-for': xff },
  });
  expect(res.statusCode).toBe(200);
  const row = await app.pg.query(
    `SELECT s.ip FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = $1 ORDER BY s.created_at DESC LIMIT 1`,
    [username],
  );
  return row.rows[0].ip as string;
}

describe('TRUST_PROXY', () => {
  it('trusts no proxy by default: X-Forwarded-For from a private or loopback peer is ignored', async () => {
    const app = await start({}, 'default');
    expect(app.config.TRUST_PROXY).toBe('false');
    const u = await createUser(app, { username: 'tp_default', role: 'viewer' });
    // app.inject comes from 127.0.0.1 — the old default trusted loopback and private networks.
    expect(await signInAddress(app, 'tp_default', u.password, '203.0.113.7')).toBe('127.0.0.1');
  });

  it('a spoofed X-Forwarded-For does not dodge the per-address lock-out by default', async () => {
    const app = await start({ SIGNIN_MAX_FAILURES_PER_IP: '3', SIGNIN_RATE_LIMIT_PER_MIN: '1000' }, 'spoof');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        payload: { username: `nobody${i}`, password: 'wrong-password' },
        headers: { 'x-forwarded-for': `198.51.100.${i}` },
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('takes the client address from a configured proxy (address list or hop count)', async () => {
    const byAddress = await start({ TRUST_PROXY: '127.0.0.1/8,10.0.0.0/8' }, 'addr');
    const u = await createUser(byAddress, { username: 'tp_addr', role: 'viewer' });
    expect(await signInAddress(byAddress, 'tp_addr', u.password, '203.0.113.8')).toBe('203.0.113.8');
    const byHops = await start({ TRUST_PROXY: '1' }, 'hops');
    // One trusted hop: the right-most X-Forwarded-For entry (what our proxy saw), never the client's own claim.
    expect(await signInAddress(byHops, 'tp_addr', u.password, '192.0.2.1, 203.0.113.9')).toBe('203.0.113.9');
  });
});
