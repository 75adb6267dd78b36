/**
 * External resources as decorators: Prisma (relational), a pg pool (time series), Redis.
 * `pgRead` is the pool for heavy reads (reports, fleet status, outage lists and exports,
 * voltage and timelines): DATABASE_READ_URL, typically a streaming replica, or the primary
 * pool itself when unset. Writes, and reads that must see a write just made, use `pg`.
 * Each pool opens API_DB_POOL_MIN connections at start-up, in the background, and keeps
 * them open while idle: the first requests, and a burst after a quiet spell, find them
 * ready instead of each waiting for a new PostgreSQL backend.
 */
import { createPool, createPrisma, openConnections, type Pool, type PrismaClient } from '@spms/db';
import { createRedis } from '@spms/queue';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { ApiConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: ApiConfig;
    prisma: PrismaClient;
    pg: Pool;
    /** Heavy reads: DATABASE_READ_URL's pool, or `pg` when it is unset. May lag the primary. */
    pgRead: Pool;
    redis: Redis;
  }
}

export const resourcesPlugin = fp(
  async (app: FastifyInstance, opts: { config: ApiConfig }) => {
    const prisma = createPrisma(opts.config.DATABASE_URL);
    const min = opts.config.API_DB_POOL_MIN;
    const pool = createPool(opts.config.DATABASE_URL, { applicationName: 'spms-api', min });
    const readUrl = opts.config.DATABASE_READ_URL;
    const readPool =
      readUrl && readUrl !== opts.config.DATABASE_URL
        ? createPool(readUrl, { applicationName: 'spms-api-read', min })
        : pool;
    // Not awaited: start-up does not wait for PostgreSQL (nor fail without it); a request
    // arriving meanwhile waits for the same connections.
    const opening = Promise.all(
      [...new Set([pool, readPool])].map((p) =>
        openConnections(p, min).catch((err: Error) =>
          app.log.warn({ err: err.message }, 'could not open PostgreSQL connections ahead'),
        ),
      ),
    );
    const redis = createRedis(opts.config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
    redis.on('error', (err) => app.log.warn({ err: err.message }, 'redis error'));
    await redis.connect().catch((err) => app.log.error({ err: err.message }, 'redis unavailable at start-up'));
    app.decorate('config', opts.config);
    app.decorate('prisma', prisma);
    app.decorate('pg', pool);
    app.decorate('pgRead', readPool);
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      await opening;
      await prisma.$disconnect();
      await pool.end();
      if (readPool !== pool) await readPool.end();
      redis.disconnect();
    });
  },
  { name: 'resources' },
);
