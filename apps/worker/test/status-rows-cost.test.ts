/**
 * status_rows_refresh (the fleet view's snapshot) runs once in every ingest transaction, for
 * the batch's devices: its cost must follow those devices, not the size of the fleet. Measured
 * in shared buffers touched (EXPLAIN ANALYZE counts the function's own statement), before and
 * after the planner has statistics. What it writes is status-snapshot.test.ts's subject.
 */
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { statementBuffers } from './test-support/statement-cost.js';

let db: TestDatabase;
let pool: pg.Pool;
let profile: string;

/** n more devices with 8 lines each, every line reported once (line_state). */
async function addFleet(n: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH d AS (
       INSERT INTO devices (id, name, profile_id, updated_at)
       SELECT gen_random_uuid(), 'd' || gen_random_uuid(), $1, now() FROM generate_series(1, $2::int) RETURNING id),
     l AS (INSERT INTO device_lines (device_id, number, label) SELECT d.id, l, 'TP ' || l FROM d, generate_series(1, 8) l)
     INSERT INTO line_state (device_id, line, powered, since, last_ts, last_msg_id)
     SELECT d.id, l, l % 2 = 0, now(), now(), 'm1' FROM d, generate_series(1, 8) l RETURNING device_id::text AS id`,
    [profile, n],
  );
  return [...new Set(rows.map((r) => r.id))].sort();
}

/** Shared buffers one refresh of these devices touches (it runs, so it also writes their rows). */
const buffers = (ids: string[]) => statementBuffers(pool, 'SELECT status_rows_refresh($1::uuid[])', [ids]);

beforeAll(async () => {
  db = await createTestDatabase('status_rows_cost');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const p = await pool.query<{ id: string }>(
    `INSERT INTO device_profiles (id, name, updated_at) VALUES (gen_random_uuid(), 'p', now()) RETURNING id`,
  );
  profile = p.rows[0]?.id as string;
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

it('status_rows_refresh costs the same for a batch however large the fleet grows', async () => {
  const batch = (await addFleet(200)).slice(0, 20);
  await buffers(batch); // first call writes the rows; measure updates from here on
  const small = await buffers(batch);
  await addFleet(2000); // 16,000 more lines and line_state rows, none in the batch
  const large = await buffers(batch);
  await pool.query('ANALYZE device_lines; ANALYZE line_state; ANALYZE devices; ANALYZE device_state');
  const analysed = await buffers(batch);
  // Per-device look-ups: the same pages whatever the fleet (a B-tree level more at most). A
  // plan hashing all of line_state (or device_lines) for the batch grows with the fleet.
  expect(large).toBeLessThan(small * 1.3);
  expect(analysed).toBeLessThan(small * 1.3);
  // The rows it wrote are the devices' (masks from the lines: even lines powered).
  const { rows } = await pool.query(
    'SELECT lines_reported, lines_powered, lines_outage FROM device_status_rows WHERE device_id = ANY($1::uuid[])',
    [batch],
  );
  expect(rows).toHaveLength(20);
  for (const r of rows) expect(r).toEqual({ lines_reported: 255, lines_powered: 0b10101010, lines_outage: 0 });
});
