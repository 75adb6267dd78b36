import { createTestDatabase } from '@spms/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { checkSchemaDrift, readDmmf } from './schema-check.js';
import { compareSchema, type DbColumn } from './schema-drift.js';

describe('schema drift check', () => {
  it('finds the migrated database described exactly by prisma/schema.prisma', async () => {
    const db = await createTestDatabase('schema_drift');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const result = await checkSchemaDrift(client);
      expect(result.problems).toEqual([]);
      expect(result.models).toBeGreaterThan(20);
      // …and notices a column that a migration added without the schema.
      await client.query('ALTER TABLE outages ADD COLUMN sneaky text');
      expect((await checkSchemaDrift(client)).problems).toEqual([
        'Outage: column "outages.sneaky" is not in the schema',
      ]);
    } finally {
      await client.end();
      await db.drop();
    }
  });

  it('names missing tables and columns, unmodelled tables, type and NULL mismatches', () => {
    const { models, enums } = readDmmf();
    const col = (table: string, column: string, udt: string, nullable = false): DbColumn => ({
      table,
      column,
      udt,
      nullable,
    });
    const device = models.find((m) => m.name === 'DeviceLine');
    expect(device).toBeDefined();
    const problems = compareSchema(device ? [device] : [], enums, [
      col('device_lines', 'device_id', 'uuid'),
      col('device_lines', 'number', 'int4'), // schema: @db.SmallInt
      col('device_lines', 'label', 'text', true), // schema: required
      col('stray', 'x', 'text'),
    ]);
    expect(problems).toEqual([
      'DeviceLine.number: schema says int2, "device_lines.number" is int4',
      'DeviceLine.label: schema says required, "device_lines.label" is NULL',
      'DeviceLine.enabled: column "device_lines.enabled" does not exist',
      'table "stray" has no model in prisma/schema.prisma',
    ]);
  });
});
