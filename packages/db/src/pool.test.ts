/**
 * A pool that is exhausted fails a waiting query after connectionTimeoutMs instead of
 * queueing it forever, statement_timeout ends a query that runs too long, and `min`
 * connections opened ahead stay open while idle.
 */
import { createTcpProxy, createTestDatabase, freePort, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool, openConnections, PREPARED_PER_POOL } from './pool.js';

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

it('genericPlans: true plans every statement once, without its values; it combines with jit: false', async () => {
  const both = createPool(db.url, { max: 1, jit: false, genericPlans: true });
  const dflt = createPool(db.url, { max: 1 });
  try {
    const show = async (p: typeof dflt, name: string) =>
      (await p.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0]?.v;
    expect(await show(both, 'plan_cache_mode')).toBe('force_generic_plan');
    expect(await show(both, 'jit')).toBe('off');
    expect(await show(dflt, 'plan_cache_mode')).toBe('auto');
  } finally {
    await both.end();
    await dflt.end();
  }
});

it("the pool's startup settings and those of an `options` parameter in DATABASE_URL both apply; the URL's win a tie", async () => {
  const url = new URL(db.url);
  url.searchParams.set('options', '-c search_path=spms_x,public -c jit=on');
  const pool = createPool(url.toString(), { max: 1, jit: false, genericPlans: true });
  try {
    const show = async (name: string) =>
      (await pool.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0]?.v;
    expect(await show('search_path')).toBe('spms_x,public');
    expect(await show('plan_cache_mode')).toBe('force_generic_plan');
    expect(await show('jit')).toBe('on');
  } finally {
    await pool.end();
  }
});

