import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../config.js';
import { N1, seedKnownHistory } from '../../test-support/known-history.js';
import { buildReadSideTestApp } from '../../test-support/read-side-app.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let app: FastifyInstance;
const SOUTH = { 'x-test-scope': JSON.stringify({ regions: ['South'], customers: null }) };

beforeAll(async () => {
  db = await createTestDatabase('voltage');
  redis = createTestRedis('voltage');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  // N1: every 30 s from 10:00 to 12:00 local, alternating 220 / 230 V (240 samples).
  await pool.query(
    `INSERT INTO voltage_samples (device_id, ts, volts, msg_id)
     SELECT $1, '2026-01-10T10:00:00+05:30'::timestamptz + i * interval '30 seconds', CASE WHEN i % 2 = 0 THEN 220 ELSE 230 END, 'v' || i
       FROM generate_series(0, 239) i`,
    [N1],
  );
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

const q = (from: string, to: string, extra = '') =>
  `/api/devices/N1_MSAN/voltage?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}${extra}`;
const FROM = '2026-01-10T00:00:00+05:30';
const TO = '2026-01-11T00:00:00+05:30';

describe('GET /api/devices/:idOrName/voltage', () => {
  it('serves raw, 1 min, 1 h and local-day buckets with min/avg/max', async () => {
    const rawRes = await app.inject(q('2026-01-10T10:00:00+05:30', '2026-01-10T10:05:00+05:30'));
    const raw = rawRes.json();
    expect(rawRes.statusCode, rawRes.body).toBe(200);
    expect(raw.bucket).toBe('raw'); // auto for 5 minutes
    expect(raw.points).toHaveLength(10);
    const m = (await app.inject(q(FROM, TO, '&bucket=1m'))).json();
    expect(m.points).toHaveLength(120);
    expect(m.points[0]).toEqual({ t: '2026-01-10T04:30:00.000Z', min: 220, avg: 225, max: 230, samples: 2 });
    const h = (await app.inject(q(FROM, TO))).json();
    expect(h.bucket).toBe('1m'); // auto for one day
    const hours = (await app.inject(q(FROM, TO, '&bucket=1h'))).json();
    // 10:00-12:00 local = 04:30-06:30Z: UTC hours 04:00 (60), 05:00 (120), 06:00 (60).
    expect(hours.points.map((p: { samples: number }) => p.samples)).toEqual([60, 120, 60]);
    const d = (await app.inject(q('2025-12-01T00:00:00+05:30', '2026-03-01T00:00:00+05:30'))).json();
    expect(d.bucket).toBe('1d');
    expect(d.points).toEqual([{ t: '2026-01-09T18:30:00.000Z', min: 220, avg: 225, max: 230, samples: 240 }]);
  });

  it('streams CSV in pages with local times, respects the scope, validates the bucket', async () => {
    const res = await app.inject({ url: q(FROM, TO, '&bucket=raw'), headers: { accept: 'text/csv' } });
    const rows = parse(res.body, { columns: true, bom: true }) as Record<string, string>[];
    expect(rows).toHaveLength(240);
    expect(rows[0]).toEqual({
      device: 'N1_MSAN',
      t: '2026-01-10T10:00:00.000+05:30',
      v_min: '220',
      v_avg: '220',
      v_max: '220',
      samples: '1',
    });
    expect((await app.inject({ url: q(FROM, TO), headers: SOUTH })).statusCode).toBe(404);
    const bad = await app.inject(q(FROM, TO, '&bucket=5m'));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('bucket');
  });
});

describe('GET /api/devices/:idOrName/timeline', () => {
  it('splits the range into online, offline and unknown', async () => {
    const res = await app.inject(
      `/api/devices/N1_MSAN/timeline?from=${encodeURIComponent('2026-01-10T14:00:00+05:30')}&to=${encodeURIComponent('2026-01-10T15:00:00+05:30')}`,
    );
    expect(res.json().intervals).toEqual([
      { from: '2026-01-10T08:30:00.000Z', to: '2026-01-10T09:00:00.000Z', state: 'online' },
      { from: '2026-01-10T09:00:00.000Z', to: '2026-01-10T09:15:00.000Z', state: 'offline' },
      { from: '2026-01-10T09:15:00.000Z', to: '2026-01-10T09:30:00.000Z', state: 'online' },
    ]);
    const early = await app.inject(`/api/devices/N1_MSAN/timeline?from=2024-12-31T23:00:00Z&to=2025-01-01T01:00:00Z`);
    expect(early.json().intervals.map((i: { state: string }) => i.state)).toEqual(['unknown', 'online']);
  });
});
