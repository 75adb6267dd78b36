/**
 * The outage day rollups as the worker relies on them: the touched device-line-days marked
 * dirty by the triggers inside the writer's transaction (gone with a rollback) and recomputed
 * by the refresher (migration 20261203001000), which never takes the mark of a writer still
 * in flight; rebuilt in SPMS_TIME_ZONE's days when the zone
 * changed (an outage crossing London's midnight splits differently than Colombo's), and
 * consistent under concurrent writers of one device (the per-device lock: what two
 * interleaved transactions leave equals a rebuild from the raw rows).
 */
import { createPool, type Pool, withTransaction } from '@spms/db';
import { createLogger } from '@spms/log';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRollupZone, startRollupRefresher } from './rollups.js';

const logger = createLogger({ name: 'rollups-test', level: 'silent' });
const DEV = '00000000-0000-4000-8000-0000000000d1';
let db: TestDatabase;
let pool: Pool;

const rows = async () =>
  (
    await pool.query(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, to_char(start_day, 'YYYY-MM-DD') AS start_day, line, planned, class,
              started, open, closed, known_ms::float8 AS known_ms, longest_ms::float8 AS longest_ms
         FROM outage_day_rollups ORDER BY device_id, line, day, start_day, planned, class`,
    )
  ).rows;

const dirty = async () => (await pool.query('SELECT count(*)::int AS n FROM outage_rollup_dirty')).rows[0].n;

/** The refresher's rounds until nothing is dirty. */
const refresh = async () => {
  const r = startRollupRefresher({ pool, logger, intervalMs: 3_600_000 });
  try {
    while ((await r.runOnce()) > 0);
  } finally {
    await r.close();
  }
};

const outage = (line: number, from: string, to: string | null, msg: string) =>
  pool.query(
    `INSERT INTO outages (device_id, line, started_at, ended_at, duration_ms, class, start_msg_id)
     VALUES ($1, $2, $3::timestamptz, $4::timestamptz,
             (extract(epoch FROM $4::timestamptz - $3::timestamptz) * 1000)::bigint, $5, $6)`,
    [DEV, line, from, to, to === null ? 'pending' : 'sustained', msg],
  );

beforeAll(async () => {
  db = await createTestDatabase('worker-rollups');
  pool = createPool(db.url, { max: 4 });
  const profile = '00000000-0000-4000-8000-0000000000f1';
  await pool.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'rollups', now())`, [profile]);
  await pool.query(
    `INSERT INTO devices (id, name, region, profile_id, created_at, updated_at) VALUES ($1, 'D', 'North', $2, '2026-01-01', now())`,
    [DEV, profile],
  );
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('outage day rollups', () => {
  it('are marked dirty in the outage writer’s transaction (rolled back with it) and recomputed by the refresher', async () => {
    await expect(
      withTransaction(pool, async (tx) => {
        await tx.query(
          `INSERT INTO outages (device_id, line, started_at, ended_at, duration_ms, class, start_msg_id)
           VALUES ($1, 1, '2026-06-01T10:00Z', '2026-06-01T10:30Z', 1800000, 'sustained', 'tx')`,
          [DEV],
        );
        const inside = await tx.query('SELECT count(*)::int AS n FROM outage_rollup_dirty');
        expect(inside.rows[0].n).toBe(1);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await dirty()).toBe(0);
    await outage(1, '2026-06-01T10:00Z', '2026-06-01T10:30Z', 'kept');
    expect(await rows()).toEqual([]);
    expect(await dirty()).toBe(1);
    await refresh();
    expect(await dirty()).toBe(0);
    expect((await rows()).map((r) => [r.day, r.line, r.known_ms])).toEqual([['2026-06-01', 1, 1_800_000]]);
    await pool.query(`DELETE FROM outages WHERE start_msg_id = 'kept'`);
    await refresh();
    expect(await rows()).toEqual([]);
  });

  it('keep the mark of a writer still in flight until it commits', async () => {
    await outage(4, '2026-08-01T10:00Z', null, 'flight');
    await refresh();
    const w = await pool.connect();
    try {
      await w.query('BEGIN');
      // the same line-day as the committed open outage's mark: closed by a writer not yet committed
      await outage(4, '2026-08-01T12:00Z', null, 'other'); // a committed mark of the same key meanwhile
      await w.query(
        `UPDATE outages SET ended_at = '2026-08-01T11:00Z', duration_ms = 3600000, class = 'sustained'
          WHERE device_id = $1 AND start_msg_id = 'flight'`,
        [DEV],
      );
      await refresh(); // takes the committed mark only
      expect(await dirty()).toBe(0); // the in-flight row is not visible yet…
      await w.query('COMMIT');
    } finally {
      w.release();
    }
    expect(await dirty()).toBe(1); // …and is there once it commits
    const before = await rows();
    expect(before.filter((r) => r.line === 4).map((r) => [r.open, r.closed])).toEqual([[2, 0]]);
    await refresh();
    const kept = await rows();
    await pool.query(`SELECT outage_rollups_rebuild('Asia/Colombo')`);
    expect(kept).toEqual(await rows());
    // the other one still open (pending), the closed one now sustained
    expect(kept.filter((r) => r.line === 4).map((r) => [r.class, r.open, r.closed])).toEqual([
      ['pending', 1, 0],
      ['sustained', 0, 1],
    ]);
    await pool.query('DELETE FROM outages WHERE line = 4');
    await refresh();
    expect(await rows()).toEqual([]);
  });

  it('mark the outages an offline period overlaps, so its split is recomputed by the refresher (migration 20261203001100)', async () => {
    // 20:00Z on 1 Sep to 20:00Z on 2 Sep: in Colombo 01:30 on 2 Sep to 01:30 on 3 Sep.
    await outage(5, '2026-09-01T20:00Z', '2026-09-02T20:00Z', 'split');
    await refresh();
    const days = async () =>
      (await rows()).filter((r) => r.line === 5).map((r) => [r.day, r.known_ms] as [string, number]);
    expect(await days()).toEqual([
      ['2026-09-02', 22.5 * 3_600_000],
      ['2026-09-03', 1.5 * 3_600_000],
    ]);
    // The device was offline 02:30-04:30 Colombo time on 2 Sep: two hours less known there.
    await pool.query(
      `INSERT INTO device_offline_periods (device_id, started_at, ended_at) VALUES ($1, '2026-09-01T21:00Z', '2026-09-01T23:00Z')`,
      [DEV],
    );
    expect(await dirty()).toBe(1); // marked in the period writer's transaction, nothing recomputed yet
    await refresh();
    const kept = await rows();
    await pool.query(`SELECT outage_rollups_rebuild('Asia/Colombo')`);
    expect(kept).toEqual(await rows());
    expect(await days()).toEqual([
      ['2026-09-02', 20.5 * 3_600_000],
      ['2026-09-03', 3.5 * 3_600_000],
    ]);
    // Removing the period marks the outage again and restores the first split.
    await pool.query('DELETE FROM device_offline_periods WHERE device_id = $1', [DEV]);
    expect(await dirty()).toBe(1);
    await refresh();
    expect(await days()).toEqual([
      ['2026-09-02', 22.5 * 3_600_000],
      ['2026-09-03', 1.5 * 3_600_000],
    ]);
    await pool.query('DELETE FROM outages WHERE line = 5');
    await refresh();
  });

  it('are rebuilt in the days of a new SPMS_TIME_ZONE', async () => {
    // 22:00Z on 1 June to 02:00Z on 2 June: in Colombo (+05:30) all on 2 June; in London
    // (BST, +01:00) 23:00-00:00 on 1 June and 00:00-03:00 on 2 June.
    await outage(2, '2026-06-01T22:00Z', '2026-06-02T02:00Z', 'x');
    await refresh();
    expect((await rows()).map((r) => [r.day, r.known_ms])).toEqual([['2026-06-02', 4 * 3_600_000]]);
    await ensureRollupZone(pool, 'Europe/London', logger);
    expect((await rows()).map((r) => [r.day, r.start_day, r.known_ms, r.longest_ms])).toEqual([
      ['2026-06-01', '2026-06-01', 3_600_000, null],
      ['2026-06-02', '2026-06-01', 3 * 3_600_000, 4 * 3_600_000],
    ]);
    // unchanged zone: nothing rebuilt
    await ensureRollupZone(pool, 'Europe/London', logger);
    const zone = await pool.query('SELECT time_zone FROM outage_rollup_settings');
    expect(zone.rows).toEqual([{ time_zone: 'Europe/London' }]);
    await ensureRollupZone(pool, 'Asia/Colombo', logger);
    expect((await rows()).map((r) => r.day)).toEqual(['2026-06-02']);
  });

  it('stay equal to a rebuild when two transactions change one device at once', async () => {
    await outage(3, '2026-07-01T10:00Z', null, 'open');
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      // a closes the open outage; b adds a planned window over it and a new outage of the same line-day
      await a.query(
        `UPDATE outages SET ended_at = '2026-07-02T01:00Z', duration_ms = 54000000, class = 'sustained'
          WHERE device_id = $1 AND start_msg_id = 'open'`,
        [DEV],
      );
      const bDone = (async () => {
        await b.query(
          `INSERT INTO planned_interruptions (id, device_id, starts_at, ends_at, reason, created_by)
           VALUES (gen_random_uuid(), $1, '2026-07-01T09:00Z', '2026-07-01T11:00Z', 'works', 'test')`,
          [DEV],
        );
        await b.query(
          `INSERT INTO outages (device_id, line, started_at, ended_at, duration_ms, class, start_msg_id)
           VALUES ($1, 3, '2026-07-02T05:00Z', '2026-07-02T05:02Z', 120000, 'momentary', 'later')`,
          [DEV],
        );
        await b.query('COMMIT');
      })();
      await new Promise((r) => setTimeout(r, 50)); // b's writes interleave with a's (its planned-window refresh may wait on a's device lock)
      await a.query('COMMIT');
      await bDone;
    } finally {
      a.release();
      b.release();
    }
    await refresh();
    const kept = await rows();
    await pool.query(`SELECT outage_rollups_rebuild('Asia/Colombo')`);
    expect(kept).toEqual(await rows());
    expect(kept.filter((r) => r.line === 3).map((r) => [r.day, r.start_day, r.planned, r.class, r.known_ms])).toEqual([
      ['2026-07-01', '2026-07-01', true, 'sustained', 30_600_000], // 15:30-24:00 Colombo time
      ['2026-07-02', '2026-07-01', true, 'sustained', 23_400_000], // the rest of its 15 h
      ['2026-07-02', '2026-07-02', false, 'momentary', 120_000],
    ]);
  });

  it('drain a backlog in rounds that follow each other without waiting the interval', async () => {
    // 20 marks (one per writing statement), one per round: at one round per interval they
    // would take 20 × 3 s; full rounds are followed after a pause as long as the round took.
    for (let d = 1; d <= 20; d++) {
      const day = `2026-09-${String(d).padStart(2, '0')}`;
      await outage(5, `${day}T10:00Z`, `${day}T10:05Z`, `backlog-${d}`);
    }
    expect(await dirty()).toBe(20);
    const r = startRollupRefresher({ pool, logger, intervalMs: 3_000, limit: 1 });
    try {
      await expect.poll(dirty, { timeout: 20_000, interval: 100 }).toBe(0);
    } finally {
      await r.close();
    }
    expect((await rows()).filter((x) => x.line === 5 && x.day.startsWith('2026-09-'))).toHaveLength(20);
    await pool.query(`DELETE FROM outages WHERE start_msg_id LIKE 'backlog-%'`);
    await refresh();
  });

  it('are kept by functions that run without JIT, whatever the connection’s setting (migration 20261204000100)', async () => {
    // Their cached generic plans cost more than jit_above_cost: with JIT on, every execution
    // compiled ~90 functions (~45 ms) for ~1 ms of work. A new function of the family must
    // carry the setting too: every function that keeps the rollups, the line masks or the
    // status snapshot is found here by name (but the two small SQL helpers the planner
    // inlines, which a SET clause would stop).
    const { rows } = await pool.query<{ name: string; config: string[] | null }>(
      `SELECT p.proname AS name, p.proconfig AS config
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema()
          AND (p.proname LIKE 'outage%rollup%' OR p.proname LIKE 'status_rows%' OR p.proname LIKE 'device_line_masks%')
          AND p.proname NOT IN ('outage_rollup_end_day', 'outage_rollup_zone')
        ORDER BY 1`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(17);
    expect(rows.filter((r) => !(r.config ?? []).includes('jit=off')).map((r) => r.name)).toEqual([]);
  });
});
