import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';
import { loadApiConfig } from './config.js';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  db = await createTestDatabase('api');
  redis = createTestRedis('api');
  app = await buildApp(
    loadApiConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' }),
  );
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

describe('api skeleton', () => {
  it('is live and ready when PostgreSQL and Redis answer', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', postgres: 'ok', redis: 'ok' });
  });

  it('answers unknown routes with a JSON 404 that names the route', async () => {
    const res = await app.inject('/api/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toContain('/api/nope');
  });
});
