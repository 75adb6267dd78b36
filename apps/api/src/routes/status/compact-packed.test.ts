/**
 * STATUS_ENCODER=packed (status-compact-source.ts PACKED_SQL, status-compact.ts
 * encodePackedRows) gives the very snapshot the rows path gives — same rows, dictionaries in
 * the same order, counters, base, seq and registry digest, so the same body, ETag and cursor —
 * on a fleet made of the cases each field has: names and labels needing JSON escapes, strings
 * shared between a region and a line label, missing places, coordinates and volts at rounding
 * edges (halves, tiny, negative, NaN, infinite), times before 1970, lines since different
 * instants (and the same second), never-reported, unmonitored and missing lines, devices never
 * heard of, inactive and lost devices; whole fleet and scoped, from both sources.
 */
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../config.js';
import type { Scope } from '../../core/principal.js';
import { refreshStatusRows, seedKnownHistory } from '../../test-support/known-history.js';
import { buildReadSideTestApp } from '../../test-support/read-side-app.js';
import { loadCompactSnapshot } from './status-compact.js';
import type { StatusSource } from './status-compact-source.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let packedApp: FastifyInstance;
let rowsApp: FastifyInstance;

const id = (n: number) => `00000000-0000-4000-8000-1000000000${String(n).padStart(2, '0')}`;

beforeAll(async () => {
  db = await createTestDatabase('status_compact_packed');
  redis = createTestRedis('status_compact_packed');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  const profile = `(SELECT id FROM device_profiles LIMIT 1)`;
  // name, label, region, customer, latitude, longitude
  const devices: [string, string | null, string | null, string | null, number | null, number | null][] = [
    ['Q1 "quoted" \\ back\\slash', 'tab\there, new\nline, \u0001 and "quotes"', 'CEB', 'C1', 6.000005, 79.999995],
    ['Q2 ünïcödé ☀ 𝄞', '', 'North', null, -0.000004, 0.000004],
    ['Q3 tiny', null, null, 'TP 2', 0.00001, -0.00001],
    ['Q4 halves', 'x', 'North', 'C1', 7.123455, -80.123445],
    ['Q5 no lines', null, '', '', 89.99999, -179.999995],
    ['Q6 never heard of', null, 'South', 'C2', null, null],
    ['Q7 old', 'before 1970', 'South', 'C1', 1e-7, 179.678905],
    ['Q8 nan volts', null, 'North', 'C1', 6.5, 80.5],
    ['Q9 infinite volts', null, 'North', 'C1', 6.5, 80.5],
  ];
  for (const [i, [name, label, region, customer, lat, lon]] of devices.entries())
    await pool.query(
      `INSERT INTO devices (id, name, label, region, customer, latitude, longitude, profile_id, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, ${profile}, now(), now())`,
      [id(i + 1), name, label, region, customer, lat, lon],
    );
  // Lines: Q1 8 lines (7 unmonitored), Q2 lines 1, 3 and 6 only (numbers with gaps), Q3-Q4 and
  // Q7-Q9 4 lines labelled like Q1's (the same set), Q6 8 lines; Q5 none.
  await pool.query(
    `INSERT INTO device_lines (device_id, number, label, enabled)
     SELECT d, n, CASE n WHEN 1 THEN 'CEB' WHEN 2 THEN 'North' ELSE 'TP ' || n END, NOT (d = $1::uuid AND n = 7)
       FROM unnest($2::uuid[]) d, generate_series(1, 8) n
      WHERE d IN ($1::uuid, $3::uuid) OR n <= 4`,
    [id(1), [id(1), id(3), id(4), id(6), id(7), id(8), id(9)], id(6)],
  );
  await pool.query(
    `INSERT INTO device_lines (device_id, number, label) VALUES ($1, 1, 'Feeder "A"'), ($1, 3, 'B\\C'), ($1, 6, 'C')`,
    [id(2)],
  );
  await pool.query(
    `INSERT INTO device_state (device_id, active, connection, last_activity_at, inactive_since, volts, volts_at, volts_level)
     VALUES ($1, true, 'connected', now(), NULL, 230.05, now() - interval '1.5 seconds', 'normal'),
            ($2, true, 'connected', now() - interval '0.4 seconds', NULL, 199.95, now(), 'under'),
            ($3, false, 'lost', now() - interval '2 hours', now() - interval '1 hour', -0.04, now() - interval '2 hours', 'absent'),
            ($4, true, 'disconnected', now(), NULL, NULL, NULL, NULL),
            ($5, true, 'connected', now(), NULL, 231, now(), 'over'),
            ($6, false, 'disconnected', '1969-12-31T23:59:58.500Z', '1969-12-31T23:59:59.250Z', 1e30, '1969-12-31T23:59:57.999Z', 'normal'),
            ($7, true, 'connected', now(), NULL, 'NaN', now(), 'normal'),
            ($8, true, 'connected', now(), NULL, '-Infinity', now(), 'normal')`,
    [id(1), id(2), id(3), id(4), id(5), id(7), id(8), id(9)],
  );
  // Line since: Q1 different instants (line 5 never reported), Q2 the same second in
  // different milliseconds, Q4 and Q8 all the same, Q9 all infinite, Q3 (inactive) and Q7 some lines.
  await pool.query(
    `INSERT INTO line_state (device_id, line, powered, since, last_ts, last_msg_id)
     SELECT $1::uuid, n, n <> 2, now() - n * interval '1 minute', now(), 'q1' || n FROM generate_series(1, 8) n WHERE n <> 5
     UNION ALL SELECT $2::uuid, n, true, date_trunc('second', now()) - interval '1 hour' + n * interval '100 ms', now(), 'q2' || n
       FROM unnest(ARRAY[1, 3, 6]) n
     UNION ALL SELECT $3::uuid, n, n = 1, now() - interval '3 hours', now(), 'q3' || n FROM generate_series(1, 4) n
     UNION ALL SELECT d, n, n <> 3, now() - interval '3 hours', now(), 'q' || n FROM unnest($4::uuid[]) d, generate_series(1, 4) n
     UNION ALL SELECT $5::uuid, n, true, '1969-12-31T23:00:00.500Z', now(), 'q7' || n FROM generate_series(1, 2) n
     UNION ALL SELECT $6::uuid, n, true, 'infinity', now(), 'q9' || n FROM generate_series(1, 4) n`,
    [id(1), id(2), id(3), [id(4), id(8)], id(7), id(9)],
  );
  await pool.query(
    `INSERT INTO outages (device_id, line, started_at, class, start_msg_id)
     VALUES ($1, 2, now() - interval '5 minutes', 'sustained', 'o1'), ($2, 3, now() - interval '5 minutes', 'sustained', 'o4')`,
    [id(1), id(4)],
  );
  await refreshStatusRows(pool);
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' };
  packedApp = await buildReadSideTestApp(loadApiConfig({ ...env, STATUS_CACHE_MS: '60000' }));
  rowsApp = await buildReadSideTestApp(loadApiConfig({ ...env, STATUS_CACHE_MS: '60000', STATUS_ENCODER: 'rows' }));
});

