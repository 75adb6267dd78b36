/** External resources as decorators: Prisma (relational), a pg pool (time series), Redis. */
import { createPool, createPrisma, type Pool, type PrismaClient } from '@spms/db';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import type { ApiConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: ApiConfig;
    prisma: PrismaClient;
    pg: Pool;
    redis: Redis;
  }
}

export const resourcesPlugin = fp(
  async (app: FastifyInstance, opts: { config: ApiConfig }) => {
    const prisma = createPrisma(opts.config.DATABASE_URL);
    const pool = createPool(opts.config.DATABASE_URL, { applicationName: 'spms-api' });
    const redis = new Redis(opts.config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
    redis.on('error', (err) => app.log.warn({ err: err.message }, 'redis error'));
    await redis.connect().catch((err) => app.log.error({ err: err.message }, 'redis unavailable at start-up'));
    app.decorate('config', opts.config);
    app.decorate('prisma', prisma);
    app.decorate('pg', pool);
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      await prisma.$disconnect();
      await pool.end();
      redis.disconnect();
    });
  },
  { name: 'resources' },
);
