/**
 * The smallest query interface the migration and TimescaleDB setup need. A pg Client or
 * Pool satisfies it, and so does PGlite (used to test the TimescaleDB path in-process).
 */
export interface SqlExecutor {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Runs a multi-statement script (pg: simple query protocol; PGlite: exec). */
  exec?(sql: string): Promise<unknown>;
}

export async function runScript(db: SqlExecutor, sql: string): Promise<void> {
  if (db.exec) await db.exec(sql);
  else await db.query(sql);
}