it('prepareRepeated: a statement is prepared from its second use, on pooled and checked-out clients, up to the cap', async () => {
  const pool = createPool(db.url, { max: 1, prepareRepeated: true });
  const plain = createPool(db.url, { max: 1 });
  const prepared = async (p: typeof pool, text: string) =>
    (await p.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1', [text]))
      .rows[0]?.n;
  try {
    const text = 'SELECT $1::int + 1 AS v';
    expect((await pool.query<{ v: number }>(text, [1])).rows[0]?.v).toBe(2);
    expect(await prepared(pool, text)).toBe(0);
    expect((await pool.query<{ v: number }>(text, [2])).rows[0]?.v).toBe(3);
    expect(await prepared(pool, text)).toBe(1);
    const client = await pool.connect();
    try {
      expect((await client.query<{ v: number }>(text, [3])).rows[0]?.v).toBe(4);
      const other = 'SELECT $1::text AS t';
      await client.query(other, ['a']);
      await client.query(other, ['b']);
      const mine = "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement NOT LIKE '%pg_prepared%'";
      expect((await client.query<{ n: number }>(mine)).rows[0]?.n).toBe(2);
    } finally {
      client.release();
    }
    // Texts that keep changing stop being prepared at the cap (which counts every text named).
    for (let i = 0; i < PREPARED_PER_POOL + 50; i++)
      for (let k = 0; k < 2; k++) await pool.query(`SELECT $1::int AS v${i}`, [i]);
    const all = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(all.rows[0]?.n).toBe(PREPARED_PER_POOL);
    // Without the option nothing is prepared.
    await plain.query(text, [1]);
    await plain.query(text, [1]);
    expect(await prepared(plain, text)).toBe(0);
  } finally {
    await pool.end();
    await plain.end();
  }
});

it('the startup settings survive URLs pg parses its own way, and PGOPTIONS applies as it would without them', async () => {
  const u = new URL(db.url);
  const show = async (p: ReturnType<typeof createPool>, name: string) =>
    (await p.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]?.v;
  // libpq's form with the host as a parameter and a user but no host before the path.
  const libpq = `postgres://${u.username}:@/${u.pathname.slice(1)}?host=${u.hostname}&port=${u.port || 5432}&options=-c%20search_path%3Dspms_y`;
  const a = createPool(libpq, { max: 1, jit: false, genericPlans: true });
  try {
    expect(await show(a, 'plan_cache_mode')).toBe('force_generic_plan');
    expect(await show(a, 'jit')).toBe('off');
    expect(await show(a, 'search_path')).toBe('spms_y');
  } finally {
    await a.end();
  }
  const before = process.env.PGOPTIONS;
  process.env.PGOPTIONS = '-c search_path=spms_z';
  const b = createPool(db.url, { max: 1, genericPlans: true });
  const plain = createPool(db.url, { max: 1 });
  try {
    expect(await show(b, 'search_path')).toBe('spms_z');
    expect(await show(b, 'plan_cache_mode')).toBe('force_generic_plan');
    expect(await show(plain, 'search_path')).toBe('spms_z');
  } finally {
    if (before === undefined) delete process.env.PGOPTIONS;
    else process.env.PGOPTIONS = before;
    await b.end();
    await plain.end();
  }
});

it('prepareRepeated: several statements in one text without values stay unprepared; a value pg cannot encode costs one call', async () => {
  const pool = createPool(db.url, { max: 1, prepareRepeated: true });
  try {
    for (let i = 0; i < 3; i++) await pool.query('SELECT 1; SELECT 2', []);
    const client = await pool.connect();
    try {
      const text = 'SELECT $1::text AS t';
      await client.query(text, ['a']);
      await client.query(text, ['b']); // prepared now
      await expect(client.query(text, [{ n: 1n }])).rejects.toThrow(/BigInt/);
      // pg closed the statement but counted it parsed: at most one call fails for it.
      await client.query(text, ['c']).catch(() => undefined);
      expect((await client.query<{ t: string }>(text, ['d'])).rows).toEqual([{ t: 'd' }]);
      expect((await client.query<{ t: string }>(text, ['e'])).rows).toEqual([{ t: 'e' }]);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
});

it('prepareRepeated: a statement a migration broke fails once, then runs unprepared', async () => {
  const pool = createPool(db.url, { max: 1, prepareRepeated: true });
  try {
    await pool.query('CREATE TABLE prep_t (a int)');
    await pool.query('INSERT INTO prep_t VALUES (1)');
    const text = 'SELECT * FROM prep_t WHERE a = $1';
    await pool.query(text, [1]);
    await pool.query(text, [1]); // prepared now
    await pool.query('ALTER TABLE prep_t ADD COLUMN b text');
    await expect(pool.query(text, [1])).rejects.toThrow(/cached plan must not change result type/);
    expect((await pool.query(text, [1])).rows).toEqual([{ a: 1, b: null }]);
    // The same through a checked-out client (a transaction's statements).
    const client = await pool.connect();
    try {
      expect((await client.query(text, [1])).rows).toEqual([{ a: 1, b: null }]);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
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

it('openConnections opens `min` connections ahead; idle ones above `min` close, those up to it stay', async () => {
  const pool = createPool(db.url, { max: 4, min: 2, idleTimeoutMs: 100, applicationName: 'pool-min-test' });
  const observer = createPool(db.url, { max: 1, applicationName: 'observer' });
  const backends = async () =>
    (
      await observer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pool-min-test'`,
      )
    ).rows[0]?.n;
  try {
    await openConnections(pool, 2);
    expect(pool.totalCount).toBe(2);
    expect(pool.idleCount).toBe(2);
    // A burst of three concurrent queries needs a third connection...
    await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)')));
    expect(pool.totalCount).toBe(3);
    // ...which closes once idle for idleTimeoutMs; the two opened ahead do not.
    await new Promise((r) => setTimeout(r, 600));
    expect(pool.totalCount).toBe(2);
    expect(await backends()).toBe(2);
  } finally {
    await pool.end();
    await observer.end();
  }
});

it('openConnections asked for more than the pool holds opens max', async () => {
  const pool = createPool(db.url, { max: 2, min: 2, connectionTimeoutMs: 1000 });
  try {
    // Without the cap the third connect waits for a connection held here, times out, and the
    // call rejects.
    await openConnections(pool, 3);
    expect(pool.totalCount).toBe(2);
    expect(pool.idleCount).toBe(2);
  } finally {
    await pool.end();
  }
});

it('openConnections rejects when PostgreSQL cannot be reached, and the pool still works later', async () => {
  const port = await freePort();
  const url = new URL(db.url);
  url.port = String(port);
  const pool = createPool(url.toString(), { min: 2, connectionTimeoutMs: 2000 });
  try {
    await expect(openConnections(pool, 2)).rejects.toThrow();
    expect(pool.totalCount).toBe(0);
  } finally {
    await pool.end();
  }
});
