/**
 * One fresh, fully migrated PostgreSQL database per test (file or case). The first call in
 * a run migrates a template database named after the migrations' checksum; every test
 * database is then a cheap copy of it (CREATE DATABASE … TEMPLATE).
 * Test support may read the environment: TEST_DATABASE_URL points at the server
 * (default postgresql://postgres@127.0.0.1:5432/postgres).
 */
import { createHash, randomBytes } from 'node:crypto';
import { applyMigrations, listMigrations, migrationsDir, setupTimeseries } from '@spms/db';
import pg from 'pg';

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database (terminating leftover connections). */
  drop(): Promise<void>;
}

const serverUrl = () => process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

function urlFor(name: string): string {
  const u = new URL(serverUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: serverUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** How long a drop waits for the test's own connections to finish closing. */
const CLOSING_WAIT_MS = 1000;

/**
 * Drops a test database once its connections are gone, or after CLOSING_WAIT_MS terminating
 * those left (WITH FORCE). pg's `pool.end()` resolves once it has told its clients to end,
 * not once they have: a DROP … WITH (FORCE) right after it terminated backends of clients
 * still closing, and PostgreSQL's FATAL reached a client whose pool had no error listener
 * left — an uncaught error failing the test run after every test had passed.
 */
async function dropWhenClosed(admin: pg.Client, name: string): Promise<void> {
  const until = Date.now() + CLOSING_WAIT_MS;
  for (;;) {
    const { rows } = await admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
      [name],
    );
    if (rows[0]?.n === 0 || Date.now() >= until) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

let templatePromise: Promise<string> | undefined;

async function ensureTemplate(): Promise<string> {
  const migrations = await listMigrations(migrationsDir);
  const digest = createHash('sha256');
  for (const m of migrations) digest.update(m.name).update(m.checksum);
  const name = `spms_tmpl_${digest.digest('hex').slice(0, 16)}`;
  await withAdmin(async (admin) => {
    // Several vitest workers may get here at once: one builds, the others wait.
    await admin.query('SELECT pg_advisory_lock(4242001)');
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rows.length > 0) return;
      const building = `${name}_build`;
      await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${building}`);
      const c = new pg.Client({ connectionString: urlFor(building) });
      await c.connect();
      try {
        await applyMigrations(c, migrationsDir);
        await setupTimeseries(c);
      } finally {
        await c.end();
      }
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock(4242001)');
    }
  });
  return name;
}

export async function createTestDatabase(label = 't'): Promise<TestDatabase> {
  templatePromise ??= ensureTemplate();
  const template = await templatePromise;
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '_')
    .slice(0, 20);
  const name = `spms_test_${safe}_${randomBytes(5).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await withAdmin((a) => a.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
      break;
    } catch (err) {
      // "source database is being accessed by other users": another copy is in flight.
      if (attempt < 20 && /being accessed/.test(String(err))) {
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
        continue;
      }
      throw err;
    }
  }
  return {
    name,
    url: urlFor(name),
    drop: () => withAdmin((a) => dropWhenClosed(a, name)),
  };
}
