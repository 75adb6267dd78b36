/**
 * What one statement costs, in shared buffers touched (hit or read) as EXPLAIN ANALYZE counts
 * them, for tests that check a statement's cost follows its batch, not the size of a table.
 * Run with `jit = off`, as the worker's sessions are (worker.ts). EXPLAIN ANALYZE executes
 * the statement once.
 */
import type pg from 'pg';

export async function statementBuffers(pool: pg.Pool, sql: string, params: unknown[]): Promise<number> {
  const c = await pool.connect();
  try {
    await c.query('SET jit = off');
    const plan = await c.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params);
    const top = (plan.rows[0] as { 'QUERY PLAN': { Plan: Record<string, number> }[] })['QUERY PLAN'][0]?.Plan;
    return (top?.['Shared Hit Blocks'] ?? 0) + (top?.['Shared Read Blocks'] ?? 0);
  } finally {
    c.release();
  }
}
