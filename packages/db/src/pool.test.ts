/**
 * A pool that is exhausted fails a waiting query after connectionTimeoutMs instead of
 * queueing it forever, and statement_timeout ends a query that runs too long.
 */
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool } from './pool.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('db_pool');
});
afterAll(() => db?.drop());

/** Settles with the outcome, or 'pending' if it has not settled within `ms` (a bound, not a speed claim). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms).unref())]);
}

it('a query waiting for a connection of an exhausted pool fails instead of hanging', async () => {
  const pool = createPool(db.url, { max: 1, connectionTimeoutMs: 200 });
  const held = await pool.connect();
  try {
    const outcome = await within(
      pool.query('SELECT 1').then(
        () => 'answered',
        (err: Error) => err.message,
      ),
      10_000,
    );
    expect(outcome).toMatch(/timeout/i);
  } finally {
    held.release();
    await pool.end();
  }
});

it('statementTimeoutMs ends a query that runs longer', async () => {
  const pool = createPool(db.url, { max: 1, statementTimeoutMs: 100 });
  try {
    await expect(pool.query('SELECT pg_sleep(5)')).rejects.toThrow(/statement timeout/);
  } finally {
    await pool.end();
  }
});
