import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { applyMigrations, MigrationError } from './migrate.js';
import { migrationsDir } from './paths.js';

// These tests need an empty database, not the pre-migrated template @spms/testing hands out.
const server = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const created: string[] = [];

async function emptyDatabase(): Promise<pg.Client> {
  const name = `spms_migrate_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  created.push(name);
  const url = new URL(server);
  url.pathname = `/${name}`;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  return c;
}

afterEach(async () => {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  for (const name of created.splice(0)) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
});

describe('migration runner', () => {
  it('applies every migration once and records them as Prisma does', async () => {
    const c = await emptyDatabase();
    const first = await applyMigrations(c, migrationsDir);
    expect(first.applied.length).toBeGreaterThan(0);
    const second = await applyMigrations(c, migrationsDir);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
    const { rows } = await c.query(
      `SELECT migration_name, length(checksum) AS len, finished_at IS NOT NULL AS done, applied_steps_count
         FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(rows).toEqual(
      first.applied.map((m) => ({ migration_name: m, len: 64, done: true, applied_steps_count: 1 })),
    );
    const tables = await c.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'devices',
        'device_profiles',
        'device_lines',
        'device_credentials',
        'line_events',
        'voltage_samples',
      ]),
    );
    await c.end();
  });

  it('records a failed migration, leaves nothing half-applied, and blocks until resolved', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spms-mig-'));
    await cp(migrationsDir, dir, { recursive: true });
    await mkdir(join(dir, '29990101000000_broken'));
    await writeFile(
      join(dir, '29990101000000_broken', 'migration.sql'),
      'CREATE TABLE half_done (x int);\nSELECT no_such_function();\n',
    );
    const c = await emptyDatabase();
    await expect(applyMigrations(c, dir)).rejects.toThrow(MigrationError);
    const half = await c.query(`SELECT to_regclass('half_done') AS t`);
    expect(half.rows[0].t).toBeNull();
    const failed = await c.query(`SELECT logs FROM _prisma_migrations WHERE migration_name = '29990101000000_broken'`);
    expect(failed.rows[0].logs).toMatch(/no_such_function/);
    await expect(applyMigrations(c, dir)).rejects.toThrow(/blocks the others/);
    await writeFile(join(dir, '29990101000000_broken', 'migration.sql'), 'CREATE TABLE half_done (x int);\n');
    const fixed = await applyMigrations(c, dir, { markRolledBack: '29990101000000_broken' });
    expect(fixed.applied).toEqual(['29990101000000_broken']);
    await c.end();
  });
});
