/**
 * Applies Prisma-format migrations (prisma/migrations/<name>/migration.sql) with `pg`,
 * without Prisma's schema engine, keeping Prisma's `_prisma_migrations` table exactly as
 * `prisma migrate deploy` does, so the same database can later be managed by the Prisma
 * CLI on a machine that has the engine:
 * - checksum = sha256 (hex) of the migration file;
 * - the same advisory lock key as Prisma (72707369), so the two never run at once;
 * - a failed migration is recorded (finished_at NULL, logs = error) and blocks later runs
 *   until it is marked rolled back.
 * Unlike Prisma, each migration runs in a transaction, so a failure leaves nothing
 * half-applied. A file whose first line is `-- spms:no-transaction` runs without one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runScript, type SqlExecutor } from './sql.js';

const PRISMA_ADVISORY_LOCK = 72707369;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
  /** Applied migrations whose file changed since (Prisma warns about these too). */
  modified: string[];
}

export async function listMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface Row {
  id: string;
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/**
 * Applies pending migrations. `db` must be a single connection (a pg Client), since the
 * advisory lock is per session.
 */
export async function applyMigrations(
  db: SqlExecutor,
  dir: string,
  opts: { markRolledBack?: string } = {},
): Promise<MigrationResult> {
  const migrations = await listMigrations(dir);
  await db.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
  try {
    await db.query(CREATE_TABLE);
    if (opts.markRolledBack) {
      await db.query(
        `UPDATE "_prisma_migrations" SET rolled_back_at = now()
          WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL`,
        [opts.markRolledBack],
      );
    }
    const { rows } = await db.query<Row>(
      `SELECT id, migration_name, checksum, finished_at, rolled_back_at, logs
         FROM "_prisma_migrations" ORDER BY started_at`,
    );
    const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed) {
      throw new MigrationError(
        `migration ${failed.migration_name} failed earlier and blocks the others: fix the database, then run ` +
          `\`npm run db:migrate -- --rolled-back ${failed.migration_name}\` (or \`prisma migrate resolve --rolled-back\`). ` +
          `Error was: ${failed.logs ?? 'unknown'}`,
      );
    }
    const done = new Map(rows.filter((r) => r.finished_at !== null).map((r) => [r.migration_name, r]));
    const result: MigrationResult = { applied: [], alreadyApplied: [], modified: [] };
    for (const m of migrations) {
      const prior = done.get(m.name);
      if (prior) {
        result.alreadyApplied.push(m.name);
        if (prior.checksum !== m.checksum) result.modified.push(m.name);
        continue;
      }
      await applyOne(db, m);
      result.applied.push(m.name);
    }
    return result;
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]);
  }
}

async function applyOne(db: SqlExecutor, m: Migration): Promise<void> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ($1, $2, $3, now(), 0)`,
    [id, m.checksum, m.name],
  );
  const transactional = !m.sql.startsWith('-- spms:no-transaction');
  try {
    if (transactional) await db.query('BEGIN');
    await runScript(db, m.sql);
    if (transactional) await db.query('COMMIT');
  } catch (err) {
    if (transactional) await db.query('ROLLBACK').catch(() => {});
    const message = err instanceof Error ? err.message : String(err);
    await db.query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, message]);
    throw new MigrationError(`migration ${m.name} failed: ${message}`);
  }
  await db.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
}
