import { randomBytes } from 'node:crypto';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { SESSION_TOKEN_PREFIX } from '../auth/sessions.js';
import { bearer, testEnv } from '../users/access-fixtures.js';
import { generateApiKey, hashApiKey } from './api-key-service.js';

// base64url of 0xB3 0xF0 starts with "s_": the old `spms_<random>` key then began with `spms_s_`.
const unlucky = (n: number) => Buffer.concat([Buffer.from([0xb3, 0xf0]), randomBytes(n - 2)]);

describe('API key format', () => {
  it('never starts with the session-token prefix, whatever the random bytes', () => {
    expect(unlucky(24).toString('base64url').startsWith('s_')).toBe(true);
    expect(generateApiKey(unlucky).startsWith(SESSION_TOKEN_PREFIX)).toBe(false);
    for (let i = 0; i < 2000; i++) expect(generateApiKey().startsWith(SESSION_TOKEN_PREFIX)).toBe(false);
  });
});

describe('API key authentication', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let app: FastifyInstance;
  beforeAll(async () => {
    db = await createTestDatabase('api_key_format');
    redis = createTestRedis('api-key-format');
    app = await buildApp(loadApiConfig(testEnv(db, redis)));
  });
  afterAll(async () => {
    await app?.close();
    await redis?.cleanup();
    await db?.drop();
  });

  it('authenticates a key drawn from the unlucky bytes as an API key, not as a session', async () => {
    const key = generateApiKey(unlucky);
    await app.pg.query(
      `INSERT INTO api_keys (id, name, key_hash, role) VALUES (gen_random_uuid(), 'unlucky', $1, 'viewer')`,
      [hashApiKey(key)],
    );
    const me = await app.inject({ url: '/api/auth/me', headers: bearer(key) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ kind: 'api-key', role: 'viewer' });
  });

  it('still accepts a key of the old format that happens to begin like a session token', async () => {
    const legacy = `spms_${unlucky(24).toString('base64url')}`;
    expect(legacy.startsWith(SESSION_TOKEN_PREFIX)).toBe(true);
    await app.pg.query(
      `INSERT INTO api_keys (id, name, key_hash, role) VALUES (gen_random_uuid(), 'legacy', $1, 'viewer')`,
      [hashApiKey(legacy)],
    );
    expect((await app.inject({ url: '/api/auth/me', headers: bearer(legacy) })).json()).toMatchObject({
      kind: 'api-key',
    });
    const expired = await app.inject({ url: '/api/auth/me', headers: bearer(`${SESSION_TOKEN_PREFIX}nope`) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().message).toMatch(/sign in again/);
  });
});
