import { gunzipSync } from 'node:zlib';
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { type ApiConfig, loadApiConfig } from '../../config.js';
import { DAY_FROM, DAY_TO, N1, S1, seedKnownHistory } from '../../test-support/known-history.js';
import { buildReadSideTestApp } from '../../test-support/read-side-app.js';
import { FleetStatus } from './schemas.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let app: FastifyInstance;
let real: FastifyInstance;
const ADMIN = 'read-side-admin-key-0123456789';
const NORTH = { 'x-test-scope': JSON.stringify({ regions: ['North'], customers: null }) };

beforeAll(async () => {
  db = await createTestDatabase('read-side');
  redis = createTestRedis('read-side');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  const config: ApiConfig = loadApiConfig({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    SPMS_ADMIN_API_KEY: ADMIN,
    STATUS_CACHE_MS: '0',
  });
  app = await buildReadSideTestApp(config);
  real = await buildApp(config);
});

afterAll(async () => {
  await app?.close();
  await real?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

const minutes = (n: number) => n * 60_000;

describe('GET /api/status', () => {
  it('needs an API key in the real app and answers the fleet with counters', async () => {
    expect((await real.inject('/api/status')).statusCode).toBe(401);
    const res = await real.inject({ url: '/api/status', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    // Sent pre-serialized (JSON.stringify), so check the declared schema here.
    expect(Value.Errors(FleetStatus, body)).toEqual([]);
    expect(body.counters).toEqual({
      devices: 2,
      active: 1,
      inactive: 1,
      connectionLost: 1,
      linesWithoutPower: 1,
      linesUnknown: 8,
      openOutages: 1,
    });
    const n1 = body.devices.find((d: { id: string }) => d.id === N1);
    expect(n1.lines[3]).toMatchObject({
      line: 4,
      label: 'TP 4',
      state: 'unpowered',
      openOutage: { startedAt: '2026-01-10T06:30:00.000Z' },
    });
    const s1 = body.devices.find((d: { id: string }) => d.id === S1);
    // Offline device: every line unknown, last known state still shown.
    expect(
      s1.lines.every((l: { state: string; lastKnown: string }) => l.state === 'unknown' && l.lastKnown === 'powered'),
    ).toBe(true);
    expect(s1.lines[0].since).toBe(s1.inactiveSince);
  });

  it('answers gzip (compressed once per cache entry) to clients that accept it', async () => {
    const res = await app.inject({ url: '/api/status', headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers['content-encoding']).toBe('gzip');
    const body = JSON.parse(gunzipSync(res.rawPayload).toString('utf8'));
    expect(body.counters.devices).toBe(2);
  });

  it('filters by scope, region and state, and rejects unknown filters with a message', async () => {
    const scoped = (await app.inject({ url: '/api/status', headers: NORTH })).json();
    expect(scoped.devices.map((d: { name: string }) => d.name)).toEqual(['N1_MSAN']);
    const south = (await app.inject({ url: '/api/status?region=South', headers: NORTH })).json();
    expect(south.devices).toEqual([]);
    const inactive = (await app.inject('/api/status?state=inactive')).json();
    expect(inactive.devices.map((d: { name: string }) => d.name)).toEqual(['S1_MSAN']);
    const bad = await app.inject('/api/status?state=sleepy');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('state');
  });

  it('device state shows effective profile values, location and notes; out of scope is 404', async () => {
    const res = await app.inject('/api/devices/N1_MSAN/state');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'N1_MSAN', notes: 'no antenna', latitude: 6.9 });
    expect(res.json().profile.effective).toMatchObject({
      inactivityTimeoutSec: 120,
      momentaryThresholdSec: 300,
      voltageMin: 216.2,
    });
    expect((await app.inject({ url: '/api/devices/S1_MSAN/state', headers: NORTH })).statusCode).toBe(404);
  });
});

describe('GET /api/outages', () => {
  it('pages with a cursor through every outage, newest first', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await app.inject(`/api/outages?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      seen.push(...page.items.map((o: { startedAt: string }) => o.startedAt));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it('filters (class, open, line, planned, scope) and describes each outage', async () => {
    const get = async (q: string, headers = {}) =>
      (await app.inject({ url: `/api/outages?${q}`, headers })).json().items;
    expect(await get('status=open')).toHaveLength(1);
    expect(await get('class=momentary')).toHaveLength(1);
    expect((await get('planned=true')).map((o: { device: { name: string } }) => o.device.name)).toEqual(['S1_MSAN']);
    expect(await get('', NORTH)).toHaveLength(5);
    const [first] = await get('device=N1_MSAN&line=1');
    expect(first).toMatchObject({
      device: { id: N1, name: 'N1_MSAN' },
      line: 1,
      lineLabel: 'CEB',
      endedAt: '2026-01-10T05:30:00.000Z',
      durationMs: minutes(60),
      class: 'sustained',
      utilityFeed: true,
      planned: false,
      startWindow: { from: '2026-01-10T04:28:00.000Z', to: '2026-01-10T04:30:00.000Z' },
    });
    expect((await app.inject('/api/outages?cursor=nonsense')).statusCode).toBe(400);
  });

  it('marks an outage planned when it starts inside a planned window of its region', async () => {
    await pool.query(
      `INSERT INTO planned_interruptions (id, region, starts_at, ends_at, reason, created_by)
       VALUES (gen_random_uuid(), 'South', '2026-01-10T08:50:00+05:30', '2026-01-10T09:10:00+05:30', 'maintenance', 'test')`,
    );
    try {
      const items = (await app.inject('/api/outages?planned=true')).json().items;
      expect(items.map((o: { line: number }) => o.line).sort()).toEqual([1, 2]);
    } finally {
      await pool.query('DELETE FROM planned_interruptions');
    }
  });

  it('streams CSV that parses back to the scoped rows, times with the fleet offset', async () => {
    const res = await app.inject({ url: '/api/outages', headers: { ...NORTH, accept: 'text/csv' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/csv');
    const rows = parse(res.body, { columns: true, bom: true }) as Record<string, string>[];
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.device === 'N1_MSAN')).toBe(true);
    const line1 = rows.find((r) => r.line === '1');
    expect(line1).toMatchObject({
      started_at: '2026-01-10T10:00:00.000+05:30',
      duration_ms: '3600000',
      line_label: 'CEB',
    });
  });
});

describe('GET /api/reports/reliability (hand-computed)', () => {
  const url = `/api/reports/reliability?from=${encodeURIComponent(DAY_FROM)}&to=${encodeURIComponent(DAY_TO)}`;

  it('gives the fleet and region figures of the known day', async () => {
    const res = await app.inject(`${url}&groupBy=region`);
    expect(res.statusCode).toBe(200);
    const r = res.json();
    // Fleet: 16 lines; N1 offline 15 min → 8 × 15 min unknown; 16 × 24 h − 2 h known.
    expect(r.fleet).toMatchObject({ lines: 16, lineHours: 384, unknownLineHours: 2, knownLineHours: 382 });
    const m = r.fleet.main;
    // Sustained begun in the day: N1 l1, l4 (open), l5, S1 l1 → 4; N1 l3 carried in.
    expect(m.sustained).toMatchObject({ count: 4, openCount: 1, carriedIn: 1, withDuration: 4 });
    // 60 (l1) + 60 (l3, inside the day) + 45 (l5, 15 min offline excluded) + 30 (S1 l1) = 195 min.
    expect(m.sustained.totalDurationMs).toBe(minutes(195));
    expect(m.sustained.longestMs).toBe(minutes(60));
    expect(m.momentary).toMatchObject({ count: 1, totalDurationMs: minutes(2) });
    expect(m.indices.saifi).toBeCloseTo(4 / 16, 12);
    expect(m.indices.saidiMinutes).toBeCloseTo(195 / 16, 12);
    expect(m.indices.caidiMinutes).toBeCloseTo(48.75, 12);
    expect(m.indices.maifi).toBeCloseTo(1 / 16, 12);
    expect(m.indices.asai).toBeCloseTo(1 - 195 / (382 * 60), 12);
    expect(m.all).toMatchObject({ count: 5, totalDurationMs: minutes(197), longestMs: minutes(60) });
    expect(m.all.meanDurationMs).toBeCloseTo(minutes(197) / 5, 6);
    // The planned S1 l2 outage is reported apart.
    expect(r.fleet.planned.sustained).toMatchObject({ count: 1, totalDurationMs: minutes(60) });
    const [north, south] = r.groups;
    expect(north.key).toBe('North');
    expect(north.main.indices.saifi).toBeCloseTo(3 / 8, 12);
    expect(north.main.indices.saidiMinutes).toBeCloseTo(165 / 8, 12);
    expect(north.main.indices.caidiMinutes).toBeCloseTo(55, 12);
    expect(north.main.indices.asai).toBeCloseTo(1 - 165 / (190 * 60), 12);
    expect(south.main.indices).toMatchObject({ saifi: 1 / 8, saidiMinutes: 30 / 8, caidiMinutes: 30, maifi: 0 });
    expect(south.main.indices.asai).toBeCloseTo(1 - 30 / (192 * 60), 12);
  });

  it('a region-scoped caller sees only its region, also in CSV', async () => {
    const r = (await app.inject({ url: `${url}&groupBy=device`, headers: NORTH })).json();
    expect(r.fleet.lines).toBe(8);
    expect(r.groups.map((g: { name: string }) => g.name)).toEqual(['N1_MSAN']);
    const csv = await app.inject({ url: `${url}&groupBy=region&format=csv`, headers: NORTH });
    const rows = parse(csv.body, { columns: true, bom: true }) as Record<string, string>[];
    expect(rows.map((x) => x.group)).toEqual(['fleet', 'North']);
    expect(Number(rows[1]?.saidi_min)).toBeCloseTo(165 / 8, 9);
    expect(rows[1]?.from).toBe('2026-01-10T00:00:00.000+05:30');
  });

  it('moves outages of a major event day out of the main indices', async () => {
    // History: the same device had small outages on 20 days of 2025 (2..21 min, varied),
    // so T_MED is low and the known day (195 + 2 min of outage) stands out.
    await pool.query(
      `INSERT INTO outages (device_id, line, started_at, ended_at, duration_ms, class, start_msg_id)
       SELECT $1::uuid, 6, t, t + make_interval(mins => k + 1), (k + 1) * 60000, 'sustained', 'h' || k
         FROM generate_series(1, 20) k, LATERAL (SELECT '2025-06-01T10:00:00+05:30'::timestamptz + k * interval '3 days' AS t) x`,
      [S1],
    );
    try {
      const r = (await app.inject(`${url}&groupBy=region&excludeMajorEvents=true`)).json();
      expect(r.majorEventDays).toEqual(['2026-01-10']);
      expect(r.majorEventThresholdMinutes).toBeGreaterThan(0);
      expect(r.fleet.main.sustained.count).toBe(0);
      expect(r.fleet.majorEvents.sustained).toMatchObject({ count: 4, totalDurationMs: minutes(195 - 60) });
      // The carried-in outage began the day before (not a major event day): still main.
      expect(r.fleet.main.sustained).toMatchObject({ carriedIn: 1, totalDurationMs: minutes(60) });
    } finally {
      await pool.query(`DELETE FROM outages WHERE start_msg_id LIKE 'h%'`);
    }
  });

  it('refuses a reversed period with a message', async () => {
    const res = await app.inject(
      `/api/reports/reliability?from=${encodeURIComponent(DAY_TO)}&to=${encodeURIComponent(DAY_FROM)}`,
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain('after');
  });
});
