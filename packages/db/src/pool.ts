import pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  /**
   * How long a query waits for a connection (pool exhausted, or PostgreSQL slow to accept)
   * before failing (default 10 s; 0 waits forever). Without it a flood of requests queues
   * without bound and every caller hangs; with it they fail and answer 503.
   */
  connectionTimeoutMs?: number;
  /** PostgreSQL statement_timeout for this pool's sessions (default: none). */
  statementTimeoutMs?: number;
  /**
   * How long the client waits for a query's answer before failing it and dropping the
   * connection (default: none). statement_timeout ends a slow statement on the server; this
   * also ends a wait for an answer lost on the way (a dead connection the server never
   * reset). TCP keep-alive is on for every pool.
   */
  queryTimeoutMs?: number;
  /**
   * false: the sessions run with `jit = off` (a startup parameter: no round trip). For
   * pools of short statements over a few hundred rows, whose estimates can still pass
   * jit_above_cost (tables not yet analysed, array parameters): compiling then costs
   * 100-250 ms of CPU for a statement that runs in a few. Default: the server's setting.
   */
  jit?: boolean;
  /**
   * true: the sessions run with `plan_cache_mode = force_generic_plan` (a startup parameter),
   * so a named statement is planned once per connection instead of at every execution. It
   * applies to every parameterised statement of the pool, unnamed ones too (planned per
   * execution still, but without the values): only for pools whose statements are all keyed
   * look-ups whose best plan does not depend on the values. With an array parameter
   * PostgreSQL otherwise re-plans a three-table join on every call (half of a ~0.3 ms
   * look-up here).
   */
  genericPlans?: boolean;
  /**
   * true: a parameterised statement given as text (`query(text, values)`) is sent as a named
   * (prepared) statement from its second use on, so each connection parses it once and
   * PostgreSQL can keep its plan (it switches to the generic plan after five executions when
   * that plan costs no more, as for look-ups by key). For pools of many short statements,
   * where planning costs more than running them (the alerts: ~0.1 ms to plan, ~0.01-0.05 to
   * run). At most PREPARED_PER_POOL texts are prepared; the rest run as before.
   */
  prepareRepeated?: boolean;
  /**
   * Connections kept open while idle (default 0). Above it, a connection idle for
   * idleTimeoutMs is closed, and the next burst of concurrent queries opens it again: a
   * PostgreSQL backend started and its catalog caches filled, paid by the query that waits
   * for it. openConnections() opens them ahead of the first query.
   */
  min?: number;
  /** How long a connection above `min` may stay idle before it is closed (default 10 s). */
  idleTimeoutMs?: number;
}

