import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../../config.js';
import { N1, refreshStatusRows, S1, seedKnownHistory } from '../../test-support/known-history.js';
import { buildReadSideTestApp } from '../../test-support/read-side-app.js';
import { type CompactRow, compactId } from './status-compact.js';
import { decodeCompactRow, uuidOf } from './status-compact-decode.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let app: FastifyInstance;
/** The same routes reading the computed view (STATUS_FROM=compute), for comparison. */
let computed: FastifyInstance;
const scoped = (regions: string[]) => ({ 'x-test-scope': JSON.stringify({ regions, customers: null }) });
const NORTH = scoped(['North']);
const N2 = '00000000-0000-4000-8000-000000000003';
const N3 = '00000000-0000-4000-8000-000000000004';
const N4 = '00000000-0000-4000-8000-000000000005';

beforeAll(async () => {
  db = await createTestDatabase('status_compact');
  redis = createTestRedis('status_compact');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  // More states: N2 online with lines that changed at different times, one never reported and
  // one not monitored, a label and a place; N3 registered and never heard of; N4 four lines only.
  await pool.query(
    `INSERT INTO devices (id, name, label, region, customer, profile_id, latitude, longitude, created_at, updated_at)
     SELECT x.id::uuid, x.name, x.label, 'North', 'C1', (SELECT id FROM device_profiles LIMIT 1), x.lat, x.lon, now(), now()
       FROM (VALUES ($1, 'N2_MSAN', 'Kandy "east"', 7.29, 80.63), ($2, 'N3_MSAN', NULL, NULL, NULL),
                    ($3, 'N4_MSAN', NULL, NULL, NULL)) x(id, name, label, lat, lon)`,
    [N2, N3, N4],
  );
  await pool.query(
    `INSERT INTO device_lines (device_id, number, label, enabled)
     SELECT d, n, CASE n WHEN 1 THEN 'CEB' ELSE 'Feeder ' || n END, NOT (d = $1::uuid AND n = 7)
       FROM unnest($2::uuid[]) d, generate_series(1, 8) n WHERE d <> $3::uuid OR n <= 4`,
    [N2, [N2, N3, N4], N4],
  );
  await pool.query(
    `INSERT INTO device_state (device_id, active, connection, last_activity_at, volts, volts_at, volts_level)
     VALUES ($1, true, 'connected', now(), 241.5, now() - interval '5 seconds', 'over'),
            ($2, true, 'disconnected', now(), NULL, NULL, NULL)`,
    [N2, N4],
  );
  await pool.query(
    `INSERT INTO line_state (device_id, line, powered, since, last_ts, last_msg_id)
     SELECT $1::uuid, n, n % 3 <> 0, now() - n * interval '1 minute', now(), 'n2' || n FROM generate_series(1, 7) n
     UNION ALL SELECT $2::uuid, n, true, now() - interval '1 hour', now(), 'n4' || n FROM generate_series(1, 4) n`,
    [N2, N4],
  );
  await refreshStatusRows(pool);
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' };
  app = await buildReadSideTestApp(loadApiConfig({ ...env, STATUS_CACHE_MS: '0' }));
  computed = await buildReadSideTestApp(loadApiConfig({ ...env, STATUS_CACHE_MS: '0', STATUS_FROM: 'compute' }));
});