afterAll(async () => {
  await packedApp?.close();
  await rowsApp?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

const scopes: [string, Scope | null][] = [
  ['whole fleet', null],
  ['North', { regions: ['North'], customers: null }],
  ['customer C1', { regions: null, customers: ['C1'] }],
  ['a region without devices', { regions: ['Nowhere'], customers: null }],
];

describe('compact status, STATUS_ENCODER=packed', () => {
  it('is the rows encoder snapshot, field for field', async () => {
    for (const source of ['snapshot', 'compute'] as StatusSource[])
      for (const [what, scope] of scopes) {
        const rows = await loadCompactSnapshot(pool, scope, source, 'rows');
        const packed = await loadCompactSnapshot(pool, scope, source, 'packed');
        expect({ ...packed, generatedAt: 0 }, `${source}, ${what}`).toEqual({ ...rows, generatedAt: 0 });
        // and as JSON (key order, -0, NaN written as null)
        expect(JSON.stringify({ ...packed, generatedAt: 0 })).toBe(JSON.stringify({ ...rows, generatedAt: 0 }));
      }
    const whole = await loadCompactSnapshot(pool, null, 'snapshot', 'packed');
    expect(whole.rows).toHaveLength(11);
    // the cases are there: a since array by line, volts written as null, a device never heard of
    expect(whole.rows.some((r) => Array.isArray(r[11]))).toBe(true);
    expect(whole.rows.some((r) => r[9] !== undefined && Number.isNaN(r[9] as number))).toBe(true);
  });

  it('answers the same body, ETag and cursor as the rows encoder, and the same delta', async () => {
    for (const headers of [
      {},
      { 'x-test-scope': JSON.stringify({ regions: ['North'], customers: null }) },
      { 'accept-encoding': 'gzip' },
    ]) {
      const [a, b] = await Promise.all(
        [packedApp, rowsApp].map((app) => app.inject({ url: '/api/status/compact', headers })),
      );
      expect(a?.statusCode).toBe(200);
      expect(a?.headers.etag).toBe(b?.headers.etag);
      if (headers['accept-encoding']) continue;
      const facts = (body: string) => body.replace(/^\{"generatedAt":[0-9]+,/, '{');
      expect(facts(a?.body ?? '')).toBe(facts(b?.body ?? ''));
    }
    const cursor = (JSON.parse((await packedApp.inject({ url: '/api/status/compact' })).body) as { cursor: string })
      .cursor;
    await pool.query(
      `INSERT INTO domain_events (id, type, device_id, occurred_at, payload, seq)
       VALUES ('packed-test', 'voltage.episode_opened', $1, now(), '{}', nextval('domain_events_seq'))`,
      [id(1)],
    );
    const fresh = async (app: FastifyInstance) => {
      const cfg = loadApiConfig({
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        REDIS_PREFIX: redis.prefix,
        LOG_LEVEL: 'silent',
        STATUS_CACHE_MS: '0',
        STATUS_ENCODER: app === packedApp ? 'packed' : 'rows',
      });
      const a = await buildReadSideTestApp(cfg);
      try {
        return (await a.inject({ url: `/api/status/compact?since=${encodeURIComponent(cursor)}` })).body;
      } finally {
        await a.close();
      }
    };
    const [deltaPacked, deltaRows] = [await fresh(packedApp), await fresh(rowsApp)];
    expect((JSON.parse(deltaPacked) as { changed: unknown[] }).changed).toHaveLength(1);
    expect(deltaPacked.replace(/"generatedAt":[0-9]+,/, '')).toBe(deltaRows.replace(/"generatedAt":[0-9]+,/, ''));
  });
});