/** A pg pool for the time-series tables (the design card: "TimescaleDB via pg"). */
export function createPool(databaseUrl: string, opts: PoolOptions = {}): pg.Pool {
  const target = connection(databaseUrl, opts);
  const pool = new pg.Pool({
    max: opts.max ?? 10,
    min: opts.min ?? 0,
    idleTimeoutMillis: opts.idleTimeoutMs ?? 10_000,
    application_name: opts.applicationName ?? 'spms',
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
    ...(opts.queryTimeoutMs ? { query_timeout: opts.queryTimeoutMs } : {}),
    keepAlive: true,
    // After the pool's own settings, as pg merges a connection string's (its application_name wins).
    ...target,
    ...(opts.prepareRepeated ? { Client: preparingClient() } : {}),
  });
  // An idle client losing its connection (server restart) must not crash the process;
  // the pool replaces it and the next query reports the error to its caller.
  pool.on('error', () => {});
  // Nor a checked-out one (a transaction in progress, pool.connect()): pg emits 'error' on
  // the client itself as well as failing its queries, and the pool listens only while the
  // client is idle. Its caller sees the failed query and releases it; the pool drops it.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Distinct statement texts a pool prepares (each connection keeps them while it lives). */
export const PREPARED_PER_POOL = 200;

/**
 * A pg Client class whose `query(text, values)` names a text it has seen before (pg then
 * parses it once per connection). One registry per pool: names are given in order of second
 * use, up to PREPARED_PER_POOL; a text built with changing parts stops being named there.
 */
function preparingClient(): typeof pg.Client {
  /** Per text: its name, null once seen, RETIRED when a schema change broke its statement. */
  const seen = new Map<string, string | null>();
  let named = 0;
  const nameFor = (text: string): string | undefined => {
    const name = seen.get(text);
    if (name) return name === RETIRED ? undefined : name;
    if (name === undefined) {
      if (seen.size < PREPARED_PER_POOL * 4) seen.set(text, null);
      return undefined;
    }
    if (named >= PREPARED_PER_POOL) return undefined;
    const given = `spms-prepared-${++named}`;
    seen.set(text, given);
    return given;
  };
  return class PreparingClient extends pg.Client {
    // biome-ignore lint/suspicious/noExplicitAny: pg's query() overloads, passed through as they are.
    override query(config: any, values?: any, callback?: any): any {
      // Without values pg uses the simple protocol (a text may hold several statements): kept.
      if (typeof config === 'string' && Array.isArray(values) && values.length > 0) {
        const name = nameFor(config);
        if (name) {
          const q = { name, text: config, values };
          const failed = (err: unknown) => this.preparedFailed(config, name, err);
          if (typeof callback === 'function')
            return super.query(q, (err: Error | null, res: unknown) => {
              if (err) failed(err);
              callback(err, res);
            });
          return (super.query(q) as Promise<unknown>).catch((err: unknown) => {
            failed(err);
            throw err;
          });
        }
      }
      return super.query(config, values, callback);
    }

    private preparedFailed(text: string, name: string, err: unknown): void {
      const code = (err as { code?: string } | null)?.code;
      // A migration that changed what a prepared SELECT returns: PostgreSQL refuses that
      // statement on every connection that prepared it ("cached plan must not change result
      // type", feature_not_supported); the call fails once, and the text runs unprepared.
      if (code === '0A000') seen.set(text, RETIRED);
      // pg could not encode a value and closed the statement, but still counts it as parsed
      // on this connection: forget it here, so the next call prepares it again.
      if (code === '26000') {
        const parsed = (this as unknown as { connection?: { parsedStatements?: Record<string, string> } }).connection
          ?.parsedStatements;
        if (parsed) delete parsed[name];
      }
    }
  } as typeof pg.Client;
}
const RETIRED = '\u0000retired';

/**
 * Where to connect, with the pool's startup settings (sent in the startup packet: no round
 * trip). pg takes an `options` parameter of the URL over the pool's own, and PGOPTIONS only
 * when there is neither; so the URL is parsed here with pg's own parser and the startup
 * options are sent as the pool's followed by the URL's (or else PGOPTIONS): both apply, and
 * the operator's win where both set the same.
 */
function connection(databaseUrl: string, opts: PoolOptions): pg.PoolConfig {
  const ours = [
    ...(opts.jit === false ? ['-c jit=off'] : []),
    ...(opts.genericPlans ? ['-c plan_cache_mode=force_generic_plan'] : []),
  ];
  if (ours.length === 0) return { connectionString: databaseUrl };
  const { options: fromUrl, ...parsed } = parseConnectionString(databaseUrl);
  const theirs = fromUrl ?? process.env.PGOPTIONS;
  return { ...(parsed as pg.PoolConfig), options: [...ours, ...(theirs ? [theirs] : [])].join(' ') };
}

/**
 * Opens up to `n` connections at once (fewer if the pool's max is lower) and returns them to
 * the pool idle: with `min` ≥ n they stay open, so the first concurrent queries do not each
 * wait for a new PostgreSQL backend. Rejects with the first connection error.
 */
export async function openConnections(pool: pg.Pool, n: number): Promise<void> {
  // More than max would wait for a connection held here until the pool's connect timeout.
  const count = Math.min(n, pool.options.max ?? n);
  const opened = await Promise.allSettled(Array.from({ length: count }, () => pool.connect()));
  for (const o of opened) if (o.status === 'fulfilled') o.value.release();
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
}
