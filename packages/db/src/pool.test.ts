/**
 * A pool that is exhausted fails a waiting query after connectionTimeoutMs instead of
 * queueing it forever, and statement_timeout ends a query that runs too long.
 */
import { createTcpProxy, createTestDatabase, freePort, type TestDatabase } from '@spms/testing';
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

it('jit: false runs the sessions with jit = off; by default the server decides', async () => {
  const off = createPool(db.url, { max: 1, jit: false });
  const dflt = createPool(db.url, { max: 1 });
  try {
    expect((await off.query<{ jit: string }>('SHOW jit')).rows[0]?.jit).toBe('off');
    const server = await dflt.query<{ jit: string }>('SHOW jit');
    expect(server.rows[0]?.jit).toBe(
      (await dflt.query<{ s: string }>("SELECT reset_val AS s FROM pg_settings WHERE name = 'jit'")).rows[0]?.s,
    );
  } finally {
    await off.end();
    await dflt.end();
  }
});

it('a checked-out client whose connection breaks does not crash the process; the pool recovers', async () => {
  // PostgreSQL going away mid-transaction (found by tests/fault): pg emits 'error' on the
  // client itself; with no listener that was an uncaught exception that killed the worker.
  const proxy = createTcpProxy(await freePort(), { port: Number(new URL(db.url).port || 5432) });
  await proxy.open();
  const url = new URL(db.url);
  url.port = String(proxy.port);
  const pool = createPool(url.toString(), { max: 1 });
  try {
    const client = await pool.connect();
    await client.query('BEGIN');
    const ended = new Promise((r) => client.once('end', r));
    await proxy.cut();
    await ended;
    await expect(client.query('SELECT 1')).rejects.toThrow();
    client.release();
    await proxy.open();
    expect((await pool.query('SELECT 1 AS n')).rows[0].n).toBe(1);
  } finally {
    await pool.end();
    await proxy.cut();
  }
});
