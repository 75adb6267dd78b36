import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, type TestApi } from '../../test-support/test-api.js';
import { adminAuth, bearer, createUser, signIn } from '../users/access-fixtures.js';

let api: TestApi;
let app: FastifyInstance;

beforeAll(async () => {
  // A long cache, so a second request with a colliding key would be answered from the first.
  api = await createTestApi('status_cache_key', {
    STATUS_CACHE_MS: '60000',
    PASSWORD_SCRYPT_LOG_N: '10',
    PASSWORD_SCRYPT_P: '1',
  });
  app = api.app;
  for (const [name, region, customer] of [
    ['ck_a', 'a', null],
    ['ck_b', 'b', null],
    ['ck_xy', 'x', 'y|'],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: adminAuth,
      payload: { name, region, customer },
    });
    expect(res.statusCode).toBe(201);
  }
});

afterAll(async () => {
  await api?.close();
});

const names = async (headers: Record<string, string>, query = '') => {
  const res = await app.inject({ url: `/api/status${query}`, headers });
  expect(res.statusCode).toBe(200);
  return (res.json() as { devices: { name: string }[] }).devices.map((d) => d.name).sort();
};

describe('status cache key', () => {
  it('never serves one scope the cached answer of another whose region names join the same way', async () => {
    const two = await createUser(app, { username: 'ck_two', role: 'viewer', regions: ['a', 'b'] });
    const one = await createUser(app, { username: 'ck_one', role: 'viewer', regions: ['a,b'] });
    expect(await names(bearer(await signIn(app, 'ck_two', two.password)))).toEqual(['ck_a', 'ck_b']);
    // A single region literally named "a,b": it holds no device.
    expect(await names(bearer(await signIn(app, 'ck_one', one.password)))).toEqual([]);
  });

  it('keeps filters apart whatever characters they contain', async () => {
    // region "x" + customer "y|" and region "x|y" + no customer joined to the same text with "|".
    expect(await names(adminAuth, `?region=x&customer=${encodeURIComponent('y|')}`)).toEqual(['ck_xy']);
    expect(await names(adminAuth, `?region=${encodeURIComponent('x|y')}`)).toEqual([]);
  });
});
