import type pg from 'pg';

/** Anything that runs a query: the pool, or a client inside a caller's transaction. */
export type Queryable = pg.Pool | pg.PoolClient;

// Duck-typed (a pool counts its clients) so a second copy of `pg` cannot fool instanceof.
const isPool = (db: Queryable): db is pg.Pool => 'totalCount' in db;

/**
 * Thrown inside `withTransaction` to undo everything and answer `value` instead: a refusal
 * found mid-way (a name taken, a duplicate) that is a result, not an error. Inside a joined
 * transaction it undoes the caller's whole transaction too.
 */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/**
 * Runs `fn` in one transaction and returns its result: COMMIT when it resolves, ROLLBACK
 * when it throws (the error is re-thrown). Given a pool, it takes a connection for the
 * transaction (a connection that failed mid-transaction is discarded, not reused); given a
 * client, that client is already in the caller's transaction and `fn` joins it, so a
 * service can be called on its own or as part of a larger change. `throw new Rollback(v)`
 * rolls back and returns v.
 */
export async function withTransaction<T>(db: Queryable, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  if (!isPool(db)) return fn(db);
  const client = await db.connect();
  let result: T;
  try {
    await client.query('BEGIN');
    result = await fn(client);
    await client.query('COMMIT');
  } catch (err) {
    // A connection whose ROLLBACK failed is broken: discard it rather than pool it.
    const broken = await client.query('ROLLBACK').then(
      () => false,
      () => true,
    );
    client.release(broken ? (err instanceof Error ? err : true) : undefined);
    if (err instanceof Rollback) return err.value as T;
    throw err;
  }
  client.release();
  return result;
}
