/**
 * The compact status's seq is exactly the events its rows reflect, under concurrent writers.
 * Writers do what the worker does in one transaction: take the device's advisory lock,
 * change the device's state, refresh its view row, number an event through the worker's
 * outbox (last, then COMMIT). A reader meanwhile reads the rows and the seq from the
 * snapshot (one statement), and for every device checks that the row shows the value of the
 * device's last event at or below that seq: never a later one (seq behind the rows), never
 * an earlier one (seq ahead of the rows).
 */
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertEventsAndCommit } from '../../../../worker/src/outbox.js';
import { loadSourceRows } from './status-compact-source.js';

const DEVICES = 6;
const WRITERS = 4;
const WRITES = 40;
let db: TestDatabase;
let pool: Pool;
let ids: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('status_seq');
  pool = createPool(db.url, { max: WRITERS + 2 });
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO devices (id, name, profile_id, inactivity_timeout_sec, updated_at)
     SELECT gen_random_uuid(), 'D' || i, (SELECT id FROM device_profiles WHERE is_default LIMIT 1), 86400, now()
       FROM generate_series(1, $1) i RETURNING id::text`,
    [DEVICES],
  );
  ids = rows.map((r) => r.id);
  await pool.query(
    `INSERT INTO device_state (device_id, active, connection, last_activity_at, volts, volts_at, volts_level)
     SELECT id, true, 'connected', now(), 0, now(), 'normal' FROM devices`,
  );
  await pool.query('SELECT status_rows_refresh(ARRAY(SELECT id FROM devices))');
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** One worker-like transaction: device `id` gets volts `v`, and an event saying so. */
async function write(id: string, v: number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [id]);
    await client.query('UPDATE device_state SET volts = $2 WHERE device_id = $1', [id, v]);
    await client.query('SELECT status_rows_refresh($1::uuid[])', [[id]]);
    await insertEventsAndCommit(client, [
      { id: `t/${id}/${v}`, type: 'voltage.episode_opened', deviceId: id, occurredAt: Date.now(), payload: { v } },
    ]);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

describe('compact status seq under concurrent writers', () => {
  it('is never ahead of nor behind the rows read with it', async () => {
    let done = false;
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let k = 1; k <= WRITES; k++) await write(ids[(w + k) % DEVICES] as string, w * 1000 + k);
    });
    const all = Promise.all(writers).finally(() => {
      done = true;
    });
    let reads = 0;
    let checked = 0;
    while (!done || reads === 0) {
      const { rows, seq } = await loadSourceRows(pool, null, 'snapshot');
      reads += 1;
      const { rows: last } = await pool.query<{ device_id: string; v: number }>(
        `SELECT DISTINCT ON (device_id) device_id::text, (payload->>'v')::int AS v
           FROM domain_events WHERE seq <= $1 ORDER BY device_id, seq DESC`,
        [seq],
      );
      const expected = new Map(last.map((r) => [r.device_id, r.v]));
      for (const row of rows) {
        const id = ids.find((x) => Buffer.from(x.replaceAll('-', ''), 'hex').toString('base64url') === row.id);
        expect(id).toBeDefined();
        expect([id, row.volts]).toEqual([id, expected.get(id as string) ?? 0]);
        checked += 1;
      }
    }
    await all;
    expect(reads).toBeGreaterThan(1);
    expect(checked).toBeGreaterThan(DEVICES);
  });
});
