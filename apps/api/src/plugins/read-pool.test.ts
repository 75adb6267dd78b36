/**
 * DATABASE_READ_URL: heavy reads come from the read pool, writes go to the primary. The
 * "replica" here is a second database seeded with a known history the primary does not
 * have, so which database answered is visible in the answer itself. Both pools open
 * API_DB_POOL_MIN connections at start-up.
 */
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_FROM, DAY_TO, N1, refreshStatusRows, seedKnownHistory } from '../test-support/known-history.js';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../test-support/test-api.js';

const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
let replica: TestDatabase;
let replicaPool: Pool;
let api: TestApi;

beforeAll(async () => {
  replica = await createTestDatabase('readreplica');
  replicaPool = createPool(replica.url);
  await seedKnownHistory(replicaPool);
  await refreshStatusRows(replicaPool);
  api = await createTestApi('readpool', { DATABASE_READ_URL: replica.url, STATUS_CACHE_MS: '0' });
});

afterAll(async () => {
  await api?.close();
  await replicaPool?.end();
  await replica?.drop();
});

describe('DATABASE_READ_URL', () => {
  it('opens API_DB_POOL_MIN connections (default 2) to each database at start-up, before any request', async () => {
    const deadline = Date.now() + 10_000;
    while ((api.app.pg.totalCount < 2 || api.app.pgRead.totalCount < 2) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(api.app.pg.totalCount).toBeGreaterThanOrEqual(2);
    expect(api.app.pgRead.totalCount).toBe(2);
    const read = await replicaPool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'spms-api-read' AND datname = current_database()`,
    );
    expect(read.rows[0]?.n).toBe(2);
  });

  it('answers outage lists, exports, voltage, fleet status and reports from the read database', async () => {
    const range = `from=${encodeURIComponent(DAY_FROM)}&to=${encodeURIComponent(DAY_TO)}`;
    const outages = await api.app.inject({ url: `/api/outages?${range}`, headers: auth });
    expect(outages.statusCode).toBe(200);
    expect((outages.json() as { items: unknown[] }).items.length).toBeGreaterThan(0);

    const csv = await api.app.inject({ url: `/api/outages?${range}&format=csv`, headers: auth });
    expect(csv.statusCode).toBe(200);
    expect(csv.body).toContain('N1_MSAN');

    const status = await api.app.inject({ url: '/api/status', headers: auth });
    expect(status.statusCode).toBe(200);
    expect(status.body).toContain('N1_MSAN');

    const report = await api.app.inject({ url: `/api/reports/reliability?${range}`, headers: auth });
    expect(report.statusCode).toBe(200);
    expect(report.body).toContain(`"lines":16,`);

    // The primary has none of this: the same reads on a pool of its own come back empty.
    const primary = await api.app.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM devices');
    expect(primary.rows[0]?.n).toBe(0);
    expect(api.app.pgRead).not.toBe(api.app.pg);
    const timeline = await api.app.inject({ url: `/api/devices/${N1}/timeline?${range}`, headers: auth });
    expect(timeline.statusCode).toBe(200);
    const voltage = await api.app.inject({ url: `/api/devices/N1_MSAN/voltage?${range}`, headers: auth });
    expect(voltage.statusCode).toBe(200);
  });

  it('writes to the primary, never to the read database', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: auth,
      payload: { name: 'written-on-primary' },
    });
    expect(res.statusCode).toBe(201);
    const on = async (pool: Pool) =>
      (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM devices WHERE name = 'written-on-primary'`))
        .rows[0]?.n;
    expect(await on(api.app.pg)).toBe(1);
    expect(await on(replicaPool)).toBe(0);
  });
});
