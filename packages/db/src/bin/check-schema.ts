#!/usr/bin/env node
/**
 * `npm run db:check`: fails when prisma/schema.prisma no longer describes the database that
 * the migrations build (DATABASE_URL, migrated first). CI runs it after `db:migrate`, so a
 * migration that adds a table or column without the schema (or the reverse) cannot land.
 */
import { ConfigError, DatabaseUrl, parseConfig, Type } from '@spms/config';
import pg from 'pg';
import { checkSchemaDrift } from '../schema-check.js';

async function main(): Promise<void> {
  const cfg = parseConfig(Type.Object({ DATABASE_URL: DatabaseUrl }), process.env);
  const client = new pg.Client({ connectionString: cfg.DATABASE_URL });
  await client.connect();
  try {
    const { models, problems } = await checkSchemaDrift(client);
    if (problems.length > 0) {
      console.error(`prisma/schema.prisma does not match the migrated database (${problems.length}):`);
      for (const p of problems) console.error(`  - ${p}`);
      console.error('Mirror every migration in prisma/schema.prisma (or fix the migration).');
      process.exitCode = 1;
    } else console.log(`prisma/schema.prisma matches the migrated database (${models} models)`);
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  console.error(
    err instanceof ConfigError ? err.message : `db:check failed: ${err instanceof Error ? err.message : err}`,
  );
  process.exit(1);
});
