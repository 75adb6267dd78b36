/**
 * The I/O half of the schema drift check: Prisma's DMMF of prisma/schema.prisma (through
 * Prisma's own schema Wasm, offline) against a migrated database's catalogue.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import { migrationsDir } from './paths.js';
import { compareSchema, type DbColumn, type DmmfEnum, type DmmfModel } from './schema-drift.js';
import type { SqlExecutor } from './sql.js';

export const schemaPath = join(migrationsDir, '..', 'schema.prisma');

const COLUMNS = `
SELECT c.table_name AS "table", c.column_name AS "column", c.udt_name AS udt, c.is_nullable = 'YES' AS nullable
  FROM information_schema.columns c
  JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
 WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
 ORDER BY c.table_name, c.ordinal_position`;

export function readDmmf(path = schemaPath): { models: DmmfModel[]; enums: DmmfEnum[] } {
  const text = readFileSync(path, 'utf8');
  const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', text]] })));
  return { models: dmmf.datamodel.models, enums: dmmf.datamodel.enums };
}

/** The differences between the schema file and the database `db` is connected to. */
export async function checkSchemaDrift(
  db: SqlExecutor,
  path = schemaPath,
): Promise<{ models: number; problems: string[] }> {
  const { models, enums } = readDmmf(path);
  const { rows } = await db.query<DbColumn>(COLUMNS);
  return { models: models.length, problems: compareSchema(models, enums, rows) };
}
