import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** A pg pool for the time-series tables (the design card: "TimescaleDB via pg"). */
export function createPool(databaseUrl: string, opts: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'spms',
  });
  // An idle client losing its connection (server restart) must not crash the process;
  // the pool replaces it and the next query reports the error to its caller.
  pool.on('error', () => {});
  return pool;
}
