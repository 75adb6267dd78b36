/**
 * The outbox numbers events in commit order: a reader that resumes with "seq > last seen"
 * between two concurrent transactions gets both, even when the one that started (and
 * changed data) first commits last.
 */
import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '@spms/contracts';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertEventsAndCommit } from '../src/outbox.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('outbox-order');
  pool = new pg.Pool({ connectionString: db.url, max: 6 });
  pool.on('error', () => {});
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const event = (id: string): DomainEvent => ({
  id,
  type: 'outage.opened',
  deviceId: randomUUID(),
  occurredAt: Date.now(),
  payload: { line: 1 },
});

/** What a resuming client reads: every committed event after its cursor, in seq order. */
async function readAfter(cursor: number): Promise<{ id: string; seq: number }[]> {
  const { rows } = await pool.query<{ id: string; seq: string }>(
    'SELECT id, seq::text FROM domain_events WHERE seq > $1 ORDER BY seq',
    [cursor],
  );
  return rows.map((r) => ({ id: r.id, seq: Number(r.seq) }));
}

/** Holders (granted) or waiters of the commit-order lock in this test's database. */
async function orderLocks(granted: boolean): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
      WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid = 1936748915 AND objid = 1702260340 AND objsubid = 2 AND granted = $1`,
    [granted],
  );
  return rows[0]?.n ?? 0;
}

/** Polls `fn` until it returns true (bounded). */
async function until(fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const started = Date.now();
  while (!(await fn())) {
    if (Date.now() - started > ms) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('insertEventsAndCommit', () => {
  it('a client resuming between two transactions gets both when the first to start commits last', async () => {
    const first = await pool.connect();
    const second = await pool.connect();
    try {
      // `first` starts and changes data first (its created_at, the old resume order, is earlier)…
      await first.query('BEGIN');
      await first.query('SELECT pg_sleep(0.01)');
      await second.query('BEGIN');
      // …but `second` commits first.
      const [b] = await insertEventsAndCommit(second, [event('order/b')]);
      const seen = await readAfter(0);
      expect(seen.map((e) => e.id)).toEqual(['order/b']);
      const cursor = seen[0]?.seq as number;
      expect(b?.seq).toBe(cursor);
      const [a] = await insertEventsAndCommit(first, [event('order/a')]);
      expect(a?.seq).toBeGreaterThan(cursor);
      // Resuming from the cursor misses nothing.
      expect((await readAfter(cursor)).map((e) => e.id)).toEqual(['order/a']);
      const created = await pool.query<{ id: string }>(
        `SELECT id FROM domain_events WHERE id LIKE 'order/%' ORDER BY created_at, id`,
      );
      // created order (the old cursor) disagrees with commit order: it would have skipped 'order/a'.
      expect(created.rows.map((r) => r.id)).toEqual(['order/a', 'order/b']);
    } finally {
      first.release();
      second.release();
    }
  });

  it('a writer numbering events waits for the lock holder to commit, so its seq is larger and visible later', async () => {
    const holder = await pool.connect();
    const waiter = await pool.connect();
    let releaseCommit = () => {};
    const commitGate = new Promise<void>((r) => {
      releaseCommit = r;
    });
    // The holder has numbered its event but not yet committed (COMMIT delayed by the test).
    const delayed = {
      query: async (sql: string, params?: unknown[]) => {
        if (sql === 'COMMIT') await commitGate;
        return holder.query(sql, params);
      },
    } as unknown as pg.PoolClient;
    try {
      const before = (await readAfter(0)).length;
      await holder.query('BEGIN');
      const held = insertEventsAndCommit(delayed, [event('lock/x')]);
      await until(async () => (await orderLocks(true)) === 1);
      await waiter.query('BEGIN');
      const waiting = insertEventsAndCommit(waiter, [event('lock/y')]);
      // The second writer queues on the lock; nothing of either is visible yet.
      await until(async () => (await orderLocks(false)) === 1);
      expect((await readAfter(0)).length).toBe(before);
      releaseCommit();
      const [[x], [y]] = await Promise.all([held, waiting]);
      expect((y?.seq as number) > (x?.seq as number)).toBe(true);
      const all = await readAfter(0);
      expect(all.slice(-2).map((e) => e.id)).toEqual(['lock/x', 'lock/y']);
    } finally {
      releaseCommit();
      holder.release();
      waiter.release();
    }
  });

  it('stores a repeated event once and spends no number on it', async () => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const [first] = await insertEventsAndCommit(c, [event('dup/1'), event('dup/1')]);
      await c.query('BEGIN');
      const again = await insertEventsAndCommit(c, [event('dup/1'), event('dup/2')]);
      expect(again.map((e) => e.id)).toEqual(['dup/2']);
      expect(again[0]?.seq).toBe((first?.seq as number) + 1);
    } finally {
      c.release();
    }
  });
});
