export { Prisma } from './generated/prisma/client.js';
export * from './generated/prisma/enums.js';
export type * from './generated/prisma/models.js';
export { applyMigrations, listMigrations, type MigrationResult } from './migrate.js';
export { migrationsDir } from './paths.js';
export { createPool, openConnections, type Pool, type PoolClient } from './pool.js';
export { createPrisma, type PrismaClient, SerialClient } from './prisma.js';
export type { SqlExecutor } from './sql.js';
export {
  defaultTimeseriesOptions,
  detectTimescale,
  setupTimeseries,
  type TimeseriesOptions,
  type TimeseriesSetupResult,
} from './timescale.js';
export { type Queryable, Rollback, withTransaction } from './transaction.js';
