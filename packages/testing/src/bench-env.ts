/**
 * What a benchmark needs around its measurement (the worker and alerts benches: `bench` from
 * @spms/testing): a database of its own on the server in BENCH_DATABASE_URL, a Redis key
 * prefix of its own on BENCH_REDIS_URL, and a cleanup that removes both. One per process.
 */
import { randomBytes } from 'node:crypto';
import { applyMigrations, migrationsDir } from '@spms/db';
import pg from 'pg';
import { deleteKeys } from './redis.js';

export const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const dbName = `spms_bench_${randomBytes(4).toString('hex')}`;
export const prefix = `spmsbench:${randomBytes(4).toString('hex')}`;
export const dbUrl = (() => {
  const u = new URL(SERVER);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

/** One statement on the server's maintenance database (CREATE/ALTER/DROP DATABASE). */
export async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: SERVER });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function migrate(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await applyMigrations(c, migrationsDir);
  } finally {
    c.release();
  }
}

/** Deletes every key of this run (queues, windows, caps…), then the database. */
export async function cleanup(): Promise<void> {
  await deleteKeys(REDIS_URL, prefix);
  await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
}
