/** The report period is validated: years outside 2000..2099 are a 400 that says so, never a 500. */
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../config.js';
import { seedKnownHistory } from '../../test-support/known-history.js';
import { buildReadSideTestApp } from '../../test-support/read-side-app.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let app: FastifyInstance;

beforeAll(async () => {
  db = await createTestDatabase('reports-period');
  redis = createTestRedis('reports-period');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  app = await buildReadSideTestApp(
    loadApiConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' }),
  );
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

const report = (from: string, to: string, extra = '') =>
  app.inject(`/api/reports/reliability?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}${extra}`);

describe('GET /api/reports/reliability period', () => {
  it('answers 400, not 500, for a year before 0005 with excludeMajorEvents', async () => {
    const res = await report('0004-01-01T00:00:00Z', '0004-02-01T00:00:00Z', '&excludeMajorEvents=true');
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().message).toMatch(/from: the year must be between 2000 and 2099/);
  });

  it('refuses periods outside 2000..2099 with or without major events', async () => {
    const early = await report('1999-12-31T00:00:00Z', '2000-01-02T00:00:00Z');
    expect(early.statusCode).toBe(400);
    expect(early.json().message).toMatch(/from: the year must be between 2000 and 2099/);
    const late = await report('2099-12-01T00:00:00Z', '2100-01-02T00:00:00Z', '&excludeMajorEvents=true');
    expect(late.statusCode).toBe(400);
    expect(late.json().message).toMatch(/to: the year must be between 2000 and 2099/);
  });

  it('still reports a valid period with major events excluded', async () => {
    const res = await report('2026-01-10T00:00:00+05:30', '2026-01-11T00:00:00+05:30', '&excludeMajorEvents=true');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ excludeMajorEvents: true, fleet: { lines: 16 } });
  });
});