afterAll(async () => {
  await app?.close();
  await computed?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

interface Compact {
  cursor: string;
  base: number;
  strings: string[];
  lineSets: (number | null)[][];
  rows: CompactRow[];
  changed: CompactRow[];
  counters: Record<string, number>;
  reload?: boolean;
  reason?: string;
}

const get = async (url: string, headers: Record<string, string> = {}) => app.inject({ url, headers });
const compact = async (headers: Record<string, string> = {}, query = '') => {
  const res = await get(`/api/status/compact${query}`, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Compact;
};
/** Times as the compact form carries them: whole seconds. */
const ms = (iso: string | null) => (iso === null ? null : Math.floor(Date.parse(iso) / 1000) * 1000);
const ids = (rows: CompactRow[]) => rows.map((r) => uuidOf(r[0]));

/** The full answer's facts in the decoder's terms (times in ms to the second, open outage as a flag). */
function factsOfFull(d: Record<string, unknown>) {
  const lines = (d.lines as Record<string, unknown>[]).map((l) => {
    const { openOutage, since, ...rest } = l;
    return { ...rest, since: ms(since as string | null), ...(openOutage ? { openOutage: true } : {}) };
  });
  return {
    ...d,
    lastActivityAt: ms(d.lastActivityAt as string | null),
    inactiveSince: ms(d.inactiveSince as string | null),
    voltsAt: ms(d.voltsAt as string | null),
    lines,
  };
}

/** An event as the worker writes it: after the device's state, with its view row refreshed. */
async function emitEvent(deviceId: string | null, type = 'outage.opened'): Promise<void> {
  await refreshStatusRows(pool);
  await pool.query(
    `INSERT INTO domain_events (id, type, device_id, occurred_at, payload, seq)
     VALUES (gen_random_uuid()::text, $1, $2, now(), '{}', nextval('domain_events_seq'))`,
    [type, deviceId],
  );
}

describe('GET /api/status/compact', () => {
  it('decodes to the same facts as the full status, whole fleet and scoped, from snapshot and computation', async () => {
    for (const headers of [{}, NORTH, scoped(['South'])]) {
      const body = await compact(headers);
      const other = (await computed.inject({ url: '/api/status/compact', headers })).json() as Compact;
      expect(other.rows).toEqual(body.rows);
      expect(other.cursor).toBe(body.cursor);
      const full = (await get('/api/status', headers)).json();
      const decoded = body.rows.map((r) => decodeCompactRow(r, body));
      expect(decoded.map((d) => d.name)).toEqual(full.devices.map((d: { name: string }) => d.name));
      for (const [i, d] of decoded.entries()) {
        const { lat, lon, ...facts } = d;
        expect(facts).toEqual(factsOfFull(full.devices[i]));
      }
      expect(body.counters).toEqual(full.counters);
    }
    const n2 = decodeCompactRow(
      (await compact(NORTH)).rows.find((r) => r[0] === compactId(N2)) as CompactRow,
      await compact(),
    );
    expect(n2).toMatchObject({ id: N2, label: 'Kandy "east"', lat: 7.29, lon: 80.63, voltsLevel: 'over' });
  });

  it('a region-scoped caller gets only its region', async () => {
    const body = await compact(NORTH);
    expect(body.rows.map((r) => r[1]).sort()).toEqual(['N1_MSAN', 'N2_MSAN', 'N3_MSAN', 'N4_MSAN']);
    expect(body.strings).not.toContain('South');
  });

  it('answers 304 to a matching If-None-Match, and a new ETag once a line changes', async () => {
    const first = await get('/api/status/compact');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[0-9]+-[A-Za-z0-9_-]+"$/);
    const again = await get('/api/status/compact', { 'if-none-match': etag });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect((await get('/api/status/compact', { ...NORTH, 'if-none-match': etag })).statusCode).toBe(200);
    await pool.query('UPDATE line_state SET powered = NOT powered WHERE device_id = $1 AND line = 2', [N1]);
    await refreshStatusRows(pool);
    try {
      const changed = await get('/api/status/compact', { 'if-none-match': etag });
      expect(changed.statusCode).toBe(200);
      expect(changed.headers.etag).not.toBe(etag);
    } finally {
      await pool.query('UPDATE line_state SET powered = NOT powered WHERE device_id = $1 AND line = 2', [N1]);
      await refreshStatusRows(pool);
    }
  });
  it('sends the same answer compressed with brotli or gzip as it is, with the same headers', async () => {
    const plain = await get('/api/status/compact', { 'accept-encoding': 'identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    const br = await get('/api/status/compact', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    const gz = await get('/api/status/compact', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    // The same facts (generatedAt aside: this app rebuilds every answer, STATUS_CACHE_MS=0).
    const facts = (text: string) => ({ ...JSON.parse(text), generatedAt: 0 });
    expect(facts(brotliDecompressSync(br.rawPayload).toString())).toEqual(facts(plain.body));
    expect(facts(gunzipSync(gz.rawPayload).toString())).toEqual(facts(plain.body));
    for (const res of [plain, br, gz])
      expect(res.headers).toMatchObject({
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'private, no-cache',
        vary: 'accept-encoding',
        etag: plain.headers.etag,
      });
    const unchanged = await get('/api/status/compact', { 'if-none-match': `W/${plain.headers.etag}, "x"` });
    expect(unchanged.statusCode).toBe(304);
    expect(unchanged.headers).toMatchObject({ etag: plain.headers.etag, vary: 'accept-encoding' });
  });
});

describe('GET /api/status/compact?since=', () => {
  it('sends exactly the devices named by events after the cursor, within the scope', async () => {
    const start = await compact(NORTH);
    const startAll = await compact();
    const quiet = await compact(NORTH, `?since=${start.cursor}`);
    expect(quiet.changed).toEqual([]);
    expect(quiet.cursor).toBe(start.cursor);
    await pool.query('UPDATE device_state SET volts = 199 WHERE device_id = $1', [N2]);
    await emitEvent(N2, 'voltage.episode_opened');
    await emitEvent(S1, 'outage.opened'); // another region: never named to North
    await emitEvent(null, 'system.note');
    const delta = await compact(NORTH, `?since=${start.cursor}`);
    expect(ids(delta.changed)).toEqual([N2]);
    expect(decodeCompactRow(delta.changed[0] as CompactRow, delta).volts).toBe(199);
    expect(delta.cursor).not.toBe(start.cursor);
    expect((await compact(NORTH, `?since=${delta.cursor}`)).changed).toEqual([]);
    const all = await compact({}, `?since=${startAll.cursor}`);
    expect(ids(all.changed).sort()).toEqual([N2, S1].sort());
  });

  it('asks for a reload after registry edits, deletes, moves and scope changes', async () => {
    const north = (await compact(NORTH)).cursor;
    const south = (await compact(scoped(['South']))).cursor;
    const whole = (await compact()).cursor;
    // A cursor of one scope is not valid for another.
    expect((await compact(scoped(['South']), `?since=${north}`)).reload).toBe(true);
    // Editing a device of the South changes nothing for the North.
    await pool.query(`UPDATE devices SET label = 'moved soon' WHERE id = $1`, [S1]);
    expect((await compact(NORTH, `?since=${north}`)).changed).toEqual([]);
    expect((await compact(scoped(['South']), `?since=${south}`)).reload).toBe(true);
    // S1 moves to the North: it enters the North's view and leaves the South's.
    await pool.query(`UPDATE devices SET region = 'North' WHERE id = $1`, [S1]);
    const moved = await compact(NORTH, `?since=${north}`);
    expect(moved).toMatchObject({ reload: true });
    expect(moved.reason).toContain('reload');
    await pool.query(`UPDATE devices SET region = 'South', label = NULL WHERE id = $1`, [S1]);
    const back = (await compact(NORTH)).cursor;
    await pool.query(`UPDATE device_lines SET label = 'Mains' WHERE device_id = $1 AND number = 1`, [N4]);
    expect((await compact(NORTH, `?since=${back}`)).reload).toBe(true);
    await pool.query(`DELETE FROM devices WHERE id = $1`, [N3]);
    expect((await compact({}, `?since=${whole}`)).reload).toBe(true);
  });

  it('asks for a reload when the cursor is older than the events kept, and refuses a bad cursor', async () => {
    await emitEvent(N1);
    await emitEvent(N1);
    const now = await compact();
    const [seq, tag] = now.cursor.split('.');
    const { rows } = await pool.query<{ min: string }>('SELECT min(seq)::text AS min FROM domain_events');
    await pool.query('DELETE FROM domain_events WHERE seq < $1', [Number(seq)]);
    const old = await compact({}, `?since=${Number(rows[0]?.min) - 1}.${tag}`);
    expect(old).toMatchObject({ reload: true });
    expect(old.reason).toContain('no longer kept');
    const ahead = await compact({}, `?since=${Number(seq) + 1000}.${tag}`);
    expect(ahead.reload).toBe(true);
    const bad = await get('/api/status/compact?since=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('cursor');
  });
});
