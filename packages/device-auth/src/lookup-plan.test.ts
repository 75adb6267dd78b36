/**
 * The credentials look-up is planned once per connection (a generic plan, the auth pool's
 * genericPlans): that one plan must probe indexes whatever the statistics, including on a
 * fleet just imported into tables PostgreSQL has not analysed yet.
 */
import { createPool } from '@spms/db';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LOOKUP_SQL } from './authenticator.js';

let db: TestDatabase;
const FLEET = 3000;

beforeAll(async () => {
  db = await createTestDatabase('lookup_plan');
  const pool = createPool(db.url, { max: 1 });
  try {
    await pool.query(
      `WITH d AS (
         INSERT INTO devices (id, name, profile_id, updated_at)
         SELECT gen_random_uuid(), 'dev-' || i, (SELECT id FROM device_profiles LIMIT 1), now()
           FROM generate_series(1, $1::int) i RETURNING id, name)
       INSERT INTO device_credentials (device_id, type, credentials_id, updated_at)
       SELECT id, 'ACCESS_TOKEN', 'key-' || substr(name, 5), now() FROM d`,
      [FLEET],
    );
  } finally {
    await pool.end();
  }
});
afterAll(() => db?.drop());

async function genericPlan(analysed: boolean): Promise<string> {
  const pool = createPool(db.url, { max: 1, genericPlans: true });
  try {
    if (analysed) await pool.query('ANALYZE devices; ANALYZE device_credentials; ANALYZE device_profiles');
    await pool.query(`PREPARE lookup(text[]) AS ${LOOKUP_SQL}`);
    const plan = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE lookup('{key-1,key-2}')`);
    return plan.rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await pool.end();
  }
}

it('before the tables are analysed: index probes per key, never a scan of every device', async () => {
  const pool = createPool(db.url, { max: 1 });
  const stats = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'devices'`);
  await pool.end();
  // The case under test: no statistics yet (autovacuum has not run; it is off on our CI machine).
  if (stats.rows[0]?.n !== 0) console.warn('devices already has statistics: the unanalysed case is not exercised');
  const plan = await genericPlan(false);
  expect(plan).not.toMatch(/Seq Scan on (devices|device_credentials)/);
  expect(plan).toMatch(/Index Scan using device_credentials_credentials_id_key/);
  expect(plan).toMatch(/Index Scan using devices_pkey/);
});

it('after ANALYZE: the same shape', async () => {
  const plan = await genericPlan(true);
  expect(plan).not.toMatch(/Seq Scan on (devices|device_credentials)/);
  expect(plan).toMatch(/Index Scan using devices_pkey/);
});

it('answers a row for each key found and none for unknown keys, with a generic plan', async () => {
  const pool = createPool(db.url, { max: 1, genericPlans: true });
  try {
    for (let i = 0; i < 7; i++) {
      // Past PostgreSQL's five custom plans: the generic plan answers from the sixth on.
      const res = await pool.query<{ credentials_id: string; device_name: string; transport: string }>({
        name: 'lookup',
        text: LOOKUP_SQL,
        values: [['key-7', 'nope', 'key-2999', 'key-7'].slice(0, i % 2 ? 4 : 3)],
      });
      const found = new Map(res.rows.map((r) => [r.credentials_id, r]));
      expect([...new Set(res.rows.map((r) => r.credentials_id))].sort()).toEqual(['key-2999', 'key-7']);
      expect(found.get('key-7')).toMatchObject({ device_name: 'dev-7', transport: expect.any(String) });
    }
  } finally {
    await pool.end();
  }
});
