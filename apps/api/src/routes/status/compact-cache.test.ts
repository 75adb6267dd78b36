/**
 * The compact status cache (routes/status/compact.ts): when an entry's time is up, an
 * unchanged view keeps its body and ETag (the fingerprint of the rows decides), and every
 * kind of change becomes visible — a snapshot row rewritten without an event (volts), a
 * registry edit, an event, a device falling inactive by time alone — as a new ETag and new
 * facts. Entries are per scope: a region-scoped viewer never gets the body cached for the
 * whole fleet or another region, whichever was cached first.
 */
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../config.js';
import { metricsOf } from '../../plugins/metrics.js';
import { N1, refreshStatusRows, S1, seedKnownHistory } from '../../test-support/known-history.js';
import { buildReadSideTestApp } from '../../test-support/read-side-app.js';
import { type CompactRow, compactId } from './status-compact.js';

const TTL = 300;
let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let app: FastifyInstance;
/** A cache that never expires during the test: what a second viewer would be served. */
let longApp: FastifyInstance;
const scoped = (regions: string[]) => ({ 'x-test-scope': JSON.stringify({ regions, customers: null }) });

beforeAll(async () => {
  db = await createTestDatabase('status_compact_cache');
  redis = createTestRedis('status_compact_cache');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  await pool.query(
    `INSERT INTO device_state (device_id, active, connection, last_activity_at, volts, volts_at, volts_level)
     VALUES ($1, true, 'connected', now(), 230, now(), 'normal')
     ON CONFLICT (device_id) DO UPDATE SET active = true, connection = 'connected', last_activity_at = now(),
       volts = 230, volts_at = now(), volts_level = 'normal'`,
    [N1],
  );
  await refreshStatusRows(pool);
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' };
  app = await buildReadSideTestApp(loadApiConfig({ ...env, STATUS_CACHE_MS: String(TTL) }));
  longApp = await buildReadSideTestApp(loadApiConfig({ ...env, STATUS_CACHE_MS: '60000' }));
});

afterAll(async () => {
  await app?.close();
  await longApp?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

interface Compact {
  generatedAt: number;
  rows: CompactRow[];
  counters: { active: number; inactive: number };
}

async function get(a: FastifyInstance, headers: Record<string, string> = {}) {
  const res = await a.inject({ url: '/api/status/compact', headers });
  expect(res.statusCode).toBe(200);
  return { etag: String(res.headers.etag), body: res.json() as Compact };
}

const hits = async () =>
  (await metricsOf(app).cache.get()).values.find(
    (v) => v.labels.cache === 'status_compact' && v.labels.result === 'hit',
  )?.value ?? 0;

/** Past the entry's time, then the first answer from a fresh entry (a cache hit: the refresh,
 *  started by the first request after the expiry, has run — kept or rebuilt). */
async function afterExpiry(headers: Record<string, string> = {}) {
  await new Promise((r) => setTimeout(r, TTL + 20));
  for (let i = 0; i < 1000; i++) {
    const before = await hits();
    const answer = await get(app, headers);
    if ((await hits()) > before) return answer;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the compact status entry was never refreshed');
}

const rowOf = (c: Compact, id: string) => c.rows.find((r) => r[0] === compactId(id)) as CompactRow;

describe('compact status cache', () => {
  it('keeps an unchanged view, and shows every kind of change with a new ETag', async () => {
    const first = await get(app);
    const same = await afterExpiry();
    expect(same.etag).toBe(first.etag);
    // kept, not rebuilt: the body is the one generated first
    expect(same.body.generatedAt).toBe(first.body.generatedAt);

    // a snapshot row rewritten without any event (the worker's voltage update)
    await pool.query('UPDATE device_state SET volts = 231.5 WHERE device_id = $1', [N1]);
    await refreshStatusRows(pool);
    const volts = await afterExpiry();
    expect(volts.etag).not.toBe(first.etag);
    expect(rowOf(volts.body, N1)[9]).toBe(231.5);

    // a registry edit
    await pool.query(`UPDATE devices SET name = 'N1_RENAMED' WHERE id = $1`, [N1]);
    const renamed = await afterExpiry();
    expect(renamed.etag).not.toBe(volts.etag);
    expect(rowOf(renamed.body, N1)[1]).toBe('N1_RENAMED');

    // an event (its seq is part of the answer's cursor and ETag)
    await pool.query(
      `INSERT INTO domain_events (id, type, device_id, occurred_at, payload, seq)
       VALUES ('cache-test', 'voltage.episode_opened', $1, now(), '{}', nextval('domain_events_seq'))`,
      [N1],
    );
    const evented = await afterExpiry();
    expect(evented.etag).not.toBe(renamed.etag);

    // inactive by time alone: no write at all once the activity is older than the timeout.
    // The margin must cover the refresh and one read on a loaded machine (the read before
    // it passes must still see the device active), so it is generous rather than short.
    await pool.query(
      `UPDATE device_state SET last_activity_at = now() + interval '12 seconds' - make_interval(secs => (
         SELECT COALESCE(d.inactivity_timeout_sec, p.inactivity_timeout_sec)
           FROM device_profiles p JOIN devices d ON d.profile_id = p.id WHERE d.id = $1))
        WHERE device_id = $1`,
      [N1],
    );
    await refreshStatusRows(pool);
    const written = Date.now();
    const active = await afterExpiry();
    expect(rowOf(active.body, N1)[4] & 1).toBe(1);
    await new Promise((r) => setTimeout(r, Math.max(0, written + 12_200 - Date.now())));
    const inactive = await afterExpiry();
    expect(inactive.etag).not.toBe(active.etag);
    expect(rowOf(inactive.body, N1)[4] & 1).toBe(0);
    expect(inactive.body.counters.inactive).toBe(active.body.counters.inactive + 1);
  });

  it('never serves a region-scoped viewer the body cached for another scope', async () => {
    const north = scoped(['North']);
    const south = scoped(['South']);
    const fleet = await get(longApp);
    const ids = (c: Compact) => c.rows.map((r) => r[0]).sort();
    expect(ids(fleet.body)).toEqual([compactId(N1), compactId(S1)].sort());
    for (const [headers, id] of [
      [north, N1],
      [south, S1],
    ] as const) {
      const a = await get(longApp, headers);
      expect(ids(a.body)).toEqual([compactId(id)]);
      expect(a.etag).not.toBe(fleet.etag);
      // and again from its own entry, with an If-None-Match of the fleet's tag: not a 304
      const again = await longApp.inject({
        url: '/api/status/compact',
        headers: { ...headers, 'if-none-match': fleet.etag },
      });
      expect(again.statusCode).toBe(200);
      expect(ids(again.json() as Compact)).toEqual([compactId(id)]);
    }
    // the short cache too, past expiry (a kept entry is kept per scope)
    const n = await afterExpiry(north);
    expect(ids(n.body)).toEqual([compactId(N1)]);
  });
});
