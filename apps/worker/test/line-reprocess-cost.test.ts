/**
 * The late-path look-ups of line-reprocess.ts run for every batch that brings a session break
 * (every batch of a grid-restore storm): their cost must follow the batch's devices, not the
 * size of line_events or line_state. Measured in shared buffers touched (EXPLAIN ANALYZE), on
 * a fleet with history, before and after the planner has statistics. Also what they return.
 */
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOAD_BROKEN, LOAD_FILLED } from '../src/persist/line-reprocess.js';
import { statementBuffers } from './test-support/statement-cost.js';

const BATCH = 150; // devices in one batch with a session break (a storm's batches hold 100-500)
const REPORTS = 25; // per line
const T0 = Date.UTC(2026, 0, 1);

let db: TestDatabase;
let pool: pg.Pool;
let profile: string;
let ids: string[] = [];

/** n more devices, each with REPORTS reports per line and its line_state; returns their ids. */
async function addFleet(n: number): Promise<string[]> {
  const devices = await pool.query<{ id: string }>(
    `INSERT INTO devices (id, name, profile_id, updated_at)
     SELECT gen_random_uuid(), 'd' || gen_random_uuid(), $1, now() FROM generate_series(1, $2::int) RETURNING id`,
    [profile, n],
  );
  const added = devices.rows.map((r) => r.id).sort();
  // Report k of each line, k minutes after T0, received at once; receive-time ('mqtt') except
  // the very first device's, which stamps its reports ('mqtt+ts').
  const stamping = ids[0] ?? added[0];
  await pool.query(
    `INSERT INTO line_events (device_id, line, ts, powered, source, msg_id, received_at)
     SELECT d, l, to_timestamp(($2::float8 + k * 60000) / 1000.0), true,
            CASE WHEN d = $3::uuid THEN 'mqtt+ts' ELSE 'mqtt' END, 'm' || k, to_timestamp(($2::float8 + k * 60000) / 1000.0)
       FROM unnest($1::uuid[]) d, generate_series(1, 8) l, generate_series(1, $4::int) k`,
    [added, T0, stamping, REPORTS],
  );
  await pool.query(
    `INSERT INTO line_state (device_id, line, powered, since, last_ts, last_msg_id)
     SELECT device_id, line, true, min(ts), max(ts), 'm' || $2::int FROM line_events
      WHERE device_id = ANY($1::uuid[]) GROUP BY device_id, line`,
    [added, REPORTS],
  );
  return added;
}

beforeAll(async () => {
  db = await createTestDatabase('reprocess_cost');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const p = await pool.query<{ id: string }>(
    `INSERT INTO device_profiles (id, name, updated_at) VALUES (gen_random_uuid(), 'p', now()) RETURNING id`,
  );
  profile = p.rows[0]?.id as string;
  ids = await addFleet(BATCH + 50);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** Shared buffers the statement touched, and its rows. */
const run = async (sql: string, params: unknown[]) => ({
  buffers: await statementBuffers(pool, sql, params),
  rows: (await pool.query(sql, params)).rows as unknown[],
});

describe('late-path look-ups (line-reprocess.ts)', () => {
  it('cost the same for a batch however large the fleet and its history grow', async () => {
    // A batch of BATCH devices (not the stamping one); a break / readings before their last report.
    const batch = ids.slice(1, BATCH + 1);
    const at = batch.map(() => T0 + 10 * 60000);
    const buffers = async () => {
      const broken = await run(LOAD_BROKEN, [batch, at]);
      const filled = await run(LOAD_FILLED, [batch, at]);
      expect(broken.rows).toEqual([]); // their reports are not stamped
      expect(filled.rows).toEqual([]);
      return { broken: broken.buffers, filled: filled.buffers };
    };
    const small = await buffers();
    await addFleet(1500); // the table grows 8×, none of it in the batch
    const large = await buffers();
    await pool.query('ANALYZE line_events; ANALYZE line_state');
    const analysed = await buffers();
    // Per-device primary-key look-ups: the same pages whatever the table's size (a B-tree
    // level more at most). A plan scanning line_events or line_state grows with it.
    for (const b of [large, analysed]) {
      expect(b.broken).toBeLessThan(small.broken * 1.3);
      expect(b.filled).toBeLessThan(small.filled * 1.3);
    }
  });

  it('find the stamped lines processed past a break or past late readings', async () => {
    const at = T0 + 10 * 60000; // between report 9 and report 10
    const broken = await run(LOAD_BROKEN, [[ids[0]], [at]]);
    // Every line of the stamping device, from its first report received after the break.
    expect(broken.rows).toHaveLength(8);
    expect(broken.rows).toContainEqual({
      device_id: ids[0],
      line: 3,
      ts: T0 + 11 * 60000,
      msg_id: 'm11',
      powered: true,
    });
    const filled = await run(LOAD_FILLED, [
      [ids[0], ids[1]],
      [at, at],
    ]);
    expect(
      (filled.rows as { device_id: string; line: number }[]).map((r) => `${r.device_id}/${r.line}`).sort(),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((l) => `${ids[0]}/${l}`));
    // Nothing newer than the last report: nothing to recompute.
    const none = await run(LOAD_FILLED, [[ids[0]], [T0 + REPORTS * 60000 + 1]]);
    expect(none.rows).toEqual([]);
  });
});
