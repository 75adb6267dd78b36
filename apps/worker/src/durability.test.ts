/**
 * REQUIRE_DURABLE_REDIS in the worker: refused against the shared Redis (no persistence),
 * started against a private redis-server with AOF on.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@spms/log';
import { DurabilityRequiredError } from '@spms/queue';
import { createTestDatabase, createTestRedis, freePort, type TestDatabase, type TestRedis } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from './config.js';
import { startWorker } from './worker.js';

const logger = createLogger({ name: 'worker-durability-test', level: 'silent' });
let db: TestDatabase;
let redis: TestRedis;
let server: ChildProcess | undefined;
let dir = '';
beforeAll(async () => {
  db = await createTestDatabase('worker_durability');
  redis = createTestRedis('worker_durability');
});
afterAll(async () => {
  server?.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
  await redis?.cleanup();
  await db?.drop();
});

const config = (env: Record<string, string>) =>
  loadWorkerConfig({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    ALERTS_ENABLED: 'false',
    REQUIRE_DURABLE_REDIS: 'true',
    ...env,
  });

describe('worker: REQUIRE_DURABLE_REDIS', () => {
  it('refuses to start against a Redis without AOF, naming the variable and the settings', async () => {
    const started = startWorker(config({}), { logger });
    await expect(started).rejects.toBeInstanceOf(DurabilityRequiredError);
    await expect(started).rejects.toThrow(/REQUIRE_DURABLE_REDIS=true[\s\S]*appendonly yes/);
  });

  it('starts against a private redis-server with AOF on', async () => {
    dir = await mkdtemp(join(tmpdir(), 'spms-worker-aof-'));
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    server = child;
    await new Promise<void>((resolve) => {
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('Ready to accept connections')) resolve();
      });
    });
    const worker = await startWorker(config({ REDIS_URL: `redis://127.0.0.1:${port}` }), { logger });
    await worker.close();
  });
});
